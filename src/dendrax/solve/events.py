"""Spike events within the time step: detection, a ring buffer of spikes, delivery.

A source is a threshold detector at a node (NEURON's NetCon watching a voltage) or an
external spike train (NEURON's VecStim). Each step writes one row of a ring buffer of
`n_slots` steps: per source the time (ms) of its spike in that step, or `NO_SPIKE`. A
connection looks up its source a delay's worth of steps back, so delays cost no queue
and no loop over events: memory O(slots x sources).

Timing follows NEURON's fixed step exactly: time advances as NEURON's does, t + dt/2
twice per step (so that events half a step late round as NEURON's do); a detector spikes
when v goes from <= threshold to > threshold in a step, at the end of the step (plus
NEURON's 1e-10 ms); an event
for time T = spike + delay is delivered at the start of the first step that starts at t
with T <= t + dt/2 (`mode="step"`). With `mode="interpolated"` the spike is where the
linear interpolation of v crosses the threshold, and its event is delivered at the start
of the first step at or after T, together with how late it is (t - T, ms), so that the
synapse can take up the event as if it had arrived at T.
"""

import functools
from dataclasses import dataclass

import jax.numpy as jnp
import numpy as np

MODES = ("step", "interpolated")
"""How spikes are timed and events delivered (see the module's docstring)."""

NO_SPIKE = -1e30
"""The buffer's entry for no spike: an event time before every step."""

SPIKE_LATENESS = 1e-10
"""ms; NEURON stamps a threshold crossing at the end of its step plus this (its `teps`),
which decides on which side of a half step some events fall."""

OFFSETS = 3
"""Consecutive buffer rows a connection looks at: its delay in whole steps, and the
one or two after it that a spike's place in its step and the delay's fraction of a step
can add."""


@dataclass(frozen=True)
class EventSpec:
    """The compile-time shape of a model's events.

    Attributes:
        mode: "step" or "interpolated" (`MODES`).
        n_slots: steps kept in the ring buffer (the longest delay in steps + `OFFSETS`).
        n_sources: threshold detectors and external trains (the buffer's columns).
        trains_per_step: the most spikes of external trains in one step.
    """

    mode: str
    n_slots: int
    n_sources: int
    trains_per_step: int


@functools.lru_cache(maxsize=16)
def neuron_times(n_steps: int, dt: float, dtype) -> np.ndarray:
    """The start time (ms) of each of `n_steps` steps from t = 0 as NEURON's fixed step
    computes it, t + dt/2 + dt/2, rounding included. Host side: XLA may reassociate the
    two additions, which moves an event due at a half step by a step."""
    dtype = np.dtype(dtype).type
    half = dtype(0.5 * dt)
    times = np.empty(n_steps, dtype)
    t = dtype(0.0)
    for k in range(n_steps):
        times[k] = t
        t = (t + half) + half
    times.flags.writeable = False  # shared by the cache
    return times


def whole_steps(time: np.ndarray, dt: float) -> np.ndarray:
    """Whole steps in `time` (ms), rounded down, times within 1e-9 steps of a whole
    number counting as it (host side, at build)."""
    return np.floor(np.round(np.asarray(time, float) / dt * 1e9) / 1e9).astype(np.int64)


def initial_buffer(spec: EventSpec, dtype) -> tuple:
    """An empty ring buffer (with one more column that never spikes, for sites without
    a source) and the end of the last delivery window (none yet)."""
    ring = jnp.full((spec.n_slots, spec.n_sources + 1), NO_SPIKE, dtype)
    return ring, jnp.asarray(NO_SPIKE, dtype)


def start_step(spec: EventSpec, events: dict, buffer: tuple, step) -> tuple:
    """The buffer with the spikes of the external trains that fall in `step` written to
    its row. The row's other entries are those of `n_slots` steps before: too old to be
    due at any delay the buffer holds, so they need no clearing."""
    train_step = events["train_step"]
    if not train_step.shape[0]:
        return buffer
    ring, bound = buffer
    first = jnp.searchsorted(train_step, step)
    index = jnp.minimum(first + jnp.arange(spec.trains_per_step), train_step.shape[0] - 1)
    column = jnp.where(train_step[index] == step, events["train_source"][index], ring.shape[1])
    row = step % spec.n_slots
    times = events["train_time"][index].astype(ring.dtype)
    return ring.at[row, column].set(times, mode="drop"), bound


def arrivals(spec: EventSpec, buffer: tuple, sites: dict, step, t, dt: float) -> tuple:
    """(which sites receive an event at the start of `step`, at time `t` (ms); how late
    each is (ms); its time (ms; 0 where none); the buffer with this delivery window closed).

    `sites` holds per site its "event_source" (a buffer column), "delay" (ms) and
    "delay_steps" (whole steps in it)."""
    ring, bound = buffer
    until = t + 0.5 * dt if spec.mode == "step" else t
    source = sites["event_source"]
    hit = jnp.zeros(source.shape[0], bool)
    arrival = jnp.zeros(source.shape[0], ring.dtype)
    for offset in range(OFFSETS):
        spike = ring[(step - sites["delay_steps"] - offset) % spec.n_slots, source]
        due = spike + sites["delay"]
        now = (due > bound) & (due <= until)
        hit = hit | now
        arrival = jnp.where(now, due, arrival)
    lag = jnp.where(hit, t - arrival, 0.0) if spec.mode == "interpolated" else jnp.zeros_like(t)
    return hit, lag, arrival, (ring, until)


def due(spec: EventSpec, buffer: tuple, time, t, dt: float):
    """Whether events at `time` (ms) fall in the delivery window of the step at `t` that
    `arrivals` opens (after the last window, up to t + dt/2 or t when interpolated)."""
    _, bound = buffer
    until = t + 0.5 * dt if spec.mode == "step" else t
    return (time > bound) & (time <= until)


def detect(spec: EventSpec, events: dict, buffer: tuple, step, t, dt: float, v_old, v_new):
    """The buffer with the spikes of `step` (starting at `t`) written, and the spikes as
    1 where a detector crossed its threshold in this step, else 0."""
    ring, bound = buffer
    node, threshold = events["detector_node"], events["detector_threshold"]
    before, after = v_old[node], v_new[node]
    crossed = (before <= threshold) & (after > threshold) & (step >= 0)
    if spec.mode == "step":
        half = 0.5 * dt
        time = jnp.broadcast_to(((t + half) + half) + SPIKE_LATENESS, after.shape)
    else:
        rise = jnp.where(crossed, after - before, 1.0)
        time = t + jnp.clip((threshold - before) / rise, 0.0, 1.0) * dt
    written = jnp.where(crossed, time, NO_SPIKE)
    ring = ring.at[step % spec.n_slots, : node.shape[0]].set(written)
    return (ring, bound), crossed.astype(v_new.dtype)
