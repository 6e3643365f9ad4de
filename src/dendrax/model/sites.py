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


@dataclass(frozen=True)
class Peers:
    """The presynaptic side of new sites: for a junction, the location whose voltage
    drives it; for a mechanism that receives events, the source of its events.

    Attributes:
        owners: the distinct Cells (or `SpikeTrains`) the peers are on.
        owner: per site, the index of its peer's owner in `owners`.
        branch, x: per site, the peer's location on its cell (for spike trains: the
            train's row, and 0).
        threshold: per site, the voltage (mV) whose upward crossing at the peer is a spike
            (events from a cell; NaN otherwise).
        delay: per site, the delay (ms) from a spike to its event (0 for junctions).
    """

    owners: tuple
    owner: np.ndarray
    branch: np.ndarray
    x: np.ndarray
    threshold: np.ndarray
    delay: np.ndarray

    @classmethod
    def empty(cls) -> Peers:
        return cls((), np.zeros(0, np.int64), np.zeros(0, np.int64), *np.zeros((3, 0)))

    @property
    def size(self) -> int:
        return int(self.owner.size)

    def joined(self, other: Peers) -> Peers:
        """These peers followed by `other`'s, with one list of owners."""
        if not self.size or self.owners is other.owners:
            owners, owner = other.owners, other.owner
        else:
            merged = list(self.owners)
            position = {id(o): i for i, o in enumerate(merged)}
            for candidate in other.owners:
                if id(candidate) not in position:
                    position[id(candidate)] = len(merged)
                    merged.append(candidate)
            remap = np.array([position[id(o)] for o in other.owners], np.int64)
            owners, owner = tuple(merged), remap[other.owner] if other.size else other.owner
        return Peers(
            owners,
            np.concatenate([self.owner, owner]),
            np.concatenate([self.branch, other.branch]).astype(np.int64),
            np.concatenate([self.x, other.x]),
            np.concatenate([self.threshold, other.threshold]),
            np.concatenate([self.delay, other.delay]),
        )


@dataclass
class PlacedMechanism:
    """The sites of one point or junction mechanism in a cell, in placement order.

    Attributes:
        mechanism: the mechanism (its defaults filled `values` at placement).
        branch, x: each site's location (branch, fraction along it).
        values: parameter name -> one value per site.
        peers: per site, its presynaptic side (`Peers`): for a junction every site has
            one; for an event-receiving mechanism, the sites placed with a source (the
            first `peers.size` sites are not necessarily those: see `has_peer`).
        has_peer: per site, whether it has an entry in `peers` (in site order).
    """

    mechanism: Mechanism
    branch: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    x: np.ndarray = field(default_factory=lambda: np.zeros(0))
    values: dict[str, np.ndarray] = field(default_factory=dict)
    peers: Peers = field(default_factory=Peers.empty)
    has_peer: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))

    def __post_init__(self):
        if not self.values:
            self.values = {name: np.zeros(0) for name in self.mechanism.parameters}

    @property
    def n_sites(self) -> int:
        return int(self.branch.size)

    def add(self, mechanism: Mechanism, branch, x, peers: Peers | None = None, values=None):
        """Append sites at (branch, x) with `mechanism`'s parameter values, overridden by
        `values` (name -> one value per new site); `peers` gives each new site's peer."""
        count = np.size(branch)
        self.branch = np.concatenate([self.branch, np.asarray(branch, np.int64)])
        self.x = np.concatenate([self.x, np.asarray(x, float)])
        given = values or {}
        for name, value in mechanism.defaults.items():
            new = np.broadcast_to(np.asarray(given.get(name, value), float), (count,))
            self.values[name] = np.concatenate([self.values[name], new])
        self.has_peer = np.concatenate([self.has_peer, np.full(count, peers is not None)])
        if peers is not None:
            self.peers = self.peers.joined(peers)

    def peer_sites(self) -> np.ndarray:
        """The sites that have a peer, in the order of `peers`."""
        return np.flatnonzero(self.has_peer)

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
