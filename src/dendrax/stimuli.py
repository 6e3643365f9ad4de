"""Stimulus waveforms, one value per time step."""

import warnings

import numpy as np


class StimulusWarning(UserWarning):
    """A stimulus that is probably not what was meant (e.g. zero at every step)."""


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
    during [k dt, (k + 1) dt], evaluated at the step's middle as NEURON's IClamp is. A
    non-zero `amplitude` whose step misses every step's middle (it starts after `t_max`, or
    is shorter than `dt`) gives a `StimulusWarning`: the current would be 0 everywhere.
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
    if amplitude != 0 and not on.any():
        if start >= t_max:
            why = f"it starts at {start:g} ms, at or after t_max = {t_max:g} ms"
        else:
            why = (
                f"from {start:g} to {start + duration:g} ms it contains no step's middle "
                f"(steps of dt = {dt:g} ms, until t_max = {t_max:g} ms)"
            )
        warnings.warn(
            f"step_current(start={start:g}, duration={duration:g}, amplitude={amplitude:g}) "
            f"is 0 at every step: {why}",
            StimulusWarning,
            stacklevel=2,
        )
    return Waveform(np.where(on, float(amplitude), 0.0), dt)
