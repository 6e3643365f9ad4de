"""SWC import against NEURON's Import3d on real reconstructions, run live."""

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip(
    "neuron", reason="NEURON (pip install neuron) is the reference these tests compare against"
)

from neuron import h
from neuron_import3d import NeuronMorphology

import dendrax as dx

DATA = Path(__file__).parent / "data"
FILES = ["ca1_n120_250.swc", "ca1_n120.swc", "allen_485574832.swc"]


@pytest.mark.parametrize("name", FILES)
def test_sections_match_import3d(name):
    ours = dx.read_swc(DATA / name)
    theirs = NeuronMorphology(DATA / name)
    assert ours.n_sections == len(theirs.sections)
    assert ours.parents.tolist() == theirs.parent_index()
    np.testing.assert_array_equal(ours.parent_x, theirs.parent_x())
    for i, sec in enumerate(theirs.sections):
        assert ours.neuron_names()[i] == str(sec.hname()).rpartition(".")[2]
        points, diameters = ours.section_points(i)
        their_points, their_diameters = theirs.points(i)
        np.testing.assert_array_equal(points, their_points)
        np.testing.assert_array_equal(diameters, their_diameters)


def _ri(cell) -> np.ndarray:
    """seg.ri() of dendrax's compartments: near half plus the previous compartment's far."""
    length, radius = cell.geometry["length"], cell.geometry["radius"]
    half = 1e-2 * cell.geometry["axial_resistivity"] * 0.5 * length / (np.pi * radius**2)
    near = half * cell.shape_factors["near_resistance"]
    far = half * cell.shape_factors["far_resistance"]
    inner = cell.tree.comp_index_in_branch > 0
    ri = near.copy()
    ri[inner] += far[np.flatnonzero(inner) - 1]
    return ri


@pytest.mark.parametrize("name", FILES)
def test_area_and_ri_match_neuron(name):
    theirs = NeuronMorphology(DATA / name)
    n = len(theirs.sections)
    ncomp = 1 + np.arange(n) % 4
    cell = dx.Cell.from_swc(DATA / name, ncomp=ncomp, axial_resistivity=123.0)
    theirs.set_nseg(ncomp)
    theirs.set_all("Ra", 123.0)
    area, ri = theirs.areas_and_ri()
    assert cell.n_compartments == area.size
    np.testing.assert_allclose(cell.compartment_area(), area, rtol=1e-12)
    np.testing.assert_allclose(_ri(cell), ri, rtol=1e-12)
    assert cell.total_area() == pytest.approx(area.sum(), rel=1e-7)


@pytest.mark.parametrize("name", FILES)
@pytest.mark.parametrize("rule", [(0.1, 35.4, 1.0), (0.05, 150.0, 2.0)])
def test_d_lambda_matches_neuron_recipe(name, rule):
    d_lambda, ra, cm = rule
    cell = dx.Cell.from_swc(DATA / name, d_lambda=d_lambda, axial_resistivity=ra, capacitance=cm)
    theirs = NeuronMorphology(DATA / name)
    expected = []
    for sec in theirs.sections:
        sec.Ra, sec.cm = ra, cm
        expected.append(int((sec.L / (d_lambda * h.lambda_f(100, sec=sec)) + 0.9) / 2) * 2 + 1)
    assert cell.tree.ncomp.tolist() == expected


def _distal_branch(cell) -> int:
    """The branch whose far end is farthest from the soma along the tree."""
    distance = cell.path_distance()
    return int(cell.tree.comp_branch[np.argmax(distance)])


@pytest.mark.parametrize(
    ("name", "first"),
    [("ca1_n120_250.swc", 1), ("ca1_n120.swc", 1), ("allen_485574832.swc", 3)],
)
def test_hh_voltages_match_neuron(name, first):
    """`first`: compartments of the soma; Allen's dendrites sit at soma(0.5), which with 3
    compartments is the middle compartment's node."""
    dt, t_max = 0.025, 100.0
    theirs = NeuronMorphology(DATA / name)
    n = len(theirs.sections)
    ncomp = np.where(np.arange(n) % 2 == 0, first, 4 - first)
    cell = dx.Cell.from_swc(DATA / name, ncomp=ncomp)
    cell.insert(dx.channels.HH())
    cell.branch(0).loc(0.5).stimulate(dx.step_current(10.0, 80.0, 1.0, dt, t_max))
    distal = _distal_branch(cell)
    cell.branch(0).loc(0.5).record("v")
    cell.branch(distal).loc(0.5).record("v")
    ours = np.asarray(dx.build(cell, dt=dt).run())

    theirs.set_nseg(ncomp)
    theirs.insert("hh")
    theirs.iclamp(0, 0.5, 10.0, 80.0, 1.0)
    theirs.record(0, 0.5)
    theirs.record(distal, 0.5)
    reference = theirs.run(t_max, dt)
    assert reference[0].max() > 0, "the step current should make the soma fire"
    assert reference[1].max() > -40, "the spike should reach the distal dendrite"
    assert np.max(np.abs(ours - reference)) < 1e-6  # the issue asks for 0.1 mV
