"""Plotting recorded traces against time."""

from __future__ import annotations

import numpy as np


def traces(recordings, dt: float = 0.025, names=None, ax=None, quantity=None, units=None):
    """Plot each row of `recordings` (from `sim.run`) against time.

    Args:
        recordings: array of shape (n_recordings, n_samples), or one trace (n_samples,).
        dt: time step (ms); sample k is at k·dt.
        names: one label per row (e.g. `sim.recording_names`: "cai at branch 0,
            compartment 0"), shown in a legend.
        ax: matplotlib axes (a new figure if None).
        quantity: y-axis label; by default the quantities of `names` with their `units`,
            such as "v (mV)" or "v (mV), cai (mM)".
        units: the unit of each row (`sim.recording_units`), or one for all.

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
    n = values.shape[0]
    if names is not None and len(names) != n:
        raise ValueError(f"got {len(names)} names for {n} recordings")
    if isinstance(units, str):
        units = [units] * n
    if units is not None and len(units) != n:
        raise ValueError(f"got {len(units)} units for {n} recordings")
    if ax is None:
        _, ax = plt.subplots()
    time = np.arange(values.shape[1]) * dt
    for row, trace in enumerate(values):
        ax.plot(time, trace, label=None if names is None else names[row])
    ax.set_xlabel("t (ms)")
    ax.set_ylabel(_label(names, units) if quantity is None else quantity)
    if names is not None:
        ax.legend(loc="best", frameon=False)
    return ax


def _label(names, units) -> str:
    """ "v (mV)", "v (mV), cai (mM)", "mV" or "": the distinct quantities and units."""
    quantities = [None] * (len(names) if names is not None else len(units or ()))
    if names is not None:
        quantities = [str(name).split(" at ")[0] for name in names]
    units = units if units is not None else [None] * len(quantities)
    pairs = list(dict.fromkeys(zip(quantities, units, strict=True)))
    parts = []
    for name, unit in pairs:
        if name is None:
            parts.append(unit or "")
        else:
            parts.append(name if unit is None else f"{name} ({unit})")
    return ", ".join(part for part in parts if part)
