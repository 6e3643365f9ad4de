"""The C++ source of a model's native kernel: `kernel.cc` with its mechanisms filled in."""

import importlib.resources

import numpy as np

from dendrax.mechanisms import membrane
from dendrax.mechanisms.base import Mechanism
from dendrax.native.codegen import Unsupported, c_type, scalar_function
from dendrax.solve.stepping import SOLVERS, StaticSpec

_FFI_TYPES = {"double": "F64", "float": "F32"}

_SCATTER = [
    "  for (int64_t k = 0; k < count; ++k) {",
    "    for (int w = 0; w < W; ++w) {",
    "      current[site_node[k] * W + w] += site_current[k * W + w];",
    "      slope[site_node[k] * W + w] += site_slope[k * W + w];",
    "    }",
    "  }",
]
"""Add the site currents and slopes (nA, µS) of a mechanism to its nodes, lane by lane."""


def check_supported(spec: StaticSpec) -> None:
    """Raise `Unsupported` (with the reason) if the native kernel cannot run `spec`.

    Ion variables are supported where they stay constant during a run: no mechanism writes
    a concentration or reads an ion current, so reversal potentials and concentrations are
    computed once and reach the kernel as per-site parameters.
    """
    for mechanism in spec.mechanisms:
        if membrane.writes_concentration(mechanism):
            raise Unsupported(f"{mechanism.name} writes an ion concentration")
        for variable in mechanism.reads:
            if membrane.ion_variable_kind(variable, spec.mechanisms) == "current":
                raise Unsupported(f"{mechanism.name} reads the ion current {variable!r}")
    state_names = {(m.name, s) for m in spec.mechanisms for s in m.states}
    for group in spec.record_groups:
        if group != "v" and tuple(group.split(".", 1)) not in state_names:
            raise Unsupported(f"recording {group!r} (only v and mechanism states)")


def site_inputs(mechanism: Mechanism, spec: StaticSpec) -> tuple[str, ...]:
    """The per-site values a mechanism's functions take besides v and its states: its
    parameters, then the ion reversal potentials and concentrations it uses."""
    ions = tuple(
        variable
        for variable in mechanism.reads + mechanism.writes
        if membrane.ion_variable_kind(variable, spec.mechanisms) != "current"
    )
    return (*mechanism.parameters, *ions)


def _current_function(mechanism: Mechanism, name: str, spec: StaticSpec, dtype) -> str:
    states, params = tuple(mechanism.states), site_inputs(mechanism, spec)

    def current_and_slope(v, *values):
        state = dict(zip(states, values[: len(states)], strict=True))
        param = dict(zip(params, values[len(states) :], strict=True))
        current, slope, _ = membrane.site_current(mechanism, state, v, param)
        return current, slope

    return scalar_function(name, current_and_slope, 1 + len(states) + len(params), 2, dtype)


def _update_function(mechanism: Mechanism, name: str, spec: StaticSpec, dtype) -> str:
    states, params = tuple(mechanism.states), site_inputs(mechanism, spec)

    def update(v, *values):
        state = dict(zip(states, values[: len(states)], strict=True))
        param = dict(zip(params, values[len(states) :], strict=True))
        new = mechanism.update(state, v, param, spec.dt, spec.celsius)
        if set(new) != set(states):
            raise Unsupported(f"{mechanism.name}.update returned {sorted(new)}, not its states")
        return tuple(new[s] for s in states)

    n_inputs = 1 + len(states) + len(params)
    return scalar_function(name, update, n_inputs, len(states), dtype)


def _loop(j: int, call: str, body: list[str], n_params: int, n_states: int, scatter: bool) -> str:
    """The loop applying mechanism j at its sites, then advancing the site pointers."""
    return "\n".join(
        [
            "{",
            f"  const int64_t count = model.site_count[{j}];",
            "  for (int64_t k = 0; k < count; ++k) {",
            "    for (int w = 0; w < W; ++w) site_v[k * W + w] = v[site_node[k] * W + w];",
            "  }",
            "  for (int64_t k = 0; k < count * W; ++k) {",
            f"    {call}",
            *(f"    {line}" for line in body),
            "  }",
            *(_SCATTER if scatter else []),
            "  site_node += count;",
            f"  params += {n_params + 1} * count * W;",
            f"  state += {n_states} * count * W;",
            "}",
        ]
    )


def _advance(j: int, n_params: int) -> str:
    """Move the site pointers past mechanism j, which has no states to update."""
    count = f"model.site_count[{j}]"
    return f"site_node += {count}; params += {n_params + 1} * {count} * W;"


def template_text(name: str) -> str:
    """The text of one of the C++ files shipped in `dendrax.native`."""
    return importlib.resources.files("dendrax.native").joinpath(name).read_text()


def kernel_source(spec: StaticSpec, dtype, index_dtype) -> str:
    """The C++ source for `spec` with values of `dtype` (float32 or float64).

    Per mechanism j, the site values are its `site_inputs` row by row, then its site area
    factor (cm² per site); its states are stored row by row in `StaticSpec` order. Index
    arrays have `index_dtype` (int64 or int32).
    """
    check_supported(spec)
    t = c_type(dtype)
    if t not in _FFI_TYPES:
        raise Unsupported(f"values of dtype {np.dtype(dtype)}")
    functions, current_loops, update_loops = [], [], []
    for j, mechanism in enumerate(spec.mechanisms):
        n_params, n_states = len(site_inputs(mechanism, spec)), len(mechanism.states)
        functions.append(_current_function(mechanism, f"current{j}", spec, dtype))
        functions.append(_update_function(mechanism, f"update{j}", spec, dtype))
        state_in = [f"state[{s} * count * W + k]" for s in range(n_states)]
        param_in = [f"params[{p} * count * W + k]" for p in range(n_params)]
        inputs = ", ".join(["site_v[k]", *state_in, *param_in])
        current_loops.append(
            _loop(
                j,
                f"T i, di; current{j}({inputs}, i, di);",
                [
                    f"const T scale = params[{n_params} * count * W + k];",
                    "site_current[k] = i * scale;",
                    "site_slope[k] = di * scale;",
                ],
                n_params,
                n_states,
                scatter=True,
            )
        )
        if n_states:
            call = f"update{j}({inputs}, {', '.join(state_in)});"
            update_loops.append(_loop(j, call, [], n_params, n_states, scatter=False))
        else:
            update_loops.append(_advance(j, n_params))
    template = template_text("kernel.cc")
    replacements = {
        "@SCALAR_MATH@": template_text("scalar_math.cc"),
        "@C_TYPE@": t,
        "@FFI_TYPE@": _FFI_TYPES[t],
        "@INDEX_TYPE@": c_type(index_dtype),
        "@FFI_INDEX@": {"int64_t": "S64", "int32_t": "S32"}[c_type(index_dtype)],
        "@FACTOR@": f"T({SOLVERS[spec.solver]!r})",
        "@N_MECHANISMS@": str(len(spec.mechanisms)),
        "@MECHANISM_FUNCTIONS@": "\n\n".join(functions),
        "@CURRENT_LOOPS@": "\n".join(current_loops),
        "@UPDATE_LOOPS@": "\n".join(update_loops),
    }
    for key, value in replacements.items():
        template = template.replace(key, value)
    return template
