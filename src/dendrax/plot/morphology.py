"""Drawing a cell's 3D points in 2D projections or in 3D, coloured per compartment."""

from __future__ import annotations

import numpy as np

from dendrax.morphology.compartments import branch_lengths
from dendrax.morphology.morphology import region_label

REGION_COLORS = {1: "black", 2: "tab:blue", 3: "tab:red", 4: "tab:purple"}
"""Colours of the SWC types in `color_by="region"`; other types cycle through the rest."""

PROJECTIONS = {"xy": (0, 1), "xz": (0, 2), "yz": (1, 2), "3d": (0, 1, 2)}

MISSING_COLOR = "lightgrey"
"""Colour of compartments without a value (a mechanism's parameter where it is absent)."""


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

    A cell without 3D points (`Cell.from_parents`) is drawn as a dendrogram: each branch a
    horizontal line from its path distance to the root (µm, x) at its own height, joined to
    its parent by a thin vertical line.

    Args:
        cell: a `dx.Cell`.
        ax: matplotlib axes to draw into (a new figure if None; 3D axes for "3d").
        color_by: "region" (SWC type, with a legend), "branch", None (one colour), a
            parameter name ("radius", "HH.gNa"; compartments without the mechanism are
            drawn in grey, "no HH" in the legend), or an array of one value per
            compartment (e.g. voltages at one time; NaN in grey).
        projection: "xy", "xz", "yz" or "3d" (cells with 3D points).
        cmap: colour map for values. width_scale: line width per µm of diameter.
        colorbar: add a colour bar when colouring by values.

    Returns:
        The axes.
    """
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection

    if projection not in PROJECTIONS:
        raise ValueError(f"projection must be one of {sorted(PROJECTIONS)}, got {projection!r}")
    shape = cell.morphology
    if shape is None:
        if projection == "3d":
            raise ValueError(
                "projection '3d' needs 3D points: this cell (built from parents) is drawn as "
                "a 2D dendrogram; use projection='xy'"
            )
        start, end, comp, diameter, connectors = _dendrogram(cell)
        axes, types = (0, 1), None
    else:
        axes, types = PROJECTIONS[projection], shape.types
        start, end, comp = _pieces(cell, shape)
        diameter, connectors = _piece_diameter(shape), None
    width = width_scale * np.maximum(diameter, 0.5)
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
        lines.set_color(_categorical_colors(types, cell.tree.comp_branch[comp], color_by))
    else:
        colormap = plt.get_cmap(cmap).with_extremes(bad=MISSING_COLOR)
        lines.set_array(np.ma.masked_invalid(values[comp]))
        lines.set_cmap(colormap)
    ax.add_collection(lines)
    if connectors is not None:
        ax.add_collection(LineCollection(connectors, linewidths=0.5, colors=MISSING_COLOR))
    if shape is None:
        _dendrogram_limits(ax, start, end)
    else:
        _limits(ax, start, end, axes)
    if values is not None and colorbar:
        label = color_by if isinstance(color_by, str) else None
        ax.figure.colorbar(lines, ax=ax, label=label)
    missing = values is not None and bool(np.isnan(values[comp]).any())
    if missing or (isinstance(color_by, str) and color_by == "region" and types is not None):
        _legend(ax, types if color_by == "region" else None, _missing_label(color_by, missing))
    if shape is None:
        ax.set_xlabel("path distance from the root (um)")
        ax.set_yticks([])
    else:
        ax.set_xlabel(f"{'xyz'[axes[0]]} (um)")
        ax.set_ylabel(f"{'xyz'[axes[1]]} (um)")
    return ax


def _missing_label(color_by, missing: bool) -> str | None:
    """The legend entry of compartments without a value: "no HH" for a mechanism's."""
    if not missing:
        return None
    if isinstance(color_by, str) and "." in color_by:
        return f"no {color_by.partition('.')[0]}"
    return "no value"


def _dendrogram(cell):
    """Line pieces of a dendrogram (one per compartment, in µm along x), the compartment
    and diameter of each, and the vertical connectors from parents to children."""
    tree = cell.tree
    length = cell.geometry["length"]
    branch_length = branch_lengths(tree, length)
    height = _leaf_heights(tree.parents)
    base = np.zeros(tree.n_branches)
    for branch, parent in enumerate(tree.parents.tolist()):
        if parent >= 0:
            base[branch] = base[parent] + tree.parent_x[branch] * branch_length[parent]
    along = np.cumsum(length) - length
    along -= np.repeat(along[tree.comp_offsets[:-1]], tree.ncomp)
    x0 = base[tree.comp_branch] + along
    y = height[tree.comp_branch]
    start = np.column_stack([x0, y])
    end = np.column_stack([x0 + length, y])
    children = np.flatnonzero(tree.parents >= 0)
    connectors = np.stack(
        [
            np.column_stack([base[children], height[tree.parents[children]]]),
            np.column_stack([base[children], height[children]]),
        ],
        axis=1,
    )
    comp = np.arange(tree.n_compartments)
    return start, end, comp, 2.0 * cell.geometry["radius"], connectors


def _leaf_heights(parents: np.ndarray) -> np.ndarray:
    """Height of each branch in a dendrogram: leaves 0, 1, 2, ... in depth-first order, a
    parent at the mean of its children's heights."""
    n = parents.size
    children = [[] for _ in range(n)]
    for branch, parent in enumerate(parents.tolist()):
        if parent >= 0:
            children[parent].append(branch)
    height = np.zeros(n)
    leaves = 0
    stack = [(int(b), False) for b in np.flatnonzero(parents < 0)[::-1]]
    while stack:
        branch, done = stack.pop()
        if done:
            height[branch] = np.mean(height[children[branch]])
        elif children[branch]:
            stack.append((branch, True))
            stack.extend((c, False) for c in reversed(children[branch]))
        else:
            height[branch] = leaves
            leaves += 1
    return height


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


def _categorical_colors(types: np.ndarray | None, branch: np.ndarray, color_by) -> list:
    """A colour per piece: by the SWC type or the index of its branch, or all black (also
    by region for cells without types)."""
    if color_by is None or (color_by == "region" and types is None):
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


def _legend(ax, types: np.ndarray | None, missing: str | None) -> None:
    """A legend of the regions present (by `types`), and of compartments without a value."""
    from matplotlib.lines import Line2D

    handles = []
    if types is not None:
        present = np.unique(types)
        colors = _type_colors(present)
        handles += [
            Line2D([], [], color=c, label=region_label(int(t)))
            for t, c in zip(present, colors, strict=True)
        ]
    if missing is not None:
        handles.append(Line2D([], [], color=MISSING_COLOR, label=missing))
    ax.legend(handles=handles, loc="best", frameon=False)


def _dendrogram_limits(ax, start, end) -> None:
    """Path distance padded by 5 %, heights by half a leaf (not to the same scale)."""
    both = np.concatenate([start, end])
    low, high = both.min(axis=0), both.max(axis=0)
    pad = 0.05 * (high[0] - low[0]) + 1.0
    ax.set_xlim(low[0] - pad, high[0] + pad)
    ax.set_ylim(low[1] - 0.5, high[1] + 0.5)


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
