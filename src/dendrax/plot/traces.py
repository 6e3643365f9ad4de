"""Plotting recorded traces against time."""

from __future__ import annotations

import numpy as np


def traces(recordings, dt: float = 0.025, names=None, ax=None, quantity: str = "v (mV)"):
    """Plot each row of `recordings` (from `sim.run`) against time.

    Args:
        recordings: array of shape (n_recordings, n_samples), or one trace (n_samples,).
        dt: time step (ms); sample k is at k·dt.
        names: one label per row (e.g. `sim.recording_names`), shown in a legend.
        ax: matplotlib axes (a new figure if None).
        quantity: y-axis label.

    Returns:
        The axes.
    """
    import matplotlib.pyplot as plt

    values = np.asarray(recordings, dtype=float)
    if values.ndim == 1:
        values = values[None, :]
    if values.ndim != 2 or values.shape[1] == 0:
        raise ValueError(
            f"recordings must be (n_recordings, n_samples) or one trace, got {values.shape}"
        )
    if not (np.isfinite(dt) and dt > 0):
        raise ValueError(f"dt must be > 0 ms, got {dt}")
    if names is not None and len(names) != values.shape[0]:
        raise ValueError(f"got {len(names)} names for {values.shape[0]} recordings")
    if ax is None:
        _, ax = plt.subplots()
    time = np.arange(values.shape[1]) * dt
    for row, trace in enumerate(values):
        ax.plot(time, trace, label=None if names is None else names[row])
    ax.set_xlabel("t (ms)")
    ax.set_ylabel(quantity)
    if names is not None:
        ax.legend(loc="best", frameon=False)
    return ax
