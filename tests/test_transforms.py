"""jit, vmap and grad compose with `sim.run`; float32; voltage clamp; recording layout."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

pytest.importorskip(
    "neuron", reason="NEURON (pip install neuron) is the reference these tests compare against"
)

from neuron import h
from neuron_reference import NeuronModel, spike_times

import dendrax as dx

DT = 0.025
T_MAX = 15.0
GEOMETRY = {
    "parents": [-1, 0, 0, 1],
    "ncomp": [1, 3, 2, 2],
    "length": [20.0, 30.0, 25.0, 40.0],
    "radius": [8.0, 1.0, 0.7, 0.5],
}
SITES = [(b, c) for b, n in enumerate(GEOMETRY["ncomp"]) for c in range(n)]


def hh_cell(amplitude=0.5, t_max=T_MAX):
    cell = dx.Cell.from_parents(**GEOMETRY)
    cell.insert(dx.channels.HH())
    cell.branch(0).comp(0).stimulate(dx.step_current(1.0, 10.0, amplitude, DT, t_max))
    cell.branch(0).comp(0).record("v")
    cell.branch(3).loc(0.9).record("v")
    return cell


@pytest.fixture(scope="module")
def sim():
    return dx.build(hh_cell())


def scaled(params, factor):
    return {**params, "HH": {**params["HH"], "gNa": params["HH"]["gNa"] * factor}}


def test_jit_of_run_equals_run(sim):
    expected = np.asarray(sim.run(scaled(sim.params, 1.1)))
    jitted = jax.jit(lambda factor: sim.run(scaled(sim.params, factor)))
    np.testing.assert_allclose(np.asarray(jitted(1.1)), expected, rtol=0, atol=1e-9)


def test_vmap_over_params_equals_loop(sim):
    factors = jnp.linspace(0.8, 1.2, 5)
    batched = jax.vmap(lambda f: sim.run(scaled(sim.params, f)))(factors)
    assert batched.shape == (5, 2, round(T_MAX / DT) + 1)
    for k, factor in enumerate(factors):
        single = sim.run(scaled(sim.params, factor))
        np.testing.assert_allclose(batched[k], single, rtol=0, atol=1e-10)
    # The batch is not trivially constant: different gNa, different traces.
    assert np.max(np.abs(batched[0] - batched[-1])) > 1.0


def test_vmap_over_stimuli_equals_loop(sim):
    amplitudes = jnp.array([0.0, 0.05, 0.3, 0.6])
    stimuli = amplitudes[:, None, None] * (sim.stimuli > 0)[None]
    batched = jax.vmap(lambda s: sim.run(stimuli=s))(stimuli)
    for k in range(amplitudes.size):
        np.testing.assert_allclose(batched[k], sim.run(stimuli=stimuli[k]), rtol=0, atol=1e-10)
    # No current: the cell stays near rest (HH's resting potential is about -64.97 mV);
    # the largest current spikes.
    assert np.max(np.abs(batched[0] + 65.0)) < 0.1
    assert np.max(batched[-1]) > 0.0


def test_vmap_over_params_and_stimuli_together(sim):
    factors = jnp.array([0.9, 1.1])
    stimuli = jnp.stack([sim.stimuli, 0.5 * sim.stimuli])
    batched = jax.vmap(lambda f, s: sim.run(scaled(sim.params, f), stimuli=s))(factors, stimuli)
    for k in range(2):
        single = sim.run(scaled(sim.params, factors[k]), stimuli=stimuli[k])
        np.testing.assert_allclose(batched[k], single, rtol=0, atol=1e-10)


def test_grad_of_vmap_equals_sum_of_grads(sim):
    factors = jnp.array([0.9, 1.0, 1.1])

    def loss(params, factor):
        return jnp.mean((sim.run(scaled(params, factor)) + 60.0) ** 2)

    batched = jax.grad(lambda p: jnp.sum(jax.vmap(lambda f: loss(p, f))(factors)))(sim.params)
    singles = [jax.grad(loss)(sim.params, f) for f in factors]
    expected = jax.tree_util.tree_map(lambda *g: sum(g), *singles)
    for got, want in zip(
        jax.tree_util.tree_leaves(batched), jax.tree_util.tree_leaves(expected), strict=True
    ):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize(("amplitude", "tolerance"), [(0.02, 1e-3), (0.5, 1e-2)])
def test_float32_is_close_to_float64(amplitude, tolerance):
    # Measured: 3e-5 mV below threshold, 1.2e-3 mV over a spike (tolerances in mV).
    reference = np.asarray(dx.build(hh_cell(amplitude)).run())
    with jax.enable_x64(False):
        sim32 = dx.build(hh_cell(amplitude))
        assert sim32.params["radius"].dtype == jnp.float32
        traces = sim32.run()
        assert traces.dtype == jnp.float32
        traces = np.asarray(traces, dtype=np.float64)
    assert np.max(np.abs(traces - reference)) < tolerance
    assert (np.max(reference) > 0) == (amplitude > 0.1), "spike only for the larger current"


# -- voltage clamp ------------------------------------------------------------------


def _clamped_cells(solver):
    n_steps = round(T_MAX / DT)
    middle = (np.arange(n_steps) + 0.5) * DT
    command = np.where((middle >= 3.0) & (middle < 10.0), -10.0, -65.0)
    cell = dx.Cell.from_parents(**GEOMETRY)
    cell.insert(dx.channels.HH())
    cell.branch(1).comp(1).clamp("v", command)
    for b, c in SITES:
        cell.branch(b).comp(c).record("v")
    ours = np.asarray(dx.build(cell, dt=DT, solver=solver).run())
    return ours, command


@pytest.mark.parametrize("solver", ["backward_euler", "crank_nicolson"])
def test_clamped_compartment_follows_the_command(solver):
    ours, command = _clamped_cells(solver)
    clamped_row = SITES.index((1, 1))
    np.testing.assert_allclose(ours[clamped_row, 1:], command, rtol=0, atol=1e-10)
    assert ours[clamped_row, 0] == -65.0
    # The rest of the cell responds: the depolarisation spreads and fires the HH membrane.
    others = np.delete(ours, clamped_row, axis=0)
    assert np.all(np.max(others, axis=1) > 0.0)


def test_clamp_matches_neuron_seclamp_with_tiny_series_resistance():
    # NEURON's SEClamp with series resistance rs (MΩ) pulls the node to the command through
    # a conductance 1/rs; its traces approach the ideal clamp linearly in rs (measured
    # max |ΔV| 1.8e-2, 1.8e-5, 1.8e-8 mV at rs = 1e-3, 1e-6, 1e-9). Backward Euler only:
    # with secondorder = 2 NEURON extrapolates the clamped node past the command.
    ours, _ = _clamped_cells("backward_euler")
    neuron = NeuronModel(**GEOMETRY)
    neuron.insert("hh")
    clamp = h.SEClamp(neuron.segment(1, 1))
    clamp.rs = 1e-9
    clamp.dur1, clamp.amp1 = 3.0, -65.0
    clamp.dur2, clamp.amp2 = 7.0, -10.0
    clamp.dur3, clamp.amp3 = 100.0, -65.0
    for b, c in SITES:
        neuron.record(b, c)
    theirs = neuron.run(T_MAX, DT)
    assert np.max(np.abs(ours - theirs)) < 1e-6


# -- recordings and time --------------------------------------------------------------


def test_recordings_come_in_call_order_one_row_per_compartment():
    cell = dx.Cell.from_parents(**GEOMETRY)
    cell.insert(dx.channels.HH())
    cell.branch(0).comp(0).stimulate(dx.step_current(1.0, 10.0, 0.5, DT, T_MAX))
    cell.branch(1).record("v")  # 3 rows
    cell.branch(2).comp(1).record("HH.m")
    cell.branch(3).record("HH.h")  # 2 rows
    cell.branch(0).record("v")
    cell.branch(2).comp(0).record("v")
    sim = dx.build(cell, dt=DT)
    ours = np.asarray(sim.run())
    expected_rows = [
        ((1, 0), "v"),
        ((1, 1), "v"),
        ((1, 2), "v"),
        ((2, 1), "m_hh"),
        ((3, 0), "h_hh"),
        ((3, 1), "h_hh"),
        ((0, 0), "v"),
        ((2, 0), "v"),
    ]
    assert ours.shape == (len(expected_rows), round(T_MAX / DT) + 1)
    assert len(sim.recording_names) == len(expected_rows)
    assert sim.recording_names[3] == "HH.m at branch 2, compartment 1"

    neuron = NeuronModel(**GEOMETRY)
    neuron.insert("hh")
    neuron.iclamp(0, 0, 1.0, 10.0, 0.5)
    for (b, c), name in expected_rows:
        neuron.record(b, c, name)
    theirs = neuron.run(T_MAX, DT)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-6)
    assert spike_times(theirs[-2], DT).size >= 1


def test_time_axis():
    sim = dx.build(hh_cell(t_max=10.0), dt=DT)
    assert sim.n_steps() == 400
    np.testing.assert_allclose(sim.time(), np.arange(401) * DT)
    assert sim.run().shape[-1] == sim.time().size
    # Another duration is another number of steps (no stimulus array to follow then).
    stimuli = jnp.zeros((1, round(2.5 / DT)))
    assert sim.run(t_max=2.5, stimuli=stimuli).shape == (2, 101)
    np.testing.assert_allclose(sim.time(2.5), np.arange(101) * DT)


@pytest.mark.parametrize("backend", ["jax", "native"])
def test_float32_params_run_in_float32_with_x64_enabled(backend):
    sim = dx.build(hh_cell(), backend=backend)
    reference = np.asarray(sim.run())
    params32 = jax.tree_util.tree_map(lambda x: x.astype(jnp.float32), sim.params)
    traces = sim.run(params32)
    assert traces.dtype == jnp.float32
    assert np.max(np.abs(np.asarray(traces, float) - reference)) < 0.01
