"""Units of dendrax and the conversion factors between them.

dendrax uses NEURON's units everywhere a user sees a number: voltage mV, time ms, lengths
and radii µm, specific membrane capacitance µF/cm², conductance densities S/cm², current
densities mA/cm² (outward positive), point currents nA (positive depolarises), axial
resistivity Ω·cm, concentrations mM and temperature °C.

Inside the solver every node carries absolute quantities in a consistent set:
currents nA, conductances µS and capacitances nF, so that nF·mV/ms = nA and µS·mV = nA.
"""

DENSITY_TO_CURRENT = 1e-2
"""(mA/cm²)·µm² → nA."""

CONDUCTANCE_DENSITY_TO_CONDUCTANCE = 1e-2
"""(S/cm²)·µm² → µS."""

CAPACITANCE_DENSITY_TO_CAPACITANCE = 1e-5
"""(µF/cm²)·µm² → nF."""

RESISTIVITY_TO_RESISTANCE = 1e-2
"""(Ω·cm)·µm/µm² → MΩ; the axial resistance of a cylinder is ρ·L/(π r²) times this."""

ABSOLUTE_ZERO = -273.15
"""The lowest temperature (°C): `celsius` below it is refused."""
