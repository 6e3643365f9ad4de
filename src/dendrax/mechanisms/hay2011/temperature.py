"""The temperature factor of the Hay et al. (2011) channels that have one."""

from dendrax.mechanisms.gates import temperature_factor

HAY_RATE_FACTOR = temperature_factor(2.3, 34.0, 21.0)
"""qt = 2.3^((34 - 21)/10): the published .mod files fix it at 34 °C (the temperature of
Hay et al.'s simulations) whatever NEURON's `celsius`, and so do these channels."""
