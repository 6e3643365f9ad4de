"""im: the slow, non-inactivating M-type potassium current of Pospischil et al. (2008),
under the SUFFIX and PARAMETER names of IM_cortex.mod."""

import jax.numpy as jnp

from dendrax.mechanisms import gates
from dendrax.mechanisms.base import Parameter, State


def _rates(v, taumax, celsius):
    tau_peak = taumax / gates.temperature_factor(2.3, celsius, 36.0)
    m_inf = 1.0 / (1.0 + jnp.exp(-(v + 35.0) / 10.0))
    tau_m = tau_peak / (3.3 * jnp.exp((v + 35.0) / 20.0) + jnp.exp(-(v + 35.0) / 20.0))
    return {"m": (m_inf, tau_m)}


class im(gates.GatedChannel):
    """M current for spike-frequency adaptation, ik = gkbar m (v - ek).

    Yamada, W. M., Koch, C. & Adams, P. R. (1989). Multiple channels and calcium dynamics.
    In Methods in Neuronal Modeling (Koch & Segev, eds.), MIT Press, 97–134; as used by
    Pospischil, M. et al. (2008). Biol. Cybern. 99, 427–441 (IM_cortex.mod, A. Destexhe,
    ModelDB 123623). Names and defaults are the file's; its cell templates use taumax =
    1000 ms and gkbar = 7e-5 S/cm² (regular spiking) or 3e-5 (bursting, LTS), the paper's
    fit of a regular-spiking cell gM = 7.5e-5 S/cm² and taumax = 608 ms. Kinetics scale by
    2.3^((celsius - 36)/10). As in the file, m starts at 0, not at its steady state.
    Not to be confused with `Im` (Hay et al. 2011), a different M-current model.

    Unlike the file: exp is computed exactly where the file interpolates it in a TABLE
    (NEURON's default usetable_im = 1; NEURON with usetable_im = 0 computes what this
    class does), and taumax is a parameter per site where the file declares it GLOBAL.
    """

    parameters = {
        "gkbar": Parameter(1e-6, "S/cm2", "maximal conductance", nonnegative=True),
        "taumax": Parameter(1000.0, "ms", "peak time constant at 36 °C", nonnegative=True),
    }
    states = {"m": State("1", "activation", initial=0.0)}
    reads = ("ek",)
    writes = ("ik",)

    def gate_rates(self, v, params, celsius):
        return _rates(v, params["taumax"], celsius)

    def current(self, states, v, params, celsius, t):
        return {"ik": params["gkbar"] * states["m"] * (v - params["ek"])}
