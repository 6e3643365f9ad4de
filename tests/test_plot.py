"""Pictures render to PNG files that are not blank."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

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
    with pytest.raises(ValueError, match="needs 3D points"):
        dx.plot.morphology(dx.Cell.from_parents([-1, 0]), ax=ax)
    plt.close(figure)


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
