"""Losses and features of recorded traces: differentiable, and batched by `jax.vmap`
(each works on the last axis, time, and reduces over everything else it is given)."""

from __future__ import annotations

import jax
import jax.numpy as jnp


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


def weighted_sum(losses: dict, weights: dict):
    """sum of weights[k] * losses[k] over the keys of `weights` (each loss a scalar), so
    that terms of different units are put on one scale: `weighted_sum({"v": mse(...),
    "spikes": ...}, {"v": 1.0, "spikes": 10.0})`."""
    missing = sorted(set(weights) - set(losses))
    unweighted = sorted(set(losses) - set(weights))
    if missing or unweighted:
        raise KeyError(f"weighted_sum: no loss for {missing}, no weight for {unweighted}")
    return sum(weights[k] * losses[k] for k in weights)
