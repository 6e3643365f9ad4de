"""Drawing a cell's 3D points in 2D projections or in 3D, coloured per compartment."""

from __future__ import annotations

import numpy as np

from dendrax.morphology.morphology import type_name

REGION_COLORS = {1: "black", 2: "tab:blue", 3: "tab:red", 4: "tab:purple"}
"""Colours of the SWC types in `color_by="region"`; other types cycle through the rest."""

PROJECTIONS = {"xy": (0, 1), "xz": (0, 2), "yz": (1, 2), "3d": (0, 1, 2)}


def morphology(
    cell,
    ax=None,
    color_by="region",
    projection: str = "xy",
    cmap: str = "viridis",
    width_scale: float = 1.0,
    colorbar: bool = True,
):
    """Draw `cell` as its 3D points joined by lines as thick as their diameter (in points).

    Args:
        cell: a `dx.Cell` read from a morphology (it needs 3D points).
        ax: matplotlib axes to draw into (a new figure if None; 3D axes for "3d").
        color_by: "region" (SWC type, with a legend), "branch", None (one colour), a
            parameter name ("radius", "HH.gNa"; NaN where a mechanism is absent), or an
            array of one value per compartment (e.g. voltages at one time).
        projection: "xy", "xz", "yz" or "3d".
        cmap: colour map for values. width_scale: line width per µm of diameter.
        colorbar: add a colour bar when colouring by values.

    Returns:
        The axes.
    """
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection

    if projection not in PROJECTIONS:
        raise ValueError(f"projection must be one of {sorted(PROJECTIONS)}, got {projection!r}")
    shape = cell._require_morphology("plot.morphology")
    axes = PROJECTIONS[projection]
    start, end, comp = _pieces(cell, shape)
    width = width_scale * np.maximum(_piece_diameter(shape), 0.5)
    if ax is None:
        figure = plt.figure()
        ax = figure.add_subplot(projection="3d" if projection == "3d" else None)
    segments = np.stack([start[:, axes], end[:, axes]], axis=1)
    if projection == "3d":
        from mpl_toolkits.mplot3d.art3d import Line3DCollection

        lines = Line3DCollection(segments, linewidths=width)
    else:
        lines = LineCollection(segments, linewidths=width, capstyle="round")
    values = _values(cell, color_by)
    if values is None:
        lines.set_color(_categorical_colors(shape.types, cell.tree.comp_branch[comp], color_by))
    else:
        lines.set_array(values[comp])
        lines.set_cmap(cmap)
    ax.add_collection(lines)
    _limits(ax, start, end, axes)
    if values is not None and colorbar:
        label = color_by if isinstance(color_by, str) else None
        ax.figure.colorbar(lines, ax=ax, label=label)
    if isinstance(color_by, str) and color_by == "region":
        _legend(ax, shape.types)
    ax.set_xlabel(f"{'xyz'[axes[0]]} (um)")
    ax.set_ylabel(f"{'xyz'[axes[1]]} (um)")
    return ax


def _pieces(cell, shape):
    """Line pieces between consecutive 3D points and the compartment holding each one."""
    arc = shape.arc
    inside = np.ones(shape.n_points - 1, dtype=bool)
    inside[shape.offsets[1:-1] - 1] = False
    first = np.flatnonzero(inside)
    section = shape.point_section[first]
    length = shape.lengths[section]
    middle = 0.5 * (arc[first] + arc[first + 1])
    fraction = np.where(length > 0, middle / np.where(length > 0, length, 1.0), 0.0)
    ncomp = cell.tree.ncomp[section]
    index = np.minimum((fraction * ncomp).astype(np.int64), ncomp - 1)
    comp = cell.tree.comp_offsets[section] + index
    return shape.points[first], shape.points[first + 1], comp


def _piece_diameter(shape) -> np.ndarray:
    inside = np.ones(shape.n_points - 1, dtype=bool)
    inside[shape.offsets[1:-1] - 1] = False
    first = np.flatnonzero(inside)
    return 0.5 * (shape.diameters[first] + shape.diameters[first + 1])


def _values(cell, color_by):
    """One value per compartment, or None for categorical colouring."""
    if color_by is None or (isinstance(color_by, str) and color_by in ("region", "branch")):
        return None
    if isinstance(color_by, str):
        inserted = cell.mechanisms.get(color_by.partition(".")[0])
        if inserted is not None and color_by.partition(".")[2] in inserted.values:
            values = inserted.values[color_by.partition(".")[2]].astype(float)
            return np.where(inserted.where, values, np.nan)
        return cell.get(color_by).astype(float)
    values = np.asarray(color_by, dtype=float)
    if values.shape != (cell.n_compartments,):
        raise ValueError(
            f"color_by values must be one per compartment ({cell.n_compartments}), "
            f"got shape {values.shape}"
        )
    return values


def _categorical_colors(types: np.ndarray, branch: np.ndarray, color_by) -> list:
    """A colour per piece: by the SWC type or the index of its branch, or all black."""
    if color_by is None:
        return ["black"] * branch.size
    if color_by == "branch":
        cycle = _cycle()
        return [cycle[b % len(cycle)] for b in branch.tolist()]
    return _type_colors(types[branch])


def _type_colors(types: np.ndarray) -> list:
    cycle = _cycle()
    return [REGION_COLORS.get(t, cycle[t % len(cycle)]) for t in types.tolist()]


def _cycle() -> list:
    import matplotlib.pyplot as plt

    return plt.rcParams["axes.prop_cycle"].by_key()["color"]


def _legend(ax, types: np.ndarray) -> None:
    from matplotlib.lines import Line2D

    present = np.unique(types)
    colors = _type_colors(present)
    handles = [
        Line2D([], [], color=c, label=type_name(int(t)))
        for t, c in zip(present, colors, strict=True)
    ]
    ax.legend(handles=handles, loc="best", frameon=False)


def _limits(ax, start, end, axes) -> None:
    both = np.concatenate([start, end])[:, axes]
    low, high = both.min(axis=0), both.max(axis=0)
    pad = 0.05 * np.max(high - low) + 1.0
    ax.set_xlim(low[0] - pad, high[0] + pad)
    ax.set_ylim(low[1] - pad, high[1] + pad)
    if len(axes) == 3:
        ax.set_zlim(low[2] - pad, high[2] + pad)
    else:
        ax.set_aspect("equal")
