"""A gradient's time and memory against the run's length, within the automatic budget.

The Hay-style cell of tests/hay_style_cell.py (`--copies` of its basal and apical subtrees:
985 compartments with the default 28), a somatic step current (2 nA from a tenth of the run
to nine tenths), somatic v recorded, dt 0.025 ms. Trained as a fit of Hay et al.'s kind: every
channel density, the leak conductance and the calcium buffer's gamma per region (soma,
axon, basal, apical; one value a region, on a log scale: 32 values), loss the mean squared
difference of v from the trace at the initial values, its gradient taken at all of them
5 % higher. Built with the default checkpointing
(`dendrax.checkpointing.default_memory_bytes()`: an eighth of the machine's memory, at
most 2 GiB). Each of `--steps` runs in a fresh process, which runs
the forward pass twice, then the gradient twice; it prints the schedule the budget allows
(levels of checkpoints: segments' steps), the bytes stored, the second calls' CPU (all
threads) and wall-clock times with the gradient's CPU time over the forward pass's, and
the process's peak resident memory after the forward passes and after the gradients
("growth" is the second minus the first). With `--backend jax`, also XLA's estimate of
the compiled gradient's memory (arguments, outputs and temporaries).

    python benchmarks/gradient_length.py [--steps 1000 10000 100000] [--backend native]
                                         [--copies 28] [--rounds 1]

With `--rounds N` the lengths run N times, interleaved; each row is the run with the
shortest gradient CPU time.

Measured 2026-12-07 on the shared 2-core AMD EPYC machine (23 GiB: budget 2,048 MiB):
native at 06:00 UTC (commit 8474235, `--rounds 2`, the machine quiet), pure JAX earlier
that day under `nice -n 19 taskset -c 1` at load 0.7-7.4, one run. Native stores 152,448
bytes a step (v, the states, the ion rows, the eliminated diagonal), pure JAX 65,184 a
state. CPU seconds, the least of the runs; the ratio (gradient over forward) is the range
over the runs (each run's own forward pass); growth is the peak resident memory after the
gradients minus that after the forward passes (349-386 MiB native, 448-472 MiB pure
JAX).

| backend | steps | schedule | stored (MiB) | forward (s) | gradient (s) | ratio | growth (MiB) |
|---|---|---|---|---|---|---|---|
| native | 1,000 | every step | 146 | 0.054 | 0.154 | 2.8-3.1 | 188-206 |
| native | 10,000 | every step | 1,454 | 0.55 | 1.46 | 2.6-2.9 | 1,488-1,522 |
| native | 100,000 | 1 level: 14,079 | 2,048 | 5.3 | 19.1 | 3.5-3.6 | 2,096-2,115 |
| jax | 1,000 | every step | 62 | 0.15 | 1.13 | 7.6 | 347 |
| jax | 10,000 | every step | 622 | 1.58 | 11.0 | 6.9 | 903 |
| jax | 100,000 | 1 level: 316 | 39 | 16.5 | 132 | 8.0 | 414 |

The schedules at 100,000 steps: native, 8 segments of up to 14,079 steps, 0.86 forward
passes recomputed; pure JAX, 317 chunks of 316 steps, one more forward pass
(docs/performance.md, "Gradient memory"). XLA's estimate of the pure-JAX gradient's
temporaries: 64, 624 and 43 MiB (arguments 1-2 MiB). The growth beyond the stored steps
(native) or XLA's temporaries (pure JAX), not broken down here: 34-68 MiB and 280-370 MiB
(cotangents, buffers, compiling the gradient).
"""

import argparse
import json
import pathlib
import sys

from checkpoint_memory import fastest_rows, peak_mib, timed

HERE = pathlib.Path(__file__).resolve()
DT = 0.025
REGIONS = ("soma", "axon", "basal", "apical")


def trained_cell(copies: int, t_max: float):
    """The Hay-style cell with its somatic step and recording, and per region every channel
    density, the leak and the calcium buffer's gamma trainable (log scale); returns the
    cell and the number of compartments."""
    import numpy as np

    sys.path.insert(0, str(HERE.parent.parent / "tests"))
    from hay_style_cell import REGIONS as DENSITIES
    from hay_style_cell import compartments, dendrax_cell, scaled

    import dendrax as dx

    branches = scaled(copies)
    cell = dendrax_cell(branches)
    cell.branch(0).stimulate(dx.step_current(0.1 * t_max, 0.8 * t_max, 2.0, DT, t_max))
    cell.branch(0).record("v")
    for region in REGIONS:
        indices = [index for index, branch in enumerate(branches) if branch[1] == region]
        selected = cell.select(lambda table, i=indices: np.isin(table["branch"], i))
        cell.define_group(f"{region} region", selected)
        group = cell.region(f"{region} region")
        names = ["Leak.gLeak"] + [
            f"{suffix}.{name}"
            for suffix, values in DENSITIES[region][2].items()
            for name in values
            if name.endswith("bar") or name == "gamma"
        ]
        for name in names:
            group.make_trainable(name, bounds=dx.transforms.Log())
    return cell, compartments(branches)


def worker(args) -> dict:
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    import dendrax as dx
    from dendrax.checkpointing import default_memory_bytes
    from dendrax.native import gradient
    from dendrax.solve import checkpoint, stepping

    n_steps = args.worker
    t_max = n_steps * DT
    cell, n_compartments = trained_cell(args.copies, t_max)
    traced = []  # the pure-JAX loop's schedule, as its trace chooses it
    scan = stepping.checkpointed_scan

    def recorded(step, carry, inputs, n_steps, memory_bytes):
        state = checkpoint.state_bytes(carry)
        traced.append((checkpoint.scan_schedule(n_steps, state, memory_bytes), state))
        return scan(step, carry, inputs, n_steps, memory_bytes)

    stepping.checkpointed_scan = recorded
    sim = dx.build(cell, dt=DT, v_init=-80.0, celsius=34.0, backend=args.backend)
    assert sim.compartment_cells.size == n_compartments
    theta = sim.trainable_params()

    def simulate(theta, sim):
        return sim.run(sim.params_from(theta))

    forward = jax.jit(simulate)
    forward_cpu, forward_wall = timed(forward, theta, sim)
    forward_peak = peak_mib()
    target = forward(theta, sim)

    def loss(theta, sim):
        return dx.losses.mse(simulate(theta, sim), target)

    shifted = jax.tree_util.tree_map(lambda u: u + jnp.log(1.05), theta)
    grad = jax.jit(jax.grad(loss))
    gradient_cpu, gradient_wall = timed(grad, shifted, sim)
    row = {
        "backend": sim.spec.backend,
        "budget_mib": default_memory_bytes() / 2**20,
        "compartments": n_compartments,
        "trained": sum(value.size for value in theta.values()),
        "steps": n_steps,
        "forward_peak_mib": forward_peak,
        "gradient_peak_mib": peak_mib(),
        "forward_cpu_s": forward_cpu,
        "forward_wall_s": forward_wall,
        "gradient_cpu_s": gradient_cpu,
        "gradient_wall_s": gradient_wall,
    }
    if sim.spec.backend == "native":
        chosen = gradient.checkpoint_schedule(sim.spec, sim.arrays, n_steps)
        row["step_bytes"] = 8 * gradient.step_values(sim.spec, sim.arrays)[0]
    else:
        chosen, row["step_bytes"] = traced[-1]
        memory = grad.lower(shifted, sim).compile().memory_analysis()
        if memory is not None:
            row["xla_mib"] = {
                "arguments": memory.argument_size_in_bytes / 2**20,
                "outputs": memory.output_size_in_bytes / 2**20,
                "temporaries": memory.temp_size_in_bytes / 2**20,
            }
    row["lengths"] = list(chosen.lengths)
    row["stored_mib"] = chosen.stored_bytes / 2**20
    row["recomputed_passes"] = chosen.forward_passes
    return row


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--backend", choices=["native", "jax"], default="native")
    parser.add_argument("--copies", type=int, default=28)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker is not None:
        print(json.dumps(worker(args)))
        return
    shared = ["--backend", args.backend, "--copies", str(args.copies)]
    best = fastest_rows(HERE, shared, args.steps, args.rounds)
    first = next(iter(best.values()))
    print(
        f"{first['backend']} backend, {first['compartments']} compartments, "
        f"{first['trained']} trained values, budget {first['budget_mib']:,.0f} MiB, "
        f"{first['step_bytes']:,} bytes stored a step"
    )
    print(
        "| steps | levels: segments' steps | stored (MiB) | recomputed (forward passes) "
        "| forward CPU / wall (s) | gradient CPU / wall (s) | gradient / forward (CPU) "
        "| peak RSS after forward / gradient (MiB) | growth (MiB) |"
    )
    print("|" + "---|" * 9)
    for steps in args.steps:
        r = best[steps]
        levels = f"{len(r['lengths'])}: {', '.join(map(str, r['lengths']))}"
        levels = levels if r["lengths"] else "every step"
        print(
            f"| {steps:,} | {levels} | {r['stored_mib']:,.0f} | {r['recomputed_passes']:.2f} "
            f"| {r['forward_cpu_s']:.2f} / {r['forward_wall_s']:.2f} "
            f"| {r['gradient_cpu_s']:.2f} / {r['gradient_wall_s']:.2f} "
            f"| {r['gradient_cpu_s'] / r['forward_cpu_s']:.2f} "
            f"| {r['forward_peak_mib']:,.0f} / {r['gradient_peak_mib']:,.0f} "
            f"| {r['gradient_peak_mib'] - r['forward_peak_mib']:,.0f} |"
        )
        if "xla_mib" in r:
            xla = ", ".join(f"{key} {value:,.0f}" for key, value in r["xla_mib"].items())
            print(f"  XLA's estimate of the compiled gradient (MiB): {xla}")


if __name__ == "__main__":
    main()
