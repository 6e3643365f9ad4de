"""The C++ source of a model's native kernel: `kernel.cc` with its mechanisms filled in."""

import functools
import importlib.resources
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
from jax.extend.core import Literal

from dendrax.mechanisms import membrane
from dendrax.mechanisms.base import Mechanism
from dendrax.mechanisms.ions import nernst
from dendrax.native import uniform
from dendrax.native.codegen import Unsupported, c_type, literal
from dendrax.native.loops import step_replacements
from dendrax.solve.stepping import SOLVERS
from dendrax.static_spec import StaticSpec

_FFI_TYPES = {"double": 12, "float": 11, "int64_t": 5, "int32_t": 4}
"""XLA's numbers (XLA_FFI_DataType) of the value and index types."""


@dataclass(frozen=True)
class IonRows:
    """The kernel's per-node ion values: one row of n_nodes values (per lane) each.

    A row named by an ion variable ("cai", "eca", "ica") holds that variable per node (at
    the node of each compartment): concentrations that a mechanism writes (refreshed from
    its states after the writers' update), reversal potentials of ions with a written
    concentration (recomputed at the start of every step as `membrane.compartment_ions`
    does, from the rows "ex:param", "ex:nernst" (1 where Nernst applies) and the ion's
    concentration rows and the temperature row "celsius"), ion currents (mA/cm²) summed
    over their channels in every step with their slopes "ix:slope" (S/cm²), and the ion
    variables that are recorded.
    """

    names: tuple[str, ...]
    written: tuple[str, ...]
    """Concentrations (mM) that a mechanism writes, in sorted order."""
    reversals: tuple[tuple[str, str, str, int], ...]
    """(reversal, internal, external, charge) of each ion with a written concentration."""
    currents: tuple[str, ...]
    """Ion currents summed per compartment (read by a mechanism or recorded)."""

    @property
    def dynamic(self) -> frozenset[str]:
        """Ion variables that change during a run, besides the currents."""
        return frozenset(self.written) | {reversal for reversal, *_ in self.reversals}

    def row(self, name: str) -> int:
        return self.names.index(name)


@functools.lru_cache(maxsize=64)
def ion_rows(spec: StaticSpec) -> IonRows:
    """The per-node ion rows that the kernel for `spec` keeps (see `IonRows`)."""
    mechanisms = spec.mechanisms

    def kind(variable):
        return membrane.ion_variable_kind(variable, mechanisms)

    written = sorted(
        {v for m in mechanisms for v in m.writes if kind(v) in membrane.CONCENTRATIONS}
    )
    reversals = tuple(
        (names["reversal"], names["internal"], names["external"], ion.charge)
        for ion in membrane.used_ions(mechanisms).values()
        for names in (ion.variables,)
        if names["internal"] in written or names["external"] in written
    )
    recorded = [group for group in spec.record_groups if _is_ion_variable(group, spec)]
    currents = sorted(
        {v for m in mechanisms for v in m.reads if kind(v) == "current"}
        | {group for group in recorded if kind(group) == "current"}
    )
    names = list(written)
    for reversal, internal, external, _ in reversals:
        names += [reversal, f"{reversal}:param", f"{reversal}:nernst", internal, external]
    if reversals:
        names.append("celsius")  # the run's temperature at every node, for Nernst
    for current in currents:
        names += [current, f"{current}:slope"]
    names += recorded
    return IonRows(tuple(dict.fromkeys(names)), tuple(written), reversals, tuple(currents))


def _is_ion_variable(group: str, spec: StaticSpec) -> bool:
    ions = membrane.used_ions(spec.mechanisms).values()
    return any(group in ion.variables.values() for ion in ions)


def check_supported(spec: StaticSpec, gradient: bool = False) -> None:
    """Raise `Unsupported` (with the reason) if the native kernel cannot run `spec` (with
    `gradient`: if the native adjoint cannot differentiate it).

    The kernel holds states of one value per site (not those declared with a `shape`) and
    records v, mechanism states, the ion variables of compartments ("cai",
    "eca", "ica"), the current densities of mechanisms ("Ca_HVA.ica") and spikes. The adjoint
    covers the same, except a mechanism that writes a concentration while reading one that
    another mechanism writes, and a mechanism that sends itself events (the times of those
    depend on its parameters; the adjoint does not carry that dependence).
    """
    for mechanism in spec.mechanisms:
        for name in membrane.array_states(mechanism):
            raise Unsupported(
                f"{mechanism.name}.{name} is an array of shape {mechanism.states[name].shape} "
                "at each site, and the kernel holds one value per site and state"
            )
        for variable in mechanism.writes:
            kind = membrane.ion_variable_kind(variable, spec.mechanisms)
            if kind in membrane.CONCENTRATIONS and variable not in mechanism.states:
                raise Unsupported(f"{mechanism.name} writes {variable!r} but has no such state")
    recordable = {f"{m.name}.{x}" for m in spec.mechanisms for x in membrane.recordable(m)}
    for group in spec.record_groups:
        known = group in ("v", "spikes") or group in recordable
        if not known and not _is_ion_variable(group, spec):
            raise Unsupported(f"recording {group!r} (not a state, current or ion variable)")
    if not gradient:
        return
    for mechanism in spec.mechanisms:
        if mechanism.self_events is not None:
            raise Unsupported(f"{mechanism.name} sends itself events (net_send)")
    written = set(ion_rows(spec).written)
    for mechanism in spec.mechanisms:
        if not membrane.writes_concentration(mechanism):
            continue
        for variable in mechanism.reads + mechanism.writes:
            if variable in written and variable not in mechanism.writes:
                raise Unsupported(f"{mechanism.name} reads {variable!r}, which another writes")


@functools.lru_cache(maxsize=256)
def uses_time(mechanism: Mechanism, spec: StaticSpec) -> bool:
    """Whether the mechanism's current or update depends on the time t (then its native
    functions take t last; traced on abstract values: concrete ones ran op by op, 0.7 s per
    call inside `generated_once`)."""
    names = membrane.input_names(mechanism)

    def outputs(t, celsius, v, states, params):
        current = mechanism.current(states, v, params, celsius, t)
        new = mechanism.update(states, v, params, spec.dt, celsius, t)
        return current, new

    site = jax.ShapeDtypeStruct((1,), jnp.result_type(float))
    states = {name: site for name in mechanism.states}
    params = {name: site for name in names}
    jaxpr = jax.make_jaxpr(outputs)(0.0, 6.3, site, states, params).jaxpr
    used = {var for eqn in jaxpr.eqns for var in eqn.invars if not isinstance(var, Literal)}
    used |= {var for var in jaxpr.outvars if not isinstance(var, Literal)}
    return jaxpr.invars[0] in used


def recorded_densities(mechanism: Mechanism, spec: StaticSpec) -> tuple[str, ...]:
    """The current densities of `mechanism` that are recorded ("ica" for "Ca_HVA.ica"): the
    kernel keeps them per site, row by row, after the ion rows."""
    return tuple(
        x
        for x in membrane.current_names(mechanism)
        if x not in mechanism.states and f"{mechanism.name}.{x}" in spec.record_groups
    )


def site_inputs(mechanism: Mechanism, spec: StaticSpec) -> tuple[str, ...]:
    """The per-site values a mechanism's functions take besides v and its states: its
    parameters, then the ion reversal potentials and concentrations it uses that stay
    constant during the run (the others are `ion_inputs`), then its `temperature_rows`."""
    return (*_site_inputs_at_any_temperature(mechanism, spec), *temperature_rows(mechanism, spec))


def _site_inputs_at_any_temperature(mechanism: Mechanism, spec: StaticSpec) -> tuple[str, ...]:
    dynamic = ion_rows(spec).dynamic
    ions = tuple(
        variable
        for variable in mechanism.reads + mechanism.writes
        if membrane.ion_variable_kind(variable, spec.mechanisms) != "current"
        and variable not in dynamic
    )
    return (*mechanism.parameters, *ions)


@functools.lru_cache(maxsize=256)
def temperature_rows(mechanism: Mechanism, spec: StaticSpec) -> tuple[str, ...]:
    """The names of the per-site rows that hold the terms of the mechanism's current
    ("celsius:current:0", ...) and update ("celsius:update:0", ...) functions that depend
    on the temperature alone (`uniform.split`): computed once per run from
    `params["celsius"]` (`temperature_terms`), so that the kernel does not recompute them
    at every site and step. None for a mechanism whose functions do not depend on it."""
    return tuple(
        f"celsius:{part}:{k}"
        for part in PARTS
        for k in range(_temperature_split(mechanism, spec, part).n_terms)
    )


PARTS = ("current", "update")
"""The functions of a mechanism that the kernel calls at every site and step."""


def temperature_terms(mechanism: Mechanism, spec: StaticSpec, celsius) -> dict:
    """The value of each of the mechanism's `temperature_rows` at `celsius` (°C, traceable)."""
    values = [
        term for part in PARTS for term in _temperature_split(mechanism, spec, part).terms(celsius)
    ]
    return dict(zip(temperature_rows(mechanism, spec), values, strict=True))


@functools.lru_cache(maxsize=256)
def _temperature_split(mechanism: Mechanism, spec: StaticSpec, part: str) -> uniform.Split:
    """The `part` function of the mechanism with the temperature as its first input, cut
    where the terms that depend on it alone end."""
    fn, n_inputs = _at_temperature(mechanism, spec, part)
    try:
        return uniform.split(fn, n_inputs, at=0)
    except Unsupported:
        raise
    except Exception as error:  # any tracing failure means: no native code for it
        raise Unsupported(f"tracing failed ({type(error).__name__}: {error})") from error


def _at_temperature(mechanism: Mechanism, spec: StaticSpec, part: str):
    """(celsius, v, *states, *inputs[, t]) -> the outputs of the mechanism's current
    function (its density and slope, per summed flux its density and slope, then its
    `recorded_densities`) or of its update (the states after one step), on scalars; with
    its number of inputs. The inputs are `function_arguments` without the temperature rows,
    then the time t (ms) where the mechanism `uses_time`."""
    with_currents = part == "update"
    states, params = function_arguments(mechanism, spec, with_currents, temperature=False)
    timed = uses_time(mechanism, spec)
    fluxes = summed_fluxes(mechanism, spec)
    recorded = recorded_densities(mechanism, spec)

    def outputs(celsius, v, *values):
        state, param, t = _split(states, params, values, timed)
        if part == "update":
            new = mechanism.update(state, v, param, spec.dt, celsius, t)
            if set(new) != set(states):
                raise Unsupported(f"{mechanism.name}.update returned {sorted(new)}, not its states")
            return tuple(new[s] for s in states)
        current, slope, densities, slopes = membrane.site_current_and_slopes(
            mechanism, state, v, param, celsius, t
        )
        pairs = [value for flux in fluxes for value in (densities[flux], slopes[flux])]
        return (current, slope, *pairs, *(densities[x] for x in recorded))

    return outputs, 2 + len(states) + len(params) + timed


def ion_inputs(mechanism: Mechanism, spec: StaticSpec) -> tuple[str, ...]:
    """The ion variables a mechanism's functions take after its `site_inputs`, from the
    kernel's ion rows: reversal potentials and concentrations that change during the run
    (both functions), then the ion currents it reads (its update only)."""
    dynamic = ion_rows(spec).dynamic
    changing = tuple(v for v in mechanism.reads + mechanism.writes if v in dynamic)
    currents = tuple(
        v for v in mechanism.reads if membrane.ion_variable_kind(v, spec.mechanisms) == "current"
    )
    return (*changing, *currents)


def summed_fluxes(mechanism: Mechanism, spec: StaticSpec) -> tuple[str, ...]:
    """The ion currents of `mechanism` that the kernel sums per compartment."""
    summed = ion_rows(spec).currents
    return tuple(
        name
        for name in membrane.current_names(mechanism)
        if name in summed and name in mechanism.writes
    )


def function_arguments(
    mechanism: Mechanism, spec: StaticSpec, with_currents: bool, temperature: bool = True
):
    """The names of a mechanism's states and of its functions' other inputs: its
    `site_inputs` (without the `temperature_rows` unless `temperature`), then its
    `ion_inputs` (without the ion currents unless `with_currents`, as its current function
    takes them), then for a junction "v_peer" (the voltage at the site's peer node)."""
    states = tuple(mechanism.states)
    sited = site_inputs if temperature else _site_inputs_at_any_temperature
    names = (*sited(mechanism, spec), *ion_inputs(mechanism, spec))
    if not with_currents:
        names = tuple(n for n in names if n not in ion_rows(spec).currents)
    return states, (*names, *peer_voltage(mechanism))


def peer_voltage(mechanism: Mechanism) -> tuple[str, ...]:
    """("v_peer",) for a junction, whose functions take its peer's voltage last; else ()."""
    return ("v_peer",) if mechanism.kind == "junction" else ()


def current_callable(mechanism: Mechanism, spec: StaticSpec):
    """(v, *states, *inputs[, t]) -> (density mA/cm², slope S/cm², then per summed flux its
    density and slope, then the `recorded_densities`), on scalars; with its number of
    inputs and outputs. The inputs are `function_arguments(..., with_currents=False)`, then
    the time t (ms) where the mechanism `uses_time`."""
    function, n_inputs = _hoisted(mechanism, spec, "current")
    n_outputs = 2 + 2 * len(summed_fluxes(mechanism, spec))
    return function, n_inputs, n_outputs + len(recorded_densities(mechanism, spec))


def update_callable(mechanism: Mechanism, spec: StaticSpec):
    """(v, *states, *inputs[, t]) -> the states after one step at voltage v, on scalars;
    with its number of inputs. The inputs are `function_arguments(..., with_currents=True)`,
    then the time t (ms) where the mechanism `uses_time`."""
    return _hoisted(mechanism, spec, "update")


def _hoisted(mechanism: Mechanism, spec: StaticSpec, part: str):
    """The `part` function taking its temperature terms from their rows among its inputs
    (`temperature_rows`) instead of the temperature; with its number of inputs."""
    states, params = function_arguments(mechanism, spec, part == "update")
    names = (*states, *params, *(["t"] if uses_time(mechanism, spec) else []))
    split = _temperature_split(mechanism, spec, part)
    rows = temperature_rows(mechanism, spec)
    terms = [name for name in rows if name.startswith(f"celsius:{part}:")]

    def function(v, *values):
        named = dict(zip(names, values, strict=True))
        others = [named[name] for name in names if name not in rows]
        return tuple(split.body(*(named[name] for name in terms), v, *others))

    return function, 1 + len(names)


def receive_callable(mechanism: Mechanism):
    """(*states, *parameters, lag) -> the states after a spike event that arrives `lag` ms
    late (`Mechanism.receive`), on scalars; with its number of inputs. The parameters are
    the first rows of the mechanism's `site_inputs`."""
    states, params = tuple(mechanism.states), tuple(mechanism.parameters)

    def receive(*values):
        state = dict(zip(states, values[: len(states)], strict=True))
        param = dict(zip(params, values[len(states) : -1], strict=True))
        new = membrane.checked_states(
            mechanism, "receive", mechanism.receive(state, param, values[-1])
        )
        return tuple(new[s] for s in states)

    return receive, len(states) + len(params) + 1


def _split(states: tuple, params: tuple, values: tuple, timed: bool) -> tuple[dict, dict, object]:
    """A scalar function's inputs after v: the states, the other inputs and t (0 if not
    `timed`)."""
    state = dict(zip(states, values[: len(states)], strict=True))
    rest = values[len(states) :]
    param = dict(zip(params, rest[: len(params)], strict=True))
    return state, param, rest[-1] if timed else 0.0


def nernst_callable(charge: int):
    """(internal, external, celsius) -> (Nernst potential mV,) for an ion of `charge`, on
    scalars."""

    def potential(internal, external, celsius):
        return (nernst(internal, external, charge, celsius),)

    return potential


def template_text(name: str) -> str:
    """The text of one of the C++ files shipped in `dendrax.native`."""
    return importlib.resources.files("dendrax.native").joinpath(name).read_text()


def check_value_type(dtype) -> None:
    """Raise `Unsupported` unless the kernels can hold values of `dtype` (float32, float64)."""
    if c_type(dtype) not in ("double", "float"):
        raise Unsupported(f"values of dtype {np.dtype(dtype)}")


def filled_template(name: str, spec: StaticSpec, dtype, index_dtype, replacements: dict) -> str:
    """The C++ file `name` with its @NAMES@ filled in: those every kernel template shares
    (the call's plain-C view, cache-line aligned arrays, the operands' layout, scalar math,
    the step of step.h with the mechanisms of `spec`, value and index types, solver factor,
    numbers of mechanisms and ion rows), then `replacements`."""
    from dendrax.native.operands import c_field_lists  # here: operands imports this module

    t, index = c_type(dtype), c_type(index_dtype)
    shared = {
        "@STEP@": template_text("step.h"),
        "@CALL@": template_text("call.h"),
        "@BUFFER@": template_text("buffer.h"),
        "@OPERANDS@": template_text("operands.h"),
        **step_replacements(spec, dtype),
        **c_field_lists(),
        "@SCALAR_MATH@": template_text("scalar_math.cc"),
        "@C_TYPE@": t,
        "@VALUE_TYPE_ID@": str(_FFI_TYPES[t]),
        "@INDEX_TYPE@": index,
        "@INDEX_TYPE_ID@": str(_FFI_TYPES[index]),
        "@FACTOR@": f"T({SOLVERS[spec.solver]!r})",
        "@DT@": literal(spec.dt, dtype),
        "@HALF_DT@": literal(0.5 * spec.dt, dtype),
        "@N_MECHANISMS@": str(len(spec.mechanisms)),
        "@N_ION_ROWS@": str(len(ion_rows(spec).names)),
    }
    text = template_text(name)
    for key, value in {**shared, **replacements}.items():
        text = text.replace(key, value)
    return text


def generated_once(generate):
    """`generate` (a source generator) cached per arguments and run outside any trace: the
    scalars it traces mechanisms with would otherwise enter the jaxpr being traced as dead
    equations, the first time only."""

    @functools.lru_cache(maxsize=64)
    @functools.wraps(generate)
    def cached(*args):
        with jax.ensure_compile_time_eval():
            return generate(*args)

    return cached


@generated_once
def kernel_source(spec: StaticSpec, dtype, index_dtype) -> str:
    """The C++ source for `spec` with values of `dtype` (float32 or float64).

    Per mechanism j, the site values are its `site_inputs` row by row, then its site area
    factor (cm² per site); its states are stored row by row in `StaticSpec` order. The ion
    values are the `ion_rows` of `spec`, n_nodes values each; then, per mechanism, its
    `recorded_densities`, row by row. Index arrays have `index_dtype` (int64 or int32).
    """
    check_supported(spec)
    check_value_type(dtype)
    return filled_template("kernel.cc", spec, dtype, index_dtype, {})
