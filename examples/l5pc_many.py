"""Fit about 1,400 conductances of the Hay et al. (2011) L5PC by gradient descent, against
BluePyOpt's IBEA with the same number of simulations and more.

The cell and channels are those of `l5pc_fit.py`; here every apical branch has its own
NaTa_t, SKv3_1 and Im conductance (129 x 3), every axonal branch its own eight (128 x 8:
NaTa_t, K_Tst, K_Pst, SKv3_1, Nap_Et2, Ca_HVA, Ca_LVAst, SK_E2) and the soma its seven:
1,418 parameters, each on a log scale within a factor `--range` of Hay's value. The target
is the same model whose conductances vary smoothly with the path distance from the soma
(up or down by up to about half the range, a different direction per channel); the loss is
the mean squared difference (mV²) of the voltage of every branch over `--t-max` ms after a
3 nA somatic step starting at 0.5 ms. Gradient descent starts from Hay's values (the middle
of every range), IBEA from its own random population in the unit cube, as BluePyOpt draws
it; a gradient counts as one simulation.

    python examples/l5pc_many.py [--steps 150] [--ibea 1000] [--full] [--out many.png]

`--full` is the published comparison's size: IBEA given 5,000 simulations. Needs
dendrax[fit,plot,train].
"""

from __future__ import annotations

import argparse
import pathlib
import tempfile
import time

import jax
import jax.numpy as jnp
import matplotlib
import numpy as np
import optax
from l5pc_fit import CELSIUS, DT, TRAINED, V_INIT, hay_bounds, hay_l5pc, logit

import dendrax as dx

matplotlib.use("Agg")
import matplotlib.pyplot as plt

# The conductances of l5pc_fit.py, per branch in the apical tree and the axon (the axon's
# leak stays Hay's), one value in the soma.
PER_BRANCH = {
    "apical": TRAINED["apical"],
    "axon": [name for name in TRAINED["axon"] if name != "Leak.gLeak"],
}
SOMATIC = TRAINED["soma"]
AMPLITUDE, ONSET = 3.0, 0.5  # nA, ms


def build(t_max: float, factor: float):
    """The L5PC with every per-branch and somatic conductance trainable (log scale within a
    factor of Hay's value), v recorded in every branch; returns (sim, path distance of each
    group of each trainable, µm)."""
    cell = hay_l5pc()
    cell.soma.stimulate(dx.step_current(ONSET, t_max, AMPLITUDE, DT, t_max))
    distance = cell.path_distance()
    distances = {}
    for region, names in [*PER_BRANCH.items(), ("soma", SOMATIC)]:
        selection = cell.region(region)
        labels = np.arange(len(selection))  # one compartment per branch: one value each
        for name in names:
            bounds = hay_bounds(region, name, factor)
            key = selection.make_trainable(name, share=labels, bounds=bounds)
            distances[key] = distance[selection.compartments]
    for branch in range(cell.n_branches):
        cell.branch(branch).record("v")
    sim = dx.build(cell, dt=DT, v_init=V_INIT, celsius=CELSIUS)
    return sim, distances


def target_theta(theta: dict, distances: dict) -> dict:
    """Hidden values: within the unit interval of each range, 0.5 (Hay's value) moved by up
    to +-0.2 in proportion to the path distance, up for one channel, down for the next."""
    hidden = {}
    d_max = max(float(d.max()) for d in distances.values()) or 1.0
    for k, (key, value) in enumerate(sorted(theta.items())):
        x = 0.5 + (0.2 if k % 2 else -0.2) * (0.25 + 0.75 * distances[key] / d_max)
        hidden[key] = jnp.asarray(logit(x), value.dtype).reshape(value.shape)
    return hidden


def run_ibea(loss_of_x, n_params: int, budget: int, seed: int):
    """BluePyOpt's IBEA in the unit cube, the loss as its one objective, 50 offspring per
    generation, until `budget` simulations; returns the best loss after each simulation and
    the seconds."""
    import bluepyopt

    losses = []

    class Evaluator(bluepyopt.evaluators.Evaluator):
        def __init__(self):
            unit = [0.0, 1.0]
            params = [bluepyopt.parameters.Parameter(f"x{i}", bounds=unit) for i in range(n_params)]
            super().__init__([bluepyopt.objectives.Objective("mse")], params)

        def evaluate_with_lists(self, param_values):
            losses.append(loss_of_x(np.asarray(param_values)) if len(losses) < budget else 1e9)
            return [losses[-1]]

        init_simulator_and_evaluate_with_lists = evaluate_with_lists

    offspring = 50
    optimisation = bluepyopt.deapext.optimisations.IBEADEAPOptimisation(
        Evaluator(), offspring_size=offspring, seed=seed + 1
    )
    start = time.perf_counter()
    optimisation.run(max_ngen=budget // offspring)
    return np.minimum.accumulate(np.array(losses[:budget])), time.perf_counter() - start


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=150, help="gradient steps")
    parser.add_argument("--ibea", type=int, default=1000, help="IBEA's simulations")
    parser.add_argument("--t-max", type=float, default=5.0)
    parser.add_argument("--range", type=float, default=3.0)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--threshold", type=float, default=0.5)
    parser.add_argument("--full", action="store_true", help="IBEA with 5,000 simulations")
    parser.add_argument("--out", default=str(pathlib.Path(tempfile.gettempdir()) / "many.png"))
    args = parser.parse_args(argv)
    if args.full:
        args.ibea = 5000
    sim, distances = build(args.t_max, args.range)
    start_theta = sim.trainable_params()
    n_params = sum(int(v.size) for v in start_theta.values())
    target = sim.run(sim.params_from(target_theta(start_theta, distances)))

    def loss(theta):
        return dx.losses.mse(sim.run(sim.params_from(theta)), target)

    print(f"{n_params} parameters, {target.shape[0]} recorded branches, {args.t_max} ms")
    result = dx.fit(
        loss,
        start_theta,
        optax.adam(args.lr),
        args.steps,
        sim=sim,
        stop_below=args.threshold,
        progress=False,
    )
    gd = np.asarray(result.history["loss"])
    times = np.asarray(result.history["time"])
    gd_seconds = len(times) * float(np.median(np.diff(times))) if len(times) > 1 else times[0]
    print(
        f"GD (Adam {args.lr}): loss {gd[0]:.3g} -> {gd.min():.3g} mV² in {gd.size} gradients "
        f"({gd_seconds:.1f} s; {result.stopped})"
    )
    keys = sorted(start_theta)
    sizes = [int(start_theta[k].size) for k in keys]
    run_x = jax.jit(lambda theta: loss(theta))

    def loss_of_x(x):
        parts = np.split(logit(x), np.cumsum(sizes)[:-1])
        return float(run_x({k: jnp.asarray(p) for k, p in zip(keys, parts, strict=True)}))

    ibea, ibea_seconds = run_ibea(loss_of_x, n_params, args.ibea, seed=0)
    print(
        f"IBEA: loss {ibea[0]:.3g} -> {ibea[-1]:.3g} mV² in {ibea.size} simulations "
        f"({ibea_seconds:.1f} s)"
    )
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.semilogy(np.arange(1, gd.size + 1), gd, label="gradient descent")
    ax.semilogy(np.arange(1, ibea.size + 1), ibea, label="IBEA (best so far)")
    ax.axhline(args.threshold, color="gray", lw=0.8, ls="--")
    ax.set(xscale="log", xlabel="simulations", ylabel="loss (mV²)", title=f"{n_params} parameters")
    ax.legend()
    fig.tight_layout()
    fig.savefig(args.out, dpi=120)
    print(f"figure: {args.out}")
    return {"gd": gd, "ibea": ibea, "n_params": n_params}


if __name__ == "__main__":
    main()
