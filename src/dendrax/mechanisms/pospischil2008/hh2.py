"""hh2: the Traub & Miles (1991) sodium and delayed-rectifier potassium currents of
Pospischil et al. (2008), under the SUFFIX and PARAMETER names of HH_traub.mod."""

import jax.numpy as jnp

from dendrax.mechanisms import gates
from dendrax.mechanisms.base import Parameter, State
from dendrax.mechanisms.pospischil2008.destexhe import vtrap


def _rates(v, vtraub, celsius):
    tadj = gates.temperature_factor(3.0, celsius, 36.0)
    u = v - vtraub  # Traub's convention: voltage above the threshold parameter
    return {
        "m": gates.from_alpha_beta(0.32 * vtrap(13.0 - u, 4.0), 0.28 * vtrap(u - 40.0, 5.0), tadj),
        "h": gates.from_alpha_beta(
            0.128 * jnp.exp((17.0 - u) / 18.0), 4.0 / (1.0 + jnp.exp((40.0 - u) / 5.0)), tadj
        ),
        "n": gates.from_alpha_beta(
            0.032 * vtrap(15.0 - u, 5.0), 0.5 * jnp.exp((10.0 - u) / 40.0), tadj
        ),
    }


class hh2(gates.GatedChannel):
    """Spike currents ina = gnabar m³ h (v - ena) and ik = gkbar n⁴ (v - ek).

    Traub, R. D. & Miles, R. (1991). Neuronal Networks of the Hippocampus. Cambridge
    University Press; as used by Pospischil, M. et al. (2008). Minimal Hodgkin–Huxley type
    models for different classes of cortical and thalamic neurons. Biol. Cybern. 99,
    427–441 (HH_traub.mod, A. Destexhe, ModelDB 123623). Names and defaults are the
    file's; its cell templates use vtraub = -55 mV, gnabar = 0.05 and gkbar = 0.005 S/cm²
    (0.01 in the fast-spiking cell). Kinetics scale by 3^((celsius - 36)/10). As in the
    file, the gates start at 0 (its INITIAL block), not at their steady state; ena and ek
    are the ions' (the file's PARAMETER defaults 50 and -90 mV are shadowed by its USEION).
    """

    parameters = {
        "gnabar": Parameter(0.003, "S/cm2", "maximal Na conductance", nonnegative=True),
        "gkbar": Parameter(0.005, "S/cm2", "maximal K conductance", nonnegative=True),
        "vtraub": Parameter(-63.0, "mV", "threshold parameter of the rate functions"),
    }
    states = {
        "m": State("1", "Na activation", initial=0.0),
        "h": State("1", "Na inactivation", initial=0.0),
        "n": State("1", "K activation", initial=0.0),
    }
    reads = ("ena", "ek")
    writes = ("ina", "ik")

    def gate_rates(self, v, params, celsius):
        return _rates(v, params["vtraub"], celsius)

    def current(self, states, v, params, celsius, t):
        m, h, n = states["m"], states["h"], states["n"]
        return {
            "ina": params["gnabar"] * m * m * m * h * (v - params["ena"]),
            "ik": params["gkbar"] * n * n * n * n * (v - params["ek"]),
        }
