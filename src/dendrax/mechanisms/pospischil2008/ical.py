"""ical: the high-threshold (L-type) calcium current of Pospischil et al. (2008), under the
SUFFIX and PARAMETER names of IL_gutnick.mod."""

from dendrax.mechanisms import gates
from dendrax.mechanisms.base import Parameter, State
from dendrax.mechanisms.hay2011.ca_hva import reuveni_rates
from dendrax.mechanisms.pospischil2008.destexhe import calcium_nernst


class ical(gates.GatedChannel):
    """L-type Ca current, ica = gcabar m² h (v - carev).

    Reuveni, I., Friedman, A., Amitai, Y. & Gutnick, M. J. (1993). Stepwise repolarization
    from Ca2+ plateaus in neocortical pyramidal cells. J. Neurosci. 13, 4609–4621 (the
    kinetics of `Ca_HVA`, at 36 °C with no temperature factor); as used by Pospischil, M.
    et al. (2008). Biol. Cybern. 99, 427–441 (IL_gutnick.mod, A. Destexhe, ModelDB 123623;
    the bursting cells' templates use gcabar = 1e-4 S/cm²).

    As in the file, the reversal potential "carev" is the Nernst potential (at `celsius`)
    of the mechanism's own parameters cai and cao, not of the compartment's calcium: the
    file reads no concentration, so neither cad nor the ion's "cai" / "eca" change it. The
    gates start at 0 (the file computes no initial steady state). The file's 0/0 at
    v = -27 mV is guarded as in Ca_HVA.
    """

    parameters = {
        "gcabar": Parameter(1e-4, "S/cm2", "maximal conductance", nonnegative=True),
        "cai": Parameter(2.4e-4, "mM", "internal Ca of carev (not the ion's)", nonnegative=True),
        "cao": Parameter(2.0, "mM", "external Ca of carev (not the ion's)", nonnegative=True),
    }
    states = {
        "m": State("1", "activation", initial=0.0),
        "h": State("1", "inactivation", initial=0.0),
        "carev": State("mV", "reversal potential, Nernst of the parameters cai and cao"),
    }
    writes = ("ica",)

    def gate_rates(self, v, params, celsius):
        return reuveni_rates(v)

    def instantaneous(self, v, params, celsius):
        return {"carev": calcium_nernst(params["cai"], params["cao"], celsius)}

    def current(self, states, v, params, celsius, t):
        m, h = states["m"], states["h"]
        return {"ica": params["gcabar"] * m * m * h * (v - states["carev"])}
