"""PospischilCaL: the high-threshold (L-type) calcium current as in Pospischil 2008."""

from dendrax.mechanisms import gates
from dendrax.mechanisms.base import Parameter, State
from dendrax.mechanisms.hay2011.ca_hva import reuveni_rates


class PospischilCaL(gates.GatedChannel):
    """High-threshold Ca current, ica = gCaLbar q² r (v - eca).

    Pospischil et al. (2008) Biol. Cybern. 99, 427–441, with the kinetics of Reuveni, I.,
    Friedman, A., Amitai, Y. & Gutnick, M. J. (1993). J. Neurosci. 13, 4609–4621 (the same
    as `Ca_HVA`). Default: the paper's intrinsically bursting cell.
    """

    parameters = {
        "gCaLbar": Parameter(1e-4, "S/cm2", "maximal conductance", nonnegative=True),
    }
    states = {"q": State("1", "activation"), "r": State("1", "inactivation")}
    reads = ("eca",)
    writes = ("ica",)

    def gate_rates(self, v, params, celsius):
        rates = reuveni_rates(v)
        return {"q": rates["m"], "r": rates["h"]}

    def current(self, states, v, params, celsius, t):
        q, r = states["q"], states["r"]
        return {"ica": params["gCaLbar"] * q * q * r * (v - params["eca"])}
