"""Stimulus waveforms, one value per time step."""

import numpy as np


class Waveform(np.ndarray):
    """A NumPy array of values per time step that remembers the step `dt` (ms) it was
    made for: `build` refuses it for a simulation with another dt, which would stretch it
    in time. Arithmetic and slicing keep `dt`."""

    dt: float | None

    def __new__(cls, values, dt: float):
        waveform = np.asarray(values, dtype=float).view(cls)
        waveform.dt = float(dt)
        return waveform

    def __array_finalize__(self, obj):
        self.dt = getattr(obj, "dt", None)


def step_dt(values) -> float | None:
    """The dt (ms) a series of values per step was made for, if it is a `Waveform`."""
    return values.dt if isinstance(values, Waveform) else None


def step_current(start: float, duration: float, amplitude: float, dt: float, t_max: float):
    """A current step (nA): `amplitude` from `start` for `duration` (ms), 0 elsewhere.

    Returns round(t_max / dt) values (a `Waveform` for this dt); value k is the current
    during [k dt, (k + 1) dt], evaluated at the step's middle as NEURON's IClamp is.
    """
    for name, value in (("start", start), ("duration", duration), ("amplitude", amplitude)):
        if not np.isfinite(value):
            raise ValueError(f"step_current: {name} must be finite, got {value}")
    if not dt > 0:
        raise ValueError(f"step_current: dt must be > 0 ms, got {dt}")
    if not t_max > 0:
        raise ValueError(f"step_current: t_max must be > 0 ms, got {t_max}")
    if duration < 0:
        raise ValueError(f"step_current: duration must be >= 0 ms, got {duration}")
    n_steps = round(t_max / dt)
    if n_steps < 1:
        raise ValueError(f"step_current: t_max = {t_max} ms is less than one step of dt = {dt} ms")
    middle = (np.arange(n_steps) + 0.5) * dt
    on = (middle >= start) & (middle < start + duration)
    return Waveform(np.where(on, float(amplitude), 0.0), dt)
