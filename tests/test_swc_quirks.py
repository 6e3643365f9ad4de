"""Small hand-written SWC files, one per quirk of real files, each checked against NEURON."""

import numpy as np
import pytest

pytest.importorskip(
    "neuron", reason="NEURON (pip install neuron) is the reference these tests compare against"
)

from neuron_import3d import NeuronMorphology

import dendrax as dx

QUIRKS = {
    "one-point soma": (
        """1 1 0 0 0 5 -1
        2 3 5 0 0 1 1
        3 3 15 0 0 0.8 2
        4 3 20 5 0 0.6 3
        5 3 20 -5 0 0.5 3
        6 2 -5 0 0 0.5 1
        7 2 -25 0 0 0.4 6
        8 4 0 5 0 1 1""",
        6,
    ),
    "three-point soma (NeuroMorpho)": (
        """1 1 0 0 0 4 -1
        2 1 0 -4 0 4 1
        3 1 0 4 0 4 1
        4 3 0 -4 0 1 1
        5 3 0 -20 0 0.8 4
        6 4 0 4 0 1.2 1
        7 4 0 30 0 1 6
        8 4 10 40 0 0.7 7
        9 4 -10 40 0 0.7 7""",
        5,
    ),
    "contour soma with children at interior points and ends": (
        """1 1 0 0 0 3 -1
        2 1 2 1 0 4 1
        3 1 4 1 0 4.5 2
        4 1 6 0 0 3.5 3
        5 1 8 0 0 2 4
        6 3 3 -10 0 1 3
        7 3 3 -30 0 0.8 6
        8 4 12 0 0 1 5
        9 4 40 0 0 1 8
        10 2 -4 0 0 0.6 1
        11 2 -30 0 0 0.5 10""",
        4,
    ),
    "branched soma of several samples": (
        """1 1 0 0 0 5 -1
        2 1 3 0 0 5 1
        3 1 6 2 0 4 2
        4 1 6 -2 0 4 2
        5 3 10 6 0 1 3
        6 3 30 10 0 0.8 5
        7 3 10 -6 0 1 4
        8 3 30 -10 0 0.8 7
        9 4 -5 0 0 1 1
        10 4 -25 0 0 0.8 9""",
        6,
    ),
    "dendrite joining the proximal point of a soma dendrite": (
        """1 1 0 0 0 5 -1
        2 1 5 0 0 5 1
        3 1 10 0 0 5 2
        4 3 15 0 0 1 3
        5 3 25 0 0 1 4
        6 3 35 0 0 0.8 5
        7 3 15 10 0 0.7 4
        8 3 15 20 0 0.6 7""",
        3,
    ),
    "custom types and a type change without a branch": (
        """1 1 0 0 0 5 -1
        2 1 8 0 0 5 1
        3 3 12 0 0 1 2
        4 3 22 0 0 1 3
        5 7 32 0 0 0.9 4
        6 7 42 0 0 0.8 5
        7 5 42 10 0 0.5 6
        8 5 42 20 0 0.5 7
        9 3 52 0 0 0.5 6""",
        5,
    ),
    "zero-length segments and a zero-length section": (
        """1 1 0 0 0 5 -1
        2 1 8 0 0 5 1
        3 3 12 0 0 1 2
        4 3 12 0 0 2 3
        5 3 22 0 0 1 4
        6 3 22 0 0 1 5
        7 3 30 5 0 0.8 6
        8 3 22 0 0 0.8 6
        9 3 30 -5 0 0.8 8
        10 3 40 -5 0 0.6 9
        11 3 30 -15 0 0.6 8""",
        5,
    ),
    "no soma: a dendrite as the root": (
        """1 3 0 0 0 1 -1
        2 3 10 0 0 1 1
        3 3 20 0 0 0.8 2
        4 3 30 5 0 0.6 3
        5 3 30 -5 0 0.6 3
        6 3 -10 0 0 0.7 1
        7 3 10 10 0 0.5 2
        8 3 10 20 0 0.5 7""",
        6,
    ),
}


def _write(tmp_path, name: str, text: str):
    path = tmp_path / (name.replace(" ", "_").replace("(", "").replace(")", "") + ".swc")
    path.write_text("\n".join(line.strip() for line in text.splitlines()) + "\n")
    return path


def _check_against_neuron(path, ours):
    theirs = NeuronMorphology(path)
    assert ours.n_sections == len(theirs.sections)
    assert ours.parents.tolist() == theirs.parent_index()
    np.testing.assert_array_equal(ours.parent_x, theirs.parent_x())
    for i in range(ours.n_sections):
        points, diameters = ours.section_points(i)
        their_points, their_diameters = theirs.points(i)
        np.testing.assert_array_equal(points, their_points)
        np.testing.assert_array_equal(diameters, their_diameters)
    for ncomp in (1, 2, 3):
        cell = dx.Cell.from_morphology(ours, ncomp=ncomp)
        theirs.set_nseg(ncomp)
        area, _ = theirs.areas_and_ri()
        np.testing.assert_allclose(cell.compartment_area(), area, rtol=1e-12)
    return theirs


@pytest.mark.parametrize("quirk", list(QUIRKS))
def test_quirk_matches_neuron(tmp_path, quirk):
    text, n_sections = QUIRKS[quirk]
    path = _write(tmp_path, quirk, text)
    ours = dx.read_swc(path)
    if n_sections is not None:
        assert ours.n_sections == n_sections
    _check_against_neuron(path, ours)


def _random_swc(rng: np.random.Generator) -> str:
    """A random small cell: soma samples first (chained or branched, sometimes NeuroMorpho's
    three-point soma), then samples of types 2, 3, 4 and 7, often chained, sometimes at the
    same place as their parent."""
    n = int(rng.integers(4, 40))
    n_soma = int(rng.choice([1, 2, 3, 5]))
    xyz, types, parent = np.zeros((n, 3)), np.ones(n, dtype=int), np.full(n, -1)
    radius = np.round(rng.uniform(0.2, 4.0, n), 2)
    for i in range(1, n):
        parent[i] = i - 1 if rng.random() < 0.6 else int(rng.integers(0, i))
        if i >= n_soma:
            inherited = types[parent[i]]
            keep = inherited != 1 and rng.random() < 0.85
            types[i] = inherited if keep else int(rng.choice([2, 3, 4, 7]))
        step = rng.normal(0.0, 5.0, 3)
        if i >= n_soma and rng.random() < 0.08:
            step[:] = 0.0
        xyz[i] = xyz[parent[i]] + step
    if n_soma == 3 and rng.random() < 0.5:
        parent[1] = parent[2] = 0
        radius[1] = radius[2] = radius[0]
        xyz[1], xyz[2] = xyz[0] - [0, radius[0], 0], xyz[0] + [0, radius[0], 0]
        parent[3:][np.isin(parent[3:], (1, 2))] = 0
    return "\n".join(
        f"{i + 1} {types[i]} {x:.2f} {y:.2f} {z:.2f} {radius[i]} {parent[i] + 1 if i else -1}"
        for i, (x, y, z) in enumerate(xyz)
    )


@pytest.mark.parametrize("seed", range(3))
def test_random_files_match_neuron(tmp_path, seed):
    rng = np.random.default_rng(seed)
    for trial in range(10):
        path = tmp_path / f"random_{trial}.swc"
        path.write_text(_random_swc(rng))
        _check_against_neuron(path, dx.read_swc(path))


def test_one_point_soma_is_a_cylinder_with_the_sphere_area(tmp_path):
    path = _write(tmp_path, "sphere", QUIRKS["one-point soma"][0])
    cell = dx.Cell.from_swc(path, ncomp=1)
    assert cell.compartment_area()[0] == pytest.approx(np.pi * 10.0**2, rel=1e-12)
    assert dx.read_swc(path).parent_x.tolist() == [1.0, 0.5, 1.0, 1.0, 0.5, 0.5]
    assert dx.read_swc(path).notes == (
        "line 1: one-point soma read as a cylinder of length and diameter 10 um "
        "(the sphere's area)",
    )


def test_three_point_soma_is_a_sphere(tmp_path):
    path = _write(tmp_path, "three", QUIRKS["three-point soma (NeuroMorpho)"][0])
    cell = dx.Cell.from_swc(path, ncomp=1)
    assert cell.compartment_area()[0] == pytest.approx(np.pi * 8.0**2, rel=1e-12)
    assert "lines 1-3: three-point soma read as a sphere" in dx.read_swc(path).notes[0]


def test_dropped_sections_are_noted(tmp_path):
    path = _write(tmp_path, "zero", QUIRKS["zero-length segments and a zero-length section"][0])
    assert dx.read_swc(path).notes == (
        "line 8: a section of one point or of zero length was dropped; its children attach "
        "where it was attached",
    )


def test_comments_blank_lines_and_extra_columns(tmp_path):
    plain = _write(tmp_path, "plain", QUIRKS["one-point soma"][0])
    lines = QUIRKS["one-point soma"][0].splitlines()
    noisy = ["# a header", "   # indented comment", ""]
    for line in lines:
        noisy += [line.strip() + "  0.0 # extra column and a trailing comment", "", "\t"]
    path = tmp_path / "noisy.swc"
    path.write_text("\n".join(noisy))
    a, b = dx.read_swc(plain), dx.read_swc(path)
    np.testing.assert_array_equal(a.points, b.points)
    assert a.parents.tolist() == b.parents.tolist()


def test_unsorted_ids_read_as_sorted(tmp_path):
    """NEURON 9's Import3d fails on such files; dendrax reads them as if sorted by id."""
    text = QUIRKS["contour soma with children at interior points and ends"][0]
    lines = [line.strip() for line in text.splitlines()]
    # Renumber with gaps and shuffle the lines.
    renumbered = []
    for line in lines:
        fields = line.split()
        fields[0] = str(int(fields[0]) * 10)
        fields[6] = str(int(fields[6]) * 10) if int(fields[6]) > 0 else "-1"
        renumbered.append(" ".join(fields))
    shuffled = [renumbered[i] for i in np.random.default_rng(0).permutation(len(renumbered))]
    sorted_path = tmp_path / "sorted.swc"
    sorted_path.write_text("\n".join(renumbered))
    shuffled_path = tmp_path / "shuffled.swc"
    shuffled_path.write_text("\n".join(shuffled))
    a, b = dx.read_swc(sorted_path), dx.read_swc(shuffled_path)
    np.testing.assert_array_equal(a.points, b.points)
    np.testing.assert_array_equal(a.diameters, b.diameters)
    _check_against_neuron(sorted_path, b)


def test_nanometre_file_with_scale(tmp_path):
    text = QUIRKS["one-point soma"][0]
    micrometre = _write(tmp_path, "um", text)
    scaled = []
    for line in text.splitlines():
        fields = line.split()
        fields[2:6] = [str(float(v) * 1000) for v in fields[2:6]]
        scaled.append(" ".join(fields))
    nanometre = tmp_path / "nm.swc"
    nanometre.write_text("\n".join(scaled))
    a = dx.Cell.from_swc(micrometre, ncomp=1)
    b = dx.Cell.from_swc(nanometre, ncomp=1, scale=1e-3)
    np.testing.assert_allclose(b.compartment_area(), a.compartment_area(), rtol=1e-6)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1 1 0 0 0 5 -1\n2 3 5 0 0 1\n", r"line 2: expected 7 columns"),
        ("1 1 0 0 0 5 -1\n2 3 5 zero 0 1 1\n", r"line 2: .zero. is not a number"),
        ("1 1 0 0 0 5 -1\n\n3 3 5 0 0 1 7\n", r"line 3: parent id 7 of sample 3 does not exist"),
        ("1 1 0 0 0 5 -1\n2 3 5 0 0 1 3\n3 3 9 0 0 1 2\n", r"form a cycle"),
        ("1 1 0 0 0 5 -1\n2 3 5 0 0 -1 1\n", r"line 2: negative radius"),
        ("1 1 0 0 0 5 -1\n2 3 5 0 0 1 1\n2 3 6 0 0 1 1\n", r"duplicate id 2"),
        ("1 1 0 0 0 5 -1\n2 3 5 0 0 1 -1\n", r"2 root samples"),
        ("1 1 0 0 0 5 -1\n2 3.5 5 0 0 1 1\n", r"line 2: id, type and parent must be integers"),
        ("# only a comment\n", r"no samples"),
    ],
)
def test_bad_files_name_file_and_line(tmp_path, text, message):
    path = tmp_path / "bad.swc"
    path.write_text(text)
    with pytest.raises(ValueError, match=message) as error:
        dx.read_swc(path)
    assert "bad.swc" in str(error.value)


def test_missing_file():
    with pytest.raises(FileNotFoundError, match=r"no_such\.swc"):
        dx.Cell.from_swc("no_such.swc")
