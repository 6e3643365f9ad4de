"""The JAX code an imported mechanism runs, as text: `source()` of a `dx.load_mod` class.

The importer does not write Python: it runs the file's statements on JAX values
(interpreter.py). What it makes of a file is therefore the JAX program each of the
mechanism's functions traces to, on one site. `listing` prints that program as Python-like
assignments of JAX primitives, its inputs named after the file's variables, the bodies of
nested calls (`jnp.where` and the like) written out in place, and the results by name.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.extend.core import Literal

from dendrax.mechanisms import membrane

SIGNATURES = {
    "steady_state": ("v", "params", "celsius"),
    "current": ("states", "v", "params", "celsius", "t"),
    "update": ("states", "v", "params", "dt", "celsius", "t"),
    "receive": ("states", "params", "time"),
}
"""The arguments of each function of a mechanism (`dendrax.mechanisms.base.Mechanism`)."""


def listing(mechanism) -> str:
    """The JAX code of each function of `mechanism` (an instance) on one site, as text."""
    scalar = jnp.zeros((), jnp.result_type(float))
    values = dict.fromkeys(("v", "celsius", "dt", "t", "time"), scalar)
    values["states"] = {x: jnp.zeros(d.shape, scalar.dtype) for x, d in mechanism.states.items()}
    values["params"] = dict.fromkeys(membrane.input_names(mechanism), scalar)
    shown = [x for x in SIGNATURES if x != "receive" or mechanism.receives_events]
    header = f"# {type(mechanism).__name__}: the JAX code of each function on one site"
    functions = (
        _function(x, getattr(mechanism, x), [values[a] for a in SIGNATURES[x]], SIGNATURES[x])
        for x in shown
    )
    return "\n\n".join([header, *functions])


def _function(name: str, method, inputs: list, arguments: tuple) -> str:
    """`def name(...):` and the body of `method`'s jaxpr on `inputs`, the values of its
    `arguments` (a dict of them is one input per key)."""
    closed = jax.make_jaxpr(method)(*inputs)
    names = [
        _path_name(path) if path else argument
        for argument, value in zip(arguments, inputs, strict=True)
        for path, _ in jax.tree_util.tree_flatten_with_path(value)[0]
    ]
    printer = _Printer()
    for var, value in zip(closed.jaxpr.constvars, closed.consts, strict=True):
        printer.names[var] = repr(np.asarray(value).tolist())
    printer.names.update(zip(closed.jaxpr.invars, names, strict=True))
    printer.body(closed.jaxpr, "    ")
    results = jax.tree_util.tree_flatten_with_path(jax.eval_shape(method, *inputs))[0]
    returned = ", ".join(
        f"{_path_name(path)}={printer.ref(var)}"
        for (path, _), var in zip(results, closed.jaxpr.outvars, strict=True)
    )
    head = f"def {name}({', '.join(names)}):"
    return "\n".join([head, *printer.lines, f"    return dict({returned})"])


def _path_name(path) -> str:
    """An input's or result's name from its pytree path: its key (a state's, a parameter's)."""
    keys = [str(getattr(k, "key", getattr(k, "idx", k))) for k in path]
    return keys[-1]


_UNSHOWN = {"sharding", "weak_type", "accuracy", "jaxpr"}
"""Parameters of primitives that say nothing about the arithmetic."""


class _Printer:
    def __init__(self):
        self.names: dict = {}
        self.lines: list[str] = []
        self.count = 0

    def ref(self, atom) -> str:
        if isinstance(atom, Literal):
            return repr(np.asarray(atom.val).item())
        return self.names[atom]

    def fresh(self, var) -> str:
        self.names[var] = f"t{self.count}"
        self.count += 1
        return self.names[var]

    def body(self, jaxpr, indent: str) -> None:
        for eqn in jaxpr.eqns:
            inner = eqn.params.get("jaxpr")
            if eqn.primitive.name in ("pjit", "jit", "closed_call") and inner is not None:
                consts = getattr(inner, "consts", ())
                inner = getattr(inner, "jaxpr", inner)
                for var, value in zip(inner.constvars, consts, strict=True):
                    self.names[var] = repr(np.asarray(value).tolist())
                for var, atom in zip(inner.invars, eqn.invars, strict=True):
                    self.names[var] = self.ref(atom)
                self.body(inner, indent)
                for var, atom in zip(eqn.outvars, inner.outvars, strict=True):
                    self.names[var] = self.ref(atom)
                continue
            args = [self.ref(x) for x in eqn.invars]
            shown = {
                k: v
                for k, v in eqn.params.items()
                if v is not None and k not in _UNSHOWN and not hasattr(v, "eqns")
            }
            args += [f"{k}={v}" for k, v in shown.items()]
            outs = ", ".join(self.fresh(x) for x in eqn.outvars) or "_"
            self.lines.append(f"{indent}{outs} = {eqn.primitive.name}({', '.join(args)})")
