"""Structure is data: the compiled program does not grow with the size of the model."""

import jax
import numpy as np

import dendrax as dx


def _jaxpr_size(n_branches: int, ncomp: int) -> int:
    rng = np.random.default_rng(0)
    parents = [-1] + [int(rng.integers(0, i)) for i in range(1, n_branches)]
    cell = dx.Cell.from_parents(parents, ncomp=ncomp, length=20.0, radius=1.0)
    cell.insert(dx.channels.HH())
    cell.branch(n_branches - 1).insert(dx.channels.Leak())
    cell.branch(0).loc(0.5).stimulate(dx.step_current(1.0, 2.0, 0.1, 0.025, 5.0))
    cell.branch(0).record("v")
    cell.branch(n_branches - 1).record("HH.m")
    sim = dx.build(cell)
    jaxpr = jax.make_jaxpr(lambda p: sim.run(p))(sim.params)
    return _count_equations(jaxpr.jaxpr)


def _count_equations(jaxpr) -> int:
    total = 0
    for equation in jaxpr.eqns:
        total += 1
        for param in equation.params.values():
            inner = getattr(param, "jaxpr", param)
            if hasattr(inner, "eqns"):
                total += _count_equations(inner)
    return total


def test_program_size_does_not_grow_with_branches_or_compartments():
    small = _jaxpr_size(n_branches=3, ncomp=1)
    assert small > 50
    assert _jaxpr_size(n_branches=300, ncomp=4) == small
    assert _jaxpr_size(n_branches=30, ncomp=9) == small
