"""Recorded sweeps from NWB files (Neurodata Without Borders, as the Allen Cell Types
Database and DANDI distribute them) as stimuli and target traces on a simulation's time grid.

Reads the intracellular current-clamp series of a file with `pynwb` (the `nwb` extra): each
`CurrentClampSeries` in the acquisition is a response in volts, the
`CurrentClampStimulusSeries` of the same sweep number in the stimuli its injected current in
amperes. Values are converted with each series' `conversion` and `offset` to mV and nA and
resampled to the grid of `dt` by linear interpolation.
"""

import pathlib
from dataclasses import dataclass

import numpy as np

VOLTS_TO_MV = 1e3
AMPERES_TO_NA = 1e9


@dataclass(frozen=True)
class Sweeps:
    """Current-clamp sweeps on a simulation's grid: `voltage[i]` can be the target of a run
    driven by `stimulus[i]` (`sim.run(stimuli=stimulus[i][None])`)."""

    voltage: np.ndarray
    """(n_sweeps, n_steps + 1): the membrane voltage (mV) at t = k dt, k = 0 .. n_steps."""
    stimulus: np.ndarray
    """(n_sweeps, n_steps): the injected current (nA) during step k, read at its start k dt;
    zeros where the file has no stimulus for the sweep."""
    sweep_numbers: tuple[int, ...]
    names: tuple[str, ...]
    """The name of each response series in the file."""
    dt: float
    """The grid's time step (ms)."""


def read_nwb_sweeps(path, dt: float, t_max: float | None = None, sweeps=None) -> Sweeps:
    """The current-clamp sweeps of the NWB file `path`, resampled to steps of `dt` (ms) up
    to `t_max` (ms; default: the shortest sweep), each from the start of its recording.

    Args:
        path: an .nwb file.
        dt: the simulation's time step (ms).
        t_max: the duration to keep (ms); it must fit in every sweep kept.
        sweeps: the sweep numbers to keep, in this order (default: all, by sweep number).
    """
    try:
        from pynwb import NWBHDF5IO
        from pynwb.icephys import CurrentClampSeries, CurrentClampStimulusSeries
    except ImportError as error:
        raise ImportError("reading NWB files needs pynwb: pip install 'dendrax[nwb]'") from error
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such NWB file")
    if not (isinstance(dt, int | float) and np.isfinite(dt) and dt > 0):
        raise ValueError(f"dt must be > 0 ms, got {dt!r}")
    with NWBHDF5IO(str(path), "r") as io:
        nwbfile = io.read()
        responses = _by_sweep(nwbfile.acquisition, CurrentClampSeries, path)
        stimuli = _by_sweep(nwbfile.stimulus, CurrentClampStimulusSeries, path)
        if not responses:
            raise ValueError(f"{path} has no CurrentClampSeries in its acquisition")
        numbers = sorted(responses) if sweeps is None else [int(s) for s in sweeps]
        for number in numbers:
            if number not in responses:
                raise ValueError(
                    f"{path} has no current-clamp sweep {number}; it has {sorted(responses)}"
                )
        durations = {n: _duration(responses[n]) for n in numbers}
        shortest = min(durations.values())
        t_max = shortest if t_max is None else float(t_max)
        if t_max > shortest:
            number = min(durations, key=durations.get)
            raise ValueError(
                f"t_max = {t_max} ms is longer than sweep {number} of {path} "
                f"({durations[number]:.6g} ms)"
            )
        n_steps = int(np.floor(t_max / dt + 1e-9))
        if n_steps < 1:
            raise ValueError(f"t_max = {t_max} ms is less than one step of dt = {dt} ms")
        grid = np.arange(n_steps + 1) * dt
        voltage = [_resampled(responses[n], "volts", VOLTS_TO_MV, grid, path) for n in numbers]
        stimulus = [
            _resampled(stimuli[n], "amperes", AMPERES_TO_NA, grid[:-1], path)
            if n in stimuli
            else np.zeros(n_steps)
            for n in numbers
        ]
        names = tuple(responses[n].name for n in numbers)
    return Sweeps(np.array(voltage), np.array(stimulus), tuple(numbers), names, float(dt))


def _by_sweep(series: dict, kind, path) -> dict:
    """The series of `kind` among `series` by sweep number (their order where a file has
    none); an error names a sweep number that two of them share."""
    found = {}
    chosen = [s for s in series.values() if isinstance(s, kind)]
    for k, item in enumerate(chosen):
        number = k if item.sweep_number is None else int(item.sweep_number)
        if number in found:
            raise ValueError(
                f"{path}: {found[number].name} and {item.name} are both {kind.__name__} "
                f"of sweep {number}"
            )
        found[number] = item
    return found


def _times(series) -> np.ndarray:
    """The sample times (ms) of a series from its start."""
    n = series.data.shape[0]
    if series.rate is not None:
        return np.arange(n) * 1e3 / float(series.rate)
    stamps = np.asarray(series.timestamps, float)
    return (stamps - stamps[0]) * 1e3


def _duration(series) -> float:
    return float(_times(series)[-1])


def _resampled(series, unit: str, factor: float, grid: np.ndarray, path) -> np.ndarray:
    """`series` in its unit times `factor` at the times `grid` (ms)."""
    if series.unit.lower() != unit:
        raise ValueError(f"{path}: {series.name} is in {series.unit!r}, expected {unit!r}")
    offset = float(getattr(series, "offset", 0.0) or 0.0)
    values = np.asarray(series.data[:], float) * float(series.conversion) + offset
    if not np.all(np.isfinite(values)):
        index = int(np.flatnonzero(~np.isfinite(values))[0])
        raise ValueError(f"{path}: {series.name}[{index}] is {values[index]}")
    return np.interp(grid, _times(series), values * factor)
