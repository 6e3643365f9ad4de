"""K_Pst: slow, persistent potassium current."""

import jax.numpy as jnp

from dendrax.mechanisms import gates
from dendrax.mechanisms.base import Parameter, State
from dendrax.mechanisms.hay2011.temperature import HAY_RATE_FACTOR


def _rates(v):
    qt = HAY_RATE_FACTOR
    u = v + 10.0  # Hay et al. shift the published kinetics by 10 mV
    m_inf = 1.0 / (1.0 + jnp.exp(-(u + 1.0) / 12.0))
    m_tau = jnp.where(
        u < -50.0, 1.25 + 175.03 * jnp.exp(-u * -0.026), 1.25 + 13.0 * jnp.exp(-u * 0.026)
    )
    h_inf = 1.0 / (1.0 + jnp.exp(-(u + 54.0) / -11.0))
    h_tau = 360.0 + (1010.0 + 24.0 * (u + 55.0)) * jnp.exp(-(((u + 75.0) / 48.0) ** 2))
    return {"m": (m_inf, m_tau / qt), "h": (h_inf, h_tau / qt)}


class K_Pst(gates.GatedChannel):
    """Persistent K current, ik = gK_Pstbar m² h (v - ek).

    Korngreen, A. & Sakmann, B. (2000). Voltage-gated K+ channels in layer 5 neocortical
    pyramidal neurones from young rats. J. Physiol. 525, 621–639; shifted by 10 mV as in
    Hay et al. (2011), q10 = 2.3 from 21 °C, fixed at 34 °C as in the published file.
    """

    parameters = {"gK_Pstbar": Parameter(0.00001, "S/cm2", "maximal conductance", nonnegative=True)}
    states = {"m": State("1", "activation"), "h": State("1", "inactivation")}
    reads = ("ek",)
    writes = ("ik",)

    def gate_rates(self, v, params, celsius):
        return _rates(v)

    def current(self, states, v, params, celsius, t):
        m, h = states["m"], states["h"]
        return {"ik": params["gK_Pstbar"] * m * m * h * (v - params["ek"])}
