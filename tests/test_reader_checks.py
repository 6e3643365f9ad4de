"""Reconstructions that read but look wrong warn; files that cannot be read say what and where."""

import gzip
import re

import numpy as np
import pytest

import dendrax as dx
from dendrax.morphology import MorphologyWarning
from dendrax.morphology.checks import MAX_COMPARTMENTS

# A soma, a basal dendrite that branches, an apical dendrite (µm).
SWC = """# id type x y z radius parent
1 1 0 0 0 6 -1
2 3 -6 0 0 1.0 1
3 3 -40 0 0 0.8 2
4 3 -60 15 0 0.5 3
5 3 -60 -15 0 0.5 3
6 4 6 0 0 1.5 1
7 4 80 0 0 1.2 6
8 4 200 10 0 0.8 7
"""


def _write(tmp_path, text, name="cell.swc"):
    path = tmp_path / name
    path.write_text(text)
    return path


def _edit(text, line, column, value):
    """`text` with field `column` of (1-based) `line` set to `value`."""
    lines = text.splitlines()
    fields = lines[line - 1].split()
    fields[column] = str(value)
    lines[line - 1] = " ".join(fields)
    return "\n".join(lines) + "\n"


def _scaled(text, factor):
    """The samples of `text` with coordinates and radii times `factor` (a file in nm)."""
    out = []
    for line in text.splitlines():
        fields = line.split()
        if fields and not line.startswith("#"):
            fields[2:6] = [f"{float(v) * factor:g}" for v in fields[2:6]]
        out.append(" ".join(fields))
    return "\n".join(out) + "\n"


# -- item: implausible sizes and compartment counts ----------------------------------


def test_a_coordinate_typo_warns_with_file_line_and_length(tmp_path):
    path = _write(tmp_path, _edit(SWC, 9, 2, "2e8"), "typo.swc")
    with pytest.warns(MorphologyWarning) as caught:
        morphology = dx.read_swc(path)
    message = str(caught[0].message)
    where = r"typo\.swc, line 9 \(section 4, apic\[0\]\): the section is 2e\+08 um"
    assert re.search(where, message)
    assert "longer than 5000 um" in message and "scale=1e-3" in message
    assert caught[0].filename == __file__  # attributed to the caller, not to dendrax
    assert morphology.lengths.max() > 1e8  # read, not changed


def test_a_file_in_nanometres_warns_unless_scaled(tmp_path):
    path = _write(tmp_path, _scaled(SWC, 1000.0), "nm.swc")
    with pytest.warns(MorphologyWarning, match=r"nm\.swc, line \d+ .*read it with scale=1e-3"):
        dx.read_swc(path)
    cell = dx.Cell.from_swc(path, ncomp=1, scale=1e-3)  # no warning: warnings are errors here
    reference = dx.Cell.from_swc(_write(tmp_path, SWC), ncomp=1)
    np.testing.assert_allclose(cell.total_area(), reference.total_area(), rtol=1e-6)


def test_a_cell_wider_than_ten_millimetres_warns(tmp_path):
    # Sections of 3 mm along x (each sample has a short side branch), 12 mm in all.
    lines = ["1 1 0 0 0 5 -1"]
    for k in range(1, 5):
        lines.append(f"{2 * k} 3 {3000 * k} 0 0 1 {max(2 * k - 2, 1)}")
        lines.append(f"{2 * k + 1} 3 {3000 * k} 20 0 1 {2 * k}")
    path = _write(tmp_path, "\n".join(lines), "wide.swc")
    with pytest.warns(MorphologyWarning, match=r"wide\.swc, line 8 .*spans 1\.2e\+04 um along x"):
        dx.read_swc(path)


def test_too_many_compartments_warn_with_a_way_out(tmp_path):
    path = _write(tmp_path, SWC)
    with pytest.warns(MorphologyWarning, match=r"makes 500 compartments, more than max_compa"):
        dx.Cell.from_swc(path, ncomp=100, max_compartments=200)
    assert dx.Cell.from_swc(path, ncomp=100, max_compartments=None).n_compartments == 500
    assert MAX_COMPARTMENTS == 100_000
    with pytest.warns(MorphologyWarning, match=r"100,003 compartments.* the most, 50,000"):
        dx.Cell.from_swc(path, ncomp=[1, 1, 1, 50_000, 50_000])


# -- item: diameters ----------------------------------------------------------------


@pytest.mark.parametrize("how", [{"ncomp": 1}, {"ncomp": 3}, {"d_lambda": 0.1}, {}])
def test_zero_radius_inside_a_section_fails_alike_naming_file_and_line(tmp_path, how):
    path = _write(tmp_path, _edit(SWC, 8, 5, 0), "zero.swc")
    with pytest.raises(ValueError, match=r"zero\.swc, line 8 \(section 4, apic\[0\]\): a 3D point"):
        dx.Cell.from_swc(path, **how)


def test_zero_radius_at_a_tip_is_kept_as_neuron_does(tmp_path):
    path = _write(tmp_path, _edit(SWC, 9, 5, 0))
    assert dx.Cell.from_swc(path, ncomp=1).n_compartments == 5
    assert dx.Cell.from_swc(path).n_compartments >= 5


def test_file_without_diameters_says_so_and_radius_fills_them(tmp_path):
    text = SWC
    for line in range(2, 10):
        text = _edit(text, line, 5, 0)
    path = _write(tmp_path, text, "skeleton.swc")
    with pytest.raises(ValueError, match=r"skeleton\.swc: the file has no diameters.*radius="):
        dx.Cell.from_swc(path)
    with pytest.warns(MorphologyWarning, match=r"line 2: 8 of 8 samples .* radius=0\.5 um"):
        cell = dx.Cell.from_swc(path, ncomp=1, radius=0.5)
    uniform = text
    for line in range(2, 10):
        uniform = _edit(uniform, line, 5, 0.5)
    reference = dx.Cell.from_swc(_write(tmp_path, uniform, "uniform.swc"), ncomp=1)
    np.testing.assert_allclose(cell.compartment_area(), reference.compartment_area(), rtol=1e-12)
    with pytest.raises(ValueError, match="radius must be a finite number > 0"):
        dx.read_swc(path, radius=-1.0)


def test_negative_diameter_in_asc_is_an_error_naming_the_line(tmp_path):
    text = (
        '("CellBody" (CellBody) (0 0 0 0) (10 0 0 0) (10 10 0 0) (0 10 0 0))\n'
        "( (Dendrite)\n  (20 5 0 2)\n  (40 5 0 -2)\n)\n"
    )
    with pytest.raises(ValueError, match=r"bad\.asc, line 4: negative diameter -2"):
        dx.read_asc(_write(tmp_path, text, "bad.asc"))


# -- item: files NEURON refuses or mishandles ---------------------------------------


def test_parents_with_larger_ids_are_renumbered_with_a_warning(tmp_path):
    reference = dx.read_swc(_write(tmp_path, SWC))
    n = 8
    reversed_ids = []
    for line in SWC.splitlines()[1:]:
        fields = line.split()
        fields[0] = str(n + 1 - int(fields[0]))
        fields[6] = str(n + 1 - int(fields[6])) if int(fields[6]) > 0 else "-1"
        reversed_ids.append(" ".join(fields))
    path = _write(tmp_path, "\n".join(reversed_ids), "flywire.swc")
    with pytest.warns(MorphologyWarning, match=r"flywire\.swc, line \d+: sample \d+ has parent"):
        morphology = dx.read_swc(path)
    assert "renumbered so that parents come first" in morphology.notes[0]
    assert sorted(morphology.lengths) == pytest.approx(sorted(reference.lengths), rel=1e-12)
    assert dx.Cell.from_morphology(morphology, ncomp=1).total_area() == pytest.approx(
        dx.Cell.from_morphology(reference, ncomp=1).total_area(), rel=1e-12
    )


def test_a_cycle_behind_larger_parent_ids_is_still_an_error(tmp_path):
    text = "1 1 0 0 0 5 -1\n2 3 5 0 0 1 1\n3 3 9 0 0 1 5\n4 3 9 9 0 1 3\n5 3 9 0 9 1 4\n"
    with pytest.raises(ValueError, match=r"the parents of samples .*form a cycle"):
        dx.read_swc(_write(tmp_path, text))


def test_a_soma_sample_in_the_apical_tree_warns_what_soma_selects(tmp_path):
    path = _write(tmp_path, _edit(SWC, 8, 1, 1), "two_somata.swc")
    with pytest.warns(MorphologyWarning) as caught:
        cell = dx.Cell.from_swc(path, ncomp=1)
    message = str(caught[0].message)
    assert "two_somata.swc, line 8" in message and "2 separate somata" in message
    assert "cell.soma selects the compartments of all of them" in message
    assert len(cell.soma) == 2


# -- item: unclear reader errors ----------------------------------------------------


def test_binary_file_as_swc(tmp_path):
    path = tmp_path / "cell.swc"
    path.write_bytes(gzip.compress(SWC.encode()))
    with pytest.raises(ValueError, match=r"cell\.swc: not a text file"):
        dx.read_swc(path)


def test_latin1_comment_still_reads(tmp_path):
    path = tmp_path / "latin.swc"
    path.write_bytes("# r\xe9seau, \xb5m\n".encode("latin-1") + SWC.encode())
    assert dx.read_swc(path).n_sections == 5


@pytest.mark.parametrize("reader", [dx.read_swc, dx.read_asc, dx.Cell.from_swc])
def test_a_folder_is_named_as_such(tmp_path, reader):
    _write(tmp_path, SWC, "a.swc")
    with pytest.raises(IsADirectoryError, match=r"is a folder, not an (SWC|ASC) file"):
        reader(tmp_path)
    with pytest.raises(IsADirectoryError, match=r"\.swc files in it: a\.swc"):
        dx.read_swc(tmp_path)


def test_swc_text_in_an_asc_file_and_asc_text_in_an_swc_file(tmp_path):
    with pytest.raises(ValueError, match=r"cell\.asc: .*found none; the file looks like SWC"):
        dx.read_asc(_write(tmp_path, SWC, "cell.asc"))
    asc = '; Neurolucida\n("CellBody" (CellBody) (0 0 0 0) (10 0 0 0) (10 10 0 0))\n'
    with pytest.raises(ValueError, match=r"cell\.swc, line 1: .*looks like Neurolucida ASC"):
        dx.read_swc(_write(tmp_path, asc, "cell.swc"))
