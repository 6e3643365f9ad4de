"""Several cells as one description: the forest of their branches, with flat indices.

`build` takes one cell or several; `assemble` puts them side by side, each keeping its
identity (a cell index per compartment), so that the simulation is one tree solve over a
forest and every site, stimulus and recording has one global compartment index. Junction
sites find their peers here, on their own cell or another one of the same build.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from dendrax.mechanisms import membrane
from dendrax.mechanisms.base import Mechanism
from dendrax.model import event_wiring
from dendrax.model.cell import Cell, Clamp, InsertedMechanism, Recording, Stimulus
from dendrax.model.event_wiring import EventSources
from dendrax.model.sites import Peers, compartment_at
from dendrax.morphology.branch_tree import BranchTree


@dataclass(frozen=True)
class PlacedSites:
    """The sites of a point or junction mechanism over all cells.

    Attributes:
        mechanism: the mechanism.
        comps: the global compartment of each site.
        values: parameter name -> one value per site.
        peer_comps: a junction's peer compartment per site (global); None for points.
        event_source, delay: for a mechanism that receives events, per site the index of
            its source in `Assembly.sources` (`n_sources` for none) and its delay (ms).
    """

    mechanism: Mechanism
    comps: np.ndarray
    values: dict[str, np.ndarray]
    peer_comps: np.ndarray | None
    event_source: np.ndarray | None = None
    delay: np.ndarray | None = None


@dataclass(frozen=True)
class Assembly:
    """Cells side by side: per-compartment arrays concatenated in cell order.

    Attributes:
        cells: the cells, in the order given to `build`.
        tree: the forest of every cell's branches (cell i's branches after cell i-1's).
        comp_cell: the cell index of each compartment.
        comp_offsets: where each cell's compartments begin (and the total, last).
        geometry, shape_factors, ion_values: per-compartment values.
        mechanisms: density mechanisms by name, with their compartments and values.
        placed: point and junction mechanisms by name (`PlacedSites`).
        stimuli, clamps, recordings: as the cells', in the order of the calls across
            cells, with global compartments; a recording of a placed mechanism has global sites,
            one of spikes the detector of each row as its sites.
        sources: the threshold detectors and spike trains that events come from.
    """

    cells: tuple[Cell, ...]
    tree: BranchTree
    comp_cell: np.ndarray
    comp_offsets: np.ndarray
    geometry: dict[str, np.ndarray]
    shape_factors: dict[str, np.ndarray]
    ion_values: dict[str, np.ndarray]
    mechanisms: dict[str, InsertedMechanism]
    placed: dict[str, PlacedSites]
    stimuli: tuple[Stimulus, ...]
    clamps: tuple[Clamp, ...]
    recordings: tuple[Recording, ...]
    sources: EventSources

    @property
    def n_compartments(self) -> int:
        return int(self.comp_offsets[-1])

    def describe(self, comp: int) -> str:
        """Human-readable place of global compartment `comp`."""
        index = int(self.comp_cell[comp])
        local = self.cells[index].describe(int(comp - self.comp_offsets[index]))
        return local if len(self.cells) == 1 else f"cell {index}, {local}"


class Forest:
    """Cells side by side as one tree: finds global compartments of locations on them."""

    def __init__(self, cells, tree: BranchTree, branch_offsets: np.ndarray):
        self.cells = cells
        self.tree = tree
        self.branch_offsets = branch_offsets
        self._index = {id(c): i for i, c in enumerate(cells)}
        self._owners: dict[int, tuple] = {}

    def cell_indices(self, owners: tuple) -> np.ndarray:
        """The index of each of `owners` among the cells (-1 for one not among them),
        computed once per tuple (the builders share one tuple among many cells)."""
        if id(owners) not in self._owners:
            found = np.array([self._index.get(id(o), -1) for o in owners], np.int64)
            self._owners[id(owners)] = (owners, found)
        return self._owners[id(owners)][1]

    def compartments(self, cell: np.ndarray, branch: np.ndarray, x: np.ndarray) -> np.ndarray:
        """The global compartment at (branch, x) of each `cell` (all vectorised)."""
        return compartment_at(self.tree, self.branch_offsets[cell] + branch, x)


def as_cells(cells) -> tuple[Cell, ...]:
    """`cells` (a Cell or a sequence of distinct Cells) as a tuple, checked."""
    if isinstance(cells, Cell):
        return (cells,)
    if isinstance(cells, list | tuple) and cells:
        for i, cell in enumerate(cells):
            if not isinstance(cell, Cell):
                raise TypeError(f"build expects dendrax Cells; item {i} is {type(cell).__name__}")
        if len({id(c) for c in cells}) != len(cells):
            raise ValueError("build got the same cell twice; build copies of it instead")
        return tuple(cells)
    raise TypeError(
        f"build expects a dendrax Cell, got {type(cells).__name__} (or a list of Cells)"
    )


def assemble(cells) -> Assembly:
    """The cells side by side (see `Assembly`)."""
    cells = as_cells(cells)
    sizes = [c.n_compartments for c in cells]
    comp_offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    branch_offsets = np.concatenate([[0], np.cumsum([c.n_branches for c in cells])])
    parents = np.concatenate(
        [
            np.where(c.tree.parents < 0, -1, c.tree.parents + b)
            for c, b in zip(cells, branch_offsets, strict=False)
        ]
    )
    tree = BranchTree.from_parents(
        parents,
        np.concatenate([c.tree.ncomp for c in cells]),
        np.concatenate([c.tree.parent_x for c in cells]),
    )
    every = [ins.mechanism for c in cells for ins in (*c.mechanisms.values(), *c.placed.values())]
    _check_same_classes(every)
    forest = Forest(cells, tree, branch_offsets.astype(np.int64))
    placed = _placed(cells, comp_offsets, forest)
    recordings = _recordings(cells, comp_offsets)
    connections = {
        name: [
            (c.placed[name].n_sites, c.placed[name].peer_sites(), c.placed[name].peers)
            for c in cells
            if name in c.placed
        ]
        for name, sites in placed.items()
        if sites.mechanism.receives_events
    }
    spiking = [(r.comps, r.threshold) for r in recordings if r.name == "spikes"]
    sources, site_sources, detectors = event_wiring.wire(forest, connections, spiking)
    for name, wired in site_sources.items():
        placed[name] = replace(placed[name], event_source=wired.source, delay=wired.delay)
    found = iter(detectors)
    recordings = tuple(
        replace(r, sites=next(found)) if r.name == "spikes" else r for r in recordings
    )
    return Assembly(
        cells=cells,
        tree=tree,
        comp_cell=np.repeat(np.arange(len(cells)), sizes),
        comp_offsets=comp_offsets,
        geometry=_joined(cells, lambda c: c.geometry),
        shape_factors=_joined(cells, lambda c: c.shape_factors),
        ion_values=_ion_values(cells, every),
        mechanisms=_density(cells),
        placed=placed,
        stimuli=_in_call_order(
            replace(s, comps=s.comps + off)
            for c, off in zip(cells, comp_offsets, strict=False)
            for s in c.stimuli
        ),
        clamps=_in_call_order(
            replace(k, comps=k.comps + off)
            for c, off in zip(cells, comp_offsets, strict=False)
            for k in c.clamps
        ),
        recordings=recordings,
        sources=sources,
    )


def _check_same_classes(mechanisms: list[Mechanism]) -> None:
    seen: dict[str, type] = {}
    for mechanism in mechanisms:
        known = seen.setdefault(mechanism.name, type(mechanism))
        if known is not type(mechanism):
            raise ValueError(
                f"two different mechanisms are named {mechanism.name!r} "
                f"({known.__module__}.{known.__qualname__} and "
                f"{type(mechanism).__module__}.{type(mechanism).__qualname__})"
            )


def _joined(cells, table) -> dict[str, np.ndarray]:
    return {name: np.concatenate([table(c)[name] for c in cells]) for name in table(cells[0])}


def _ion_values(cells, mechanisms) -> dict[str, np.ndarray]:
    """Per-compartment ion values; a cell without an ion in use gets its default."""
    defaults = membrane.ion_defaults([m for m in mechanisms if m.kind == "density"])
    return {
        name: np.concatenate(
            [c.ion_values.get(name, np.full(c.n_compartments, default)) for c in cells]
        )
        for name, default in defaults.items()
    }


def _density(cells) -> dict[str, InsertedMechanism]:
    merged = {}
    names = dict.fromkeys(name for c in cells for name in c.mechanisms)
    for name in names:
        present = [c.mechanisms.get(name) for c in cells]
        mechanism = next(p.mechanism for p in present if p is not None)
        where = np.concatenate(
            [
                p.where if p is not None else np.zeros(c.n_compartments, bool)
                for c, p in zip(cells, present, strict=True)
            ]
        )
        values = {
            param: np.concatenate(
                [
                    p.values[param] if p is not None else np.full(c.n_compartments, default)
                    for c, p in zip(cells, present, strict=True)
                ]
            )
            for param, default in mechanism.defaults.items()
        }
        merged[name] = InsertedMechanism(mechanism, where, values)
    return merged


def _placed(cells, comp_offsets, forest: Forest) -> dict[str, PlacedSites]:
    merged = {}
    names = sorted({name for c in cells for name in c.placed})  # the same program for any wiring
    for name in names:
        parts = [
            (c, off, c.placed[name])
            for c, off in zip(cells, comp_offsets, strict=False)
            if name in c.placed
        ]
        mechanism = parts[0][2].mechanism
        comps = np.concatenate([off + p.compartments(c.tree) for c, off, p in parts])
        values = {
            param: np.concatenate([p.values[param] for _, _, p in parts])
            for param in mechanism.parameters
        }
        peers = None
        if mechanism.kind == "junction":
            peers = np.concatenate([_peer_comps(name, forest, p.peers) for _, _, p in parts])
        merged[name] = PlacedSites(mechanism, comps.astype(np.int64), values, peers)
    return merged


def _peer_comps(name, forest: Forest, peers: Peers) -> np.ndarray:
    """The global compartment of each site's peer."""
    owner_cell = forest.cell_indices(peers.owners)
    if np.any(owner_cell < 0):
        raise ValueError(
            f"{name} has a peer on a cell that is not built with it; pass both cells to build"
        )
    return forest.compartments(owner_cell[peers.owner], peers.branch, peers.x)


def _recordings(cells, comp_offsets) -> tuple[Recording, ...]:
    recordings = []
    for i, (cell, offset) in enumerate(zip(cells, comp_offsets, strict=False)):
        for recording in cell.recordings:
            sites = recording.sites
            if sites is not None and recording.name != "spikes":
                mech_name = recording.name.partition(".")[0]
                before = sum(
                    c.placed[mech_name].n_sites for c in cells[:i] if mech_name in c.placed
                )
                sites = sites + before
            recordings.append(replace(recording, comps=recording.comps + offset, sites=sites))
    return _in_call_order(recordings)


def _in_call_order(items) -> tuple:
    """Stimuli, clamps or recordings of several cells in the order they were asked for."""
    return tuple(sorted(items, key=lambda item: item.serial))
