"""PospischilM: the slow, non-inactivating potassium current as in Pospischil 2008."""

import jax.numpy as jnp

from dendrax.mechanisms import gates
from dendrax.mechanisms.base import Parameter, State


def _rates(v, tau_max):
    p_inf = 1.0 / (1.0 + jnp.exp(-(v + 35.0) / 10.0))
    tau = tau_max / (3.3 * jnp.exp((v + 35.0) / 20.0) + jnp.exp(-(v + 35.0) / 20.0))
    return {"p": (p_inf, tau)}


class PospischilM(gates.GatedChannel):
    """Slow K current for spike-frequency adaptation, ik = gMbar p (v - ek).

    Pospischil et al. (2008) Biol. Cybern. 99, 427–441, after Yamada, W. M., Koch, C. &
    Adams, P. R. (1989). Multiple channels and calcium dynamics. In Methods in Neuronal
    Modeling, MIT Press. Defaults: the paper's regular-spiking cell.
    """

    parameters = {
        "gMbar": Parameter(7.5e-5, "S/cm2", "maximal conductance", nonnegative=True),
        "tau_max": Parameter(608.0, "ms", "maximal time constant", nonnegative=True),
    }
    states = {"p": State("1", "activation")}
    reads = ("ek",)
    writes = ("ik",)

    def gate_rates(self, v, params, celsius):
        return _rates(v, params["tau_max"])

    def current(self, states, v, params, celsius, t):
        return {"ik": params["gMbar"] * states["p"] * (v - params["ek"])}
