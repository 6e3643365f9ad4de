"""Nap_Et2: persistent sodium current."""

import jax.numpy as jnp

from dendrax.mechanisms import gates
from dendrax.mechanisms.base import Parameter, State
from dendrax.mechanisms.hay2011.temperature import HAY_RATE_FACTOR


def _rates(v):
    qt = HAY_RATE_FACTOR
    m_inf = 1.0 / (1.0 + jnp.exp((v + 52.6) / -4.6))
    u = gates.away_from(v, -38.0)
    forward, backward = gates.linoid_pair(u + 38.0, 6.0)
    alpha_m, beta_m = 0.182 * forward, 0.124 * backward
    # The published file moves v itself off each removable 0/0 (at -38, -17 and -64.4 mV)
    # before hInf and the h rates: they see the moved v, mInf the unmoved one.
    u = gates.away_from(gates.away_from(u, -17.0), -64.4)
    h_inf = 1.0 / (1.0 + jnp.exp((u + 48.8) / 10.0))
    alpha_h = -2.88e-6 * (u + 17.0) / (1.0 - jnp.exp((u + 17.0) / 4.63))
    beta_h = 6.94e-6 * (u + 64.4) / (1.0 - jnp.exp(-(u + 64.4) / 2.63))
    return {
        "m": (m_inf, 6.0 * (1.0 / (alpha_m + beta_m)) / qt),
        "h": (h_inf, (1.0 / (alpha_h + beta_h)) / qt),
    }


class Nap_Et2(gates.GatedChannel):
    """Persistent Na current, ina = gNap_Et2bar m³ h (v - ena).

    Magistretti, J. & Alonso, A. (1999). Biophysical properties and slow voltage-dependent
    inactivation of a sustained sodium current in entorhinal cortex layer-II principal
    neurons. J. Gen. Physiol. 114, 491–509; as in Hay et al. (2011), q10 = 2.3 from 21 °C,
    fixed at 34 °C as in the published file.
    """

    parameters = {
        "gNap_Et2bar": Parameter(0.00001, "S/cm2", "maximal conductance", nonnegative=True)
    }
    states = {"m": State("1", "activation"), "h": State("1", "inactivation")}
    reads = ("ena",)
    writes = ("ina",)

    def gate_rates(self, v, params, celsius):
        return _rates(v)

    def current(self, states, v, params, celsius, t):
        m, h = states["m"], states["h"]
        return {"ina": params["gNap_Et2bar"] * m * m * m * h * (v - params["ena"])}
