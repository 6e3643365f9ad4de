"""Ca_LVAst: low-voltage-activated (T-type) calcium current."""

import jax.numpy as jnp

from dendrax.mechanisms import gates
from dendrax.mechanisms.base import Parameter, State
from dendrax.mechanisms.hay2011.temperature import HAY_RATE_FACTOR


def _rates(v):
    qt = HAY_RATE_FACTOR
    u = v + 10.0  # Hay et al. shift the published kinetics by 10 mV
    m_inf = 1.0 / (1.0 + jnp.exp((u + 30.0) / -6.0))
    m_tau = 5.0 + 20.0 / (1.0 + jnp.exp((u + 25.0) / 5.0))
    h_inf = 1.0 / (1.0 + jnp.exp((u + 80.0) / 6.4))
    h_tau = 20.0 + 50.0 / (1.0 + jnp.exp((u + 40.0) / 7.0))
    return {"m": (m_inf, m_tau / qt), "h": (h_inf, h_tau / qt)}


class Ca_LVAst(gates.GatedChannel):
    """Low-voltage-activated Ca current, ica = gCa_LVAstbar m² h (v - eca).

    Avery, R. B. & Johnston, D. (1996). Multiple channel types contribute to the
    low-voltage-activated calcium current in hippocampal CA3 pyramidal neurons.
    J. Neurosci. 16, 5567–5582; Randall, A. D. & Tsien, R. W. (1997). Neuropharmacology 36,
    879–893; shifted by 10 mV as in Hay et al. (2011), q10 = 2.3 from 21 °C, fixed at
    34 °C as in the published file.
    """

    parameters = {
        "gCa_LVAstbar": Parameter(0.00001, "S/cm2", "maximal conductance", nonnegative=True)
    }
    states = {"m": State("1", "activation"), "h": State("1", "inactivation")}
    reads = ("eca",)
    writes = ("ica",)

    def gate_rates(self, v, params, celsius):
        return _rates(v)

    def current(self, states, v, params, celsius, t):
        m, h = states["m"], states["h"]
        return {"ica": params["gCa_LVAstbar"] * m * m * h * (v - params["eca"])}
