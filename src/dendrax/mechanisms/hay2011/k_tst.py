"""K_Tst: fast, transient potassium current."""

import jax.numpy as jnp

from dendrax.mechanisms import gates
from dendrax.mechanisms.base import Parameter, State
from dendrax.mechanisms.hay2011.temperature import HAY_RATE_FACTOR


def _rates(v):
    qt = HAY_RATE_FACTOR
    u = v + 10.0  # Hay et al. shift the published kinetics by 10 mV
    m_inf = 1.0 / (1.0 + jnp.exp(-(u + 0.0) / 19.0))
    m_tau = 0.34 + 0.92 * jnp.exp(-(((u + 71.0) / 59.0) ** 2))
    h_inf = 1.0 / (1.0 + jnp.exp(-(u + 66.0) / -10.0))
    h_tau = 8.0 + 49.0 * jnp.exp(-(((u + 73.0) / 23.0) ** 2))
    return {"m": (m_inf, m_tau / qt), "h": (h_inf, h_tau / qt)}


class K_Tst(gates.GatedChannel):
    """Transient K current, ik = gK_Tstbar m⁴ h (v - ek).

    Korngreen, A. & Sakmann, B. (2000). J. Physiol. 525, 621–639; shifted by 10 mV as in
    Hay et al. (2011), q10 = 2.3 from 21 °C, fixed at 34 °C as in the published file.
    """

    parameters = {"gK_Tstbar": Parameter(0.00001, "S/cm2", "maximal conductance", nonnegative=True)}
    states = {"m": State("1", "activation"), "h": State("1", "inactivation")}
    reads = ("ek",)
    writes = ("ik",)

    def gate_rates(self, v, params, celsius):
        return _rates(v)

    def current(self, states, v, params, celsius, t):
        m, h = states["m"], states["h"]
        return {"ik": params["gK_Tstbar"] * m * m * m * m * h * (v - params["ek"])}
