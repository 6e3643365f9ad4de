"""Gradients of simulations against central finite differences (float64)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import dendrax as dx

DT = 0.025
T_MAX = 8.0
TOLERANCE = 1e-5  # relative, against central differences (measured: ~1e-9 with EPS below)
EPS = 1e-5  # central-difference step, relative to each parameter's value


def branched_hh_cell():
    """Four branches of different radii, HH everywhere, one spike from the soma's stimulus."""
    cell = dx.Cell.from_parents(
        [-1, 0, 0, 1],
        ncomp=[1, 3, 2, 2],
        length=[20.0, 30.0, 25.0, 40.0],
        radius=[8.0, 1.0, 0.7, 0.5],
    )
    cell.insert(dx.channels.HH())
    cell.branch(0).comp(0).stimulate(dx.step_current(1.0, 3.0, 0.5, DT, T_MAX))
    cell.branch(0).comp(0).record("v")
    cell.branch(3).comp(1).record("v")
    cell.branch(2).comp(0).record("HH.m")
    return cell


def trace_loss(traces):
    return jnp.mean((traces + 60.0) ** 2)


def replace_leaf(params, path, value):
    return jax.tree_util.tree_map_with_path(lambda p, x: value if p == path else x, params)


def leaves(params):
    return dict(jax.tree_util.tree_flatten_with_path(params)[0])


def check_directional_derivatives(loss, params, rng, paths=None):
    """For each parameter array: grad · d against the central difference along d, with d
    a random positive multiple of the values (so that a mixed-up index shows)."""
    grads = leaves(jax.grad(loss)(params))
    errors = {}
    for path, value in leaves(params).items():
        if paths is not None and path not in paths:
            continue
        direction = rng.uniform(0.5, 1.5, value.shape) * np.maximum(np.abs(value), 1e-3)
        analytic = float(jnp.sum(grads[path] * direction))
        plus = loss(replace_leaf(params, path, value + EPS * direction))
        minus = loss(replace_leaf(params, path, value - EPS * direction))
        numeric = float(plus - minus) / (2 * EPS)
        errors[jax.tree_util.keystr(path)] = abs(analytic - numeric) / abs(numeric)
    assert errors, "no parameter was checked"
    worst = max(errors, key=errors.get)
    assert errors[worst] < TOLERANCE, errors
    return errors


@pytest.mark.parametrize("solver", ["backward_euler", "crank_nicolson"])
def test_grad_of_every_parameter_matches_finite_differences(solver):
    sim = dx.build(branched_hh_cell(), dt=DT, solver=solver)
    assert np.max(np.asarray(sim.run())[0]) > 20.0, "the soma should spike"

    def loss(params):
        return trace_loss(sim.run(params))

    errors = check_directional_derivatives(loss, sim.params, np.random.default_rng(0))
    expected = {"radius", "length", "axial_resistivity", "capacitance", "gNa", "gK", "gLeak"}
    assert expected <= {key.split("'")[-2] for key in errors}


def test_grad_of_single_compartment_parameters():
    # One entry at a time, so that gradients landing on the wrong compartment would show.
    sim = dx.build(branched_hh_cell(), dt=DT)

    def loss(params):
        return trace_loss(sim.run(params))

    grads = jax.grad(loss)(sim.params)
    for group, name, index in [("HH", "gNa", 0), ("HH", "gK", 4), (None, "radius", 5)]:
        array = sim.params[name] if group is None else sim.params[group][name]
        grad = (grads[name] if group is None else grads[group][name])[index]
        step = EPS * float(array[index])

        def shifted(delta, group=group, name=name, index=index, array=array):
            new = array.at[index].add(delta)
            if group is None:
                return {**sim.params, name: new}
            return {**sim.params, group: {**sim.params[group], name: new}}

        numeric = (loss(shifted(step)) - loss(shifted(-step))) / (2 * step)
        assert abs(grad - numeric) < TOLERANCE * abs(numeric), (name, index, grad, numeric)


def test_grad_through_voltage_clamp():
    cell = dx.Cell.from_parents([-1, 0, 0], ncomp=[1, 3, 2], length=[20.0, 30.0, 25.0], radius=2.0)
    cell.insert(dx.channels.HH())
    command = np.where(np.arange(round(T_MAX / DT)) * DT < 2.0, -65.0, -20.0)
    cell.branch(0).comp(0).clamp("v", command)
    cell.branch(1).comp(2).record("v")
    cell.branch(2).comp(1).record("HH.n")
    sim = dx.build(cell, dt=DT)

    def loss(params, clamps):
        return trace_loss(sim.run(params, clamps=clamps))

    check_directional_derivatives(
        lambda p: loss(p, sim.clamps), sim.params, np.random.default_rng(1)
    )
    # And with respect to the command voltage itself.
    direction = jnp.asarray(np.random.default_rng(2).normal(size=sim.clamps.shape))
    analytic = jnp.sum(jax.grad(loss, argnums=1)(sim.params, sim.clamps) * direction)
    eps = 1e-4
    numeric = (
        loss(sim.params, sim.clamps + eps * direction)
        - loss(sim.params, sim.clamps - eps * direction)
    ) / (2 * eps)
    assert abs(analytic - numeric) < TOLERANCE * abs(numeric), (analytic, numeric)


def test_grad_with_respect_to_stimulus():
    sim = dx.build(branched_hh_cell(), dt=DT)

    def loss(stimuli):
        return trace_loss(sim.run(stimuli=stimuli))

    direction = jnp.asarray(np.random.default_rng(3).normal(size=sim.stimuli.shape))
    analytic = jnp.sum(jax.grad(loss)(sim.stimuli) * direction)
    eps = 1e-5
    numeric = (loss(sim.stimuli + eps * direction) - loss(sim.stimuli - eps * direction)) / (
        2 * eps
    )
    assert abs(analytic - numeric) < TOLERANCE * abs(numeric), (analytic, numeric)
