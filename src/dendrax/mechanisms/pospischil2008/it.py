"""it: the low-threshold (T-type) calcium current of Pospischil et al. (2008), under the
SUFFIX and PARAMETER names of IT_huguenard.mod."""

import jax.numpy as jnp

from dendrax.mechanisms import gates
from dendrax.mechanisms.base import Parameter, State
from dendrax.mechanisms.pospischil2008.destexhe import calcium_nernst


def _m_inf(v, shift):
    return 1.0 / (1.0 + jnp.exp(-(v + shift + 57.0) / 6.2))


def _h_rates(v, shift, q10, celsius):
    vm = v + shift
    h_inf = 1.0 / (1.0 + jnp.exp((vm + 81.0) / 4.0))
    tau_h = 30.8 + (211.4 + jnp.exp((vm + 113.2) / 5.0)) / (1.0 + jnp.exp((vm + 84.0) / 3.2))
    return h_inf, tau_h / q10 ** ((celsius - 24.0) / 10.0)


class it(gates.GatedChannel):
    """T-type Ca current, ica = gcabar m_inf² h (v - carev), activation instantaneous.

    Huguenard, J. R. & McCormick, D. A. (1992). Simulation of the currents involved in
    rhythmic oscillations in thalamic relay neurons. J. Neurophysiol. 68, 1373–1383; as
    used by Pospischil, M. et al. (2008). Biol. Cybern. 99, 427–441 (IT_huguenard.mod,
    A. Destexhe, ModelDB 123623; the LTS cell's template uses gcabar = 1e-3 S/cm²).

    As in the file: h relaxes with tau_h / q10^((celsius - 24)/10) (the paper rounds the
    factor at 36 °C, 3^1.2 = 3.737, to 3.7); m_inf is the steady state at the voltage of
    the last state update, held fixed within a step (so NEURON's di/dv is the chord
    conductance); "carev" is the Nernst potential of the compartment's cai and cao, not
    "eca"; h starts at 0 (the file's INITIAL), i.e. fully inactivated. The states
    "m_inf" and "carev" are the values for the next step, from the voltage and
    concentrations after the update (NEURON computes carev at the start of the next
    step; the file does not declare it RANGE, so NEURON cannot record it).
    """

    parameters = {
        "gcabar": Parameter(0.002, "S/cm2", "maximal conductance", nonnegative=True),
        "shift": Parameter(2.0, "mV", "voltage shift (screening charge at 2 mM cao)"),
        "q10": Parameter(3.0, "1", "Q10 of inactivation, from 24 °C", nonnegative=True),
    }
    states = {
        "h": State("1", "inactivation", initial=0.0),
        "m_inf": State("1", "activation, at its steady state"),
        "carev": State("mV", "reversal potential, Nernst of cai and cao"),
    }
    reads = ("cai", "cao")
    writes = ("ica",)

    def gate_rates(self, v, params, celsius):
        return {"h": _h_rates(v, params["shift"], params["q10"], celsius)}

    def instantaneous(self, v, params, celsius):
        return {
            "m_inf": _m_inf(v, params["shift"]),
            "carev": calcium_nernst(params["cai"], params["cao"], celsius),
        }

    def current(self, states, v, params, celsius, t):
        m = states["m_inf"]
        return {"ica": params["gcabar"] * m * m * states["h"] * (v - states["carev"])}
