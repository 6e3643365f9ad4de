"""The built simulation: immutable arrays, a parameter pytree and a jit-compiled `run`."""

from dataclasses import dataclass, field
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from dendrax import units
from dendrax.diagnose import InvalidValue, first_invalid, warn_if_blown_up
from dendrax.model.cell import GEOMETRY_UNITS
from dendrax.native import simulate
from dendrax.native.library import steps_done
from dendrax.progress import shown
from dendrax.solve.stepping import node_geometry
from dendrax.static_spec import StaticSpec
from dendrax.training.layout import Trainables, TrainableValue


@partial(jax.jit, static_argnames=("spec", "n_steps"))
def _recordings(spec: StaticSpec, arrays: dict, params: dict, stimuli, clamps, n_steps: int):
    """The simulation's recordings, with the rows asked in nA turned from densities
    (mA/cm²) into currents (density times membrane area)."""
    traces = simulate(spec, arrays, params, stimuli, clamps, n_steps)
    rows = arrays["nanoampere_rows"]
    if rows.shape[0] == 0:
        return traces
    area = node_geometry(arrays, params)[2][arrays["nanoampere_comps"]]
    scale = jnp.ones(traces.shape[0], traces.dtype).at[rows].set(area * units.DENSITY_TO_CURRENT)
    return traces * scale[:, None]


@partial(
    jax.tree_util.register_dataclass,
    data_fields=["arrays", "params", "stimuli", "clamps", "trainables"],
    meta_fields=["spec", "recording_names", "recording_units"],
)
@dataclass(frozen=True)
class Simulation:
    """A model turned into arrays by `dendrax.build`.

    A JAX pytree: the index arrays, parameters, stimuli and clamps are its leaves, the
    settings (`spec`) and labels its static structure, so that `jax.jit(f)(sim)` traces
    one program for every model of the same structure and shapes.

    Attributes:
        spec: compile-time settings (mechanism types, dt, solver, v_init, celsius).
        arrays: integer index arrays of the morphology, mechanism sites, stimuli and records.
        params: the parameter pytree with the cell's values: geometry per compartment
            ("radius", "length", "axial_resistivity", "capacitance") and each mechanism's
            parameters per site (`params["HH"]["gNa"]`).
        stimuli: (n_stimuli, n_steps) currents (nA) in the order of the `.stimulate` calls.
        clamps: (n_clamps, n_steps) clamp voltages (mV) in the order of the `.clamp` calls.
        recording_names: one label per recorded row.
        recording_units: the unit of each recorded row ("mV", "mA/cm2", "nA", "mM", ...).
        trainables: the trainable parameters (`make_trainable`) as index arrays.
    """

    spec: StaticSpec
    arrays: dict
    params: dict
    stimuli: jax.Array
    clamps: jax.Array
    recording_names: tuple[str, ...]
    recording_units: tuple[str, ...] = ()
    trainables: Trainables = field(default_factory=Trainables)

    @property
    def dt(self) -> float:
        return self.spec.dt

    @property
    def compartment_cells(self) -> np.ndarray:
        """The index of the cell (in the order given to `build`) of each compartment."""
        return np.asarray(self.arrays["comp_cell"])

    def sites(self, name: str) -> dict[str, np.ndarray]:
        """Where each value of `params[name]` is: for a mechanism, per site; for geometry
        and ion variables ("radius", "cai"), per compartment. Returns "compartment"
        (index in the simulation), "cell", "branch" (in its cell) and "index_in_branch",
        one entry per value, for masks such as `sim.sites("HH")["branch"] == 0`. Host-side
        (outside jit)."""
        if name not in self.params:
            raise KeyError(f"no parameter group {name!r}; known: {sorted(self.params)}")
        if name == "celsius":
            raise ValueError('"celsius" is one value for the whole simulation, not per site')
        comps = np.arange(np.asarray(self.arrays["comp_cell"]).size)
        if isinstance(self.params[name], dict):
            comps = np.asarray(self.arrays["sites"][name]["comp"])
        return {
            "compartment": comps,
            "cell": np.asarray(self.arrays["comp_cell"])[comps],
            "branch": np.asarray(self.arrays["comp_branch"])[comps],
            "index_in_branch": np.asarray(self.arrays["comp_index_in_branch"])[comps],
        }

    def set_param(self, params: dict, name: str, value, where=None) -> dict:
        """`params` with the parameter `name` ("HH.gNa", "radius", "cai") set to `value` (a
        scalar, or one value per selected entry) where the boolean mask `where` (one entry
        per value, see `sites`) holds, or everywhere. A pure function: it works inside
        `jit`, `grad` and `vmap` (with `where` a host-side mask), so that a few values can
        be trained or swept:
        `sim.set_param(sim.params, "HH.gNa", g, where=sim.sites("HH")["branch"] == 0)`."""
        group, _, key = name.partition(".")
        old = self._leaf(params, name)
        if jnp.ndim(old) == 0:  # "celsius": one value
            self._mask(old, where, name)
            new = jnp.asarray(value, jnp.result_type(old))
        else:
            new = jnp.asarray(old).at[np.flatnonzero(self._mask(old, where, name))].set(value)
        if key:
            return {**params, group: {**params[group], key: new}}
        return {**params, group: new}

    def get_param(self, params: dict, name: str, where=None):
        """The values of parameter `name` in `params` where the mask `where` holds (all if
        None); see `set_param`."""
        values = self._leaf(params, name)
        if where is None:
            return values
        return values[np.flatnonzero(self._mask(values, where, name))]

    def _leaf(self, params: dict, name: str):
        group, _, key = name.partition(".")
        if group not in params or isinstance(params[group], dict) != bool(key):
            raise KeyError(f"unknown parameter {name!r}")
        if key and key not in params[group]:
            raise KeyError(f"unknown parameter {name!r}; {group} has {sorted(params[group])}")
        return params[group][key] if key else params[group]

    @staticmethod
    def _mask(values, where, name: str) -> np.ndarray:
        if where is None:
            return np.ones(jnp.shape(values), dtype=bool)
        mask = np.asarray(where)
        if mask.dtype != bool or mask.shape != jnp.shape(values):
            raise ValueError(
                f"where for {name} must be a boolean mask of shape {jnp.shape(values)} (one "
                f"entry per value, see sim.sites), got {mask.dtype} {mask.shape}"
            )
        return mask

    def trainable_params(self) -> dict:
        """theta: the initial values of the trainables (`make_trainable`) in unconstrained
        space, one array per call keyed "name@selection" ("HH.gNa@soma"), one number per
        group. Train it with optax and map it to parameters with `params_from`."""
        return self.trainables.theta()

    def params_from(self, theta: dict, params: dict | None = None) -> dict:
        """The parameter pytree for `run`: `params` (default `sim.params`) with every
        trainable's sites set to its group's value in theta. A gather and a scatter by
        index arrays, inside `jit`, `grad` and `vmap`."""
        return self.trainables.params_from(theta, self.params if params is None else params)

    def trainable_values(self, theta: dict) -> dict[str, TrainableValue]:
        """Per key of theta, its values in the parameter's unit (bounds applied), with the
        parameter's name, a description of each group and the unit."""
        return self.trainables.values(theta)

    def n_steps(self, t_max: float | None = None) -> int:
        """Steps of a run to `t_max` (ms): round(t_max / dt); else the stimuli's length."""
        lengths = {a.shape[-1] for a in (self.stimuli, self.clamps) if a.shape[0] > 0}
        if t_max is None:
            if not lengths:
                raise ValueError("run needs t_max (ms): the model has no stimulus or clamp")
            return lengths.pop()
        if not t_max > 0:
            raise ValueError(f"t_max must be > 0 ms, got {t_max}")
        n_steps = round(t_max / self.dt)
        if n_steps < 1:
            raise ValueError(f"t_max = {t_max} ms is less than one step of dt = {self.dt} ms")
        return n_steps

    def time(self, t_max: float | None = None) -> np.ndarray:
        """Times (ms) of the recorded samples of a run to `t_max`, starting at 0."""
        return np.arange(self.n_steps(t_max) + 1) * self.dt

    def run(
        self,
        params=None,
        t_max: float | None = None,
        stimuli=None,
        clamps=None,
        progress: bool | None = None,
    ):
        """Simulate and return the recordings, shape (n_recordings, n_steps + 1).

        Called outside `jit`, `grad` and `vmap`, it warns (`dendrax.diagnose.BlowUpWarning`)
        where a recorded voltage is NaN, infinite or beyond ±1000 mV, and shows a progress
        bar for a long run.

        Args:
            params: a pytree like `sim.params` (default: `sim.params`).
            t_max: duration (ms); n_steps = round(t_max / dt). Defaults to the stimuli's length.
            stimuli: (n_stimuli, n_steps) currents (nA), replacing the cell's stimuli.
            clamps: (n_clamps, n_steps) clamp voltages (mV), replacing the cell's clamps.
            progress: a tqdm progress bar of the steps (outside jit, grad and vmap): True
                always, False never, None (default) once a run has lasted 2 s. The native
                kernel moves it as it runs; on the pure-JAX path it fills at the end.
        """
        params, stimuli, clamps, n_steps = self._inputs(params, t_max, stimuli, clamps)
        inputs = jax.tree_util.tree_leaves((self.arrays, params, stimuli, clamps))
        if any(isinstance(x, jax.core.Tracer) for x in inputs):
            return _recordings(self.spec, self.arrays, params, stimuli, clamps, n_steps)
        total = self.spec.settle_steps + n_steps
        counted = steps_done if self.spec.backend == "native" else None
        with shown(total, progress, counted):
            traces = jax.block_until_ready(
                _recordings(self.spec, self.arrays, params, stimuli, clamps, n_steps)
            )
        warn_if_blown_up(traces, self.recording_names, self.recording_units, self.dt)
        return traces

    def spike_times(self, traces) -> list[np.ndarray]:
        """The spike times (ms) of each row recorded by `record_spikes`, in recording
        order, from `traces` as `run` returns them (a spike at sample k is at k dt)."""
        traces = np.asarray(traces)
        if traces.ndim != 2 or traces.shape[0] != len(self.recording_names):
            raise ValueError(
                f"spike_times expects the traces of run, shape ({len(self.recording_names)}, "
                f"n_samples), got {traces.shape}"
            )
        rows = [i for i, n in enumerate(self.recording_names) if n.startswith("spikes at ")]
        return [np.flatnonzero(traces[row] > 0.5) * self.dt for row in rows]

    def first_invalid(
        self, params=None, t_max: float | None = None, stimuli=None, clamps=None
    ) -> InvalidValue | None:
        """Where the run with these arguments (as `run`'s) first produces a NaN or infinite
        voltage or state, a voltage beyond ±1000 mV (blown up), or a concentration <= 0:
        the step, time, quantity, compartment, value and the parameters there
        (`dendrax.diagnose.InvalidValue`); None if nowhere.

        Replays the run on the host with the pure-JAX path (not under jit or vmap), which
        agrees with the native kernel up to the step where the model blows up (the two may
        overflow to inf differently after it).
        """
        return first_invalid(self.spec, self.arrays, *self._inputs(params, t_max, stimuli, clamps))

    def _inputs(self, params, t_max, stimuli, clamps):
        """`run`'s arguments checked, with defaults filled in, and the number of steps."""
        params = self.params if params is None else params
        _check_structure(self.params, params)
        _check_precision(self.spec)
        n_steps = self.n_steps(t_max)
        # The model's own stimuli and clamps run for the first t_max when they last longer,
        # as NEURON's do.
        stimuli = self.stimuli[:, :n_steps] if stimuli is None else stimuli
        clamps = self.clamps[:, :n_steps] if clamps is None else clamps
        for what, given, own in (
            ("stimuli", stimuli, self.stimuli),
            ("clamps", clamps, self.clamps),
        ):
            _check_series(what, given, own, n_steps, self.dt)
        _check_values(params, stimuli, clamps)
        _check_mechanism_values(self.spec, params)
        stimuli = jnp.reshape(stimuli, (-1, n_steps)) if jnp.size(stimuli) else _none(n_steps)
        clamps = jnp.reshape(clamps, (-1, n_steps)) if jnp.size(clamps) else _none(n_steps)
        return params, stimuli, clamps, n_steps


def _none(n_steps: int) -> jax.Array:
    return jnp.zeros((0, n_steps))


def _check_structure(reference: dict, params: dict) -> None:
    """Raise if `params` does not have the keys and shapes of `reference`."""
    ref_paths = dict(jax.tree_util.tree_flatten_with_path(reference)[0])
    got_paths = dict(jax.tree_util.tree_flatten_with_path(params, is_leaf=_is_list)[0])
    for path, leaf in got_paths.items():
        if _is_list(leaf):
            name = ".".join(str(getattr(k, "key", k)) for k in path)
            raise TypeError(f"params[{name!r}] is a {type(leaf).__name__}: give an array")
    for path, ref in ref_paths.items():
        name = ".".join(str(getattr(k, "key", k)) for k in path)
        if path not in got_paths:
            raise KeyError(f"params lacks {name!r}")
        shape = jnp.shape(got_paths[path])
        if shape != ref.shape:
            raise ValueError(f"params[{name!r}] has shape {shape}, expected {ref.shape}")
    extra = set(got_paths) - set(ref_paths)
    if extra:
        name = ".".join(str(getattr(k, "key", k)) for k in sorted(extra, key=str)[0])
        raise KeyError(f"unknown parameter {name!r} in params")


def _check_values(params: dict, stimuli, clamps) -> None:
    """Raise on NaN or infinite values and on geometry <= 0. Values traced by `jit`, `grad`
    or `vmap` are not known here and pass unchecked."""
    named = [
        (f"params{jax.tree_util.keystr(path)}", leaf)
        for path, leaf in jax.tree_util.tree_flatten_with_path(params)[0]
    ]
    for name, values in [*named, ("stimuli", stimuli), ("clamps", clamps)]:
        if isinstance(values, jax.core.Tracer):
            continue
        array = np.asarray(values)
        if np.iscomplexobj(array):
            raise TypeError(f"{name} is complex ({array.dtype}): values must be real")
        bad = ~np.isfinite(array)
        if np.any(bad):
            index = tuple(int(i) for i in np.argwhere(bad)[0])
            raise ValueError(f"{name}{list(index)} is {array[index]}: values must be finite")
    for name, unit in GEOMETRY_UNITS.items():
        if isinstance(params[name], jax.core.Tracer):
            continue
        array = np.asarray(params[name])
        if np.any(array <= 0):
            index = int(np.flatnonzero(array <= 0)[0])
            raise ValueError(
                f"params[{name!r}][{index}] (compartment {index}) is {array[index]}: "
                f"must be > 0 ({unit})"
            )


def _check_series(what: str, values, own, n_steps: int, dt: float) -> None:
    """Raise unless `values` has one row per call of the model's `own` series and one
    column per step."""
    n_rows = own.shape[0]
    shape = jnp.shape(values)
    if n_rows == 0 and len(shape) == 2 and shape[0] > 0:
        call = "stimulate" if what == "stimuli" else "clamp"
        raise ValueError(
            f"run got {what} of shape {shape}, but the model has no {what} "
            f"(no .{call} call before build)"
        )
    if shape != (n_rows, n_steps) and not (n_rows == 0 and len(shape) == 2 and shape[0] == 0):
        lasting = ""
        if values is not None and n_rows and own.shape[1] < n_steps and shape == own.shape:
            lasting = (
                f": the model's {what} last {own.shape[1] * dt:g} ms ({own.shape[1]} steps); "
                f"run at most that long, or pass longer {what} to run"
            )
        raise ValueError(
            f"{what} must have shape ({n_rows}, {n_steps}) (one row per call, one value per "
            f"step of dt={dt} ms), got {shape}{lasting}"
        )


def _check_mechanism_values(spec: StaticSpec, params: dict) -> None:
    """Raise on values a mechanism refuses (as `.set` does: negative conductances, ...)
    and on a temperature below absolute zero. Values traced by `jit`, `grad` or `vmap`
    pass unchecked."""
    celsius = params["celsius"]
    if not isinstance(celsius, jax.core.Tracer) and np.asarray(celsius) < units.ABSOLUTE_ZERO:
        raise ValueError(
            f"params['celsius'] is {float(celsius)}: below absolute zero ({units.ABSOLUTE_ZERO} °C)"
        )
    for mechanism in spec.mechanisms:
        for name, values in params[mechanism.name].items():
            if isinstance(values, jax.core.Tracer):
                continue
            try:
                mechanism.check_value(name, np.asarray(values))
            except ValueError as error:
                raise ValueError(f"params[{mechanism.name!r}][{name!r}]: {error}") from None


def _is_list(leaf) -> bool:
    return isinstance(leaf, list | tuple)


def _check_precision(spec: StaticSpec) -> None:
    """Raise where JAX's present precision is not the one the model was built in (a
    float64 model unpickled without `jax_enable_x64` would run in float32, or fail)."""
    now = jnp.zeros(0).dtype.name
    if now != spec.precision:
        raise ValueError(
            f"the simulation was built in {spec.precision} but JAX now computes in {now}; "
            f"run it with jax.config.update('jax_enable_x64', {spec.precision == 'float64'})"
            f", or build it again"
        )
