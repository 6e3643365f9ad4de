"""Electrophysiological features of traces by eFEL (`pip install dendrax[fit]`), to
evaluate fits: spike counts, frequencies, AP shapes of a target and a fitted model.

These are not differentiable (eFEL runs in C++ on NumPy arrays); train on `dx.losses`
(`dx.losses.spike_features` measures spike count, mean frequency, AP amplitude and voltage
base as eFEL does, with gradients).
"""

from __future__ import annotations

import numpy as np


def efel_features(t, v, stim_start: float, stim_end: float, names) -> dict:
    """eFEL's features of one voltage trace.

    Args:
        t: sample times (ms), or the time step dt (ms) for samples at k dt.
        v: membrane potential (mV), one trace (a row of `sim.run`'s result).
        stim_start, stim_end: the stimulus window (ms) eFEL measures in.
        names: eFEL feature names ("spike_count", "mean_frequency", "AP_amplitude", ...).

    Returns:
        {name: float}: the feature's mean over its values (eFEL gives one per spike for
        some), NaN where eFEL finds none (no spike for "AP_amplitude", ...).

    Raises:
        ImportError: eFEL is not installed.
        ValueError: an unknown feature name, a trace that is not one finite row of the
            length of t, or a stimulus window outside the trace.
    """
    try:
        import efel
    except ImportError as error:
        raise ImportError("efel_features needs eFEL: pip install dendrax[fit]") from error
    names = [names] if isinstance(names, str) else list(names)
    unknown = sorted(set(names) - set(efel.get_feature_names()))
    if unknown:
        raise ValueError(f"unknown eFEL feature(s) {unknown}; see efel.get_feature_names()")
    v = np.asarray(v, dtype=float)
    if v.ndim != 1:
        raise ValueError(f"v must be one trace (n_samples,), got shape {v.shape}")
    t = np.asarray(t, dtype=float)
    if t.ndim == 0:
        t = t * np.arange(v.size)
    if t.shape != v.shape:
        raise ValueError(f"t has shape {t.shape} but v has {v.shape}")
    if not np.all(np.isfinite(v)):
        raise ValueError("v has NaN or infinite values")
    if not t[0] <= stim_start < stim_end <= t[-1]:
        raise ValueError(
            f"stimulus window ({stim_start}, {stim_end}) ms is empty or outside the trace "
            f"({t[0]:g} to {t[-1]:g} ms)"
        )
    trace = {"T": t, "V": v, "stim_start": [float(stim_start)], "stim_end": [float(stim_end)]}
    (values,) = efel.get_feature_values([trace], names, raise_warnings=False)
    return {
        name: float(np.mean(values[name]))
        if values[name] is not None and len(values[name])
        else float("nan")
        for name in names
    }


def feature_table(target: dict, fitted: dict) -> str:
    """A printable comparison of two feature dicts (`efel_features` of a target and a
    fitted trace): one row per feature of `target` with both values and their difference."""
    missing = sorted(set(target) - set(fitted))
    if missing:
        raise KeyError(f"feature_table: fitted has no {missing}")
    width = max([7, *map(len, target)])
    rows = [f"{'feature':<{width}}  {'target':>10}  {'fitted':>10}  {'difference':>10}"]
    for name, value in target.items():
        rows.append(
            f"{name:<{width}}  {value:>10.4g}  {fitted[name]:>10.4g}  {fitted[name] - value:>10.4g}"
        )
    return "\n".join(rows)
