"""Ih: hyperpolarisation-activated cation current."""

import jax.numpy as jnp

from dendrax.mechanisms import gates
from dendrax.mechanisms.base import Parameter, State


def _rates(v):
    u = gates.away_from(v, -154.9)
    alpha = 0.001 * 6.43 * (u + 154.9) / (jnp.exp((u + 154.9) / 11.9) - 1.0)
    beta = 0.001 * 193.0 * jnp.exp(u / 33.1)
    return {"m": gates.from_alpha_beta(alpha, beta)}


class Ih(gates.GatedChannel):
    """Non-specific cation current, ihcn = gIhbar m (v - ehcn); no temperature dependence.

    Kole, M. H. P., Hallermann, S. & Stuart, G. J. (2006). Single Ih channels in pyramidal
    neuron dendrites: properties, distribution, and impact on action potential output.
    J. Neurosci. 26, 1677–1687; as in Hay et al. (2011).
    """

    parameters = {
        "gIhbar": Parameter(0.00001, "S/cm2", "maximal conductance", nonnegative=True),
        "ehcn": Parameter(-45.0, "mV", "reversal potential"),
    }
    states = {"m": State("1", "activation")}

    def gate_rates(self, v, params, celsius):
        return _rates(v)

    def current(self, states, v, params, celsius, t):
        return {"ihcn": params["gIhbar"] * states["m"] * (v - params["ehcn"])}
