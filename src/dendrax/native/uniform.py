"""Hoisting the terms that depend on one run-wide input only (the temperature) out of a
mechanism's per-site scalar function.

A rate's temperature factor, such as HH's 3^((celsius - 6.3) / 10), is the same at every
site and step of a run. `split` cuts the function's jaxpr in two by data dependence: the
equations computed from that input (and constants) alone become `Split.terms` (evaluated
once per run, in JAX, and handed to the kernel as per-site rows), the rest `Split.body`,
which takes those terms in place of the input. Equations of constants alone (a file's
2.3^((34 - 21)/10), the tangent -1 of a rate's derivative) are evaluated once here and
become constants of the body, which the kernel's compiler sees: rows would be loaded at
every site and step. The kernel then loads a value where it
would compute a power or an exponential at every site of every step.
"""

from dataclasses import dataclass

import jax
import jax.numpy as jnp
from jax.extend.core import Literal


@dataclass(frozen=True)
class Split:
    """A scalar function f(*inputs) with `inputs[at]` run-wide, cut in two:
    f(*inputs) == body(*terms(inputs[at]), *inputs without inputs[at])."""

    consts: dict
    """The jaxpr's constants, by variable."""
    run_wide: object
    """The variable of the run-wide input."""
    known: tuple
    """The equations computed from it and constants alone."""
    term_vars: tuple
    """The variables of `known` that the rest reads: the terms."""
    others: tuple
    """The variables of the other inputs, in order."""
    rest: tuple
    """The other equations."""
    outputs: tuple
    """The function's output atoms."""

    @property
    def n_terms(self) -> int:
        return len(self.term_vars)

    def terms(self, value) -> list:
        """The terms for the run-wide input `value` (traceable: vmap and grad pass through)."""
        env = _evaluated(self.known, {**self.consts, self.run_wide: value})
        return [env[x] for x in self.term_vars]

    def body(self, *values) -> list:
        """The function's outputs from (*terms, *other inputs)."""
        inputs = dict(zip((*self.term_vars, *self.others), values, strict=True))
        env = _evaluated(self.rest, {**self.consts, **inputs})
        return [x.val if isinstance(x, Literal) else env[x] for x in self.outputs]


def split(fn, n_inputs: int, at: int) -> Split:
    """Cut `fn`, a function of `n_inputs` scalars, where input `at` is run-wide."""
    scalar = jnp.zeros((), jnp.result_type(float))
    closed = jax.make_jaxpr(fn)(*[scalar] * n_inputs)
    jaxpr = closed.jaxpr
    consts = dict(zip(jaxpr.constvars, closed.consts, strict=True))
    known_vars = {jaxpr.invars[at]}
    known, rest = [], []
    for eqn in jaxpr.eqns:
        scalar = all(x.aval.shape == () for x in eqn.outvars)  # terms are per-site rows
        fixed = (isinstance(x, Literal) or x in consts for x in eqn.invars)
        if scalar and not eqn.effects and all(fixed):  # a constant: folded, not a row
            folded = _evaluated([eqn], consts)
            consts.update((x, folded[x]) for x in eqn.outvars)
        elif scalar and all(
            isinstance(x, Literal) or x in known_vars or x in consts for x in eqn.invars
        ):
            known_vars.update(eqn.outvars)
            known.append(eqn)
        else:
            rest.append(eqn)
    read = [x for eqn in rest for x in eqn.invars] + list(jaxpr.outvars)
    terms = dict.fromkeys(
        x for x in read if not isinstance(x, Literal) and x in known_vars and x not in consts
    )
    others = tuple(x for i, x in enumerate(jaxpr.invars) if i != at)
    return Split(
        consts, jaxpr.invars[at], tuple(known), tuple(terms), others, tuple(rest),
        tuple(jaxpr.outvars),
    )  # fmt: skip


def _evaluated(eqns, env: dict) -> dict:
    """`env` (values by variable) with the variables of `eqns` evaluated in order."""
    env = dict(env)
    for eqn in eqns:
        args = [x.val if isinstance(x, Literal) else env[x] for x in eqn.invars]
        outputs = eqn.primitive.bind(*args, **eqn.primitive.get_bind_params(eqn.params))
        results = outputs if eqn.primitive.multiple_results else [outputs]
        env.update(zip(eqn.outvars, results, strict=True))
    return env
