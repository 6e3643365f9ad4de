"""The mechanism declaration: parameters, states, ions, state update and membrane current.

A mechanism is written once, for one site, with broadcasting `jax.numpy` code; the engine
applies it to every compartment where it is inserted at once. Subclasses declare

- `parameters`: name -> `Parameter(default, unit, ...)`;
- `states`: name -> `State(unit, ...)`;
- `reads`: the ion variables it reads, with NEURON's names ("ena", "ek", "eca", "cai",
  "cao", or an ion current such as "ica");
- `writes`: the ion currents it carries ("ina", "ik", "ica") and the concentrations it
  computes ("cai", which must then also be one of its states);
- `new_ions`: `Ion` species other than NEURON's na, k and ca that it uses;

and implement `steady_state`, `update` and `current`. A point mechanism that receives spike
events (a synapse driven by NEURON's NetCon) also implements `receive` and declares the
weight its events carry as a parameter named "weight". Values reach these methods as dicts
of arrays, one entry per site (a state declared with a `shape` has it as trailing
dimensions): `params` holds the mechanism's own parameters and, under their NEURON names,
the ion variables it reads or writes (reversal potentials in mV, concentrations in mM).
An ion current it reads ("ica", the sum over every channel of the compartment in this
step, mA/cm²) is present only in `update`.

`current` returns the outward current density (mA/cm²): a dict from current names to
arrays, where ion currents ("ina") go to their ion and any other name is a non-specific
current; a bare array is a non-specific current named "i".
"""

import abc
import inspect
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from dendrax.mechanisms.ions import STANDARD_IONS, Ion, ion_of

Array = jax.Array


@dataclass(frozen=True)
class Parameter:
    """A mechanism parameter: its default, unit, and the values it may take."""

    default: float
    unit: str
    description: str = ""
    nonnegative: bool = False

    def __post_init__(self):
        if isinstance(self.default, bool) or not isinstance(self.default, int | float):
            raise TypeError(f"a Parameter's default must be a number, got {self.default!r}")
        if not np.isfinite(self.default):
            raise ValueError(f"a Parameter's default must be finite, got {self.default}")


@dataclass(frozen=True)
class State:
    """A mechanism state variable and its unit.

    `initial`: the value it starts at (NEURON's INITIAL block setting it); None (the
    default) starts it at its steady state, as `steady_state` gives it.

    `shape`: () for one value per site (the default); else the state is an array of that
    shape at each site (a .mod file's buffer of 800 spike times: `shape=(800,)`), whose
    values reach the mechanism's methods with these trailing dimensions after the sites'.
    Such a state is simulated, differentiated and vectorised as the others, but is not
    recorded, and the native kernel does not hold it (the model runs in pure JAX).
    """

    unit: str
    description: str = ""
    initial: float | None = None
    shape: tuple[int, ...] = ()

    def __post_init__(self):
        if self.initial is not None and not (
            isinstance(self.initial, int | float) and np.isfinite(self.initial)
        ):
            raise ValueError(f"a State's initial value must be a finite number, got {self.initial}")
        if not isinstance(self.shape, tuple) or not all(
            isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in self.shape
        ):
            raise ValueError(
                f"a State's shape must be a tuple of positive ints, got {self.shape!r}"
            )


KINDS = ("density", "point", "junction")
"""What a mechanism's current is and where it acts: "density" per unit membrane area
(mA/cm², at most once per compartment, like NEURON's SUFFIX mechanisms); "point" a current
(nA) at a location, any number per compartment (NEURON's POINT_PROCESS: synapses, electrode
sources); "junction" a current (nA) at a location that depends on the voltage at a peer
location, possibly on another cell (gap junctions, graded synapses), given to its
functions as `params["v_peer"]` (mV, the peer's voltage at the start of the step)."""

RESERVED_NAMES = frozenset(
    {"v", "t", "dt", "celsius", "v_peer", "radius", "length", "axial_resistivity", "capacitance"}
)
"""Names the engine gives a meaning (voltage, time, temperature, geometry): no mechanism,
parameter or state may take them."""

SELF_EVENT = -1e30
"""The time (ms) `receive` is given for the event a site sent itself (`self_events`)."""

SELF_EVENT_NONE = 1e30
"""The `self_events` state of a site that has sent itself no event (ms: never due)."""

_SIGNATURES = {
    "steady_state": ("v", "params", "celsius"),
    "update": ("states", "v", "params", "dt", "celsius", "t"),
    "current": ("states", "v", "params", "celsius", "t"),
    "receive": ("states", "params", "lag"),
}


class Mechanism(abc.ABC):
    """Base class of membrane mechanisms (channels, pumps, leaks, ion accumulation).

    Instances are immutable and hashable; keyword arguments override parameter defaults,
    e.g. `HH(gNa=0.2)`.
    """

    kind: ClassVar[str] = "density"
    """One of `KINDS`: "density", "point" or "junction"."""
    parameters: ClassVar[Mapping[str, Parameter]] = MappingProxyType({})
    states: ClassVar[Mapping[str, State]] = MappingProxyType({})
    reads: ClassVar[tuple[str, ...]] = ()
    writes: ClassVar[tuple[str, ...]] = ()
    new_ions: ClassVar[tuple[Ion, ...]] = ()
    slope_by_difference: ClassVar[bool] = False
    """Take di/dv for the implicit voltage step as NEURON does, (i(v + 0.001) - i(v)) / 0.001,
    instead of the exact derivative: only differs for currents nonlinear in v (GHK)."""
    event_time: ClassVar[bool] = False
    """`receive` takes the event's time (ms) instead of its lag (NEURON's `t` inside
    NET_RECEIVE: a spike's time plus its delay), in both event modes."""
    self_events: ClassVar[str | None] = None
    """The state that holds the time (ms) of the event a site has sent itself (NEURON's
    net_send), or None. The engine delivers it when due, in time order with the site's
    spike event, by calling `receive` with the time `SELF_EVENT`; needs `event_time`."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        # Declarations are fixed once the class exists: a table changed later would
        # change every instance made after it.
        cls.parameters = MappingProxyType(dict(cls.parameters))
        cls.states = MappingProxyType(dict(cls.states))
        _check_declaration(cls)

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

    @property
    def receives_events(self) -> bool:
        """Whether spike events can be delivered to it (it implements `receive`)."""
        return type(self).receive is not Mechanism.receive

    @property
    def ions(self) -> dict[str, Ion]:
        """The ion species this mechanism reads or writes, by name."""
        known = ion_species((self,))
        return {ion_of(v, known)[0].name: ion_of(v, known)[0] for v in self.reads + self.writes}

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
        self, states: dict, v: Array, params: dict, dt: float, celsius, t
    ) -> dict[str, Array]:
        """States after one step of `dt` (ms) at the new voltage `v` (mV), at temperature
        `celsius` (°C), the step ending at time `t` (ms)."""

    @abc.abstractmethod
    def current(self, states: dict, v: Array, params: dict, celsius, t) -> Array | dict:
        """Outward current at voltage `v` (mV), temperature `celsius` (°C) and time `t` (ms,
        the middle of the step, as NEURON evaluates BREAKPOINT): a density (mA/cm²) for
        the "density" kind, a current (nA) for "point" and "junction"."""

    def receive(self, states: dict, params: dict, lag) -> dict[str, Array]:
        """States after a spike event arrives (NEURON's NET_RECEIVE), for the sites that
        receive one in this step; `params["weight"]` is the connection's weight.

        `lag` (ms) is how long before the start of the step the event happened: 0 with
        `build(events="step")` (NEURON's fixed-step delivery), in [0, dt) with
        `events="interpolated"`, where a state that decays after the event should be
        scaled as if it had decayed for `lag` (an exponential synapse: weight x
        exp(-lag / tau)). Only point mechanisms implement it. A mechanism with
        `event_time = True` gets the event's time (ms) instead of `lag`, and `SELF_EVENT`
        for an event it sent itself (`self_events`)."""
        raise NotImplementedError(f"{self.name} does not receive events")


def ion_species(mechanisms) -> dict[str, Ion]:
    """NEURON's standard ions and every species the mechanisms declare, by name."""
    species = dict(STANDARD_IONS)
    for mechanism in mechanisms:
        for ion in mechanism.new_ions:
            known = species.setdefault(ion.name, ion)
            if known != ion:
                raise ValueError(
                    f"{mechanism.name} declares ion {ion} but {known} is already declared"
                )
    return species


def _check_declaration(cls) -> None:
    """Raise at class definition if a mechanism's declaration is inconsistent."""
    name = cls.__name__
    if cls.kind not in KINDS:
        raise ValueError(f"{name}.kind is {cls.kind!r}; choose one of {list(KINDS)}")
    if name in RESERVED_NAMES:
        raise ValueError(f"a mechanism cannot be named {name!r}: the engine uses that name")
    for method, expected in _SIGNATURES.items():
        _check_signature(cls, method, expected)
    for table, expected in ((cls.parameters, Parameter), (cls.states, State)):
        for key, value in table.items():
            if not isinstance(value, expected):
                raise TypeError(
                    f"{name}.{key} must be declared as {expected.__name__}(...), got {value!r}"
                )
    clash = sorted(set(cls.parameters) & set(cls.states))
    if clash:
        raise ValueError(f"{name}: {clash[0]!r} is both a parameter and a state")
    species = ion_species([_Declared(name, cls.new_ions)])
    for direction, variables in (("reads", cls.reads), ("writes", cls.writes)):
        for variable in variables:
            found = ion_of(variable, species)
            if found is None:
                raise ValueError(
                    f"{name} {direction} {variable!r}, which is not a variable of a declared "
                    f"ion (known: {sorted(species)}); declare a new species with "
                    f"new_ions = (dx.Ion(...),)"
                )
            kind = found[1]
            if direction == "writes" and kind == "reversal":
                raise ValueError(f"{name} writes {variable!r}: reversal potentials are read-only")
            if direction == "writes" and kind in ("internal", "external"):
                if variable not in cls.states:
                    raise ValueError(
                        f"{name} writes the concentration {variable!r}, so it must also be "
                        f"one of its states"
                    )
            if variable in cls.parameters:
                raise ValueError(f"{name}: parameter {variable!r} shadows an ion variable")
    for key in (*cls.parameters, *cls.states):
        if key in RESERVED_NAMES:
            raise ValueError(f"{name}: {key!r} is reserved by the engine; rename it")
    if ion_of(name, species) is not None:
        raise ValueError(f"a mechanism cannot be named {name!r}: it is an ion variable")
    if cls.receive is not Mechanism.receive:
        if cls.kind != "point":
            raise ValueError(
                f"{name}: only point mechanisms receive events; its kind is {cls.kind!r}"
            )
        if "weight" not in cls.parameters:
            raise ValueError(
                f"{name} receives events, so it declares the weight they carry: "
                f'parameters = {{"weight": Parameter(0.0, "uS"), ...}}'
            )
    if cls.self_events is not None and (not cls.event_time or cls.self_events not in cls.states):
        raise ValueError(
            f"{name}.self_events must name one of its states and needs event_time = True"
        )
    if cls.kind != "density" and (cls.reads or cls.writes):
        raise ValueError(
            f"{name}: a {cls.kind} mechanism cannot read or write ion variables yet "
            f"(reads {cls.reads}, writes {cls.writes})"
        )


def _check_signature(cls, method: str, expected: tuple[str, ...]) -> None:
    """Raise if `cls.method` cannot be called with the engine's positional arguments."""
    function = getattr(cls, method)
    if getattr(function, "__isabstractmethod__", False):
        return
    try:
        inspect.signature(function).bind(None, *expected)
    except TypeError:
        raise TypeError(
            f"{cls.__name__}.{method} must take (self, {', '.join(expected)}), got "
            f"{inspect.signature(function)}"
        ) from None


@dataclass(frozen=True)
class _Declared:
    """The part of a mechanism that `ion_species` needs, before the class exists."""

    name: str
    new_ions: tuple[Ion, ...]


def exponential_euler(state: Array, steady: Array, tau: Array, dt: float) -> Array:
    """One exponential-Euler step of dx/dt = (steady - x)/tau (NEURON's `cnexp`)."""
    return state + (1.0 - jnp.exp(-dt / tau)) * (steady - state)


def exponential_euler_rate(state: Array, steady: Array, rate: Array, dt: float) -> Array:
    """`exponential_euler` given the rate 1/tau (1/ms) instead of tau: no division."""
    return state + (1.0 - jnp.exp(-dt * rate)) * (steady - state)


def implicit_euler(rate, state: Array, dt: float, iterations: int = 3) -> Array:
    """One backward-Euler step of dx/dt = rate(x) for states whose rate is not linear in x.

    Solves x_new = state + dt rate(x_new) elementwise by `iterations` Newton steps from
    `state` (as NEURON's `derivimplicit` does for one state), the derivative of `rate`
    taken by forward-mode autodiff. `rate` must act elementwise (closing over v and
    parameters as needed); returns x_new.
    """
    x = state
    for _ in range(iterations):
        value, slope = jax.jvp(rate, (x,), (jnp.ones_like(x),))
        x = x - (x - state - dt * value) / (1.0 - dt * slope)
    return x
