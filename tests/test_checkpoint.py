"""Long runs: chunked checkpointing gives the same values and gradients with less memory."""

import jax
import jax.numpy as jnp
import numpy as np

import dendrax as dx


def _simulation(t_max, memory_bytes=None):
    cell = dx.Cell.from_parents([-1, 0, 0], ncomp=[1, 3, 2], length=[20.0, 30.0, 30.0], radius=1.0)
    cell.branch(0).set("radius", 10.0)
    cell.insert(dx.channels.HH())
    cell.branch(0).comp(0).stimulate(dx.step_current(0.5, 1.0, 0.4, 0.025, t_max))
    cell.branch(2).loc(0.9).record("v")
    # the pure-JAX time loop (native has its own adjoint)
    return dx.build(cell, backend="jax", checkpointing=dx.Checkpointing(memory_bytes))


def _loss_and_grad(sim):
    def loss(params):
        return jnp.mean(sim.run(params)[0] ** 2)

    return jax.value_and_grad(loss)(sim.params)


def test_chunked_scan_equals_per_step():
    t_max = 103 * 0.025  # 103 steps: 10 chunks of 10 and a tail of 3
    sim = _simulation(t_max)
    value, grads = _loss_and_grad(sim)
    chunked = _simulation(t_max, memory_bytes=1)  # no room for the states of every step
    chunked_value, chunked_grads = _loss_and_grad(chunked)
    np.testing.assert_allclose(chunked.run(), sim.run(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(chunked_value, value, rtol=1e-12)
    for ours, reference in zip(
        jax.tree_util.tree_leaves(chunked_grads), jax.tree_util.tree_leaves(grads), strict=True
    ):
        np.testing.assert_allclose(ours, reference, rtol=1e-8, atol=1e-14)


def test_chunks_need_less_gradient_memory_than_per_step_states():
    n_steps = 40_000

    def temp_bytes(memory_bytes):
        sim = _simulation(n_steps * 0.025, memory_bytes)
        loss = jax.jit(jax.grad(lambda p: jnp.mean(sim.run(p)[0])))
        return loss.lower(sim.params).compile().memory_analysis().temp_size_in_bytes

    chunked = temp_bytes(2**20)  # 1 MiB: less than 40,000 states of ~40 values
    per_step = temp_bytes(2**30)
    # Both hold the recorded trace (n_steps values); per-step checkpoints also hold one
    # state (~40 values) per step, chunks only ~2 sqrt(n_steps) states.
    assert chunked < per_step / 5
