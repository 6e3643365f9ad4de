"""PospischilCaT: the low-threshold (T-type) calcium current as in Pospischil 2008."""

import jax.numpy as jnp

from dendrax.mechanisms import gates
from dendrax.mechanisms.base import Parameter, State


def _s_inf(v, vx):
    return 1.0 / (1.0 + jnp.exp(-(v + vx + 57.0) / 6.2))


def _u_rates(v, vx):
    u_inf = 1.0 / (1.0 + jnp.exp((v + vx + 81.0) / 4.0))
    tau = (
        30.8 + (211.4 + jnp.exp((v + vx + 113.2) / 5.0)) / (1.0 + jnp.exp((v + vx + 84.0) / 3.2))
    ) / 3.7
    return {"u": (u_inf, tau)}


class PospischilCaT(gates.GatedChannel):
    """Low-threshold Ca current, ica = gCaTbar s∞(v)² u (v - eca), activation instantaneous.

    Pospischil et al. (2008) Biol. Cybern. 99, 427–441, after Destexhe, A., Contreras, D.,
    Steriade, M., Sejnowski, T. J. & Huguenard, J. R. (1996). J. Neurosci. 16, 169–185.
    Default: the paper's low-threshold spiking cell.
    """

    parameters = {
        "gCaTbar": Parameter(4e-4, "S/cm2", "maximal conductance", nonnegative=True),
        "vx": Parameter(2.0, "mV", "voltage shift of the kinetics"),
    }
    states = {"u": State("1", "inactivation")}
    reads = ("eca",)
    writes = ("ica",)
    slope_by_difference = True  # s∞(v) makes the current nonlinear in v

    def gate_rates(self, v, params, celsius):
        return _u_rates(v, params["vx"])

    def current(self, states, v, params, celsius, t):
        s = _s_inf(v, params["vx"])
        return {"ica": params["gCaTbar"] * s * s * states["u"] * (v - params["eca"])}
