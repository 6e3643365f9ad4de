"""Neurolucida ASC import against NEURON's Import3d_Neurolucida3, on a hand-written file."""

import math

import numpy as np
import pytest

pytest.importorskip(
    "neuron", reason="NEURON (pip install neuron) is the reference these tests compare against"
)

from neuron_import3d import NeuronMorphology

import dendrax as dx


def _contour() -> str:
    points = []
    for k in range(16):
        angle = 2 * math.pi * k / 16
        r = 8 + 2 * math.cos(2 * angle) + 0.5 * math.sin(3 * angle)
        x, y = 1.3 * r * math.cos(angle), r * math.sin(angle)
        points.append(f"  ( {x:.2f} {y:.2f} 0.00 0.00)  ;  1, {k + 1}")
    return "\n".join(points)


ASC = f"""; V3 text file written for MicroBrightField products.
(ImageCoords)

("CellBody"
  (Color Red)
  (CellBody)
{_contour()}
)  ;  End of contour

(Dot
  (Color Green)
  (Name "Marker 1")
  ( 30.00 30.00 0.00 1.00)  ; 1
)  ;  End of markers

( (Color Yellow)
  (Dendrite)
  ( 10.50 1.00 0.00 2.00)  ; Root
  ( 20.00 2.00 0.50 1.80)  ; R, 1
  ( 30.00 3.00 1.00 1.60)  ; R, 2
  (
    ( 40.00 10.00 1.00 1.20)  ; R-1, 1
    ( 55.00 20.00 2.00 1.00)  ; R-1, 2
    <( 56.00 21.00 2.00 0.50)>  ;  Spine
    (
      ( 65.00 30.00 2.00 0.80)  ; R-1-1, 1
      ( 75.00 35.00 2.00 0.60)  ; R-1-1, 2
      Normal
    |
      ( 65.00 10.00 2.00 0.70)  ; R-1-2, 1
      ( 80.00 5.00 2.00 0.50)  ; R-1-2, 2
      High
    )  ;  End of split
  |
    ( 40.00 -5.00 1.00 1.00)  ; R-2, 1
    ( 60.00 -15.00 1.00 0.70)  ; R-2, 2
    Normal
  )  ;  End of split
)  ;  End of tree

( (Color Blue)
  (Apical)
  ( -2.00 9.00 0.00 3.00)  ; Root
  ( -3.00 30.00 0.00 2.50)  ; R, 1
  ( -4.00 80.00 1.00 2.00)  ; R, 2
  ( -5.00 150.00 2.00 1.50)  ; R, 3
  Incomplete
)  ;  End of tree

( (Color Red)
  (Axon)
  ( -10.00 -3.00 0.00 1.00)  ; Root
  ( -30.00 -10.00 0.00 0.80)  ; R, 1
  ( -90.00 -20.00 0.00 0.60)  ; R, 2
  Normal
)  ;  End of tree
"""


@pytest.fixture
def asc_file(tmp_path):
    path = tmp_path / "cell.asc"
    path.write_text(ASC)
    return path


def test_asc_matches_neuron(asc_file):
    ours = dx.read_asc(asc_file)
    theirs = NeuronMorphology(asc_file, reader="asc")
    assert ours.n_sections == len(theirs.sections) == 8
    assert ours.types.tolist() == [1, 3, 3, 3, 3, 3, 4, 2]
    assert ours.parents.tolist() == theirs.parent_index()
    np.testing.assert_array_equal(ours.parent_x, theirs.parent_x())
    for i in range(ours.n_sections):
        points, diameters = ours.section_points(i)
        their_points, their_diameters = theirs.points(i)
        # The soma's centroid line comes from an eigen-decomposition: equal to rounding.
        np.testing.assert_allclose(points, their_points, atol=1e-5)
        np.testing.assert_allclose(diameters, their_diameters, atol=1e-5)
    cell = dx.Cell.from_asc(asc_file, ncomp=3)
    theirs.set_nseg(3)
    area, _ = theirs.areas_and_ri()
    np.testing.assert_allclose(cell.compartment_area(), area, rtol=1e-6)
    assert len(cell.apical) == 3 and len(cell.axon) == 3 and len(cell.basal) == 15


def test_skipped_items_are_noted(asc_file):
    notes = dx.read_asc(asc_file).notes
    assert any("Dot" in note and "line 25" in note for note in notes)
    assert any("ImageCoords" in note for note in notes)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('("CellBody" (CellBody) (0 0 0 0) (1 0 0 0)', r"line 1: '\(' is never closed"),
        ("(Dendrite) )\n", r"line 1: '\)' without a matching"),
        ("( (Dendrite) (0 0 0 1) (5 0 0 1) )\n", r"expected one soma contour"),
        ('("CellBody" (CellBody) (0 0 0 0) (1 0 0) (0 1 0 0))\n', r"a point needs x y z d"),
    ],
)
def test_bad_asc(tmp_path, text, message):
    path = tmp_path / "bad.asc"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        dx.read_asc(path)


def test_missing_asc():
    with pytest.raises(FileNotFoundError, match=r"nothing\.asc"):
        dx.read_asc("nothing.asc")


def test_asc_hh_voltages_match_neuron(asc_file):
    dt, t_max = 0.025, 40.0
    cell = dx.Cell.from_asc(asc_file, ncomp=3)
    cell.insert(dx.channels.HH())
    cell.branch(0).loc(0.5).stimulate(dx.step_current(5.0, 30.0, 0.5, dt, t_max))
    cell.branch(0).loc(0.5).record("v")
    cell.branch(4).loc(0.5).record("v")
    ours = np.asarray(dx.build(cell, dt=dt).run())
    theirs = NeuronMorphology(asc_file, reader="asc")
    theirs.set_nseg(3)
    theirs.insert("hh")
    theirs.iclamp(0, 0.5, 5.0, 30.0, 0.5)
    theirs.record(0, 0.5)
    theirs.record(4, 0.5)
    reference = theirs.run(t_max, dt)
    assert reference[0].max() > 0, "the soma should fire"
    # The soma's centroid differs from NEURON's by ~1e-7 (eigen-decomposition rounding).
    assert np.max(np.abs(ours - reference)) < 1e-4
