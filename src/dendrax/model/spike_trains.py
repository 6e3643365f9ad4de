"""External spike trains: sources of events given as spike times (NEURON's VecStim)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class TrainSet:
    """The spike times (ms) of trains made together; its identity is what a build keys
    them by, so that selections of it share the trains."""

    times: tuple[np.ndarray, ...]


class SpikeTrains:
    """One or several trains of spike times (ms), each a source of events for the
    synapses connected to it (`dendrax.connect(trains, post, ExpSyn(), ...)`).

    `trains[i]`, `trains[a:b]` or `trains[[i, j]]` selects trains.
    """

    def __init__(self, trains: TrainSet, rows: np.ndarray):
        self.trains = trains
        self.rows = np.asarray(rows, np.int64)

    @property
    def times(self) -> tuple[np.ndarray, ...]:
        """The spike times (ms) of each selected train."""
        return tuple(self.trains.times[r] for r in self.rows)

    def __len__(self) -> int:
        return int(self.rows.size)

    def __getitem__(self, index) -> SpikeTrains:
        return SpikeTrains(self.trains, np.atleast_1d(self.rows[index]))

    def __repr__(self) -> str:
        counts = [times.size for times in self.times]
        return f"<SpikeTrains: {len(self)} trains, {sum(counts)} spikes>"


def spike_source(times) -> SpikeTrains:
    """External spike trains (NEURON's VecStim): `times` is one train (a 1D sequence of
    spike times in ms, sorted, >= 0) or a sequence of such trains."""
    trains = TrainSet(_checked(times))
    return SpikeTrains(trains, np.arange(len(trains.times)))


def _checked(times) -> tuple[np.ndarray, ...]:
    if isinstance(times, np.ndarray):
        times = [times] if times.ndim == 1 else list(times)
    elif all(np.ndim(t) == 0 for t in times):
        times = [times]
    trains = []
    for i, train in enumerate(times):
        try:
            array = np.asarray(train, dtype=float)
        except (TypeError, ValueError):
            raise TypeError(f"spike train {i}: spike times must be numbers (ms)") from None
        if array.ndim != 1:
            raise ValueError(f"spike train {i} must be 1D (times in ms), got shape {array.shape}")
        if not np.all(np.isfinite(array)):
            raise ValueError(f"spike train {i} has a NaN or infinite time")
        if np.any(array < 0):
            raise ValueError(f"spike train {i} has a negative time ({array.min()} ms)")
        if np.any(np.diff(array) < 0):
            k = int(np.flatnonzero(np.diff(array) < 0)[0])
            raise ValueError(
                f"spike train {i} is not sorted: {array[k]} ms comes before {array[k + 1]} ms"
            )
        trains.append(array)
    return tuple(trains)
