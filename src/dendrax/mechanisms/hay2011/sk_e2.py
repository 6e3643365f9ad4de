"""SK_E2: small-conductance calcium-activated potassium current."""

import jax.numpy as jnp

from dendrax.mechanisms import gates
from dendrax.mechanisms.base import Mechanism, Parameter, State


def _z_inf(cai):
    c = jnp.where(cai < 1e-7, cai + 1e-7, cai)  # the published guard against cai -> 0
    return 1.0 / (1.0 + (0.00043 / c) ** 4.8)


class SK_E2(Mechanism):
    """SK current, ik = gSK_E2bar z (v - ek), z activated by internal calcium "cai".

    Köhler, M., Hirschberg, B., Bond, C. T., et al. (1996). Small-conductance,
    calcium-activated potassium channels from mammalian brain. Science 273, 1709–1714;
    as in Hay et al. (2011).
    """

    parameters = {
        "gSK_E2bar": Parameter(0.000001, "S/cm2", "maximal conductance", nonnegative=True),
        "zTau": Parameter(1.0, "ms", "activation time constant"),
    }
    states = {"z": State("1", "calcium-dependent activation")}
    reads = ("ek", "cai")
    writes = ("ik",)

    def steady_state(self, v, params, celsius):
        return {"z": _z_inf(params["cai"])}

    def update(self, states, v, params, dt, celsius, t):
        return gates.advance(states, {"z": (_z_inf(params["cai"]), params["zTau"])}, dt)

    def current(self, states, v, params, celsius, t):
        return {"ik": params["gSK_E2bar"] * states["z"] * (v - params["ek"])}
