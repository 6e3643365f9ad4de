"""Changing the compartment counts of an existing cell, keeping parameters per location."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from dendrax.morphology.branch_tree import BranchTree
from dendrax.morphology.compartments import branch_lengths
from dendrax.morphology.discretize import Discretization, discretize

if TYPE_CHECKING:
    from dendrax.model.cell import Cell


def location_map(old: BranchTree, new: BranchTree) -> np.ndarray:
    """For each compartment of `new`, the compartment of `old` that holds its centre."""
    branch = new.comp_branch
    x = (new.comp_index_in_branch + 0.5) / new.ncomp[branch]
    index = np.minimum((x * old.ncomp[branch]).astype(np.int64), old.ncomp[branch] - 1)
    return old.comp_offsets[branch] + index


def apply_discretization(cell: Cell, pieces: Discretization) -> None:
    """Write 3D-derived lengths, radii and half-resistance factors into `cell`."""
    cell.geometry["length"] = pieces.length.copy()
    cell.geometry["radius"] = pieces.radius.copy()
    cell.shape_factors = {
        "area": np.ones(pieces.length.size),
        "near_resistance": pieces.near_resistance.copy(),
        "far_resistance": pieces.far_resistance.copy(),
    }


def set_ncomp(cell: Cell, ncomp) -> None:
    """Re-cut every branch of `cell` into `ncomp` (scalar or per branch) compartments.

    Mechanism, ion and geometry parameters move with location: a new compartment takes the
    values of the old compartment that contained its centre. Stimuli, clamps, recordings and groups
    move to the new compartments that hold the old centres. Cells read from a morphology get
    lengths, radii and shape factors from the 3D points again; cylinder cells keep each
    branch's length. Selections made before the change refer to the old compartments.
    """
    old = cell.tree
    new = BranchTree.from_parents(old.parents, ncomp, old.parent_x)
    take = location_map(old, new)
    back = location_map(new, old)
    lengths = branch_lengths(old, cell.geometry["length"])
    cell.geometry = {name: values[take].copy() for name, values in cell.geometry.items()}
    cell.shape_factors = {name: values[take].copy() for name, values in cell.shape_factors.items()}
    if cell.morphology is not None:
        apply_discretization(cell, discretize(cell.morphology, new.ncomp))
    else:
        cell.geometry["length"] = (lengths / new.ncomp)[new.comp_branch]
    for inserted in cell.mechanisms.values():
        inserted.where = inserted.where[take].copy()
        inserted.values = {name: values[take].copy() for name, values in inserted.values.items()}
    cell.stimuli = [replace(s, comps=_moved(back, s.comps)) for s in cell.stimuli]
    cell.clamps = [replace(c, comps=_moved(back, c.comps)) for c in cell.clamps]
    cell.recordings = [replace(r, comps=_moved(back, r.comps)) for r in cell.recordings]
    cell.ion_values = {name: values[take].copy() for name, values in cell.ion_values.items()}
    cell.groups = {name: mask[take].copy() for name, mask in cell.groups.items()}
    cell.tree = new
    cell._comps = np.arange(new.n_compartments)


def _moved(back: np.ndarray, comps: np.ndarray) -> np.ndarray:
    """New compartments holding the old ones' centres, each once, in order."""
    moved = back[comps]
    _, first = np.unique(moved, return_index=True)
    return moved[np.sort(first)]
