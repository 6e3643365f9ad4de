"""Ion species, their variables and reversal potentials (Nernst, GHK).

Every ion species `x` has NEURON's four variables per compartment: the reversal potential
"ex" (mV), the internal and external concentrations "xi" and "xo" (mM) and the total
current "ix" (mA/cm², outward positive) of all channels that carry it. Sodium, potassium
and calcium come with NEURON's defaults; a mechanism declares any other species it uses
with `new_ions` (NEURON's `USEION x VALENCE z`).

Reversal potentials follow NEURON's ion-style rule, per compartment: where no mechanism
reads or writes a concentration of the ion, "ex" is a parameter (settable like any other);
where one does, "ex" is the Nernst potential of the concentrations, recomputed at the start
of every step from the concentrations of the previous step.
"""

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

GAS_CONSTANT = 8.31446261815324
"""J/(K mol), the 2019 SI value that NEURON 9 uses."""

FARADAY = 96485.33212331001
"""C/mol, the 2019 SI value that NEURON 9 uses."""

ZERO_CELSIUS = 273.15
"""K."""


@dataclass(frozen=True)
class Ion:
    """An ion species with its defaults.

    Attributes:
        name: the species name `x` in "ex", "xi", "xo", "ix" ("na", "ca", ...).
        charge: valence z.
        internal: default internal concentration "xi" (mM).
        external: default external concentration "xo" (mM).
        reversal: default reversal potential "ex" (mV), used where it is a parameter.
    """

    name: str
    charge: int
    internal: float
    external: float
    reversal: float

    def __post_init__(self):
        if not self.name.isidentifier():
            raise ValueError(f"ion name {self.name!r} must be an identifier")
        if self.charge == 0:
            raise ValueError(f"ion {self.name!r} needs a nonzero charge")
        if not (self.internal > 0 and self.external > 0):
            raise ValueError(f"ion {self.name!r} needs positive default concentrations (mM)")

    @property
    def variables(self) -> dict[str, str]:
        """NEURON's names of this ion's variables, keyed by kind."""
        x = self.name
        return {"reversal": f"e{x}", "internal": f"{x}i", "external": f"{x}o", "current": f"i{x}"}

    @property
    def defaults(self) -> dict[str, float]:
        """Default values of the per-compartment parameters "ex", "xi", "xo"."""
        names = self.variables
        return {
            names["reversal"]: self.reversal,
            names["internal"]: self.internal,
            names["external"]: self.external,
        }


STANDARD_IONS = {
    "na": Ion("na", 1, internal=10.0, external=140.0, reversal=50.0),
    "k": Ion("k", 1, internal=54.4, external=2.5, reversal=-77.0),
    "ca": Ion("ca", 2, internal=5e-5, external=2.0, reversal=132.4579341637009),
}
"""NEURON's sodium, potassium and calcium with its default concentrations and reversal
potentials (the reversal potentials apply where they are parameters; NEURON's default eca
is not the Nernst potential of its default concentrations)."""

VARIABLE_UNITS = {"reversal": "mV", "internal": "mM", "external": "mM", "current": "mA/cm2"}
"""Unit of each kind of ion variable."""


def ion_of(variable: str, ions: dict[str, Ion]) -> tuple[Ion, str] | None:
    """The ion and kind ("reversal", "internal", "external", "current") of `variable`."""
    for ion in ions.values():
        for kind, name in ion.variables.items():
            if name == variable:
                return ion, kind
    return None


def thermal_voltage(celsius: float) -> float:
    """RT/F in mV at `celsius` (°C)."""
    return 1e3 * GAS_CONSTANT * (celsius + ZERO_CELSIUS) / FARADAY


def nernst(internal: jax.Array, external: jax.Array, charge: int, celsius: float) -> jax.Array:
    """Nernst potential (mV) of concentrations (mM); NaN where one is not positive.

    A concentration that reaches zero or below during a run (a pump removing more than is
    there) thus makes the reversal potential, and from there the voltage, NaN, never a
    silently wrong number.
    """
    valid = (internal > 0) & (external > 0)
    ratio = jnp.where(valid, external / jnp.where(valid, internal, 1.0), 1.0)
    potential = thermal_voltage(celsius) / charge * jnp.log(ratio)
    return jnp.where(valid, potential, jnp.nan)


def ghk_current(
    v: jax.Array, internal: jax.Array, external: jax.Array, charge: int, celsius: float
) -> jax.Array:
    """Goldman–Hodgkin–Katz current density (mA/cm²) per unit permeability (cm/s).

    i = P z F ξ (ci - co e^-ξ) / (1 - e^-ξ) with ξ = z F v / (R T): multiply by a
    permeability P (cm/s) to get mA/cm². Concentrations in mM, v in mV.
    Goldman, D. E. (1943) J. Gen. Physiol. 27, 37–60; Hodgkin, A. L. & Katz, B. (1949)
    J. Physiol. 108, 37–77.
    """
    xi = charge * v / thermal_voltage(celsius)
    small = jnp.abs(xi) < 1e-6
    safe = jnp.where(small, 1.0, xi)
    # ξ / (1 - e^-ξ), continued by 1 + ξ/2 near ξ = 0 where the quotient is 0/0.
    factor = jnp.where(small, 1.0 + xi / 2.0, safe / -jnp.expm1(-safe))
    # mM = 1e-6 mol/cm³, A -> mA: P z F c 1e-6 · 1e3.
    return 1e-3 * charge * FARADAY * factor * (internal - external * jnp.exp(-xi))


def check_ion_value(variable: str, kind: str, values, where: str) -> None:
    """Raise if a value of an ion parameter is not finite, or a concentration not positive."""
    array = np.asarray(values, dtype=float)
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{variable} at {where} must be finite, got {values}")
    if kind in ("internal", "external") and np.any(array <= 0):
        raise ValueError(f"{variable} at {where} must be > 0 mM, got {values}")
