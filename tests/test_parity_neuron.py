"""Voltage traces against NEURON itself, run live with the same model and settings."""

import numpy as np
import pytest

pytest.importorskip(
    "neuron", reason="NEURON (pip install neuron) is the reference these tests compare against"
)

from neuron_reference import NeuronModel, spike_times

import dendrax as dx

DT = 0.025
T_MAX = 100.0

BRANCHED = {
    "parents": [-1, 0, 0, 1, 1, 2, 5],
    "ncomp": [1, 3, 8, 2, 5, 4, 6],
    "length": [20.0, 30.0, 15.0, 40.0, 25.0, 35.0, 20.0],
    "radius": [10.0, 1.5, 0.8, 0.6, 1.0, 0.5, 0.35],
}
CASES = {
    "single compartment": {"parents": [-1], "ncomp": [1], "length": [20.0], "radius": [10.0]},
    "unbranched cable": {"parents": [-1], "ncomp": [10], "length": [30.0], "radius": [1.0]},
    "branched cell": BRANCHED,
}


def _both(case, solver, amplitude=0.3, celsius=6.3):
    """Simulate `case` with HH everywhere and a step current in both simulators."""
    geometry = CASES[case]
    cell = dx.Cell.from_parents(**geometry)
    cell.insert(dx.channels.HH())
    cell.branch(0).loc(0.5).stimulate(dx.step_current(10.0, 70.0, amplitude, DT, T_MAX))
    sites = [(b, c) for b, n in enumerate(geometry["ncomp"]) for c in range(n)]
    for b, c in sites:
        cell.branch(b).comp(c).record("v")
    ours = np.asarray(dx.build(cell, dt=DT, solver=solver, celsius=celsius).run())

    neuron = NeuronModel(**geometry)
    neuron.insert("hh")
    n0 = geometry["ncomp"][0]
    neuron.iclamp(0, min(int(0.5 * n0), n0 - 1), 10.0, 70.0, amplitude)
    for b, c in sites:
        neuron.record(b, c)
    secondorder = 2 if solver == "crank_nicolson" else 0
    theirs = neuron.run(T_MAX, DT, celsius=celsius, secondorder=secondorder)
    return ours, theirs


@pytest.mark.parametrize("case", list(CASES))
def test_backward_euler_matches_neuron(case):
    ours, theirs = _both(case, "backward_euler")
    assert ours.shape == theirs.shape == (ours.shape[0], round(T_MAX / DT) + 1)
    # The issue asks for 0.01 mV; the same arithmetic as NEURON gives ~1e-9 mV.
    assert np.max(np.abs(ours - theirs)) < 1e-6
    soma_spikes = spike_times(theirs[0], DT)
    assert soma_spikes.size >= 3, "the stimulus should make the cell fire"
    for row in range(ours.shape[0]):
        ours_spikes, their_spikes = spike_times(ours[row], DT), spike_times(theirs[row], DT)
        assert ours_spikes.size == their_spikes.size
        assert np.all(np.abs(ours_spikes - their_spikes) <= DT + 1e-9)


@pytest.mark.parametrize("case", list(CASES))
def test_crank_nicolson_matches_neuron_secondorder(case):
    ours, theirs = _both(case, "crank_nicolson")
    assert np.max(np.abs(ours - theirs)) < 1e-6  # the issue asks for 0.1 mV


def test_temperature_matches_neuron():
    ours, theirs = _both("branched cell", "backward_euler", amplitude=0.5, celsius=20.0)
    assert np.max(np.abs(ours - theirs)) < 1e-6
