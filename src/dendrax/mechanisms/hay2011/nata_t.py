"""NaTa_t: fast inactivating sodium current."""

from dendrax.mechanisms import gates
from dendrax.mechanisms.base import Parameter, State
from dendrax.mechanisms.hay2011.temperature import HAY_RATE_FACTOR


def sodium_rates(v, m_half: float, h_half: float):
    """Gates of the Colbert & Pan (2002) sodium channel with half-points m_half, h_half (mV);
    q10 = 2.3 from 21 °C, fixed at 34 °C as in the published file. The published file
    moves v itself off each removable 0/0, so that at v = m_half the h rates see the moved
    v (m_half + 1e-4 mV) too."""
    qt = HAY_RATE_FACTOR
    u = gates.away_from(v, m_half)
    forward, backward = gates.linoid_pair(u - m_half, 6.0)
    alpha_m, beta_m = 0.182 * forward, 0.124 * backward
    u = gates.away_from(u, h_half)
    forward, backward = gates.linoid_pair(h_half - u, 6.0)
    alpha_h, beta_h = 0.015 * forward, 0.015 * backward
    return {
        "m": gates.from_alpha_beta(alpha_m, beta_m, qt),
        "h": gates.from_alpha_beta(alpha_h, beta_h, qt),
    }


class NaTa_t(gates.GatedChannel):
    """Fast inactivating (transient) Na current, ina = gNaTa_tbar m³ h (v - ena).

    Colbert, C. M. & Pan, E. (2002). Ion channel properties underlying axonal action
    potential initiation in pyramidal neurons. Nat. Neurosci. 5, 533–538; as in Hay et al.
    (2011), q10 = 2.3 from 21 °C, fixed at 34 °C as in the published file.
    """

    parameters = {
        "gNaTa_tbar": Parameter(0.00001, "S/cm2", "maximal conductance", nonnegative=True)
    }
    states = {"m": State("1", "activation"), "h": State("1", "inactivation")}
    reads = ("ena",)
    writes = ("ina",)

    def gate_rates(self, v, params, celsius):
        return sodium_rates(v, -38.0, -66.0)

    def current(self, states, v, params, celsius, t):
        m, h = states["m"], states["h"]
        return {"ina": params["gNaTa_tbar"] * m * m * m * h * (v - params["ena"])}
