"""Checkpointing: the schedule a memory budget allows (levels of checkpoints), the native
adjoint's copy of it, and gradients through one and more levels, native (with and without
spike events, single and batched) and pure JAX, equal to those with every step stored."""

import ctypes
import math
import shutil
import subprocess

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from test_native_gradient import DT, assert_trees_close, branched_cell, full_loss
from test_networks import spiking_network

import dendrax as dx
from dendrax.checkpointing import minimum_bytes, schedule
from dendrax.native import gradient
from dendrax.native.library import compiler
from dendrax.native.source import template_text
from dendrax.solve import checkpoint, stepping

RELATIVE = 1e-10

# --- the schedule ---------------------------------------------------------------------------


def test_budget_chooses_every_step_one_level_or_more():
    n, step, point = 1000, 120, 100
    assert schedule(n, step, point, (n + 1) * step).lengths == ()
    # A little less: one level, the last segment as long as fits, the rest recomputed.
    almost = schedule(n, step, point, (n + 1) * step - 1)
    assert almost.lengths == (999,) and almost.recomputed_steps == 1
    assert almost.stored_bytes == point + 1000 * step
    previous = almost
    for budget in np.geomspace((n + 1) * step - 1, minimum_bytes(n, step, point), 40).round():
        chosen = schedule(n, step, point, int(budget))
        assert chosen.stored_bytes <= budget
        assert chosen.levels >= previous.levels  # less room, never fewer levels
        assert all(a > b for a, b in zip((n, *chosen.lengths), chosen.lengths, strict=False))
        previous = chosen
    assert previous.levels == 10  # the least: ceil(log2(1000)) levels, one checkpoint each
    assert previous.stored_bytes == minimum_bytes(n, step, point) == 10 * point + 2 * step
    # One level fits where its checkpoints and one segment do (2 sqrt(n) states, about).
    assert schedule(n, step, point, 70 * step).levels == 1
    assert schedule(n, step, point, 40 * step).levels == 2
    assert 1.0 < schedule(n, step, point, 40 * step).forward_passes < 2.0


def test_budget_below_the_least_any_schedule_needs_is_refused_by_name():
    least = minimum_bytes(1000, 120, 100)
    with pytest.raises(ValueError) as error:
        schedule(1000, 120, 100, least - 1)
    message = str(error.value)
    for named in (f"memory_bytes={least - 1}", "1000 steps", "120 bytes a step", f">= {least}"):
        assert named in message


def _run_by(n, lengths):
    """The native adjoint's passes and sweeps (adjoint.cc) replayed on step numbers: the most
    checkpoints each level holds, the most rows, the steps recomputed, the steps in the order
    swept back. Checks that every checkpoint read is the one stored for that step."""
    levels, held = len(lengths), [{} for _ in lengths]
    most, rows, recomputed, swept = [0] * levels, [0], [0], []

    def run(level, first, last):  # `pass` from the values at `first`
        s = first
        for below in range(level, levels):
            k, stored = lengths[below], held[below]
            m = math.ceil((last - s) / k)
            stored.clear()
            for g in range(m - 1):
                stored[g] = s
                s = last - (m - 1 - g) * k
            most[below] = max(most[below], len(stored))
        rows[0] = max(rows[0], last - s + 1)

    def sweep(level, first, last):
        if level == levels:
            swept.extend(range(last - 1, first - 1, -1))
            return
        k = lengths[level]
        m = math.ceil((last - first) / k)
        sweep(level + 1, max(first, last - k), last)
        for g in range(m - 2, -1, -1):
            start, end = (first if g == 0 else last - (m - g) * k), last - (m - 1 - g) * k
            assert held[level][g] == start
            run(level + 1, start, end)
            recomputed[0] += end - start
            sweep(level + 1, start, end)

    run(0, 0, n)
    sweep(0, 0, n)
    return most, rows[0], recomputed[0], swept


@pytest.mark.parametrize("n", [1, 2, 3, 7, 64, 100, 803, 5000])
def test_schedule_bytes_and_recomputation_are_those_of_the_sweep(n):
    step, point = 7, 5
    least, most = minimum_bytes(n, step, point), (n + 1) * step
    budgets = {least, most, *(int(b) for b in np.geomspace(least + 1, most, 25))}
    for budget in sorted(budgets):
        chosen = schedule(n, step, point, budget)
        most, rows, recomputed, swept = _run_by(n, chosen.lengths)
        assert swept == list(range(n - 1, -1, -1))
        assert sum(most) * point + rows * step == chosen.stored_bytes <= budget
        assert recomputed == chosen.recomputed_steps


def _native_schedule_library(tmp_path):
    if shutil.which(compiler()) is None:
        pytest.skip("no C++ compiler")
    source = tmp_path / "schedule.cc"
    source.write_text(
        template_text("checkpoint_schedule.h")
        + """
extern "C" int schedule_of(int64_t n, int64_t step, int64_t point, int64_t budget,
                           int64_t* lengths) {
  const auto chosen = dendrax_checkpoints::schedule(n, step, point, budget);
  if (!chosen.fits) return -1;
  for (size_t l = 0; l < chosen.lengths.size(); ++l) lengths[l] = chosen.lengths[l];
  return static_cast<int>(chosen.lengths.size());
}
extern "C" int64_t minimum_of(int64_t n, int64_t step, int64_t point) {
  return dendrax_checkpoints::minimum_bytes(n, step, point);
}
"""
    )
    target = tmp_path / "schedule.so"
    command = [compiler(), "-O1", "-std=c++17", "-shared", "-fPIC", str(source), "-o", str(target)]
    subprocess.run(command, check=True)
    library = ctypes.CDLL(str(target))
    library.schedule_of.argtypes = [ctypes.c_int64] * 4 + [ctypes.POINTER(ctypes.c_int64)]
    library.minimum_of.argtypes = [ctypes.c_int64] * 3
    library.minimum_of.restype = ctypes.c_int64
    return library


def test_the_native_adjoint_chooses_the_same_schedule(tmp_path):
    """checkpoint_schedule.h (compiled into every adjoint) against `schedule`, on budgets
    around each choice's edges, for runs of 1 to 10 million steps."""
    library = _native_schedule_library(tmp_path)
    out = (ctypes.c_int64 * 64)()
    rng = np.random.default_rng(0)
    levels = set()
    for _ in range(3000):
        n = int(rng.choice([1, 2, 3, 5, 100, 803, 8000, rng.integers(1, 10**5), 10**7]))
        point = int(rng.integers(1, 10**7))
        step = point + int(rng.integers(0, point))
        least = minimum_bytes(n, step, point)
        every, scaled = (n + 1) * step, int(least * rng.uniform(1, 100))
        budget = int(rng.choice([least - 1, least, every, every - 1, scaled, rng.integers(every)]))
        count = library.schedule_of(n, step, point, max(budget, 0), out)
        try:
            expected = schedule(n, step, point, max(budget, 0)).lengths
        except ValueError:
            expected = None
        assert (tuple(out[:count]) if count >= 0 else None) == expected, (n, step, point, budget)
        assert library.minimum_of(n, step, point) == least
        levels.add(None if expected is None else len(expected))
    assert {None, 0, 1, 2, 3} <= levels


# --- native gradients -------------------------------------------------------------------------


def _native(model, memory_bytes=None, events=None):
    checkpointing = dx.Checkpointing(memory_bytes)
    if events is None:
        return dx.build(model, dt=DT, backend="native", checkpointing=checkpointing)
    return dx.build(model, dt=DT, backend="native", events=events, checkpointing=checkpointing)


def _budgets(sim, n_steps):
    """Budgets of one simulation for one level of checkpoints and for several."""
    row, point = gradient.step_values(sim.spec, sim.arrays)
    row, point = 8 * row, 8 * point  # float64
    one = (n_steps + 1) * row // 4
    several = 2 * minimum_bytes(sim.spec.settle_steps + n_steps, row, point)
    return {"one level": one, "several levels": several}


def _model(events):
    """The branched cell over 480 steps, or a spiking network over 1,000 steps (whose events
    the recomputed segments replay from the forward pass's log), and a loss of (params, a
    scale of its radii or synaptic weights)."""
    if events is None:

        def loss_of(sim):
            def loss(params, scale):
                return full_loss(sim)({**params, "radius": params["radius"] * scale}, sim.stimuli)

            return loss

        return branched_cell(), 480, loss_of

    def loss_of(sim):
        def loss(params, scale):
            synapse = dict(params["ExpSyn"], weight=params["ExpSyn"]["weight"] * scale)
            traces = sim.run({**params, "ExpSyn": synapse}, t_max=1000 * DT)
            return jnp.sum(traces[:4] ** 2) * 1e-4 + jnp.sum(traces[8])

        return loss

    return spiking_network(events), 1000, loss_of


@pytest.mark.parametrize("events", [None, "interpolated"])
def test_native_gradients_through_levels_of_checkpoints_equal_every_step_stored(events):
    """With a budget that forces one level of checkpoints and one that forces several: the
    gradient with respect to every parameter, of one simulation and of a batch of three
    (three groups of one simulation, each with its share of the budget), against every step
    stored; and with the forward pass's steps dropped for a newer forward pass's (then the
    backward pass stores them itself)."""
    model, n_steps, loss_of = _model(events)
    scales = jnp.array([1.0, 0.9, 1.2])
    stored = _native(model, events=events)
    assert gradient.checkpoint_schedule(stored.spec, stored.arrays, n_steps).levels == 0
    expected = jax.jit(jax.grad(loss_of(stored)))(stored.params, 1.0)
    expected_batch = jax.jit(jax.vmap(jax.grad(loss_of(stored)), (None, 0)))(stored.params, scales)
    for what, budget in _budgets(stored, n_steps).items():
        sim = _native(model, budget, events)
        chosen = gradient.checkpoint_schedule(sim.spec, sim.arrays, n_steps)
        assert chosen.levels == 1 if what == "one level" else chosen.levels >= 2, chosen
        assert_trees_close(jax.jit(jax.grad(loss_of(sim)))(sim.params, 1.0), expected, RELATIVE)
        batch = _native(model, 3 * budget, events)
        batched = jax.jit(jax.vmap(jax.grad(loss_of(batch)), (None, 0)))(batch.params, scales)
        assert_trees_close(batched, expected_batch, RELATIVE)
    # Room for one forward pass's steps only: the second one's drops the first one's.
    assert 2 * chosen.stored_bytes > budget
    _, first = jax.vjp(lambda params: loss_of(sim)(params, 1.0), sim.params)
    _, second = jax.vjp(lambda params: loss_of(sim)(params, 1.0), sim.params)
    assert_trees_close(first(1.0)[0], expected, RELATIVE)
    assert_trees_close(second(1.0)[0], expected, RELATIVE)


def test_native_budget_below_the_least_is_refused_with_the_sizes():
    """A gradient whose steps would not fit in any schedule within the budget: an error that
    names the budget, a step's bytes and the least budget that would do (those of
    `step_values` and `minimum_bytes`); the simulation itself still runs."""
    sim = _native(branched_cell(), 1000)
    row, point = gradient.step_values(sim.spec, sim.arrays)
    least = minimum_bytes(480, 8 * row, 8 * point)
    with pytest.raises(jax.errors.JaxRuntimeError, match="Checkpointing") as error:
        jax.block_until_ready(jax.grad(full_loss(sim))(sim.params, sim.stimuli))
    message = str(error.value)
    for named in ("memory_bytes=1000", f"{8 * row} bytes a step", f">= {least}"):
        assert named in message
    assert np.isfinite(np.asarray(sim.run())).all()


# --- pure JAX -------------------------------------------------------------------------------


def _simulation(t_max, memory_bytes=None, ncomp=3):
    cell = dx.Cell.from_parents(
        [-1, 0, 0], ncomp=[1, ncomp, ncomp - 1], length=[20.0, 30.0, 30.0], radius=1.0
    )
    cell.branch(0).set("radius", 10.0)
    cell.insert(dx.channels.HH())
    cell.branch(0).comp(0).stimulate(dx.step_current(0.5, 1.0, 0.4, 0.025, t_max))
    cell.branch(2).loc(0.9).record("v")
    # the pure-JAX time loop (native has its own adjoint)
    return dx.build(cell, backend="jax", checkpointing=dx.Checkpointing(memory_bytes))


def _state_bytes(sim):
    carry = stepping.initial_carry(sim.spec, sim.arrays, sim.params, jnp.float64)
    return checkpoint.state_bytes(carry)


def _loss_and_grad(sim):
    def loss(params):
        return jnp.mean(sim.run(params)[0] ** 2)

    return jax.value_and_grad(loss)(sim.params)


def test_pure_jax_levels_of_chunks_give_the_same_values_and_gradients():
    n_steps = 103  # 11 chunks of 10 (the last padded); 5 of 5 chunks of 5
    sim = _simulation(n_steps * 0.025)
    value, grads = _loss_and_grad(sim)
    size = _state_bytes(sim)
    for budget, levels in ((21 * size, 1), (15 * size, 2)):
        assert checkpoint.scan_schedule(n_steps, size, budget).levels == levels
        chunked = _simulation(n_steps * 0.025, memory_bytes=budget)
        chunked_value, chunked_grads = _loss_and_grad(chunked)
        np.testing.assert_allclose(chunked.run(), sim.run(), rtol=0, atol=1e-12)
        np.testing.assert_allclose(chunked_value, value, rtol=1e-12)
        assert_trees_close(chunked_grads, grads, RELATIVE)


def test_pure_jax_budget_below_the_least_is_refused_when_differentiated():
    sim = _simulation(103 * 0.025, memory_bytes=1000)
    assert np.isfinite(np.asarray(sim.run())).all()  # the run itself keeps nothing
    with pytest.raises(ValueError, match=r"memory_bytes=1000\) is too small .* 103 steps"):
        _loss_and_grad(sim)


def test_levels_of_chunks_need_less_gradient_memory():
    n_steps = 20_000
    sim = _simulation(n_steps * 0.025, ncomp=30)
    size = _state_bytes(sim)

    def temp_bytes(memory_bytes):
        sim = _simulation(n_steps * 0.025, memory_bytes, ncomp=30)
        loss = jax.jit(jax.grad(lambda p: jnp.mean(sim.run(p)[0])))
        return loss.lower(sim.params).compile().memory_analysis().temp_size_in_bytes

    per_step = temp_bytes(2**31)
    one_level = temp_bytes(300 * size)  # 142 chunks of 141 steps
    two_levels = temp_bytes(90 * size)  # 28 x 28 chunks of 26 steps
    assert checkpoint.scan_schedule(n_steps, size, 300 * size).levels == 1
    assert checkpoint.scan_schedule(n_steps, size, 90 * size).levels == 2
    # All hold the recorded trace (n_steps values) and the inputs; per-step checkpoints
    # also one state (~60 values) per step, the chunks 283 and 82 states.
    assert per_step > n_steps * size
    assert one_level < per_step / 30
    assert two_levels < 0.6 * one_level
