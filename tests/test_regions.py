"""Regions, path distance, branch order, groups, 3D geometry and re-discretisation."""

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip(
    "neuron", reason="NEURON (pip install neuron) is the reference these tests compare against"
)

from neuron import h
from neuron_import3d import NeuronMorphology

import dendrax as dx
from dendrax.morphology import BranchTree
from dendrax.morphology.compartments import branch_order, path_distance

CA1 = Path(__file__).parent / "data" / "ca1_n120.swc"


@pytest.fixture(scope="module")
def neuron_ca1():
    """NEURON's CA1 n120 with 3 segments per section."""
    theirs = NeuronMorphology(CA1)
    theirs.set_nseg(3)
    return theirs


def test_regions_follow_swc_types():
    cell = dx.Cell.from_swc(CA1, ncomp=2)
    types = dx.read_swc(CA1).types
    for region, swc_type in (("soma", 1), ("axon", 2), ("basal", 3), ("apical", 4)):
        expected = np.flatnonzero(np.repeat(types, 2) == swc_type)
        np.testing.assert_array_equal(cell.region(region).compartments, expected)
    assert len(cell.soma) == 4 and len(cell.axon) == 0
    assert len(cell.soma) + len(cell.basal) + len(cell.apical) == cell.n_compartments
    np.testing.assert_array_equal(cell.apical.compartments, cell.region("type:4").compartments)
    for alias, region in (("somatic", "soma"), ("dend", "basal"), ("apic", "apical")):
        np.testing.assert_array_equal(
            cell.region(alias).compartments, cell.region(region).compartments
        )
    with pytest.raises(KeyError, match="unknown region 'oblique'"):
        cell.region("oblique")


def test_cells_without_morphology_have_no_types():
    cell = dx.Cell.from_parents([-1, 0], ncomp=2)
    with pytest.raises(ValueError, match="needs SWC types"):
        cell.soma  # noqa: B018
    with pytest.raises(ValueError, match="needs 3D points"):
        cell.compartment_points()


def test_path_distance_matches_neuron(neuron_ca1):
    cell = dx.Cell.from_swc(CA1, ncomp=3)
    soma = neuron_ca1.sections[0]
    expected = [h.distance(soma(0.5), seg) for sec in neuron_ca1.sections for seg in sec]
    np.testing.assert_allclose(cell.path_distance(), expected, atol=1e-4)


def test_path_distance_on_cylinders():
    # Root of 2 x 10 um; branch 1 at the root's end (3 x 5 um); branch 2 at its middle.
    tree = BranchTree.from_parents([-1, 0, 1], [2, 3, 1], [1.0, 1.0, 0.5])
    length = np.repeat([10.0, 5.0, 4.0], tree.ncomp)
    expected = [5.0, 5.0, 12.5, 17.5, 22.5, 10.0 + 7.5 + 2.0]
    np.testing.assert_allclose(path_distance(tree, length), expected)
    assert branch_order(tree).tolist() == [0, 1, 2]


def test_select_by_distance_order_and_predicate():
    cell = dx.Cell.from_swc(CA1, ncomp=3)
    table = cell.compartment_table()
    near = cell.select(distance=(50.0, 150.0))
    assert np.all(table["distance"][near.compartments] >= 50.0)
    assert np.all(table["distance"][near.compartments] <= 150.0)
    assert len(near) == np.count_nonzero((table["distance"] >= 50) & (table["distance"] <= 150))
    first_order = cell.select(order=1)
    np.testing.assert_array_equal(
        np.unique(table["branch"][first_order.compartments]),
        np.flatnonzero(dx.read_swc(CA1).parents == 0),
    )
    thin_apical = cell.select(lambda t: t["radius"] < 0.5, region="apical", distance=(200, None))
    chosen = thin_apical.compartments
    assert chosen.size > 0
    assert np.all(table["type"][chosen] == 4) and np.all(table["radius"][chosen] < 0.5)
    assert np.all(table["distance"][chosen] >= 200)
    with pytest.raises(ValueError, match="one boolean per compartment"):
        cell.select(lambda t: t["radius"])


def test_named_groups_and_parameters_by_distance():
    cell = dx.Cell.from_swc(CA1, ncomp=3)
    cell.insert(dx.channels.HH())
    oblique = cell.define_group("oblique", cell.select(region="apical", order=(3, 5)))
    np.testing.assert_array_equal(cell.region("oblique").compartments, oblique.compartments)
    cell.apical.set("HH.gK", lambda d: 0.036 * np.exp(-d / 100.0))
    distance = cell.path_distance()[cell.apical.compartments]
    np.testing.assert_allclose(cell.apical.get("HH.gK"), 0.036 * np.exp(-distance / 100.0))
    with pytest.raises(ValueError, match="built-in region"):
        cell.define_group("soma", cell.branch(0))


def test_coordinates_move_and_rotate():
    morphology = dx.read_swc(CA1)
    cell = dx.Cell.from_swc(CA1, ncomp=2)
    points = cell.compartment_points()
    starts = cell.tree.comp_offsets[:-1]
    ends = cell.tree.comp_offsets[1:] - 1
    np.testing.assert_allclose(points["start"][starts], morphology.points[morphology.offsets[:-1]])
    np.testing.assert_allclose(points["end"][ends], morphology.points[morphology.offsets[1:] - 1])
    np.testing.assert_allclose(points["end"][starts], points["start"][starts + 1])
    area = cell.total_area()
    shift = np.array([10.0, -5.0, 2.0])
    moved = points["centre"] + shift
    cell.move(shift)
    # Arc lengths use single-precision differences, as NEURON's: positions agree to ~1e-6.
    np.testing.assert_allclose(cell.compartment_points()["centre"], moved, atol=1e-5)
    cell.rotate(90.0, "z", center=[0.0, 0.0, 0.0])
    expected = np.stack([-moved[:, 1], moved[:, 0], moved[:, 2]], axis=1)
    np.testing.assert_allclose(cell.compartment_points()["centre"], expected, atol=1e-5)
    cell.rotate(90.0, "y", center=[0.0, 0.0, 0.0])
    np.testing.assert_allclose(cell.compartment_points()["centre"][:, 0], expected[:, 2], atol=1e-5)
    assert cell.total_area() == area


def test_totals_and_summary(neuron_ca1):
    cell = dx.Cell.from_swc(CA1, ncomp=3)
    assert cell.total_volume() == pytest.approx(
        sum(seg.volume() for sec in neuron_ca1.sections for seg in sec), rel=1e-8
    )
    assert cell.total_length() == pytest.approx(sum(sec.L for sec in neuron_ca1.sections))
    text = cell.summary()
    assert "156 branches, 468 compartments" in text and "apical (apic): 53 branches" in text
    assert "156 branches" in repr(cell)


def test_set_ncomp_keeps_parameters_per_location():
    cell = dx.Cell.from_swc(CA1, ncomp=1)
    cell.insert(dx.channels.HH())
    per_branch = 0.1 + 0.001 * np.arange(cell.n_branches)
    cell.set("HH.gNa", per_branch)
    cell.branch(3).stimulate(np.ones(10))
    cell.set_ncomp(d_lambda=0.1)
    fresh = dx.Cell.from_swc(CA1, d_lambda=0.1)
    assert cell.tree.ncomp.tolist() == fresh.tree.ncomp.tolist()
    np.testing.assert_allclose(cell.compartment_area(), fresh.compartment_area())
    np.testing.assert_allclose(cell.get("HH.gNa"), per_branch[cell.tree.comp_branch])
    assert cell.stimuli[0].comps.tolist() == [cell.branch(3).compartments[cell.tree.ncomp[3] // 2]]
    cell.set_ncomp(1)
    np.testing.assert_allclose(cell.get("HH.gNa"), per_branch)


def test_set_ncomp_keeps_ion_values():
    cell = dx.Cell.from_swc(CA1, ncomp=1)
    cell.insert(dx.channels.NaTa_t())
    ena = 40.0 + np.arange(cell.n_branches)
    cell.set("ena", ena)
    cell.set_ncomp(3)
    np.testing.assert_allclose(cell.get("ena"), np.repeat(ena, 3))


def test_set_ncomp_on_cylinders_keeps_branch_length():
    cell = dx.Cell.from_parents([-1, 0], ncomp=2, length=[10.0, 5.0], radius=[2.0, 1.0])
    cell.set_ncomp([4, 1])
    np.testing.assert_allclose(cell.geometry["length"], [5.0] * 4 + [10.0])
    np.testing.assert_allclose(cell.geometry["radius"], [2.0] * 4 + [1.0])
    with pytest.raises(ValueError, match="d_lambda needs a morphology"):
        cell.set_ncomp(d_lambda=0.1)
