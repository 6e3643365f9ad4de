"""The C++ source of a model's native adjoint kernel: `adjoint.cc` with its mechanisms filled in.

The forward step is the kernel's (step.h, with the loops of `dendrax.native.loops`). Per
mechanism, the vector-Jacobian products of its current function and state update are
generated from jaxprs traced with `jax.vjp` (`codegen.scalar_function`), so that
user-written mechanisms get a native backward pass too; per ion whose reversal potential
follows its concentrations, that of the Nernst potential. Operands are the forward kernel's
(`dendrax.native.operands`), the ion rows `source.ion_rows`.
"""

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.extend.core import Literal

from dendrax.native import loops
from dendrax.native.codegen import scalar_function
from dendrax.native.source import (
    check_supported,
    check_value_type,
    current_callable,
    filled_template,
    generated_once,
    ion_rows,
    nernst_callable,
    receive_callable,
    template_text,
    update_callable,
)
from dendrax.static_spec import StaticSpec

_CALLS = ("pjit", "jit", "closed_call", "core_call")
"""Primitives that call a jaxpr: inlined when a vector-Jacobian product is replayed."""


def _vjp(fn, n_inputs: int, n_outputs: int, dtype, with_primal: bool = False):
    """(*inputs, *output cotangents) -> input cotangents of `fn` (after its outputs, if
    `with_primal`), as a function of scalars; `fn` takes `n_inputs` and returns `n_outputs`.

    The transposed jaxpr sums cotangents with `add_any`, which is re-emitted as `add`
    (the same operation on scalars) so that the code generator translates it; its divisions
    by a variable become products with one reciprocal per divisor (see `_Replay`).
    """

    def vjp(*values):
        outputs, pullback = jax.vjp(fn, *values[:n_inputs])
        cotangents = pullback(tuple(values[n_inputs:]))
        return (*outputs, *cotangents) if with_primal else cotangents

    closed = jax.make_jaxpr(vjp)(*[np.zeros((), dtype)] * (n_inputs + n_outputs))

    def replayed(*values):
        return tuple(_Replay().run(closed.jaxpr, closed.consts, values))

    return replayed


class _Replay:
    """Evaluates a jaxpr with `add_any` as `lax.add`, calls inlined, and x / y (and y**-n)
    for a traced float y as x * (1 / y), 1 / y computed once per y: a vector-Jacobian product
    divides by each divisor of its function up to three times (the function's quotient, the
    quotient's derivative, the cotangent), and divisions are the slowest of its operations.
    (This rounds differently from the pure-JAX path by an ulp or so: derivatives only.)"""

    def __init__(self):
        self.reciprocals: dict[int, tuple] = {}  # id of a divisor: (divisor, 1 / divisor)

    def reciprocal(self, y):
        if id(y) not in self.reciprocals:
            self.reciprocals[id(y)] = (y, lax.div(lax.full_like(y, 1), y))
        return self.reciprocals[id(y)][1]

    def bind(self, eqn, args) -> list:
        name = eqn.primitive.name
        divisor = args[-1] if name == "div" else args[0]
        shared = isinstance(divisor, jax.core.Tracer) and jnp.issubdtype(
            divisor.dtype, jnp.floating
        )
        if name == "add_any":
            return [lax.add(*args)]
        if name == "div" and shared:
            return [lax.mul(args[0], self.reciprocal(divisor))]
        if name == "integer_pow" and eqn.params["y"] < 0 and shared:
            return [lax.integer_pow(self.reciprocal(divisor), -eqn.params["y"])]
        if name in _CALLS:
            inner = eqn.params.get("jaxpr", eqn.params.get("call_jaxpr"))
            return self.run(getattr(inner, "jaxpr", inner), getattr(inner, "consts", ()), args)
        outs = eqn.primitive.bind(*args, **eqn.params)
        return outs if eqn.primitive.multiple_results else [outs]

    def run(self, jaxpr, consts, values) -> list:
        env = {}

        def read(atom):
            return atom.val if isinstance(atom, Literal) else env[atom]

        for var, value in zip(jaxpr.constvars, consts, strict=True):
            env[var] = value
        for var, value in zip(jaxpr.invars, values, strict=True):
            env[var] = value
        for eqn in jaxpr.eqns:
            outs = self.bind(eqn, [read(atom) for atom in eqn.invars])
            for var, out in zip(eqn.outvars, outs, strict=True):
                env[var] = out
        return [read(atom) for atom in jaxpr.outvars]


def _vjp_functions(sites: loops.Sites, spec: StaticSpec, dtype, zeros: dict) -> list[str]:
    """The vector-Jacobian products of a mechanism's current function (with its outputs)
    and of its update; `zeros` gains, under ("current", j) and ("update", j), the indices of
    their input cotangents that are the constant 0."""
    j, mechanism = sites.j, sites.mechanism
    current, n_inputs, n_outputs = current_callable(mechanism, spec)
    vjp = _vjp(current, n_inputs, n_outputs, dtype, with_primal=True)
    n_all = n_inputs + n_outputs
    constant = set()
    functions = [scalar_function(f"current_vjp{j}", vjp, n_all, n_all, dtype, constant)]
    zeros["current", j] = {k - n_outputs for k in constant if k >= n_outputs}
    zeros["update", j] = set()
    if sites.n_states:
        update, n_inputs = update_callable(mechanism, spec)
        vjp = _vjp(update, n_inputs, sites.n_states, dtype)
        n_all = n_inputs + sites.n_states
        functions.append(
            scalar_function(f"update_vjp{j}", vjp, n_all, n_inputs, dtype, zeros["update", j])
        )
    return functions


def _receive_vjp(sites: loops.Sites, dtype) -> str:
    """The vector-Jacobian product of a mechanism's receiving an event."""
    receive, n_inputs = receive_callable(sites.mechanism)
    vjp = _vjp(receive, n_inputs, sites.n_states, dtype)
    n_all = n_inputs + sites.n_states
    return scalar_function(f"receive_vjp{sites.j}", vjp, n_all, n_inputs, dtype)


@generated_once
def adjoint_source(spec: StaticSpec, dtype, index_dtype) -> str:
    """The C++ source of the adjoint for `spec` with values of `dtype` (float32 or float64);
    index arrays have `index_dtype`."""
    check_supported(spec, gradient=True)
    check_value_type(dtype)
    rows = ion_rows(spec)
    all_sites = loops.model_sites(spec)
    zeros = {}
    functions = [f for sites in all_sites for f in _vjp_functions(sites, spec, dtype, zeros)]
    for r, (*_, charge) in enumerate(rows.reversals):
        potential = nernst_callable(charge)
        vjp = _vjp(potential, 3, 1, dtype)
        functions.append(scalar_function(f"nernst_vjp{r}", vjp, 4, 3, dtype))
    _, reversal_vjps = loops.reversals(rows)
    writers, others = loops.update_order(all_sites)

    def lines(parts) -> str:
        return "\n".join(line for part in parts for line in part)

    replacements = {
        "@CHECKPOINT_SCHEDULE@": template_text("checkpoint_schedule.h"),
        "@N_WRITTEN@": str(len(rows.written)),
        "@WRITTEN_ROWS@": ", ".join(str(rows.row(x)) for x in rows.written),
        "@VJP_FUNCTIONS@": "\n\n".join(functions),
        "@RECEIVE_VJP_FUNCTIONS@": "\n\n".join(
            _receive_vjp(sites, dtype) for sites in all_sites if sites.receives
        ),
        "@RECEIVE_VJP_CASES@": lines(s.receive_vjp_case() for s in all_sites if s.receives),
        "@UPDATE_VJPS@": lines(
            [
                *(sites.update_vjp("ion_next", zeros["update", sites.j]) for sites in others),
                *(
                    sites.update_vjp("ion_eval", zeros["update", sites.j])
                    for sites in reversed(writers)
                ),
            ]
        ),
        "@SECOND_ORDER_VJP@": "\n".join(loops.second_order(rows, spec)[1]),
        "@EVALUATION_VJPS@": lines(
            [
                *(sites.evaluation_vjp(zeros["current", sites.j]) for sites in all_sites),
                loops.cleared(rows, "lam_ion"),
                reversal_vjps,
            ]
        ),
    }
    return filled_template("adjoint.cc", spec, dtype, index_dtype, replacements)
