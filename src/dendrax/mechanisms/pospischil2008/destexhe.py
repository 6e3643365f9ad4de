"""Helpers shared by A. Destexhe's NEURON files of Pospischil et al. (2008) (ModelDB 123623).

HH_traub.mod sets exp(x) to 0 below x = -100, and IM_cortex.mod interpolates exp in a table
over |x| < 25 (NEURON's default usetable_im = 1; relative error about 3e-6) and sets it to 0
outside. Here exp is exact: the cut-offs act only below -280 mV or above 210 mV.
"""

import jax.numpy as jnp

from dendrax.mechanisms.ions import thermal_voltage


def vtrap(x, y):
    """x / (exp(x/y) - 1) (x, y in mV), with the published files' guard at the removable
    0/0: y (1 - x/(2y)) where |x/y| < 1e-6."""
    small = jnp.abs(x / y) < 1e-6
    safe = jnp.where(small, y, x)  # keeps the unused branch (and its gradient) finite
    return jnp.where(small, y * (1.0 - x / y / 2.0), safe / (jnp.exp(safe / y) - 1.0))


def calcium_nernst(cai, cao, celsius: float):
    """The files' own calcium reversal potential "carev" (mV) of cai, cao (mM) at celsius
    (°C): RT/(2F) ln(cao/cai), with NEURON's R and F."""
    return thermal_voltage(celsius) / 2.0 * jnp.log(cao / cai)
