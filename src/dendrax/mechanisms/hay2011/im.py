"""Im: muscarinic (M-type) potassium current."""

import jax.numpy as jnp

from dendrax.mechanisms import gates
from dendrax.mechanisms.base import Parameter, State
from dendrax.mechanisms.hay2011.temperature import HAY_RATE_FACTOR


def _rates(v):
    qt = HAY_RATE_FACTOR
    growth = jnp.exp(2.5 * 0.04 * (v + 35.0))
    alpha, beta = 3.3e-3 * growth, 3.3e-3 / growth
    return {"m": gates.from_alpha_beta(alpha, beta, qt)}


class Im(gates.GatedChannel):
    """M current, ik = gImbar m (v - ek).

    Adams, P. R., Brown, D. A. & Constanti, A. (1982). M-currents and other potassium
    currents in bullfrog sympathetic neurones. J. Physiol. 330, 537–572; as in Hay et al.
    (2011), q10 = 2.3 from 21 °C, fixed at 34 °C as in the published file.
    """

    parameters = {"gImbar": Parameter(0.00001, "S/cm2", "maximal conductance", nonnegative=True)}
    states = {"m": State("1", "activation")}
    reads = ("ek",)
    writes = ("ik",)

    def gate_rates(self, v, params, celsius):
        return _rates(v)

    def current(self, states, v, params, celsius, t):
        return {"ik": params["gImbar"] * states["m"] * (v - params["ek"])}
