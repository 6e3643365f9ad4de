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
from dendrax.native.codegen import Unsupported, c_type, scalar_function
from dendrax.solve.stepping import SOLVERS
from dendrax.static_spec import StaticSpec

_FFI_TYPES = {"double": 12, "float": 11, "int64_t": 5, "int32_t": 4}
"""XLA's numbers (XLA_FFI_DataType) of the value and index types."""

_SCATTER = [
    "  for (int64_t k = 0; k < count; ++k) {",
    "    for (int w = 0; w < W; ++w) {",
    "      current[site_node[k] * W + w] += site_current[k * W + w];",
    "      slope[site_node[k] * W + w] += site_slope[k * W + w];",
    "    }",
    "  }",
]
"""Add the site currents and slopes (nA, µS) of a mechanism to its nodes, lane by lane."""


@dataclass(frozen=True)
class IonRows:
    """The kernel's per-node ion values: one row of n_nodes values (per lane) each.

    A row named by an ion variable ("cai", "eca", "ica") holds that variable per node (at
    the node of each compartment): concentrations that a mechanism writes (refreshed from
    its states after the writers' update), reversal potentials of ions with a written
    concentration (recomputed at the start of every step as `membrane.compartment_ions`
    does, from the rows "ex:param", "ex:nernst" (1 where Nernst applies) and the ion's
    concentration rows), ion currents (mA/cm²) summed over their channels in every step
    with their slopes "ix:slope" (S/cm²), and the ion variables that are recorded.
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

    The kernel records v, mechanism states, the ion variables of compartments ("cai",
    "eca", "ica") and the current densities of mechanisms ("Ca_HVA.ica"). The adjoint
    covers the same, except a mechanism that writes a concentration while reading one that
    another mechanism writes.
    """
    for mechanism in spec.mechanisms:
        if uses_time(mechanism, spec):
            raise Unsupported(f"{mechanism.name} uses the time t (not yet in the native kernel)")
        for variable in mechanism.writes:
            kind = membrane.ion_variable_kind(variable, spec.mechanisms)
            if kind in membrane.CONCENTRATIONS and variable not in mechanism.states:
                raise Unsupported(f"{mechanism.name} writes {variable!r} but has no such state")
    recordable = {f"{m.name}.{x}" for m in spec.mechanisms for x in membrane.recordable(m)}
    for group in spec.record_groups:
        if group != "v" and not _is_ion_variable(group, spec) and group not in recordable:
            raise Unsupported(f"recording {group!r} (not a state, current or ion variable)")
    if not gradient:
        return
    written = set(ion_rows(spec).written)
    for mechanism in spec.mechanisms:
        if not membrane.writes_concentration(mechanism):
            continue
        for variable in mechanism.reads + mechanism.writes:
            if variable in written and variable not in mechanism.writes:
                raise Unsupported(f"{mechanism.name} reads {variable!r}, which another writes")


@functools.lru_cache(maxsize=256)
def uses_time(mechanism: Mechanism, spec: StaticSpec) -> bool:
    """Whether the mechanism's current or update depends on the time t (traced on abstract
    values: concrete ones ran op by op, 0.7 s per call inside `generated_once`)."""
    names = membrane.input_names(mechanism)

    def outputs(t, v, states, params):
        current = mechanism.current(states, v, params, spec.celsius, t)
        new = mechanism.update(states, v, params, spec.dt, spec.celsius, t)
        return current, new

    site = jax.ShapeDtypeStruct((1,), jnp.result_type(float))
    states = {name: site for name in mechanism.states}
    params = {name: site for name in names}
    jaxpr = jax.make_jaxpr(outputs)(0.0, site, states, params).jaxpr
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
    constant during the run (the others are `ion_inputs`)."""
    dynamic = ion_rows(spec).dynamic
    ions = tuple(
        variable
        for variable in mechanism.reads + mechanism.writes
        if membrane.ion_variable_kind(variable, spec.mechanisms) != "current"
        and variable not in dynamic
    )
    return (*mechanism.parameters, *ions)


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


def function_arguments(mechanism: Mechanism, spec: StaticSpec, with_currents: bool):
    """The names of a mechanism's states and of its functions' other inputs: its
    `site_inputs`, then its `ion_inputs` (without the ion currents unless `with_currents`,
    as its current function takes them), then for a junction "v_peer" (the voltage at the
    site's peer node)."""
    states = tuple(mechanism.states)
    names = (*site_inputs(mechanism, spec), *ion_inputs(mechanism, spec))
    if not with_currents:
        names = tuple(n for n in names if n not in ion_rows(spec).currents)
    return states, (*names, *peer_voltage(mechanism))


def peer_voltage(mechanism: Mechanism) -> tuple[str, ...]:
    """("v_peer",) for a junction, whose functions take its peer's voltage last; else ()."""
    return ("v_peer",) if mechanism.kind == "junction" else ()


def current_callable(mechanism: Mechanism, spec: StaticSpec, recorded: tuple = ()):
    """(v, *states, *inputs) -> (density mA/cm², slope S/cm², then per summed flux its
    density and slope, then the `recorded` densities), on scalars; with its number of inputs
    and outputs. The inputs are `function_arguments(..., with_currents=False)`."""
    states, params = function_arguments(mechanism, spec, with_currents=False)
    fluxes = summed_fluxes(mechanism, spec)

    def current_and_slope(v, *values):
        state = dict(zip(states, values[: len(states)], strict=True))
        param = dict(zip(params, values[len(states) :], strict=True))
        current, slope, densities, slopes = membrane.site_current_and_slopes(
            mechanism, state, v, param, spec.celsius, 0.0
        )
        pairs = [value for flux in fluxes for value in (densities[flux], slopes[flux])]
        return (current, slope, *pairs, *(densities[x] for x in recorded))

    n_inputs, n_outputs = 1 + len(states) + len(params), 2 + 2 * len(fluxes) + len(recorded)
    return current_and_slope, n_inputs, n_outputs


def update_callable(mechanism: Mechanism, spec: StaticSpec):
    """(v, *states, *inputs) -> the states after one step at voltage v, on scalars; with its
    number of inputs. The inputs are `function_arguments(..., with_currents=True)`."""
    states, params = function_arguments(mechanism, spec, with_currents=True)

    def update(v, *values):
        state = dict(zip(states, values[: len(states)], strict=True))
        param = dict(zip(params, values[len(states) :], strict=True))
        new = mechanism.update(state, v, param, spec.dt, spec.celsius, 0.0)
        if set(new) != set(states):
            raise Unsupported(f"{mechanism.name}.update returned {sorted(new)}, not its states")
        return tuple(new[s] for s in states)

    return update, 1 + len(states) + len(params)


def nernst_callable(charge: int, spec: StaticSpec):
    """(internal, external) -> (Nernst potential mV,) for an ion of `charge`, on scalars."""

    def potential(internal, external):
        return (nernst(internal, external, charge, spec.celsius),)

    return potential


def _current_function(mechanism: Mechanism, name: str, spec: StaticSpec, dtype) -> str:
    recorded = recorded_densities(mechanism, spec)
    fn, n_inputs, n_outputs = current_callable(mechanism, spec, recorded)
    return scalar_function(name, fn, n_inputs, n_outputs, dtype)


def _update_function(mechanism: Mechanism, name: str, spec: StaticSpec, dtype) -> str:
    fn, n_inputs = update_callable(mechanism, spec)
    return scalar_function(name, fn, n_inputs, len(mechanism.states), dtype)


def _nernst_function(name: str, charge: int, spec: StaticSpec, dtype) -> str:
    return scalar_function(name, nernst_callable(charge, spec), 2, 1, dtype)


def _row(rows: IonRows, name: str) -> str:
    return f"ion[{rows.row(name)} * n * W"


def _loop(j: int, call: str, body: list[str], gathers: list[str], after: list[str]) -> str:
    """The loop applying mechanism j at its sites: gather the site voltages (and ion
    values), apply the mechanism lane by lane, then `after` (scatters)."""
    return "\n".join(
        [
            "{",
            f"  const int64_t count = model.site_count[{j}];",
            f"  const Index* site_node = model.site_node + site_begin[{j}];",
            f"  const Index* site_peer = model.site_peer + site_begin[{j}];",
            f"  const T* params = site_values.data() + param_begin[{j}] * W;",
            f"  T* state = states + state_begin[{j}] * W;",
            "  for (int64_t k = 0; k < count; ++k) {",
            "    for (int w = 0; w < W; ++w) {",
            "      site_v[k * W + w] = v[site_node[k] * W + w];",
            *(f"      {line}" for line in gathers),
            "    }",
            "  }",
            "  for (int64_t k = 0; k < count * W; ++k) {",
            f"    {call}",
            *(f"    {line}" for line in body),
            "  }",
            *after,
            "}",
        ]
    )


def template_text(name: str) -> str:
    """The text of one of the C++ files shipped in `dendrax.native`."""
    return importlib.resources.files("dendrax.native").joinpath(name).read_text()


def check_value_type(dtype) -> None:
    """Raise `Unsupported` unless the kernels can hold values of `dtype` (float32, float64)."""
    if c_type(dtype) not in ("double", "float"):
        raise Unsupported(f"values of dtype {np.dtype(dtype)}")


def filled_template(name: str, spec: StaticSpec, dtype, index_dtype, replacements: dict) -> str:
    """The C++ file `name` with its @NAMES@ filled in: those every kernel template shares
    (the call's plain-C view, the operands' layout, scalar math, value and index types,
    solver factor, number of mechanisms), then `replacements`."""
    from dendrax.native.operands import c_field_lists  # here: operands imports this module

    t, index = c_type(dtype), c_type(index_dtype)
    shared = {
        "@CALL@": template_text("call.h"),
        "@OPERANDS@": template_text("operands.h"),
        **c_field_lists(),
        "@SCALAR_MATH@": template_text("scalar_math.cc"),
        "@C_TYPE@": t,
        "@VALUE_TYPE_ID@": str(_FFI_TYPES[t]),
        "@INDEX_TYPE@": index,
        "@INDEX_TYPE_ID@": str(_FFI_TYPES[index]),
        "@FACTOR@": f"T({SOLVERS[spec.solver]!r})",
        "@N_MECHANISMS@": str(len(spec.mechanisms)),
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
    `recorded_densities`, row by row. Index arrays have
    `index_dtype` (int64 or int32).
    """
    check_supported(spec)
    check_value_type(dtype)
    rows = ion_rows(spec)
    functions, current_loops, writer_loops, other_loops = [], [], [], []
    param_rows, state_rows, density_rows = [], [], []
    max_inputs = max_fluxes = 1
    for j, mechanism in enumerate(spec.mechanisms):
        n_params, n_states = len(site_inputs(mechanism, spec)), len(mechanism.states)
        param_rows.append(n_params + 1)
        state_rows.append(n_states)
        recorded = recorded_densities(mechanism, spec)
        density_rows.append(len(recorded))
        functions.append(_current_function(mechanism, f"current{j}", spec, dtype))
        functions.append(_update_function(mechanism, f"update{j}", spec, dtype))
        from_rows = ion_inputs(mechanism, spec)
        fluxes = summed_fluxes(mechanism, spec)
        max_inputs, max_fluxes = max(max_inputs, len(from_rows)), max(max_fluxes, len(fluxes))
        gathers = [
            f"site_ion[({d} * count + k) * W + w] = {_row(rows, name)} + site_node[k] * W + w];"
            for d, name in enumerate(from_rows)
        ]
        state_in = [f"state[{s} * count * W + k]" for s in range(n_states)]
        param_in = [f"params[{p} * count * W + k]" for p in range(n_params)]
        ion_in = [f"site_ion[{d} * count * W + k]" for d in range(len(from_rows))]
        n_changing = len([name for name in from_rows if name not in rows.currents])
        current_in = ion_in[:n_changing]
        flux_out = [f"site_flux[{e} * count * W + k]" for e in range(2 * len(fluxes))]
        flux_out += [
            f"density[(density_begin[{j}] + {r} * count) * W + k]" for r in range(len(recorded))
        ]
        peer_in = ["site_vp[k]"] if peer_voltage(mechanism) else []
        peer_gather = ["site_vp[k * W + w] = v[site_peer[k] * W + w];"] if peer_in else []
        inputs = ", ".join(["site_v[k]", *state_in, *param_in, *current_in, *peer_in])
        summed = [row for flux in fluxes for row in (flux, f"{flux}:slope")]
        scatter = [
            "  for (int64_t k = 0; k < count; ++k) {",
            "    for (int w = 0; w < W; ++w) {",
            *(
                f"      {_row(rows, row)} + site_node[k] * W + w] += "
                f"site_flux[({e} * count + k) * W + w];"
                for e, row in enumerate(summed)
            ),
            "    }",
            "  }",
        ]
        current_loops.append(
            _loop(
                j,
                f"T i, di; current{j}({', '.join([inputs, 'i', 'di', *flux_out])});",
                [
                    f"const T scale = params[{n_params} * count * W + k];",
                    "site_current[k] = i * scale;",
                    "site_slope[k] = di * scale;",
                ],
                gathers[:n_changing] + peer_gather,
                _SCATTER + (scatter if fluxes else []),
            )
        )
        if not n_states:
            continue
        update_inputs = ", ".join(["site_v[k]", *state_in, *param_in, *ion_in, *peer_in])
        call = f"update{j}({update_inputs}, {', '.join(state_in)});"
        if membrane.writes_concentration(mechanism):
            refresh = [
                "  for (int64_t k = 0; k < count; ++k) {",
                "    for (int w = 0; w < W; ++w) {",
                *(
                    f"      {_row(rows, written)} + site_node[k] * W + w] = "
                    f"state[({list(mechanism.states).index(written)} * count + k) * W + w];"
                    for written in mechanism.writes
                    if written in rows.written
                ),
                "    }",
                "  }",
            ]
            writer_loops.append(_loop(j, call, [], gathers, refresh))
        else:
            other_loops.append(_loop(j, call, [], gathers + peer_gather, []))
    reversal_lines = []
    for r, (reversal, internal, external, charge) in enumerate(rows.reversals):
        functions.append(_nernst_function(f"nernst{r}", charge, spec, dtype))
        reversal_lines += [  # at every node and then chosen, so that the loop vectorises
            "for (int64_t q = 0; q < n * W; ++q) {",
            "  T potential;",
            f"  nernst{r}({_row(rows, internal)} + q], {_row(rows, external)} + q], potential);",
            f"  {_row(rows, reversal)} + q] = {_row(rows, reversal + ':nernst')} + q] != T(0)",
            f"      ? potential : {_row(rows, reversal + ':param')} + q];",
            "}",
        ]
    evaluate = [
        *reversal_lines,
        *(
            f"std::fill(&{_row(rows, name)}], &{_row(rows, name)} + n * W], T(0));"
            for current in rows.currents
            for name in (current, f"{current}:slope")
        ),
        *current_loops,
    ]
    second_order = (
        [
            "for (int64_t q = 0; q < n * W; ++q) {",
            *(
                f"  {_row(rows, c)} + q] = {_row(rows, c)} + q] + "
                f"{_row(rows, c + ':slope')} + q] * delta[q];"
                for c in rows.currents
            ),
            "}",
        ]
        if spec.solver == "crank_nicolson" and rows.currents
        else []
    )
    replacements = {
        "@PARAM_ROWS@": ", ".join(str(r) for r in [*param_rows, 0]),
        "@STATE_ROWS@": ", ".join(str(r) for r in [*state_rows, 0]),
        "@DENSITY_ROWS@": ", ".join(str(r) for r in [*density_rows, 0]),
        "@N_ION_ROWS@": str(len(rows.names)),
        "@MAX_ION_INPUTS@": str(max_inputs),
        "@MAX_FLUXES@": str(2 * max_fluxes),
        "@MECHANISM_FUNCTIONS@": "\n\n".join(functions),
        "@EVALUATION@": "\n".join(evaluate),
        "@SECOND_ORDER@": "\n".join(second_order),
        "@UPDATE_LOOPS@": "\n".join(writer_loops + other_loops),
    }
    return filled_template("kernel.cc", spec, dtype, index_dtype, replacements)
