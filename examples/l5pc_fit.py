"""Fit 19 conductances of the Hay et al. (2011) L5PC: gradient descent against CMA-ES and
BluePyOpt's IBEA.

The reconstruction of examples/data (324 sections, one compartment each) carries Hay's
channels by region. The target is the somatic voltage of the same model with Hay's values
(hidden) under a 3 nA step from 10 % to 90 % of the run; the loss is the mean squared
difference (mV²) of the mean and standard deviation of v in the two halves of the step
(`dx.losses.window_stats`). Each conductance is bounded on a log scale to a factor
`--range` either side of Hay's value; all methods search the same space (GD the
unconstrained theta, CMA-ES and IBEA the unit cube that the sigmoid maps theta to) from
a start drawn per seed. Each run stops at the first simulation with loss < `--threshold`
or after `--budget` simulations (a gradient evaluation counts as one simulation; its cost
shows in the wall time). Wall times exclude compilation (but for a GD run that succeeds at
its first step).

    python examples/l5pc_fit.py [--seeds 2] [--t-max 100] [--full] [--out fit.png]

It ends with eFEL's features of the target and of seed 0's GD fit (`dx.feature_table`).
`--full` is the published size: 5 seeds, 100 ms, dt 0.025 ms. Needs dendrax[fit,plot,train].
"""

from __future__ import annotations

import argparse
import pathlib
import tempfile
import threading
import time

import jax
import jax.numpy as jnp
import matplotlib
import numpy as np
import optax

import dendrax as dx

matplotlib.use("Agg")
import matplotlib.pyplot as plt

jax.config.update("jax_enable_x64", True)

SWC = pathlib.Path(__file__).resolve().parent / "data" / "l5pc_with_axon.swc"
DT, AMPLITUDE = 0.025, 3.0  # ms, nA
CELSIUS, V_INIT, E_PAS, ENA, EK = 34.0, -80.0, -90.0, 50.0, -85.0  # °C, mV

# Hay et al. 2011 (L5PCbiophys3) by region: capacitance (µF/cm²), leak (S/cm²) and
# {mechanism: {parameter: value}} (conductances S/cm², gamma 1, decay ms).
REGIONS = {
    "soma": (
        1.0,
        3.38e-5,
        {
            "Ca_LVAst": {"gCa_LVAstbar": 0.00343},
            "Ca_HVA": {"gCa_HVAbar": 0.000992},
            "SKv3_1": {"gSKv3_1bar": 0.693},
            "SK_E2": {"gSK_E2bar": 0.0441},
            "K_Tst": {"gK_Tstbar": 0.0812},
            "K_Pst": {"gK_Pstbar": 0.00223},
            "Nap_Et2": {"gNap_Et2bar": 0.00172},
            "NaTs2_t": {"gNaTs2_tbar": 2.04},
            "CaDynamics_E2": {"gamma": 0.000501, "decay": 460.0},
            "Ih": {"gIhbar": 0.0002},
        },
    ),
    "axon": (
        1.0,
        3.25e-5,
        {
            "NaTa_t": {"gNaTa_tbar": 3.137},
            "K_Tst": {"gK_Tstbar": 0.0895},
            "K_Pst": {"gK_Pstbar": 0.973},
            "SKv3_1": {"gSKv3_1bar": 1.2},
            "Nap_Et2": {"gNap_Et2bar": 0.0068},
            "Ca_HVA": {"gCa_HVAbar": 0.00099},
            "Ca_LVAst": {"gCa_LVAstbar": 0.00873},
            "SK_E2": {"gSK_E2bar": 0.0148},
            "CaDynamics_E2": {"gamma": 0.0029, "decay": 287.2},
        },
    ),
    "basal": (2.0, 4.67e-5, {"Ih": {"gIhbar": 0.0002}}),
    "apical": (
        2.0,
        5.89e-5,
        {
            "NaTa_t": {"gNaTa_tbar": 0.0213},
            "SKv3_1": {"gSKv3_1bar": 0.000261},
            "Im": {"gImbar": 6.75e-5},
            "Ih": {"gIhbar": 0.0004},
            "Ca_LVAst": {"gCa_LVAstbar": 0.0187},
            "Ca_HVA": {"gCa_HVAbar": 0.000555},
            "SK_E2": {"gSK_E2bar": 0.0012},
            "CaDynamics_E2": {"gamma": 0.000509, "decay": 122.0},
        },
    ),
}
# The 19 trained conductances: 3 apical, 7 somatic, 9 axonal.
TRAINED = {
    "apical": ["NaTa_t.gNaTa_tbar", "SKv3_1.gSKv3_1bar", "Im.gImbar"],
    "soma": [
        "NaTs2_t.gNaTs2_tbar",
        "SKv3_1.gSKv3_1bar",
        "SK_E2.gSK_E2bar",
        "K_Tst.gK_Tstbar",
        "K_Pst.gK_Pstbar",
        "Ca_HVA.gCa_HVAbar",
        "Ca_LVAst.gCa_LVAstbar",
    ],
    "axon": [
        "NaTa_t.gNaTa_tbar",
        "K_Tst.gK_Tstbar",
        "K_Pst.gK_Pstbar",
        "SKv3_1.gSKv3_1bar",
        "Nap_Et2.gNap_Et2bar",
        "Ca_HVA.gCa_HVAbar",
        "Ca_LVAst.gCa_LVAstbar",
        "SK_E2.gSK_E2bar",
        "Leak.gLeak",
    ],
}
FEATURES = ["spike_count", "mean_frequency", "AP_amplitude", "voltage_base"]
METHODS = ["GD", "GD x4 restarts", "CMA-ES", "IBEA"]


def hay_value(region: str, name: str) -> float:
    """Hay's value of `name` ("Mechanism.parameter") in `region`."""
    _, leak, channels = REGIONS[region]
    mechanism, parameter = name.split(".")
    return leak if mechanism == "Leak" else channels[mechanism][parameter]


def hay_l5pc() -> dx.Cell:
    """The reconstruction (one compartment per section) with Hay's channels, capacitance
    and leak by region, and his reversal potentials."""
    cell = dx.Cell.from_swc(SWC, ncomp=1)
    cell.set("axial_resistivity", 100.0)
    cell.insert(dx.channels.Leak(eLeak=E_PAS))
    for region, (capacitance, leak, channels) in REGIONS.items():
        selection = cell.region(region)
        selection.set("capacitance", capacitance)
        selection.set("Leak.gLeak", leak)
        for suffix, values in channels.items():
            selection.insert(getattr(dx.channels, suffix)(**values))
    cell.set("ena", ENA)
    cell.set("ek", EK)
    return cell


def hay_bounds(region: str, name: str, factor: float):
    """The bounds of conductance `name` in `region`: a log scale within (value / factor,
    value * factor) of Hay's value, as a transform (theta's 0 is Hay's value)."""
    low, high = np.log(hay_value(region, name)) + np.log(factor) * np.array([-1, 1])
    return dx.transforms.Chain(dx.transforms.Sigmoid(low, high), dx.transforms.Log())


def logit(x) -> np.ndarray:
    """The unconstrained values of points x of the unit cube (clipped off 0 and 1)."""
    x = np.clip(x, 1e-9, 1 - 1e-9)
    return np.log(x / (1 - x))


def theta_of(keys, x) -> dict:
    """theta, one value per key, of a point x of the unit cube (x in the order of keys)."""
    return {key: jnp.array([z]) for key, z in zip(keys, logit(x), strict=True)}


def build_model(t_max: float, factor: float):
    """The L5PC with the 19 conductances trainable, each on a log scale within
    (value / factor, value * factor); returns (sim, the trainables' keys in theta order)."""
    cell = hay_l5pc()
    cell.soma.stimulate(dx.step_current(0.1 * t_max, 0.8 * t_max, AMPLITUDE, DT, t_max))
    cell.soma.record("v")
    for region, names in TRAINED.items():
        for name in names:
            cell.region(region).make_trainable(name, bounds=hay_bounds(region, name, factor))
    sim = dx.build(cell, dt=DT, v_init=V_INIT, celsius=CELSIUS)
    return sim, list(sim.trainable_params())


class Problem:
    """The loss of the hidden model's window statistics, as a function of theta (GD) or
    of x in the unit cube (theta = logit x, for CMA-ES and IBEA), counting simulations."""

    def __init__(self, t_max: float, factor: float):
        self.sim, self.keys = build_model(t_max, factor)
        self.windows = [(0.1 * t_max, 0.5 * t_max), (0.5 * t_max, 0.9 * t_max)]
        self.n_errors = 2 * len(self.windows)  # mean and std per window
        self.hidden = self.sim.trainable_params()  # Hay's values: x = 0.5 everywhere
        self.target_v = np.asarray(self.sim.run(self.sim.params_from(self.hidden)))[0]
        self.target = dx.losses.window_stats(self.target_v, self.windows, DT)
        self.stats = jax.jit(lambda theta: self.window_stats(theta))
        self.stats(self.hidden)  # compile

    def window_stats(self, theta):
        """(n_windows, 2) mean and standard deviation (mV) of the somatic v."""
        v = self.sim.run(self.sim.params_from(theta))[0]
        return dx.losses.window_stats(v, self.windows, DT)

    def loss(self, theta):
        """Mean squared difference of the window statistics to the target's (mV²)."""
        return dx.losses.mse(self.window_stats(theta), self.target)

    def theta(self, x):
        """theta of a point x of the unit cube (x in theta order)."""
        return theta_of(self.keys, x)

    def errors(self, x) -> np.ndarray:
        """|statistic - target| (mV) of the 4 window statistics at x, one simulation."""
        return np.abs(np.asarray(self.stats(self.theta(x))) - np.asarray(self.target)).ravel()

    def trace(self, theta) -> np.ndarray:
        return np.asarray(self.sim.run(self.sim.params_from(theta)))[0]


def run_gd(problem, x0, seed, args, restarts=None):
    """dx.fit with Adam (cosine-decayed rate) from x0; returns (success, sims, seconds,
    losses per simulation, best theta)."""
    steps = args.budget // (restarts or 1)
    schedule = optax.cosine_decay_schedule(args.lr, steps, alpha=0.1)
    result = dx.fit(
        problem.loss,
        problem.theta(x0),
        optax.adam(schedule),
        steps,
        sim=problem.sim,
        stop_below=args.threshold,
        restarts=restarts,
        spread=1.0,
        seed=seed,
        progress=False,
    )
    losses = result.history["loss"]
    times = result.history["time"]
    # n steps at the median step time; one step only: its time, compilation included.
    seconds = len(times) * np.median(np.diff(times)) if len(times) > 1 else times[0]
    per_sim = losses.ravel() if restarts is None else np.minimum.accumulate(losses.min(1))
    per_sim = np.repeat(per_sim, 1 if restarts is None else restarts)
    success = result.stopped == "stop_below"
    return success, per_sim.size, seconds, per_sim, result.theta


def run_cma(problem, x0, seed, args):
    """CMA-ES (pycma) in the unit cube from x0, step size 0.3."""
    import cma

    options = {"bounds": [0, 1], "seed": seed + 1, "verbose": -9, "maxfevals": args.budget}
    strategy = cma.CMAEvolutionStrategy(x0, 0.3, options)
    losses, best, start = [], (np.inf, x0), time.perf_counter()
    while not strategy.stop():
        xs = strategy.ask()
        values = []
        for x in xs:
            values.append(float(np.mean(problem.errors(x) ** 2)))
            losses.append(values[-1])
            if values[-1] < best[0]:
                best = (values[-1], x)
            if values[-1] < args.threshold or len(losses) >= args.budget:
                seconds = time.perf_counter() - start
                return values[-1] < args.threshold, len(losses), seconds, losses, best[1]
        strategy.tell(xs, values)
    return False, len(losses), time.perf_counter() - start, losses, best[1]


def run_ibea(problem, x0, seed, args):
    """BluePyOpt's IBEA (DEAP), the problem's `n_errors` errors as objectives, 10 offspring per
    generation; its first population is drawn in the unit cube by its own seed (x0 unused)."""
    import bluepyopt

    losses, best, done = [], [np.inf, None], threading.Event()

    class Evaluator(bluepyopt.evaluators.Evaluator):
        def __init__(self):
            params = [bluepyopt.parameters.Parameter(k, bounds=[0.0, 1.0]) for k in problem.keys]
            objectives = [
                bluepyopt.objectives.Objective(f"error {i}") for i in range(problem.n_errors)
            ]
            super().__init__(objectives, params)

        def evaluate_with_lists(self, param_values):
            if done.is_set():  # the rest of a generation after success: not simulated
                return [1e3] * problem.n_errors
            errors = problem.errors(np.asarray(param_values))
            losses.append(float(np.mean(errors**2)))
            if losses[-1] < best[0]:
                best[:] = [losses[-1], np.asarray(param_values)]
            if losses[-1] < args.threshold or len(losses) >= args.budget:
                done.set()
            return list(errors)

        init_simulator_and_evaluate_with_lists = evaluate_with_lists  # nothing to initialise

    optimisation = bluepyopt.deapext.optimisations.IBEADEAPOptimisation(
        Evaluator(), offspring_size=10, seed=seed + 1
    )
    start = time.perf_counter()
    optimisation.run(max_ngen=args.budget, terminator=done)
    success = losses[-1] < args.threshold
    return success, len(losses), time.perf_counter() - start, losses, best[1]


def main(argv=None) -> dict:
    """Run the comparison; returns {method: list of (success, sims, seconds)} and the
    losses of the first seed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--t-max", type=float, default=50.0, help="ms")
    parser.add_argument("--budget", type=int, default=200, help="simulations per run")
    parser.add_argument("--threshold", type=float, default=0.1, help="mV²")
    parser.add_argument("--range", type=float, default=3.0, help="bounds: Hay's value ×/÷")
    parser.add_argument("--lr", type=float, default=0.3, help="Adam's initial rate")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--full", action="store_true", help="5 seeds, 100 ms")
    parser.add_argument("--out", default=str(pathlib.Path(tempfile.gettempdir()) / "l5pc_fit.png"))
    args = parser.parse_args(argv)
    if args.full:
        args.seeds, args.t_max = 5, 100.0
    methods = args.methods.split(",")
    unknown = sorted(set(methods) - set(METHODS))
    if unknown:
        parser.error(f"unknown methods {unknown}; choose from {METHODS}")

    start = time.perf_counter()
    problem = Problem(args.t_max, args.range)
    print(
        f"L5PC, {problem.sim.params['radius'].size} compartments, "
        f"{len(problem.keys)} conductances, "
        f"{args.t_max:g} ms; built in {time.perf_counter() - start:.1f} s"
    )
    runners = {
        "GD": run_gd,
        "GD x4 restarts": lambda *a: run_gd(*a, restarts=4),
        "CMA-ES": run_cma,
        "IBEA": run_ibea,
    }
    results = {method: [] for method in methods}
    first = {}
    for seed in range(args.seeds):
        x0 = np.random.default_rng(seed).uniform(0.05, 0.95, len(problem.keys))
        for method in methods:
            success, sims, seconds, losses, best = runners[method](problem, x0, seed, args)
            results[method].append((success, sims, seconds))
            print(
                f"seed {seed} {method:>14}: {'success' if success else 'failure'} after "
                f"{sims} simulations, {seconds:.1f} s, best loss {np.min(losses):.3g} mV²"
            )
            if seed == 0:
                first[method] = (losses, best)
    print(table(results, args.threshold))
    if "GD" in first:
        window = (0.1 * args.t_max, 0.9 * args.t_max)
        target = dx.efel_features(DT, problem.target_v, *window, FEATURES)
        fitted = dx.efel_features(DT, problem.trace(first["GD"][1]), *window, FEATURES)
        print(f"seed 0, GD's fit, eFEL features:\n{dx.feature_table(target, fitted)}")
    figure(problem, first, args.out)
    print(f"figure: {args.out}")
    return {"results": results, "losses": {m: first[m][0] for m in first}}


def table(results: dict, threshold: float) -> str:
    """successes, simulations and wall time per success, median simulations of successes."""
    rows = [
        f"loss < {threshold:g} mV²; per success = all runs' total / successes",
        f"{'method':<15} {'successes':>9} {'sims/success':>12} {'median sims':>11} "
        f"{'s/success':>9}",
    ]
    for method, runs in results.items():
        success, sims, seconds = (np.array(column) for column in zip(*runs, strict=True))
        n = int(success.sum())
        per = (sims.sum() / n, seconds.sum() / n) if n else (np.inf, np.inf)
        median = np.median(sims[success]) if n else np.inf
        rows.append(
            f"{method:<15} {f'{n}/{len(runs)}':>9} {per[0]:>12.0f} {median:>11.0f} {per[1]:>9.1f}"
        )
    return "\n".join(rows)


def figure(problem, first: dict, path: str) -> None:
    """Loss per simulation of each method (first seed) and the target against each
    method's best trace."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    t = DT * np.arange(problem.target_v.size)
    right.plot(t, problem.target_v, "k", lw=2, label="target (hidden Hay values)")
    for method, (losses, best) in first.items():
        left.plot(np.arange(1, len(losses) + 1), np.minimum.accumulate(losses), label=method)
        theta = best if isinstance(best, dict) else problem.theta(best)
        right.plot(t, problem.trace(theta), lw=1, label=method)
    left.set(xlabel="simulations", ylabel="best loss (mV²)", yscale="log", title="seed 0")
    right.set(xlabel="time (ms)", ylabel="somatic v (mV)")
    left.legend()
    right.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
