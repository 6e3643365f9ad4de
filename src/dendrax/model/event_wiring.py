"""Where the events of a build come from: threshold detectors and external trains.

Every connection to an event-receiving synapse names a source: a location on a cell with
a threshold, or a row of `SpikeTrains`. A build gives each distinct (compartment,
threshold) one detector (NEURON's PreSyn, shared by the NetCons that watch the same
voltage with the same threshold) and each train one source after the detectors; a site
without a connection gets the index `n_sources`, a source that never spikes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dendrax.model.sites import Peers
from dendrax.model.spike_trains import TrainSet


@dataclass(frozen=True)
class EventSources:
    """The sources of a build's events.

    Attributes:
        detector_comps: the global compartment each detector watches.
        detector_threshold: its threshold (mV).
        trains: the spike times (ms) of each external train; train k is source
            `len(detector_comps) + k`.
    """

    detector_comps: np.ndarray
    detector_threshold: np.ndarray
    trains: tuple[np.ndarray, ...]

    @property
    def n_sources(self) -> int:
        return int(self.detector_comps.size) + len(self.trains)


@dataclass(frozen=True)
class SiteSources:
    """An event-receiving mechanism's connections: per site its source (an index into
    `EventSources`, `n_sources` for none) and delay (ms)."""

    source: np.ndarray
    delay: np.ndarray


@dataclass(frozen=True)
class _Located:
    """Peers resolved in a build: global compartment and threshold for a cell's source
    (compartment -1 for a train), global train index for a train (-1 for a cell)."""

    comp: np.ndarray
    threshold: np.ndarray
    train: np.ndarray
    delay: np.ndarray


def wire(forest, connections: dict, spike_recordings) -> tuple:
    """(`EventSources`, {mechanism name: `SiteSources`}, the detector of each row of each
    spike recording).

    `connections`: per event-receiving mechanism a list, cell by cell, of (the number of
    its sites in the cell, the indices of the sites that have a source, their `Peers`);
    `spike_recordings`: (global compartments, threshold) of each `record_spikes` call.
    """
    train_start: dict[int, int] = {}
    trains: list[np.ndarray] = []
    for parts in connections.values():
        for _, _, peers in parts:
            for owner in peers.owners:
                if isinstance(owner, TrainSet) and id(owner) not in train_start:
                    train_start[id(owner)] = len(trains)
                    trains.extend(owner.times)
    trains_of: dict[int, np.ndarray] = {}
    located = {
        name: [_locate(name, peers, forest, train_start, trains_of) for _, _, peers in parts]
        for name, parts in connections.items()
    }
    flat = [item for items in located.values() for item in items]
    comps = [item.comp[item.comp >= 0] for item in flat] + [c for c, _ in spike_recordings]
    thresholds = [item.threshold[item.comp >= 0] for item in flat] + [
        np.full(c.size, t) for c, t in spike_recordings
    ]
    keys = np.stack(
        [np.concatenate([np.zeros(0), *comps]), np.concatenate([np.zeros(0), *thresholds])], 1
    )
    unique, inverse = np.unique(keys, axis=0, return_inverse=True)
    detector = iter(np.split(inverse.reshape(-1), np.cumsum([c.size for c in comps])[:-1]))
    sources = EventSources(unique[:, 0].astype(np.int64), unique[:, 1], tuple(trains))
    site_sources = {}
    for name, parts in connections.items():
        source_parts, delay_parts = [], []
        for (count, sites, _), item in zip(parts, located[name], strict=True):
            source = np.full(count, sources.n_sources, np.int64)
            from_cell = item.comp >= 0
            chosen = np.where(from_cell, 0, len(unique) + item.train)
            chosen[from_cell] = next(detector)
            source[sites] = chosen
            delay = np.zeros(count)
            delay[sites] = item.delay
            source_parts.append(source)
            delay_parts.append(delay)
        site_sources[name] = SiteSources(np.concatenate(source_parts), np.concatenate(delay_parts))
    recorded = [next(detector) for _ in spike_recordings]
    return sources, site_sources, recorded


def _locate(name, peers: Peers, forest, train_start, trains_of: dict) -> _Located:
    """Where `peers` are in the build; `trains_of` caches each owners tuple's first train
    indices (the builders share one tuple among many cells)."""
    owner_cell = forest.cell_indices(peers.owners)
    if id(peers.owners) not in trains_of:
        trains_of[id(peers.owners)] = np.array(
            [train_start.get(id(o), -1) if isinstance(o, TrainSet) else -1 for o in peers.owners],
            np.int64,
        )
    owner_train = trains_of[id(peers.owners)]
    if np.any((owner_cell < 0) & (owner_train < 0)):
        raise ValueError(
            f"{name} has a source on a cell that is not built with it; build the cells "
            f"together (dendrax.Network, or a list of cells)"
        )
    cell = owner_cell[peers.owner]
    from_cell = cell >= 0
    comp = np.full(peers.size, -1, np.int64)
    comp[from_cell] = forest.compartments(
        cell[from_cell], peers.branch[from_cell], peers.x[from_cell]
    )
    train = np.where(from_cell, -1, owner_train[peers.owner] + peers.branch)
    return _Located(comp, peers.threshold, train, peers.delay)
