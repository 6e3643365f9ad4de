"""Ca_HVA: high-voltage-activated calcium current."""

import jax.numpy as jnp

from dendrax.mechanisms import gates
from dendrax.mechanisms.base import Parameter, State


def reuveni_rates(v):
    """Gates m (activation) and h (inactivation) of Reuveni et al. (1993); no q10."""
    u = gates.away_from(v, -27.0)
    alpha_m = 0.055 * (-27.0 - u) / (jnp.exp((-27.0 - u) / 3.8) - 1.0)
    beta_m = 0.94 * jnp.exp((-75.0 - u) / 17.0)
    alpha_h = 0.000457 * jnp.exp((-13.0 - u) / 50.0)
    beta_h = 0.0065 / (jnp.exp((-u - 15.0) / 28.0) + 1.0)
    return {
        "m": gates.from_alpha_beta(alpha_m, beta_m),
        "h": gates.from_alpha_beta(alpha_h, beta_h),
    }


class Ca_HVA(gates.GatedChannel):
    """High-voltage-activated Ca current, ica = gCa_HVAbar m² h (v - eca).

    Reuveni, I., Friedman, A., Amitai, Y. & Gutnick, M. J. (1993). Stepwise repolarization
    from Ca2+ plateaus in neocortical pyramidal cells. J. Neurosci. 13, 4609–4621; as in
    Hay et al. (2011).
    """

    parameters = {
        "gCa_HVAbar": Parameter(0.00001, "S/cm2", "maximal conductance", nonnegative=True)
    }
    states = {"m": State("1", "activation"), "h": State("1", "inactivation")}
    reads = ("eca",)
    writes = ("ica",)

    def gate_rates(self, v, params, celsius):
        return reuveni_rates(v)

    def current(self, states, v, params, celsius, t):
        m, h = states["m"], states["h"]
        return {"ica": params["gCa_HVAbar"] * m * m * h * (v - params["eca"])}
