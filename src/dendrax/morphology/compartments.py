"""Where compartments are: path distance from the soma, branch order and 3D coordinates."""

from __future__ import annotations

import math

import numpy as np

from dendrax.morphology.branch_tree import BranchTree
from dendrax.morphology.morphology import Morphology


def branch_lengths(tree: BranchTree, comp_length: np.ndarray) -> np.ndarray:
    """Length of every branch: the sum of its compartments' lengths (µm)."""
    return np.bincount(tree.comp_branch, weights=comp_length, minlength=tree.n_branches)


def path_distance(tree: BranchTree, comp_length: np.ndarray) -> np.ndarray:
    """Path length from the middle of the root branch to each compartment's centre (µm).

    The origin is the root's x = 0.5, as in NEURON's usual `h.distance(0, soma(0.5))`;
    with several roots, each cell's own root.
    """
    length = branch_lengths(tree, comp_length)
    start = np.cumsum(comp_length) - comp_length
    centre = start - np.repeat(start[tree.comp_offsets[:-1]], tree.ncomp) + 0.5 * comp_length
    base = np.zeros(tree.n_branches)
    for branch in range(tree.n_branches):
        parent = tree.parents[branch]
        if parent < 0:
            continue
        along = tree.parent_x[branch] * length[parent]
        if tree.parents[parent] < 0:
            base[branch] = abs(along - 0.5 * length[parent])
        else:
            base[branch] = base[parent] + along
    is_root = tree.parents[tree.comp_branch] < 0
    root_distance = np.abs(centre - 0.5 * length[tree.comp_branch])
    return np.where(is_root, root_distance, base[tree.comp_branch] + centre)


def branch_order(tree: BranchTree) -> np.ndarray:
    """Number of branches between each branch and its root (0 for the root)."""
    order = np.zeros(tree.n_branches, dtype=np.int64)
    for branch in range(tree.n_branches):
        if tree.parents[branch] >= 0:
            order[branch] = order[tree.parents[branch]] + 1
    return order


def points_at(morphology: Morphology, section: np.ndarray, x: np.ndarray) -> np.ndarray:
    """3D position (µm) at fraction `x` of the arc length of each `section`, shape (n, 3)."""
    section = np.asarray(section, dtype=np.int64)
    arc, offsets = morphology.arc, morphology.offsets
    lengths = arc[offsets[1:] - 1]
    target = np.asarray(x, dtype=float) * lengths[section]
    # Search all sections at once: shift each section's arcs past the previous ones.
    shift = np.arange(morphology.n_sections) * (2.0 * lengths.max() + 1.0)
    key = arc + shift[morphology.point_section]
    after = np.searchsorted(key, target + shift[section], side="right")
    after = np.clip(after, offsets[section] + 1, offsets[section + 1] - 1)
    before = after - 1
    gap = arc[after] - arc[before]
    frac = np.where(gap > 0, (target - arc[before]) / np.where(gap > 0, gap, 1.0), 0.0)
    points = morphology.points
    return points[before] + frac[:, None] * (points[after] - points[before])


def compartment_points(morphology: Morphology, tree: BranchTree) -> dict[str, np.ndarray]:
    """Start (x = its near end), centre and end of every compartment in 3D, each (n, 3) µm."""
    index = tree.comp_index_in_branch
    n = tree.ncomp[tree.comp_branch]
    return {
        name: points_at(morphology, tree.comp_branch, (index + shift) / n)
        for name, shift in (("start", 0.0), ("centre", 0.5), ("end", 1.0))
    }


def rotation_matrix(angle: float, axis: str) -> np.ndarray:
    """Rotation by `angle` degrees about the x, y or z axis (right-handed)."""
    planes = {"x": (1, 2), "y": (2, 0), "z": (0, 1)}
    if axis not in planes:
        raise ValueError(f"axis must be 'x', 'y' or 'z', got {axis!r}")
    c, s = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    i, j = planes[axis]
    matrix = np.eye(3)
    matrix[i, i], matrix[i, j], matrix[j, i], matrix[j, j] = c, -s, s, c
    return matrix


def frustum_volume(morphology: Morphology) -> float:
    """Volume enclosed by the truncated cones between consecutive 3D points (µm³)."""
    arc, d = morphology.arc, morphology.diameters
    inside = np.ones(arc.size - 1, dtype=bool)
    inside[morphology.offsets[1:-1] - 1] = False
    step = np.diff(arc)[inside]
    d1, d2 = d[:-1][inside], d[1:][inside]
    return float(np.sum(math.pi * step * (d1 * d1 + d1 * d2 + d2 * d2) / 12.0))
