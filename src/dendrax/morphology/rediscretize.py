"""Where compartments go when a cell is cut into other compartments."""

import numpy as np

from dendrax.morphology.branch_tree import BranchTree


def location_map(old: BranchTree, new: BranchTree) -> np.ndarray:
    """For each compartment of `new`, the compartment of `old` that holds its centre."""
    branch = new.comp_branch
    x = (new.comp_index_in_branch + 0.5) / new.ncomp[branch]
    index = np.minimum((x * old.ncomp[branch]).astype(np.int64), old.ncomp[branch] - 1)
    return old.comp_offsets[branch] + index


def moved(back: np.ndarray, comps: np.ndarray) -> np.ndarray:
    """The new compartments holding the old `comps`' centres (`back`, a `location_map`
    from new to old), each once, in order."""
    new = back[comps]
    _, first = np.unique(new, return_index=True)
    return new[np.sort(first)]
