"""Fit 22 conductances of the Hay et al. (2011) L5PC to eFEL spike features of several
current steps (an Allen-style protocol): gradient descent against CMA-ES and BluePyOpt's
IBEA, on the features' error.

The cell and its 19 conductances are those of `l5pc_fit.py`, with Ih in the soma, the basal
and the apical dendrites added (22, each on a log scale within a factor `--range` of Hay's
value). The target is the same model with Hay's values under somatic steps of
`--amplitudes` nA from 10 % to 90 % of each run. The error of a candidate is, per step and
eFEL feature (spike count, mean frequency, AP amplitude, voltage base), the difference to
the target's in units of a tolerance (5 % of the target's value, at least 1 spike, 2 Hz,
2 mV, 1 mV), `MISSING` where eFEL finds no value (no spike); success is a mean squared
error below `--threshold`. CMA-ES and IBEA minimise that error itself (IBEA with one
objective per step and feature); gradient descent a differentiable stand-in for it: the
same errors of `dx.losses.spike_features` (soft spike count, mean frequency from the
interpolated spike times, AP amplitude from peaks and onsets, voltage base) against the
target's, capped softly at `MISSING`, plus `--presence` times a presence term for spikes
missing or extra: for each of the target's spikes, how far the smooth maximum of v
(`dx.losses.window_max`) within `--half-width` ms of it falls below the target's there
(or 0 mV), and after the target's last spike, how far it rises above the target's (or
-30 mV); plus `--timing` times a timing term: for each of the target's spikes, the offset
of the model's nearest spike (`dx.losses.spike_time_offsets`, in ms, softly capped at
`MISSING`), squared and averaged; plus `--quiet` times how far v, clipped at -40 mV,
rises above the target's in the quiet window after its last spike (the squared excess in
10 mV integrated over ms, per step), whose gradient comes from the ramp into an extra
spike rather than its peak; plus `--late` times, for each spike beyond the target's count
at a step, the squared time (in 10 ms) from it to the step's end, whose gradient delays
an extra spike until it leaves the step. Adam from `--lr` with cosine decay. GD runs from
a single start and as a batch of `--restarts` starts. It is judged
by the eFEL error of the traces of every gradient it takes. A protocol run (all steps)
counts as one simulation, a gradient as one. The example first prints the rank
correlation of the stand-in and the error at `--check` random points.

    python examples/steps_fit.py [--seeds 1] [--budget 60] [--restarts 4] [--full]
    python examples/steps_fit.py --full --methods GD      # GD alone, seeds 0-4
    python examples/steps_fit.py --seeds 5 --first-seed 4 --methods CMA-ES IBEA

`--full`: 5 seeds, 200 runs each. Needs dendrax[fit,plot,train].
"""

from __future__ import annotations

import argparse
import functools
import pathlib
import tempfile
import time
from types import SimpleNamespace

import jax
import jax.numpy as jnp
import matplotlib
import numpy as np
import optax
from l5pc_fit import (
    CELSIUS,
    DT,
    TRAINED,
    V_INIT,
    hay_bounds,
    hay_l5pc,
    run_cma,
    run_ibea,
    theta_of,
)

import dendrax as dx

matplotlib.use("Agg")
import matplotlib.pyplot as plt

FITTED = {**TRAINED, "basal": ["Ih.gIhbar"]}
FITTED["apical"] = [*TRAINED["apical"], "Ih.gIhbar"]
FITTED["soma"] = [*TRAINED["soma"], "Ih.gIhbar"]
FEATURES = {"spike_count": 1.0, "mean_frequency": 2.0, "AP_amplitude": 2.0, "voltage_base": 1.0}
"""eFEL features and the least tolerance of each (spikes, Hz, mV, mV)."""
MISSING = 10.0
"""The error (in tolerances) of a feature eFEL finds no value for."""
PEAK, QUIET, SHORTFALL = 0.0, -30.0, 10.0
"""mV: the least smooth maximum of v around a target spike, the most after its last, and
the unit of their shortfalls."""
MAX_SPIKES, TIME_UNIT, CAP, LATE = 16, 1.0, -40.0, 10.0
"""The model's spikes timed per step, the unit (ms) of spike time offsets, and the voltage
(mV) that v is clipped to in the quiet window's term."""


class Protocol:
    """The model under the steps, the target's features and the errors of candidates."""

    def __init__(self, t_max: float, amplitudes, factor: float, width: float, half_width: float):
        cell = hay_l5pc()
        cell.soma.stimulate(dx.step_current(0.1 * t_max, 0.8 * t_max, 1.0, DT, t_max))
        cell.soma.record("v")
        for region, names in FITTED.items():
            for name in names:
                cell.region(region).make_trainable(name, bounds=hay_bounds(region, name, factor))
        self.sim = dx.build(cell, dt=DT, v_init=V_INIT, celsius=CELSIUS)
        self.keys = list(self.sim.trainable_params())
        self.window = (0.1 * t_max, 0.9 * t_max)
        self.stimuli = jnp.asarray(amplitudes)[:, None, None] * self.sim.stimuli[None]
        self.traces = jax.jit(lambda theta: self.runs(theta))
        self.target_v = np.asarray(self.traces(self.sim.trainable_params()))
        self.target = [self.features(v) for v in self.target_v]
        self.width = width
        soft = dx.losses.spike_features(self.target_v, DT, *self.window, width=width)
        self.soft_target = jnp.stack([soft[name] for name in FEATURES], -1)
        self.tolerances = np.array(
            [[max(0.05 * abs(t[n]), least) for n, least in FEATURES.items()] for t in self.target]
        )
        """Per step and feature, the tolerance: 5 % of the target's value, at least FEATURES'."""
        self.n_errors = len(amplitudes) * len(FEATURES)
        self.spike_windows = []
        """Per step, (starts, stops) in ms of a window around each of the target's spikes
        and of the quiet window after its last, and the bound (mV) of the smooth maximum of
        v in each: at least the target's or PEAK (the lower), at most the target's or QUIET
        (the higher) in the quiet window."""
        for v in self.target_v:
            starts, stops = spike_windows(v, half_width, self.window[1])
            top = np.asarray(dx.losses.window_max(v, DT, starts, stops))
            bound = np.where(stops < self.window[1], np.minimum(top, PEAK), np.maximum(top, QUIET))
            self.spike_windows.append((starts, stops, bound))
        self.target_times = np.asarray(dx.losses.spike_times(self.target_v, DT, max_spikes=8))
        time = DT * np.arange(self.target_v.shape[-1])
        quiet = [time >= starts[-1] for starts, _, _ in self.spike_windows]
        self.quiet_mask = np.array(quiet) & (time < self.window[1])
        self.quiet_target = np.minimum(self.target_v, CAP)

    def runs(self, theta):
        """The somatic v (mV) under every step, (n_steps, n_samples)."""
        params = self.sim.params_from(theta)
        return jax.vmap(lambda s: self.sim.run(params, stimuli=s)[0])(self.stimuli)

    def features(self, v) -> dict:
        return dx.efel_features(DT, np.asarray(v), *self.window, list(FEATURES))

    def feature_errors(self, traces) -> np.ndarray:
        """Per step and feature, |feature - target's| in tolerances (MISSING where absent)."""
        errors = []
        steps = zip(np.asarray(traces), self.target, self.tolerances, strict=True)
        for v, target, tolerances in steps:
            if not np.all(np.isfinite(v)):
                errors += [MISSING] * len(FEATURES)
                continue
            found = self.features(v)
            for name, tolerance in zip(FEATURES, tolerances, strict=True):
                error = abs(found[name] - target[name]) / tolerance
                errors.append(MISSING if not np.isfinite(error) else min(error, MISSING))
        return np.array(errors)

    def theta(self, x):
        return theta_of(self.keys, x)

    def errors(self, x) -> np.ndarray:
        """The feature errors at x of the unit cube (for CMA-ES and IBEA), one protocol run."""
        return self.feature_errors(self.traces(self.theta(x)))

    def stand_in(self, traces):
        """A differentiable stand-in for the feature error of traces (n_steps, n_samples):
        the same errors in tolerances, of `dx.losses.spike_features` against the target's,
        MISSING where a feature is absent, softly capped at MISSING."""
        found = dx.losses.spike_features(traces, DT, *self.window, width=self.width)
        found = jnp.stack([found[name] for name in FEATURES], -1)
        absent = jnp.isnan(found)
        error = jnp.where(absent, 0.0, found - self.soft_target) / self.tolerances
        capped = jnp.where(absent, MISSING, MISSING * jnp.tanh(jnp.abs(error) / MISSING))
        return jnp.mean(capped**2)

    def presence(self, traces):
        """How far traces (n_steps, n_samples) are from the target's spikes: the mean
        square, over the target's spikes and the quiet window after its last at each step,
        of how far the smooth maximum of v in the window is below its bound (spike
        windows) or above it (quiet windows), in units of SHORTFALL. Zero where the target's spikes
        have one each within `half_width` and nothing spikes after, with gradients from
        v's highest samples in a window where a spike is missing or extra."""
        short = []
        for v, (starts, stops, bound) in zip(traces, self.spike_windows, strict=True):
            top = dx.losses.window_max(v, DT, starts, stops)
            short.append(jax.nn.relu(jnp.where(stops < self.window[1], bound - top, top - bound)))
        return jnp.mean((jnp.concatenate(short) / SHORTFALL) ** 2)

    def timing(self, traces):
        """The mean square over the target's spikes of the offset of the model's nearest
        spike (`dx.losses.spike_time_offsets`) in TIME_UNIT, softly capped at MISSING,
        MISSING at a step where the model does not spike."""
        times = dx.losses.spike_times(traces, DT, max_spikes=MAX_SPIKES)
        offsets = dx.losses.spike_time_offsets(times, self.target_times)
        real = np.isfinite(self.target_times)
        error = jnp.where(jnp.isnan(offsets), 0.0, offsets) / TIME_UNIT
        capped = MISSING * jnp.tanh(jnp.abs(error) / MISSING)
        capped = jnp.where(real & jnp.isnan(offsets), MISSING, capped)
        return jnp.sum(jnp.where(real, capped**2, 0.0)) / real.sum()

    def quiet(self, traces):
        """How far v, clipped at CAP, rises above the target's (also clipped) in the quiet
        window after the target's last spike at each step: the integral over time (ms) of
        its square in units of SHORTFALL, averaged over the steps. Spikes' tops are
        clipped off, so that the gradient comes from the ramp of v leading into an extra
        spike and delays it rather than moving its peak."""
        excess = jax.nn.relu(jnp.minimum(traces, CAP) - self.quiet_target) * self.quiet_mask
        return DT * jnp.sum((excess / SHORTFALL) ** 2) / len(traces)

    def late(self, traces):
        """How early the model's extra spikes are (those after as many as the target fires
        at a step): the sum over them of the time from each to the end of the step in
        units of LATE, squared, averaged over the steps. Its gradient delays an extra
        spike until it leaves the step; the spikes the target has are left to `timing`."""
        times = dx.losses.spike_times(traces, DT, max_spikes=MAX_SPIKES)
        counts = np.isfinite(self.target_times).sum(-1, keepdims=True)
        extra = jnp.isfinite(times) & (np.arange(MAX_SPIKES) >= counts)
        early = jnp.where(extra, self.window[1] - jnp.where(extra, times, 0.0), 0.0) / LATE
        return jnp.sum(jax.nn.relu(early) ** 2) / len(traces)

    def surrogate(self, theta, presence=0.0, timing=0.0, quiet=0.0, late=0.0):
        """The stand-in plus `presence`, `timing`, `quiet` and `late` times those terms at
        theta, with the traces."""
        traces = self.runs(theta)
        loss = self.stand_in(traces) + presence * self.presence(traces)
        loss = loss + timing * self.timing(traces) + quiet * self.quiet(traces)
        return loss + late * self.late(traces), traces


def spike_windows(v, half_width: float, stop: float):
    """(starts, stops) in ms of a window of +-half_width around each spike's peak of a
    trace and of the quiet window from one interspike interval after its last spike
    (half_width at least) to `stop`. A spike window ends before `stop`, the quiet one at it."""
    times = np.asarray(dx.losses.spike_times(v, DT))
    times = times[np.isfinite(times)]
    quiet = times[-1] + max([half_width, *np.diff(times[-2:])]) if times.size else 0.0
    starts = np.array([*(times - half_width), quiet])
    return starts, np.array([*np.minimum(times + half_width, stop - DT), stop])


def run_gd(problem: Protocol, x0, seed, args, restarts=1):
    """Adam on the stand-in plus the weighted presence, timing, quiet and late terms
    (cosine-decayed rate) from x0 and, with restarts, from `restarts - 1` more starts
    (x0's theta plus normal noise of deviation 1), all run as one batch; every gradient
    counts as one protocol run and its traces are judged by the feature error. Returns
    (success, runs, seconds, errors per run, best theta)."""
    steps = args.budget // restarts
    optimizer = optax.adam(optax.cosine_decay_schedule(args.lr, steps, alpha=0.1))
    noise = np.random.default_rng(seed).normal(size=(restarts, len(x0)))
    noise[0] = 0.0
    theta = {
        k: jnp.asarray(v[None] + noise[:, i, None])
        for i, (k, v) in enumerate(problem.theta(x0).items())
    }
    state = jax.vmap(optimizer.init)(theta)
    loss = functools.partial(
        problem.surrogate,
        presence=args.presence,
        timing=args.timing,
        quiet=args.quiet,
        late=args.late,
    )
    grad = jax.jit(jax.vmap(jax.value_and_grad(loss, has_aux=True)))
    update = jax.jit(jax.vmap(optimizer.update))
    grad(theta)  # compile, not timed
    losses, best, start = [], (np.inf, theta), time.perf_counter()
    for _ in range(steps):
        (_, traces), grads = grad(theta)
        errors = [float(np.mean(problem.feature_errors(v) ** 2)) for v in traces]
        losses += errors
        k = int(np.argmin(errors))
        if errors[k] < best[0]:
            best = (errors[k], jax.tree.map(lambda leaf, k=k: leaf[k], theta))
        if min(errors) < args.threshold:
            break
        grads = jax.tree.map(jnp.nan_to_num, grads)  # a restart whose run went invalid
        updates, state = update(grads, state, theta)
        theta = optax.apply_updates(theta, updates)
    success = best[0] < args.threshold
    return success, len(losses), time.perf_counter() - start, losses, best[1]


def rank_check(problem: Protocol, n: int) -> float:
    """Spearman's rank correlation of the stand-in and the feature error at n points drawn
    uniformly in (0.05, 0.95) of the unit cube."""
    from scipy.stats import spearmanr

    stand_in = jax.jit(problem.stand_in)
    pairs = []
    for x in np.random.default_rng(12345).uniform(0.05, 0.95, (n, len(problem.keys))):
        traces = problem.traces(problem.theta(x))
        pairs.append((float(stand_in(traces)), np.mean(problem.feature_errors(traces) ** 2)))
    return float(spearmanr(*zip(*pairs, strict=True)).statistic)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=1, help="seeds first-seed to seeds - 1")
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--methods", nargs="+", default=["GD", "CMA-ES", "IBEA"], help="of these")
    parser.add_argument("--t-max", type=float, default=100.0, help="ms")
    parser.add_argument("--amplitudes", type=float, nargs="+", default=[1.0, 2.0, 3.0])
    parser.add_argument("--budget", type=int, default=60, help="protocol runs per method")
    parser.add_argument("--threshold", type=float, default=0.1, help="mean squared error")
    parser.add_argument("--range", type=float, default=3.0)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--restarts", type=int, default=4, help="GD's batch of starts")
    parser.add_argument("--width", type=float, default=2.0, help="soft count's width, mV")
    parser.add_argument("--presence", type=float, default=0.1, help="presence term's weight")
    parser.add_argument("--half-width", type=float, default=2.0, help="spike windows', ms")
    parser.add_argument("--timing", type=float, default=0.3, help="timing term's weight")
    parser.add_argument("--quiet", type=float, default=1.0, help="quiet term's weight")
    parser.add_argument("--late", type=float, default=1.0, help="late term's weight")
    parser.add_argument("--check", type=int, default=20, help="points of the rank check")
    parser.add_argument("--full", action="store_true", help="5 seeds, 200 runs each")
    parser.add_argument("--out", default=str(pathlib.Path(tempfile.gettempdir()) / "steps.png"))
    args = parser.parse_args(argv)
    if args.full:
        args.seeds, args.budget = 5, 200
    problem = Protocol(args.t_max, args.amplitudes, args.range, args.width, args.half_width)
    counts = [round(target["spike_count"]) for target in problem.target]
    print(f"{len(problem.keys)} conductances; target spikes per step {counts}")
    rho = rank_check(problem, args.check)
    print(f"stand-in against feature error at {args.check} random points: Spearman {rho:.2f}")
    options = SimpleNamespace(
        budget=args.budget,
        threshold=args.threshold,
        lr=args.lr,
        presence=args.presence,
        timing=args.timing,
        quiet=args.quiet,
        late=args.late,
    )
    methods = {
        "GD": run_gd,
        f"GD x{args.restarts}": lambda *a: run_gd(*a, restarts=args.restarts),
        "CMA-ES": run_cma,
        "IBEA": run_ibea,
    }
    methods = {name: run for name, run in methods.items() if name.split()[0] in args.methods}
    results = {method: [] for method in methods}
    curves = {}
    for seed in range(args.first_seed, args.seeds):
        x0 = np.random.default_rng(seed).uniform(0.05, 0.95, len(problem.keys))
        for method, runner in methods.items():
            success, runs, seconds, losses, _ = runner(problem, x0, seed, options)
            results[method].append((success, runs, seconds, float(np.min(losses))))
            print(
                f"seed {seed} {method:>6}: {'success' if success else 'failure'} after {runs} "
                f"runs, {seconds:.1f} s, best error {np.min(losses):.3g}"
            )
            if seed == args.first_seed:
                curves[method] = np.minimum.accumulate(losses)
    print("| method | successes | runs per success | seconds per success | median best error |")
    print("| --- | --- | --- | --- | --- |")
    for method, runs in results.items():
        wins = sum(r[0] for r in runs)
        total_runs, total_s = sum(r[1] for r in runs), sum(r[2] for r in runs)
        per = f"{total_runs / wins:.0f} | {total_s / wins:.1f}" if wins else "- | -"
        median = np.median([r[3] for r in runs])
        print(f"| {method} | {wins}/{len(runs)} | {per} | {median:.3g} |")
    fig, ax = plt.subplots(figsize=(6, 4))
    for method, curve in curves.items():
        ax.semilogy(np.arange(1, curve.size + 1), curve, label=method)
    ax.axhline(args.threshold, color="gray", lw=0.8, ls="--")
    ax.set(xlabel="protocol runs", ylabel="feature error (mean square)")
    ax.set_title(f"seed {args.first_seed}")
    ax.legend()
    fig.tight_layout()
    fig.savefig(args.out, dpi=120)
    print(f"figure: {args.out}")
    return {"results": results, "curves": curves, "rank": rho}


if __name__ == "__main__":
    main()
