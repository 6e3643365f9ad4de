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
objective per step and feature); gradient descent a smooth stand-in for it: per step the
squared difference of soft spike counts plus the mean and standard deviation of v in four
windows of the step, and it is judged by the eFEL error of the traces of every gradient it
takes. A protocol run (all steps) counts as one simulation.

    python examples/steps_fit.py [--seeds 1] [--budget 60] [--full] [--out steps.png]

`--full`: 5 seeds, 200 runs each. Needs dendrax[fit,plot,train].
"""

from __future__ import annotations

import argparse
import itertools
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


class Protocol:
    """The model under the steps, the target's features and the errors of candidates."""

    def __init__(self, t_max: float, amplitudes, factor: float):
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
        edges = np.linspace(*self.window, 5)
        self.windows = list(itertools.pairwise(edges))
        self.target_stats = dx.losses.window_stats(self.target_v, self.windows, DT)
        self.target_counts = dx.losses.soft_spike_count(self.target_v)
        self.n_errors = len(amplitudes) * len(FEATURES)

    def runs(self, theta):
        """The somatic v (mV) under every step, (n_steps, n_samples)."""
        params = self.sim.params_from(theta)
        return jax.vmap(lambda s: self.sim.run(params, stimuli=s)[0])(self.stimuli)

    def features(self, v) -> dict:
        return dx.efel_features(DT, np.asarray(v), *self.window, list(FEATURES))

    def feature_errors(self, traces) -> np.ndarray:
        """Per step and feature, |feature - target's| in tolerances (MISSING where absent)."""
        errors = []
        for v, target in zip(np.asarray(traces), self.target, strict=True):
            if not np.all(np.isfinite(v)):
                errors += [MISSING] * len(FEATURES)
                continue
            found = self.features(v)
            for name, least in FEATURES.items():
                tolerance = max(0.05 * abs(target[name]), least)
                error = abs(found[name] - target[name]) / tolerance
                errors.append(MISSING if not np.isfinite(error) else min(error, MISSING))
        return np.array(errors)

    def theta(self, x):
        return theta_of(self.keys, x)

    def errors(self, x) -> np.ndarray:
        """The feature errors at x of the unit cube (for CMA-ES and IBEA), one protocol run."""
        return self.feature_errors(self.traces(self.theta(x)))

    def surrogate(self, theta):
        """A smooth stand-in for the feature error: soft spike counts and window statistics
        of every step, with the traces."""
        traces = self.runs(theta)
        counts = dx.losses.soft_spike_count(traces)
        stats = dx.losses.window_stats(traces, self.windows, DT)
        loss = jnp.mean((counts - self.target_counts) ** 2) + 0.1 * dx.losses.mse(
            stats, self.target_stats
        )
        return loss, traces


def run_gd(problem: Protocol, x0, seed, args):
    """Adam on the surrogate from x0 (cosine-decayed rate); each gradient's traces judged by
    the feature error. Returns (success, runs, seconds, errors per run, best theta)."""
    optimizer = optax.adam(optax.cosine_decay_schedule(args.lr, args.budget, alpha=0.1))
    theta = problem.theta(x0)
    state = optimizer.init(theta)
    step = jax.jit(jax.value_and_grad(problem.surrogate, has_aux=True))
    step(theta)  # compile, not timed
    losses, best, start = [], (np.inf, theta), time.perf_counter()
    for _ in range(args.budget):
        (_, traces), grads = step(theta)
        losses.append(float(np.mean(problem.feature_errors(traces) ** 2)))
        if losses[-1] < best[0]:
            best = (losses[-1], theta)
        if losses[-1] < args.threshold:
            break
        updates, state = optimizer.update(grads, state, theta)
        theta = optax.apply_updates(theta, updates)
    success = losses[-1] < args.threshold
    return success, len(losses), time.perf_counter() - start, losses, best[1]


METHODS = {"GD": run_gd, "CMA-ES": run_cma, "IBEA": run_ibea}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--t-max", type=float, default=100.0, help="ms")
    parser.add_argument("--amplitudes", type=float, nargs="+", default=[1.0, 2.0, 3.0])
    parser.add_argument("--budget", type=int, default=60, help="protocol runs per method")
    parser.add_argument("--threshold", type=float, default=0.1, help="mean squared error")
    parser.add_argument("--range", type=float, default=3.0)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--full", action="store_true", help="5 seeds, 200 runs each")
    parser.add_argument("--out", default=str(pathlib.Path(tempfile.gettempdir()) / "steps.png"))
    args = parser.parse_args(argv)
    if args.full:
        args.seeds, args.budget = 5, 200
    problem = Protocol(args.t_max, args.amplitudes, args.range)
    counts = [round(target["spike_count"]) for target in problem.target]
    print(f"{len(problem.keys)} conductances; target spikes per step {counts}")
    options = SimpleNamespace(budget=args.budget, threshold=args.threshold, lr=args.lr)
    results = {method: [] for method in METHODS}
    curves = {}
    for seed in range(args.seeds):
        x0 = np.random.default_rng(seed).uniform(0.05, 0.95, len(problem.keys))
        for method, runner in METHODS.items():
            success, runs, seconds, losses, _ = runner(problem, x0, seed, options)
            results[method].append((success, runs, seconds, float(np.min(losses))))
            print(
                f"seed {seed} {method:>6}: {'success' if success else 'failure'} after {runs} "
                f"runs, {seconds:.1f} s, best error {np.min(losses):.3g}"
            )
            if seed == 0:
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
    ax.set(xlabel="protocol runs", ylabel="feature error (mean square)", title="seed 0")
    ax.legend()
    fig.tight_layout()
    fig.savefig(args.out, dpi=120)
    print(f"figure: {args.out}")
    return {"results": results, "curves": curves}


if __name__ == "__main__":
    main()
