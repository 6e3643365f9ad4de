"""SKv3_1: fast, non-inactivating Kv3-like potassium current."""

import jax.numpy as jnp

from dendrax.mechanisms import gates
from dendrax.mechanisms.base import Parameter, State


def _rates(v):
    m_inf = 1.0 / (1.0 + jnp.exp((v - 18.7) / -9.7))
    m_tau = 0.2 * 20.0 / (1.0 + jnp.exp((v + 46.56) / -44.14))
    return {"m": (m_inf, m_tau)}


class SKv3_1(gates.GatedChannel):
    """Kv3.1 K current, ik = gSKv3_1bar m (v - ek); no temperature dependence.

    Rettig, J., Wunder, F., Stocker, M., et al. (1992). Characterization of a Shaw-related
    potassium channel family in rat brain. EMBO J. 11, 2473–2486; as in Hay et al. (2011).
    """

    parameters = {
        "gSKv3_1bar": Parameter(0.00001, "S/cm2", "maximal conductance", nonnegative=True)
    }
    states = {"m": State("1", "activation")}
    reads = ("ek",)
    writes = ("ik",)

    def gate_rates(self, v, params, celsius):
        return _rates(v)

    def current(self, states, v, params, celsius, t):
        return {"ik": params["gSKv3_1bar"] * states["m"] * (v - params["ek"])}
