"""Point and junction mechanisms placed at locations: any number per compartment.

A density mechanism is painted on compartments (at most once each); a point mechanism
(NEURON's POINT_PROCESS) or a junction is placed at locations, each placement a site with
its own parameter values. Sites are kept by location (branch and fraction x along it),
as NEURON keeps a point process at sec(x), so that they stay where they are when the
cell is cut into other compartments. A junction's site also has a peer location, on the
same cell or another one, whose voltage drives its current.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dendrax.mechanisms.base import Mechanism
from dendrax.morphology.branch_tree import BranchTree


def compartment_at(tree: BranchTree, branch: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The compartment of each `branch` that contains the fraction `x` (as `loc(x)`)."""
    ncomp = tree.ncomp[branch]
    index = np.minimum((np.asarray(x) * ncomp).astype(np.int64), ncomp - 1)
    return tree.comp_offsets[branch] + index


def centre_of(tree: BranchTree, comps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(branch, x) of the centre of each of `comps`."""
    branch = tree.comp_branch[comps]
    x = (tree.comp_index_in_branch[comps] + 0.5) / tree.ncomp[branch]
    return branch, x


@dataclass
class PlacedMechanism:
    """The sites of one point or junction mechanism in a cell, in placement order.

    Attributes:
        mechanism: the mechanism (its defaults filled `values` at placement).
        branch, x: each site's location (branch, fraction along it).
        values: parameter name -> one value per site.
        peer_cells, peer_branch, peer_x: for a junction, each site's peer location: its
            cell and its branch and x there (empty for a point mechanism).
    """

    mechanism: Mechanism
    branch: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    x: np.ndarray = field(default_factory=lambda: np.zeros(0))
    values: dict[str, np.ndarray] = field(default_factory=dict)
    peer_cells: list = field(default_factory=list)
    peer_branch: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    peer_x: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def __post_init__(self):
        if not self.values:
            self.values = {name: np.zeros(0) for name in self.mechanism.parameters}

    @property
    def n_sites(self) -> int:
        return int(self.branch.size)

    def add(self, mechanism: Mechanism, branch, x, peers=None) -> None:
        """Append sites at (branch, x) with `mechanism`'s parameter values; `peers` is
        (cells, branch, x) of each new site's peer for a junction."""
        count = np.size(branch)
        self.branch = np.concatenate([self.branch, np.asarray(branch, np.int64)])
        self.x = np.concatenate([self.x, np.asarray(x, float)])
        for name, value in mechanism.defaults.items():
            self.values[name] = np.concatenate([self.values[name], np.full(count, value)])
        if peers is not None:
            cells, peer_branch, peer_x = peers
            self.peer_cells.extend(cells)
            self.peer_branch = np.concatenate([self.peer_branch, np.asarray(peer_branch)])
            self.peer_x = np.concatenate([self.peer_x, np.asarray(peer_x, float)])

    def compartments(self, tree: BranchTree) -> np.ndarray:
        """The compartment of each site in a cell cut as `tree`."""
        return compartment_at(tree, self.branch, self.x)

    def sites_in(self, tree: BranchTree, comps: np.ndarray) -> np.ndarray:
        """Indices of the sites in `comps`, compartment by compartment in the order of
        `comps`, sites in placement order within one."""
        position = np.full(tree.n_compartments, -1)
        position[comps] = np.arange(np.size(comps))
        site_position = position[self.compartments(tree)]
        inside = np.flatnonzero(site_position >= 0)
        return inside[np.argsort(site_position[inside], kind="stable")].astype(np.int64)
