"""Pictures render to PNG files that are not blank."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.colors
import matplotlib.image
import matplotlib.pyplot as plt
import numpy as np
import pytest

import dendrax as dx

CA1 = Path(__file__).parent / "data" / "ca1_n120_250.swc"


def _ink(ax, path) -> float:
    """Fraction of the saved image's pixels that are not white."""
    ax.figure.savefig(path, dpi=60)
    plt.close(ax.figure)
    image = matplotlib.image.imread(path)[..., :3]
    return float(np.mean(np.any(image < 0.95, axis=-1)))


@pytest.fixture
def cell():
    cell = dx.Cell.from_swc(CA1, ncomp=3)
    cell.apical.insert(dx.channels.HH())
    return cell


@pytest.mark.parametrize(
    "color_by", ["region", "branch", None, "radius", "HH.gNa", "distance values"]
)
@pytest.mark.parametrize("projection", ["xy", "xz", "3d"])
def test_morphology_renders(tmp_path, cell, color_by, projection):
    if color_by == "distance values":
        color_by = cell.path_distance()
    ax = dx.plot.morphology(cell, color_by=color_by, projection=projection)
    collection = ax.collections[0]
    n_pieces = cell.morphology.n_points - cell.morphology.n_sections
    assert len(collection.get_segments() if projection != "3d" else collection._segments3d) == (
        n_pieces
    )
    assert _ink(ax, tmp_path / "morphology.png") > 0.002


def test_morphology_draws_at_the_points(cell):
    ax = dx.plot.morphology(cell, projection="xz")
    segments = np.concatenate(ax.collections[0].get_segments())
    points = cell.morphology.points[:, [0, 2]]
    assert np.allclose(segments.min(axis=0), points.min(axis=0))
    assert np.allclose(segments.max(axis=0), points.max(axis=0))
    plt.close(ax.figure)


def test_morphology_into_given_axes_and_errors(cell):
    figure, ax = plt.subplots()
    assert dx.plot.morphology(cell, ax=ax) is ax
    with pytest.raises(ValueError, match="projection must be one of"):
        dx.plot.morphology(cell, ax=ax, projection="top")
    with pytest.raises(ValueError, match="one per compartment"):
        dx.plot.morphology(cell, ax=ax, color_by=np.ones(3))
    with pytest.raises(ValueError, match="projection '3d' needs 3D points"):
        dx.plot.morphology(dx.Cell.from_parents([-1, 0]), projection="3d")
    plt.close(figure)


def test_compartments_without_the_mechanism_are_grey_and_in_the_legend(tmp_path, cell):
    ax = dx.plot.morphology(cell, color_by="HH.gNa")
    assert _ink(ax, tmp_path / "gna.png") > 0.002  # draws, which computes the colours
    colors = ax.collections[0].get_colors()
    _, _, comp = dx.plot.morphology.__globals__["_pieces"](cell, cell.morphology)
    without = ~np.isin(comp, cell.apical.compartments)
    assert without.any() and (~without).any()
    grey = matplotlib.colors.to_rgba("lightgrey")
    assert np.allclose(colors[without], grey)
    assert not np.any(np.all(np.isclose(colors[~without], grey), axis=1))
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["no HH"]


def test_region_names_are_one_vocabulary_in_legend_and_summary(tmp_path):
    path = tmp_path / "tiny.swc"
    samples = ["1 1 0 0 0 6 -1", "2 3 -6 0 0 1 1", "3 3 -40 0 0 1 2", "4 4 6 0 0 1 1"]
    path.write_text("\n".join([*samples, "5 4 80 0 0 1 4", "6 7 90 0 0 1 5"]))
    cell = dx.Cell.from_swc(path, ncomp=1)
    ax = dx.plot.morphology(cell)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    plt.close(ax.figure)
    assert labels == ["soma", "basal (dend)", "apical (apic)", "type:7 (dend_7)"]
    summary = cell.summary()
    for label in labels:
        assert f"\n  {label}: 1 branches, 1 compartments" in summary
    assert len(cell.basal) == len(cell.region("dend")) == 1
    assert len(cell.region("type:7")) == 1


def test_cell_from_parents_is_drawn_as_a_dendrogram(tmp_path):
    cell = dx.Cell.from_parents([-1, 0, 0, 1], ncomp=[1, 2, 3, 1], length=[20, 10, 5, 30])
    cell.branch(1).insert(dx.channels.HH())
    ax = dx.plot.morphology(cell, color_by="HH.gNa")
    segments = np.asarray(ax.collections[0].get_segments())
    assert segments.shape == (cell.n_compartments, 2, 2)
    # x: path length from the root's start; the deepest tip is 20 + 2 * 10 + 30 = 70 um.
    assert segments[:, :, 0].max() == pytest.approx(70.0)
    assert segments[:, 1, 0] - segments[:, 0, 0] == pytest.approx(cell.geometry["length"])
    # Each branch at one height; branch 3 (a leaf) below branch 2 (the other leaf).
    heights = segments[:, 0, 1][cell.tree.comp_offsets[:-1]]
    assert heights.tolist() == [0.5, 0.0, 1.0, 0.0]
    assert len(ax.collections[1].get_segments()) == 3  # connectors to the children
    assert "no HH" in [t.get_text() for t in ax.get_legend().get_texts()]
    assert ax.get_ylim() == (-0.5, 1.5) and ax.get_xlim()[1] > 70.0  # leaves, not µm
    assert _ink(ax, tmp_path / "dendrogram.png") > 0.002


def test_compartment_table_has_the_index_within_the_branch():
    cell = dx.Cell.from_parents([-1, 0], ncomp=[2, 3])
    table = cell.compartment_table()
    assert table["index_in_branch"].tolist() == [0, 1, 0, 1, 2]
    picked = cell.select(lambda t: (t["branch"] == 1) & (t["index_in_branch"] == 2))
    assert picked.compartments.tolist() == cell.branch(1).comp(2).compartments.tolist()


def test_traces_render(tmp_path):
    t = np.arange(401) * 0.025
    recordings = np.stack([-65 + 10 * np.sin(t), -60 + 5 * np.cos(2 * t)])
    ax = dx.plot.traces(recordings, dt=0.025, names=["soma", "dendrite"])
    assert len(ax.lines) == 2
    np.testing.assert_allclose(ax.lines[1].get_xdata(), t)
    assert ax.get_legend() is not None
    assert _ink(ax, tmp_path / "traces.png") > 0.002
    with pytest.raises(ValueError, match="2 recordings"):
        dx.plot.traces(recordings, names=["one"])


def test_traces_are_labelled_with_their_quantities_and_units():
    cell = dx.Cell.from_parents([-1], ncomp=1, length=20.0, radius=10.0)
    cell.insert(dx.channels.HH())
    cell.record("v")
    cell.record("HH.m")
    sim = dx.build(cell, dt=0.025)
    recordings = np.asarray(sim.run(t_max=1.0))
    ax = dx.plot.traces(recordings, names=sim.recording_names, units=sim.recording_units)
    assert ax.get_ylabel() == "v (mV), HH.m (1)" or ax.get_ylabel().startswith("v (mV), HH.m (")
    plt.close(ax.figure)
    ax = dx.plot.traces(recordings[1], names=sim.recording_names[1:], units="mM")
    assert ax.get_ylabel() == "HH.m (mM)"
    plt.close(ax.figure)
    ax = dx.plot.traces(recordings, units=["mV", "mM"])
    assert ax.get_ylabel() == "mV, mM"
    assert dx.plot.traces(recordings, quantity="x (a.u.)", ax=ax).get_ylabel() == "x (a.u.)"
    plt.close(ax.figure)
    with pytest.raises(ValueError, match="got 3 units for 2 recordings"):
        dx.plot.traces(recordings, units=["mV"] * 3)


def test_network_draws_cells_and_connections(tmp_path):
    cells = [dx.Cell.from_swc(CA1, ncomp=1) for _ in range(2)]
    cells += [dx.Cell.from_parents([-1], ncomp=1, length=10.0, radius=5.0) for _ in range(3)]
    net = dx.Network(cells).place(np.array([[0, 0], [400, 0], [0, 400], [400, 400], [200, 200]]))
    dx.fully_connect(net.cells, net.cells, dx.synapses.ExpSyn())
    dx.gap_junction(cells[2].branch(0).loc(0.5), cells[3].branch(0).loc(0.5), 0.001)
    ax = dx.plot.network(net, max_connections=10)
    assert "10 drawn" in ax.get_title()
    assert _ink(ax, tmp_path / "network.png") > 0.01
