"""PospischilNa: the spike-generating sodium current of Traub & Miles as in Pospischil 2008."""

import jax.numpy as jnp

from dendrax.mechanisms import gates
from dendrax.mechanisms.base import Parameter, State


def _rates(v, vt):
    u = v - vt
    alpha_m = -0.32 * (u - 13.0) / (jnp.exp(-(u - 13.0) / 4.0) - 1.0)
    beta_m = 0.28 * (u - 40.0) / (jnp.exp((u - 40.0) / 5.0) - 1.0)
    alpha_h = 0.128 * jnp.exp(-(u - 17.0) / 18.0)
    beta_h = 4.0 / (1.0 + jnp.exp(-(u - 40.0) / 5.0))
    return {
        "m": gates.from_alpha_beta(alpha_m, beta_m),
        "h": gates.from_alpha_beta(alpha_h, beta_h),
    }


class PospischilNa(gates.GatedChannel):
    """Na current, ina = gNabar m³ h (v - ena), with threshold parameter vt.

    Pospischil et al. (2008) Biol. Cybern. 99, 427–441, after Traub, R. D. & Miles, R.
    (1991). Neuronal Networks of the Hippocampus. Cambridge University Press.
    Defaults: the paper's regular-spiking cell.
    """

    parameters = {
        "gNabar": Parameter(0.05, "S/cm2", "maximal conductance", nonnegative=True),
        "vt": Parameter(-56.2, "mV", "threshold parameter VT of the rate functions"),
    }
    states = {"m": State("1", "activation"), "h": State("1", "inactivation")}
    reads = ("ena",)
    writes = ("ina",)

    def gate_rates(self, v, params, celsius):
        return _rates(v, params["vt"])

    def current(self, states, v, params, celsius, t):
        m, h = states["m"], states["h"]
        return {"ina": params["gNabar"] * m * m * m * h * (v - params["ena"])}
