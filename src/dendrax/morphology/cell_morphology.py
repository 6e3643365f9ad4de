"""What `Cell` needs from the morphology package: reading, discretising, regions, geometry.

`dendrax.model.cell.Cell` delegates here, so that the cell class stays a thin description.
Functions taking `cell` read its tree, geometry, morphology and groups.
"""

from __future__ import annotations

import numpy as np

from dendrax.morphology.asc import read_asc
from dendrax.morphology.checks import MAX_COMPARTMENTS, check_compartments
from dendrax.morphology.compartments import (
    branch_lengths,
    branch_order,
    compartment_points,
    frustum_volume,
    path_distance,
    rotation_matrix,
)
from dendrax.morphology.discretize import DEFAULT_D_LAMBDA, d_lambda_ncomp, discretize
from dendrax.morphology.morphology import REGION_TYPES, Morphology, region_label
from dendrax.morphology.regions import predicate_mask, range_mask, region_mask
from dendrax.morphology.swc import read_swc

__all__ = [
    "MAX_COMPARTMENTS",
    "branch_lengths",
    "check_compartments",
    "choose_ncomp",
    "compartment_points",
    "compartment_table",
    "discretize",
    "frustum_volume",
    "group_mask",
    "path_distance",
    "read_asc",
    "read_swc",
    "region_mask",
    "rotation_matrix",
    "select",
    "summary",
]


def choose_ncomp(morphology, ncomp, d_lambda, frequency, axial_resistivity, capacitance):
    """Compartments per section: `ncomp` as given, or by the d_lambda rule (the default)."""
    if not isinstance(morphology, Morphology):
        raise TypeError(f"expected a dendrax Morphology, got {type(morphology).__name__}")
    if ncomp is not None and d_lambda is not None:
        raise ValueError("give either ncomp or d_lambda, not both")
    if ncomp is not None:
        return ncomp
    return d_lambda_ncomp(
        morphology,
        DEFAULT_D_LAMBDA if d_lambda is None else d_lambda,
        frequency,
        axial_resistivity,
        capacitance,
    )


def compartment_table(cell) -> dict[str, np.ndarray]:
    """One array per property and compartment (see `Cell.compartment_table`): branch,
    index_in_branch (`cell.branch(b).comp(index_in_branch)`), type, distance, order, radius,
    length (µm), area (µm²) and x, y, z of the centre (µm)."""
    tree = cell.tree
    types = cell.compartment_types()
    n = tree.n_compartments
    if cell.morphology is None:
        centre = np.full((n, 3), np.nan)
    else:
        centre = compartment_points(cell.morphology, tree)["centre"]
    return {
        "branch": tree.comp_branch.copy(),
        "index_in_branch": tree.comp_index_in_branch.copy(),
        "type": np.zeros(n, dtype=np.int64) if types is None else types,
        "distance": path_distance(tree, cell.geometry["length"]),
        "order": branch_order(tree)[tree.comp_branch],
        "radius": cell.geometry["radius"].copy(),
        "length": cell.geometry["length"].copy(),
        "area": cell.compartment_area(),
        "x": centre[:, 0],
        "y": centre[:, 1],
        "z": centre[:, 2],
    }


def select(cell, predicate, region, distance, order) -> np.ndarray:
    """Compartment indices meeting every given criterion."""
    mask = np.ones(cell.n_compartments, dtype=bool)
    if region is not None:
        mask &= region_mask(region, cell.compartment_types(), cell.groups)
    if distance is not None:
        mask &= range_mask(path_distance(cell.tree, cell.geometry["length"]), distance, "distance")
    if order is not None:
        mask &= range_mask(branch_order(cell.tree)[cell.tree.comp_branch], order, "order")
    if predicate is not None:
        mask &= predicate_mask(predicate, compartment_table(cell))
    return np.flatnonzero(mask)


def group_mask(cell, name: str, selection) -> np.ndarray:
    """The compartments of `selection` as a mask of `cell`'s, checking `name` is free."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"a group name is a non-empty string, got {name!r}")
    if name in REGION_TYPES or name.startswith("type:"):
        raise ValueError(f"{name!r} is a built-in region; choose another group name")
    if selection.cell is not cell:
        raise ValueError("the selection belongs to another cell")
    mask = np.zeros(cell.n_compartments, dtype=bool)
    mask[selection.compartments] = True
    return mask


def summary(cell) -> str:
    """A short multi-line description of `cell`."""
    lines = [
        f"Cell: {cell.n_branches} branches, {cell.n_compartments} compartments",
        f"  total length {cell.total_length():.1f} um, area {cell.total_area():.1f} um2, "
        f"volume {cell.total_volume():.1f} um3",
    ]
    if cell.morphology is not None:
        lines.append(f"  morphology: {cell.morphology!r}")
        types = cell.morphology.types
        area = cell.compartment_area()
        comp_types = types[cell.tree.comp_branch]
        for swc_type in np.unique(types):
            lines.append(
                f"  {region_label(int(swc_type))}: {np.count_nonzero(types == swc_type)} branches, "
                f"{np.count_nonzero(comp_types == swc_type)} compartments, "
                f"area {area[comp_types == swc_type].sum():.1f} um2"
            )
    if cell.mechanisms:
        lines.append(f"  mechanisms: {', '.join(cell.mechanisms)}")
    if cell.groups:
        lines.append(f"  groups: {', '.join(cell.groups)}")
    return "\n".join(lines)
