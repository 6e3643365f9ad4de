"""The mechanism declaration: parameters, states, state update and membrane current.

A mechanism is written once, for one site, with broadcasting `jax.numpy` code; the engine
applies it to every compartment where it is inserted at once. Subclasses declare

- `parameters`: name -> `Parameter(default, unit, ...)`;
- `states`: name -> `State(unit, ...)`;

and implement `steady_state`, `update` and `current`. Values reach these methods as dicts of
arrays, one entry per site.
"""

import abc
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np

Array = jax.Array


@dataclass(frozen=True)
class Parameter:
    """A mechanism parameter: its default, unit, and the values it may take."""

    default: float
    unit: str
    description: str = ""
    nonnegative: bool = False


@dataclass(frozen=True)
class State:
    """A mechanism state variable and its unit."""

    unit: str
    description: str = ""


class Mechanism(abc.ABC):
    """Base class of membrane mechanisms (channels, pumps, leaks).

    Instances are immutable and hashable; keyword arguments override parameter defaults,
    e.g. `HH(gNa=0.2)`.
    """

    parameters: ClassVar[Mapping[str, Parameter]] = {}
    states: ClassVar[Mapping[str, State]] = {}

    def __init__(self, **defaults: float):
        unknown = sorted(set(defaults) - set(self.parameters))
        if unknown:
            raise ValueError(
                f"{self.name} has no parameter {unknown[0]!r}; "
                f"its parameters are {sorted(self.parameters)}"
            )
        values = {name: float(p.default) for name, p in self.parameters.items()}
        values.update({name: float(value) for name, value in defaults.items()})
        for name, value in values.items():
            self.check_value(name, value)
        self._defaults = tuple(values.items())

    @property
    def name(self) -> str:
        """The mechanism's name, used in parameter names such as "HH.gNa"."""
        return type(self).__name__

    @property
    def defaults(self) -> dict[str, float]:
        """Parameter values that `insert` writes into the cell."""
        return dict(self._defaults)

    def check_value(self, parameter: str, value) -> None:
        """Raise if `value` is not allowed for `parameter` (NaN, or negative where not allowed)."""
        array = np.asarray(value, dtype=float)
        if not np.all(np.isfinite(array)):
            raise ValueError(f"{self.name}.{parameter} must be finite, got {value}")
        if self.parameters[parameter].nonnegative and np.any(array < 0):
            raise ValueError(f"{self.name}.{parameter} must be >= 0, got {value}")

    def __eq__(self, other) -> bool:
        return type(self) is type(other) and self._defaults == other._defaults

    def __hash__(self) -> int:
        return hash((type(self), self._defaults))

    def __repr__(self) -> str:
        return f"{self.name}({', '.join(f'{k}={v}' for k, v in self._defaults)})"

    @abc.abstractmethod
    def steady_state(self, v: Array, params: dict, celsius: float) -> dict[str, Array]:
        """States at rest at voltage `v` (mV): NEURON's INITIAL block."""

    @abc.abstractmethod
    def update(
        self, states: dict, v: Array, params: dict, dt: float, celsius: float
    ) -> dict[str, Array]:
        """States after one step of `dt` (ms) at the new voltage `v` (mV)."""

    @abc.abstractmethod
    def current(self, states: dict, v: Array, params: dict) -> Array:
        """Outward membrane current density (mA/cm²) at voltage `v` (mV)."""


def exponential_euler(state: Array, steady: Array, tau: Array, dt: float) -> Array:
    """One exponential-Euler step of dx/dt = (steady - x)/tau (NEURON's `cnexp`)."""
    return state + (1.0 - jnp.exp(-dt / tau)) * (steady - state)
