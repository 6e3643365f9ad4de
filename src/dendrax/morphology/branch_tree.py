"""The branch tree: which branch hangs where, and how many compartments each has."""

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class BranchTree:
    """Topology of one or more cells as a tree of unbranched cables (NEURON's sections).

    Attributes:
        parents: parent branch of each branch, -1 for a root (several roots: several cells).
            A parent always has a smaller index than its children.
        parent_x: where on its parent each branch attaches, as a fraction in [0, 1] of the
            parent's length (1.0, the parent's far end, by default; ignored for roots).
        ncomp: number of compartments of each branch (>= 1).
    """

    parents: np.ndarray
    parent_x: np.ndarray
    ncomp: np.ndarray

    @classmethod
    def from_parents(cls, parents, ncomp=1, parent_x=1.0) -> "BranchTree":
        """Validate a parent list and broadcast `ncomp` and `parent_x` to every branch."""
        parents = np.asarray(parents)
        if parents.ndim != 1 or parents.size == 0:
            raise ValueError(f"parents must be a non-empty 1D list, got shape {parents.shape}")
        if not np.issubdtype(parents.dtype, np.integer):
            if not np.issubdtype(parents.dtype, np.number) or not np.all(
                np.equal(np.mod(parents, 1), 0)
            ):
                raise ValueError("parents must be integers (branch indices, -1 for a root)")
            parents = parents.astype(np.int64)
        n = parents.size
        for branch, parent in enumerate(parents):
            if parent < -1 or parent >= n:
                raise ValueError(
                    f"parent of branch {branch} is {parent}: out of range [-1, {n - 1}]"
                )
            if parent >= branch:
                kind = "itself" if parent == branch else "a later branch"
                raise ValueError(
                    f"parent of branch {branch} is {parent} ({kind}): parents must come "
                    "before their children (parents[i] < i), which also rules out cycles"
                )
        ncomp = per_branch(ncomp, n, "ncomp")
        if not np.all(np.equal(np.mod(ncomp, 1), 0)) or np.any(ncomp < 1):
            bad = int(np.flatnonzero((ncomp < 1) | (np.mod(ncomp, 1) != 0))[0])
            raise ValueError(f"ncomp of branch {bad} is {ncomp[bad]}: must be an integer >= 1")
        parent_x = per_branch(parent_x, n, "parent_x").astype(float)
        outside = ~((parent_x >= 0) & (parent_x <= 1))
        if np.any(outside):
            bad = int(np.flatnonzero(outside)[0])
            raise ValueError(f"parent_x of branch {bad} is {parent_x[bad]}: must be in [0, 1]")
        return cls(parents.astype(np.int64), parent_x, ncomp.astype(np.int64))

    @property
    def n_branches(self) -> int:
        return int(self.parents.size)

    @property
    def n_compartments(self) -> int:
        return int(self.ncomp.sum())

    @property
    def comp_offsets(self) -> np.ndarray:
        """Index of each branch's first compartment, and the total at the end."""
        return np.concatenate([[0], np.cumsum(self.ncomp)])

    @property
    def comp_branch(self) -> np.ndarray:
        """Branch of each compartment."""
        return np.repeat(np.arange(self.n_branches), self.ncomp)

    @property
    def comp_index_in_branch(self) -> np.ndarray:
        """Position of each compartment within its branch (0 at the branch's 0 end)."""
        return np.arange(self.n_compartments) - np.repeat(self.comp_offsets[:-1], self.ncomp)


def per_branch(value, n_branches: int, name: str) -> np.ndarray:
    """Broadcast a scalar or a per-branch sequence to an array of length `n_branches`."""
    array = np.asarray(value, dtype=float)
    if array.ndim == 0:
        return np.full(n_branches, float(array))
    if array.shape != (n_branches,):
        raise ValueError(
            f"{name} must be a scalar or one value per branch ({n_branches}), "
            f"got shape {array.shape}"
        )
    return array.copy()
