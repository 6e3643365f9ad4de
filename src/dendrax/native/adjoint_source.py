"""The C++ source of a model's native adjoint kernel: `adjoint.cc` with its mechanisms filled in.

Per mechanism, four per-site functions are generated from jaxprs (`codegen.scalar_function`):
the current and its slope, the state update (as the forward kernel's), and the
vector-Jacobian products of both, traced with `jax.vjp`, so that user-written mechanisms get
a native backward pass too. Operands are laid out as the forward kernel's
(`dendrax.native.simulate._packed`).
"""

import jax
import numpy as np
from jax import lax
from jax.extend.core import Literal

from dendrax.mechanisms import membrane
from dendrax.mechanisms.base import Mechanism
from dendrax.native.codegen import Unsupported, scalar_function
from dendrax.native.source import check_value_type, filled_template, site_inputs
from dendrax.solve.stepping import StaticSpec

_BARS = ("bar_params", "bar_states")
_CALLS = ("pjit", "jit", "closed_call", "core_call")
"""Primitives that call a jaxpr: inlined when a vector-Jacobian product is replayed."""


def check_supported(spec: StaticSpec) -> None:
    """Raise `Unsupported` (with the reason) if the native adjoint cannot differentiate `spec`.

    It covers what changes during a run through v and mechanism states only: no voltage
    clamps, no mechanism that writes a concentration or reads an ion current, recordings of
    v and states.
    """
    if spec.has_clamps:
        raise Unsupported("voltage clamps")
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


def _split(mechanism: Mechanism, spec: StaticSpec, values) -> tuple[dict, dict]:
    states, params = tuple(mechanism.states), site_inputs(mechanism, spec)
    state = dict(zip(states, values[: len(states)], strict=True))
    return state, dict(zip(params, values[len(states) :], strict=True))


def _current(mechanism: Mechanism, spec: StaticSpec):
    """(v, *states, *site inputs) -> (density mA/cm², slope S/cm²), as the pure-JAX step."""

    def current_and_slope(v, *values):
        state, param = _split(mechanism, spec, values)
        current, slope, _ = membrane.site_current(mechanism, state, v, param)
        return current, slope

    return current_and_slope


def _update(mechanism: Mechanism, spec: StaticSpec):
    """(v, *states, *site inputs) -> the states after one step at voltage v."""

    def update(v, *values):
        state, param = _split(mechanism, spec, values)
        new = mechanism.update(state, v, param, spec.dt, spec.celsius)
        if set(new) != set(mechanism.states):
            raise Unsupported(f"{mechanism.name}.update returned {sorted(new)}, not its states")
        return tuple(new[s] for s in mechanism.states)

    return update


def _vjp(fn, n_inputs: int, dtype, with_primal: bool = False):
    """(*inputs, *output cotangents) -> input cotangents of `fn` (after its outputs, if
    `with_primal`), as a function of scalars.

    The transposed jaxpr sums cotangents with `add_any`, which is re-emitted as `add`
    (the same operation on scalars) so that the code generator translates it.
    """

    def vjp(*values):
        outputs, pullback = jax.vjp(fn, *values[:n_inputs])
        cotangents = pullback(tuple(values[n_inputs:]))
        return (*outputs, *cotangents) if with_primal else cotangents

    n_outputs = len(jax.eval_shape(fn, *[jax.ShapeDtypeStruct((), dtype)] * n_inputs))
    closed = jax.make_jaxpr(vjp)(*[np.zeros((), dtype)] * (n_inputs + n_outputs))

    def replayed(*values):
        return tuple(_replay(closed.jaxpr, closed.consts, values))

    return replayed


def _replay(jaxpr, consts, values) -> list:
    """Evaluate `jaxpr` with `add_any` as `lax.add` and calls inlined."""
    env = {}

    def read(atom):
        return atom.val if isinstance(atom, Literal) else env[atom]

    for var, value in zip(jaxpr.constvars, consts, strict=True):
        env[var] = value
    for var, value in zip(jaxpr.invars, values, strict=True):
        env[var] = value
    for eqn in jaxpr.eqns:
        args = [read(atom) for atom in eqn.invars]
        if eqn.primitive.name == "add_any":
            outs = [lax.add(*args)]
        elif eqn.primitive.name in _CALLS:
            inner = eqn.params.get("jaxpr", eqn.params.get("call_jaxpr"))
            outs = _replay(getattr(inner, "jaxpr", inner), getattr(inner, "consts", ()), args)
        else:
            outs = eqn.primitive.bind(*args, **eqn.params)
            outs = outs if eqn.primitive.multiple_results else [outs]
        for var, out in zip(eqn.outvars, outs, strict=True):
            env[var] = out
    return [read(atom) for atom in jaxpr.outvars]


def _loop(j: int, n_params: int, n_states: int, parts: tuple, extra: tuple = ()) -> list[str]:
    """Mechanism j's sites in order, then its pointers advanced past them.

    `parts` are the lines of three loops over the sites: gathering per-node values into
    per-site scratch, the per-site computation (which vectorises: contiguous operands, no
    dependences between sites) and scattering per-site results to the nodes. In them:
    `count`, `k` (the site), `site_node`, `params` and `states` (its site inputs, the area
    scale last, and its states, row by row), `scratch` (per-site rows, of this mechanism's
    sites) and the `extra` pointers among `bar_params`, `bar_states`, `lam_states` and
    `next_states`, laid out as `params` and `states`.
    """
    pointers = [("params", n_params + 1), ("states", n_states)]
    pointers += [(name, n_params + 1 if name == "bar_params" else n_states) for name in extra]
    pointers += [(f"scratch.{name}", 1) for name in ("v", "a", "b")]
    lines = ["{", f"  const int64_t count = model.site_count[{j}];"]
    for k, part in enumerate(parts):
        if part:
            lines += ["  #pragma GCC ivdep"] if k == 1 else []
            lines += ["  for (int64_t k = 0; k < count; ++k) {", *(f"    {x}" for x in part), "  }"]
    lines += ["  site_node += count;"]
    lines += [f"  {name} += {rows} * count;" for name, rows in pointers if rows]
    return [*lines, "}"]


def _phase(loops: list[list[str]]) -> str:
    return "\n".join(line for loop in loops for line in loop)


def _gather(*pairs: tuple[str, str]) -> list[str]:
    return [f"scratch.{row}[k] = {per_node}[site_node[k]];" for row, per_node in pairs]


def _scatter(*pairs: tuple[str, str]) -> list[str]:
    return [f"{per_node}[site_node[k]] += scratch.{row}[k];" for row, per_node in pairs]


def adjoint_source(spec: StaticSpec, dtype, index_dtype) -> str:
    """The C++ source of the adjoint for `spec` with values of `dtype` (float32 or float64);
    index arrays have `index_dtype`."""
    check_supported(spec)
    check_value_type(dtype)
    functions, currents, updates, update_vjps, current_vjps = [], [], [], [], []
    for j, mechanism in enumerate(spec.mechanisms):
        n_params, n_states = len(site_inputs(mechanism, spec)), len(mechanism.states)
        n_inputs = 1 + n_states + n_params
        state = [f"states[{s} * count + k]" for s in range(n_states)]
        param = [f"params[{p} * count + k]" for p in range(n_params)]
        inputs = ["scratch.v[k]", *state, *param]
        bar_state = [f"bar_states[{s} * count + k]" for s in range(n_states)]
        bar_param = [f"bar_params[{p} * count + k]" for p in range(n_params)]
        scale = f"params[{n_params} * count + k]"
        outs = [f"o{q}" for q in range(n_inputs)]
        accumulate = [
            "scratch.a[k] = o0;",
            *(
                f"{target} += {o};"
                for target, o in zip(bar_state + bar_param, outs[1:], strict=True)
            ),
        ]
        current = _current(mechanism, spec)
        current_vjp = _vjp(current, n_inputs, dtype, with_primal=True)
        functions.append(scalar_function(f"current{j}", current, n_inputs, 2, dtype))
        functions.append(
            scalar_function(f"current_vjp{j}", current_vjp, n_inputs + 2, n_inputs + 2, dtype)
        )
        compute = [
            "T i, di;",
            f"current{j}({', '.join(inputs)}, i, di);",
            f"scratch.a[k] = i * {scale};",
            f"scratch.b[k] = di * {scale};",
        ]
        scatter = _scatter(("a", "current"), ("b", "slope"))
        currents.append(_loop(j, n_params, n_states, (_gather(("v", "v")), compute, scatter)))
        gather = _gather(("v", "v"), ("a", "lam_current"), ("b", "lam_slope"))
        compute = [
            f"const T scale = {scale}, lam_i = scratch.a[k], lam_di = scratch.b[k];",
            f"T i, di, {', '.join(outs)};",
            f"current_vjp{j}({', '.join(inputs)}, lam_i * scale, lam_di * scale, i, di, "
            f"{', '.join(outs)});",
            f"bar_params[{n_params} * count + k] += lam_i * i + lam_di * di;",
            *accumulate,
        ]
        current_vjps.append(
            _loop(j, n_params, n_states, (gather, compute, _scatter(("a", "lam_v"))), _BARS)
        )
        if not n_states:
            updates.append(_loop(j, n_params, 0, ((), (), ())))
            update_vjps.append(_loop(j, n_params, 0, ((), (), ()), _BARS))
            continue
        update = _update(mechanism, spec)
        update_vjp = _vjp(update, n_inputs, dtype)
        functions.append(scalar_function(f"update{j}", update, n_inputs, n_states, dtype))
        functions.append(
            scalar_function(f"update_vjp{j}", update_vjp, n_inputs + n_states, n_inputs, dtype)
        )
        new_state = [f"next_states[{s} * count + k]" for s in range(n_states)]
        compute = [f"update{j}({', '.join([*inputs, *new_state])});"]
        updates.append(
            _loop(j, n_params, n_states, (_gather(("v", "v")), compute, ()), ("next_states",))
        )
        lam_state = [f"lam_states[{s} * count + k]" for s in range(n_states)]
        compute = [
            f"T {', '.join(outs)};",
            f"update_vjp{j}({', '.join([*inputs, *lam_state])}, {', '.join(outs)});",
            *accumulate,
        ]
        update_vjps.append(
            _loop(
                j,
                n_params,
                n_states,
                (_gather(("v", "v")), compute, _scatter(("a", "lam_v"))),
                (*_BARS, "lam_states"),
            )
        )
    replacements = {
        "@MECHANISM_FUNCTIONS@": "\n\n".join(functions),
        "@CURRENTS@": _phase(currents),
        "@UPDATES@": _phase(updates),
        "@UPDATE_VJPS@": _phase(update_vjps),
        "@CURRENT_VJPS@": _phase(current_vjps),
    }
    return filled_template("adjoint.cc", spec, dtype, index_dtype, replacements)
