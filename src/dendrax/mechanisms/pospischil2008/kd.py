"""PospischilKd: the delayed-rectifier potassium current as in Pospischil 2008."""

import jax.numpy as jnp

from dendrax.mechanisms import gates
from dendrax.mechanisms.base import Parameter, State


def _rates(v, vt):
    u = v - vt
    alpha = -0.032 * (u - 15.0) / (jnp.exp(-(u - 15.0) / 5.0) - 1.0)
    beta = 0.5 * jnp.exp(-(u - 10.0) / 40.0)
    return {"n": gates.from_alpha_beta(alpha, beta)}


class PospischilKd(gates.GatedChannel):
    """Delayed-rectifier K current, ik = gKdbar n⁴ (v - ek), with threshold parameter vt.

    Pospischil et al. (2008) Biol. Cybern. 99, 427–441, after Traub & Miles (1991).
    Defaults: the paper's regular-spiking cell.
    """

    parameters = {
        "gKdbar": Parameter(0.005, "S/cm2", "maximal conductance", nonnegative=True),
        "vt": Parameter(-56.2, "mV", "threshold parameter VT of the rate functions"),
    }
    states = {"n": State("1", "activation")}
    reads = ("ek",)
    writes = ("ik",)

    def gate_rates(self, v, params, celsius):
        return _rates(v, params["vt"])

    def current(self, states, v, params, celsius, t):
        n = states["n"]
        return {"ik": params["gKdbar"] * n * n * n * n * (v - params["ek"])}
