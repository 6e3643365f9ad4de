"""Losses and features of recorded traces: differentiable, and batched by `jax.vmap`
(each works on the last axis, time, and reduces over everything else it is given)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

SPIKE_FEATURES = ("spike_count", "mean_frequency", "AP_amplitude", "voltage_base")
"""The features `spike_features` gives, named as eFEL names them."""


def mse(predicted, target):
    """Mean squared difference (mV² for voltages)."""
    return jnp.mean((jnp.asarray(predicted) - target) ** 2)


def mae(predicted, target):
    """Mean absolute difference (mV for voltages)."""
    return jnp.mean(jnp.abs(jnp.asarray(predicted) - target))


def window_stats(traces, windows, dt: float):
    """Mean and standard deviation of each trace in each time window, as the published
    L5PC fits use them.

    Args:
        traces: (..., n_samples), sample k at time k dt (as `sim.run` returns them).
        windows: (start, stop) pairs in ms; a window holds the samples with
            start <= t < stop.
        dt: time step (ms).

    Returns:
        (..., n_windows, 2): mean and standard deviation per window.
    """
    traces = jnp.asarray(traces)
    stats = []
    for start, stop in windows:
        first, last = round(start / dt), round(stop / dt)
        if not 0 <= first < last <= traces.shape[-1]:
            raise ValueError(
                f"window ({start}, {stop}) ms is empty or outside the traces "
                f"(0 to {traces.shape[-1] * dt:g} ms at dt = {dt} ms)"
            )
        piece = traces[..., first:last]
        stats.append(jnp.stack([piece.mean(-1), piece.std(-1)], -1))
    return jnp.stack(stats, -2)


def soft_spike_count(traces, threshold: float = 0.0, width: float = 2.0):
    """A differentiable count of upward crossings of `threshold` (mV) along the last
    axis: the summed rises of σ((v - threshold) / width). Close to the number of spikes
    when spikes overshoot the threshold by several `width`s (mV)."""
    if not width > 0:
        raise ValueError(f"width must be > 0 mV, got {width}")
    above = jax.nn.sigmoid((jnp.asarray(traces) - threshold) / width)
    return jnp.sum(jax.nn.relu(jnp.diff(above, axis=-1)), axis=-1)


def window_max(traces, dt: float, starts, stops, softness: float = 1.0):
    """A smooth maximum of each trace in time windows, so that a loss can ask for a
    spike (or its absence) in a window with gradients from wherever v is highest there.

    The smooth maximum is softness · log Σ exp(v / softness) over the window's samples:
    at least the maximum and at most softness · log(n_samples) (mV) above it.

    Args:
        traces: (..., n_samples), sample k at time k dt (as `sim.run` returns them).
        dt: time step (ms).
        starts, stops: window bounds (ms), arrays of one shape (..., n_windows) that
            broadcasts with the traces' leading axes; a window holds the samples with
            start <= t < stop.
        softness: mV; smaller is closer to the maximum, with gradients on fewer samples.

    Returns:
        (..., n_windows) in mV; -inf for a window without samples.
    """
    if not softness > 0:
        raise ValueError(f"softness must be > 0 mV, got {softness}")
    traces, starts, stops = jnp.asarray(traces), jnp.asarray(starts), jnp.asarray(stops)
    n = traces.shape[-1]
    lead = jnp.broadcast_shapes(traces.shape[:-1], starts.shape[:-1], stops.shape[:-1])
    traces = jnp.broadcast_to(traces, (*lead, n))[..., None, :]
    starts, stops = (jnp.broadcast_to(x, (*lead, x.shape[-1]))[..., None] for x in (starts, stops))
    time = (dt * jnp.arange(n)).reshape((1,) * (starts.ndim - 1) + (n,))
    inside = (time >= starts) & (time < stops)
    scaled = jnp.where(inside, traces / softness, -jnp.inf)
    return softness * jax.nn.logsumexp(scaled, axis=-1)


def spike_features(
    traces,
    dt: float,
    start: float,
    stop: float,
    *,
    threshold: float = -20.0,
    width: float = 2.0,
    onset_slope: float = 10.0,
    max_spikes: int = 32,
) -> dict:
    """Spike features of traces under a step from `start` to `stop` (ms), with gradients.

    A spike is an upward crossing of `threshold` (mV); its peak is the highest sample
    before the next crossing, its time the peak's, interpolated by the parabola through
    that sample and its neighbours; its onset is where dv/dt last rose past
    `onset_slope` (mV/ms) before the crossing. Gradients flow through the soft count, the
    interpolated times and the values of v at peaks and onsets (which spike a sample
    belongs to is not differentiated).

    Args:
        traces: (..., n_samples), sample k at time k dt (as `sim.run` returns them).
        dt: time step (ms).
        start, stop: the step (ms); the base is 0.9 `start` to `start`, as eFEL's.
        threshold: the spike threshold (mV), eFEL's -20 by default.
        width: the softness (mV) of the count, as in `soft_spike_count`.
        onset_slope: dv/dt (mV/ms) that starts a spike, eFEL's 10 by default.
        max_spikes: spikes after this many are left out of frequency and amplitude.

    Returns:
        {name: (...)} for the names of `SPIKE_FEATURES`: "spike_count" (soft count of
        the whole trace), "mean_frequency" (Hz: the spikes within the step over the time
        from `start` to the last of them), "AP_amplitude" (mV: the mean of peak minus
        onset voltage of the spikes within the step) and "voltage_base" (mV: mean v
        before the step); frequency and amplitude are NaN where no spike is in the step.
    """
    traces = jnp.asarray(traces)
    n = traces.shape[-1]
    first, last, base = round(start / dt), round(stop / dt), round(0.9 * start / dt)
    if not 0 <= base < first < last <= n:
        raise ValueError(
            f"step ({start}, {stop}) ms is empty, starts at 0 or ends after the traces "
            f"(0 to {n * dt:g} ms at dt = {dt} ms)"
        )
    if not width > 0:
        raise ValueError(f"width must be > 0 mV, got {width}")

    def one(v):
        rise = jax.nn.relu(jnp.diff(jax.nn.sigmoid((v - threshold) / width)))
        k, real, top, times = _peaks(v, dt, threshold, max_spikes)
        peaks = v[top]
        within = real & (times >= start) & (times <= stop)
        slow = jnp.diff(v) < onset_slope * dt
        last_slow = jax.lax.cummax(jnp.where(slow, jnp.arange(n - 1), 0))
        onsets = v[last_slow[k] + 1]
        spikes = jnp.sum(within)
        some = spikes > 0
        amplitude = jnp.sum(jnp.where(within, peaks - onsets, 0.0)) / jnp.maximum(spikes, 1)
        last_time = jnp.max(jnp.where(within, times, start))
        span = jnp.where(some, jnp.maximum(last_time - start, dt), 1.0)
        return {
            "spike_count": jnp.sum(rise),
            "mean_frequency": jnp.where(some, 1000.0 * spikes / span, jnp.nan),
            "AP_amplitude": jnp.where(some, amplitude, jnp.nan),
            "voltage_base": jnp.mean(v[base:first]),
        }

    flat = jax.vmap(one)(traces.reshape(-1, n))
    return {name: value.reshape(traces.shape[:-1]) for name, value in flat.items()}


def spike_times(traces, dt: float, *, threshold: float = -20.0, max_spikes: int = 32):
    """Spike times (ms) of traces, with gradients: the times of the peaks after upward
    crossings of `threshold` (mV), interpolated by a parabola as in `spike_features`.

    Args:
        traces: (..., n_samples), sample k at time k dt (as `sim.run` returns them).
        dt: time step (ms).
        threshold: the spike threshold (mV), eFEL's -20 by default.
        max_spikes: the number of times returned; spikes after this many are left out.

    Returns:
        (..., max_spikes) in ms, in order, NaN after the last spike (replace the NaN with
        `jnp.where` before any other function of it, so that gradients stay finite).
    """
    traces = jnp.asarray(traces)
    n = traces.shape[-1]

    def one(v):
        _, real, _, times = _peaks(v, dt, threshold, max_spikes)
        return jnp.where(real, times, jnp.nan)

    return jax.vmap(one)(traces.reshape(-1, n)).reshape(*traces.shape[:-1], max_spikes)


def spike_time_offsets(times, reference):
    """For each spike of `reference`, the time of the nearest spike of `times` minus its
    own (ms), with gradients through both: a loss on the offsets aligns spike trains whose
    counts differ, each reference spike with whichever spike is nearest it.

    Args:
        times: (..., n) spike times (ms), NaN for no spike (as `spike_times` gives them).
        reference: (..., m) spike times (ms), NaN for no spike; broadcast with `times`'
            leading axes.

    Returns:
        (..., m) in ms; NaN where the reference slot is NaN or `times` has no spike
        (replace the NaN with `jnp.where` before any other function of it, so that
        gradients stay finite).
    """
    times, reference = jnp.asarray(times), jnp.asarray(reference)
    lead = jnp.broadcast_shapes(times.shape[:-1], reference.shape[:-1])
    times = jnp.broadcast_to(times, (*lead, times.shape[-1]))
    reference = jnp.broadcast_to(reference, (*lead, reference.shape[-1]))
    offsets = times[..., None, :] - reference[..., :, None]  # (..., m, n)
    valid = jnp.isfinite(offsets)
    offsets = jnp.where(valid, offsets, 0.0)
    nearest = jnp.argmin(jnp.where(valid, jnp.abs(offsets), jnp.inf), axis=-1)
    chosen = jnp.take_along_axis(offsets, nearest[..., None], axis=-1)[..., 0]
    return jnp.where(jnp.any(valid, axis=-1), chosen, jnp.nan)


def _peaks(v, dt: float, threshold: float, max_spikes: int):
    """For one trace (n_samples,), per spike slot: the sample k of its upward crossing
    (from k to k + 1), whether the slot holds a spike, its peak's sample (the highest
    before the next crossing) and its time (ms, by the parabola through the peak and its
    neighbours)."""
    n = v.shape[-1]
    up = (v[:-1] < threshold) & (v[1:] >= threshold)
    (k,) = jnp.nonzero(up, size=max_spikes, fill_value=0)
    real = jnp.arange(max_spikes) < up.sum()
    # sample j + 1 belongs to the spike of the last crossing at or before j
    owner = jnp.concatenate([jnp.zeros(1, int), jnp.cumsum(up)]) - 1
    mine = owner[None] == jnp.arange(max_spikes)[:, None]
    top = jnp.clip(jnp.argmax(jnp.where(mine, v[None], -jnp.inf), axis=1), 1, n - 2)
    before, peaks, after = v[top - 1], v[top], v[top + 1]
    bend = before - 2 * peaks + after  # < 0 at a peak
    safe = jnp.where(real & (bend < 0), bend, -1.0)
    times = dt * (top + jnp.where(real & (bend < 0), 0.5 * (before - after) / safe, 0.0))
    return k, real, top, times


def weighted_sum(losses: dict, weights: dict):
    """sum of weights[k] * losses[k] over the keys of `weights` (each loss a scalar), so
    that terms of different units are put on one scale: `weighted_sum({"v": mse(...),
    "spikes": ...}, {"v": 1.0, "spikes": 10.0})`."""
    missing = sorted(set(weights) - set(losses))
    unweighted = sorted(set(losses) - set(weights))
    if missing or unweighted:
        raise KeyError(f"weighted_sum: no loss for {missing}, no weight for {unweighted}")
    return sum(weights[k] * losses[k] for k in weights)
