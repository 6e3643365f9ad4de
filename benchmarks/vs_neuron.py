"""dendrax against NEURON on the benchmark tree.

The tree: 200 branches x 4 compartments (800); each branch's parent drawn uniformly among
the earlier branches, its radius uniform in [0.3, 2] µm and its whole length in [40, 200]
µm (`numpy.random.default_rng(1)`, in that order; branch 0, the soma, 8 µm radius and 20 µm
long); axial resistivity 100 Ω·cm, 1 µF/cm²; HH everywhere (squid defaults, 6.3 °C), a 2 nA
step from 10 ms for 80 ms into branch 0 at 0.5, 20 ms at dt 0.025, float64. Prints
NEURON's time per simulation, dendrax's time for one simulation and per simulation in a
vmapped batch of 64 parameter sets (gNa x linspace(0.9, 1.1, 64)), jit compile times,
value_and_grad time over forward time, the gradient's memory and the largest voltage
difference to NEURON. Writes a JSON file.

    python benchmarks/vs_neuron.py [--threads 1] [--batch 64] [--repeats 5] [--backend auto]

`--threads 1` pins the process to one core (as `taskset -c 0`); on 2 cores XLA otherwise
splits small fusions over both threads, which slows single simulations down. `--backend`
picks dendrax's path (see docs/performance.md); with the native kernel the script also
prints the largest voltage difference to the pure-JAX path. Times are wall-clock minima;
the `cpu_ms` fields are medians of process CPU time, steadier on a shared machine.
"""

import argparse
import json
import os
import pathlib
import time

import jax
import jax.numpy as jnp
import numpy as np

jax.config.update("jax_enable_x64", True)

import dendrax as dx  # noqa: E402

DT, T_MAX, N_BRANCHES, NCOMP = 0.025, 20.0, 200, 4


def tree():
    """The benchmark tree (module docstring): parents, whole-branch lengths, radii (µm)."""
    rng = np.random.default_rng(1)
    parents = [-1] + [int(rng.integers(0, i)) for i in range(1, N_BRANCHES)]
    radius = rng.uniform(0.3, 2.0, N_BRANCHES)
    radius[0] = 8.0
    length = rng.uniform(40.0, 200.0, N_BRANCHES)
    length[0] = 20.0
    return parents, length, radius


def dendrax_simulation(backend: str = "auto"):
    parents, length, radius = tree()
    cell = dx.Cell.from_parents(
        parents, ncomp=NCOMP, length=length / NCOMP, radius=radius, axial_resistivity=100.0
    )
    cell.insert(dx.channels.HH())
    cell.branch(0).loc(0.5).stimulate(dx.step_current(10.0, 80.0, 2.0, DT, T_MAX))
    cell.branch(0).loc(0.5).record("v")
    cell.branch(N_BRANCHES - 1).loc(0.5).record("v")
    return dx.build(cell, dt=DT, backend=backend)


def neuron_run(gna_scales):
    """NEURON times per simulation (one thread) and the traces of the first run."""
    from neuron import h

    h.load_file("stdrun.hoc")
    parents, length, radius = tree()
    sections = []
    for i in range(N_BRANCHES):
        sec = h.Section(name=f"b{i}")
        sec.nseg, sec.L, sec.diam, sec.Ra, sec.cm = NCOMP, length[i], 2 * radius[i], 100.0, 1.0
        sec.insert("hh")
        if parents[i] >= 0:
            sec.connect(sections[parents[i]](1.0), 0.0)
        sections.append(sec)
    stim = h.IClamp(sections[0](0.5))
    stim.delay, stim.dur, stim.amp = 10.0, 80.0, 2.0
    records = [h.Vector().record(sections[0](0.5)._ref_v)]
    records.append(h.Vector().record(sections[-1](0.5)._ref_v))
    h.usetable_hh, h.dt, h.celsius, h.secondorder = 0, DT, 6.3, 0
    times, cpu_times, traces = [], [], None
    for scale in gna_scales:
        for sec in sections:
            for seg in sec:
                seg.gnabar_hh = 0.12 * scale
        start, start_cpu = time.perf_counter(), time.process_time()
        h.finitialize(-65.0)
        h.continuerun(T_MAX)
        times.append(time.perf_counter() - start)
        cpu_times.append(time.process_time() - start_cpu)
        if traces is None:
            traces = np.array([np.array(r) for r in records])
    return np.array(times), np.array(cpu_times), traces


def best_time(fn, repeats):
    jax.block_until_ready(fn())
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - start)
    return min(times)


def cpu_time(fn, repeats):
    """Median process CPU time (s) of `fn`, all threads together."""
    jax.block_until_ready(fn())
    times = []
    for _ in range(repeats):
        start = time.process_time()
        jax.block_until_ready(fn())
        times.append(time.process_time() - start)
    return float(np.median(times))


def compile_time(fn, *args):
    start = time.perf_counter()
    compiled = jax.jit(fn).lower(*args).compile()
    return time.perf_counter() - start, compiled


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--output", default="benchmarks/results/vs_neuron.json")
    parser.add_argument("--backend", choices=("auto", "jax", "native"), default="auto")
    args = parser.parse_args()
    if args.threads < (os.cpu_count() or 1):
        os.sched_setaffinity(0, set(range(args.threads)))
    threads = len(os.sched_getaffinity(0))

    sim = dendrax_simulation(args.backend)
    params = sim.params
    scales = jnp.linspace(0.9, 1.1, args.batch)
    batch_params = jax.tree_util.tree_map(
        lambda x: jnp.broadcast_to(x, (args.batch, *x.shape)), params
    )
    batch_params["HH"] = dict(batch_params["HH"])
    batch_params["HH"]["gNa"] = params["HH"]["gNa"][None, :] * scales[:, None]

    def forward(p):
        return sim.run(p, t_max=T_MAX)

    def loss(p):
        return jnp.mean(forward(p)[0])

    compile_forward, forward_compiled = compile_time(forward, params)
    compile_grad, grad_compiled = compile_time(jax.value_and_grad(loss), params)
    _, batch_compiled = compile_time(jax.vmap(forward), batch_params)

    single = best_time(lambda: forward_compiled(params), args.repeats)
    batch = best_time(lambda: batch_compiled(batch_params), max(1, args.repeats // 2))
    grad = best_time(lambda: grad_compiled(params), args.repeats)
    single_cpu = cpu_time(lambda: forward_compiled(params), args.repeats)
    batch_cpu = cpu_time(lambda: batch_compiled(batch_params), max(1, args.repeats // 2))
    if sim.spec.backend == "jax":
        dv_twin = 0.0
    else:
        twin = dendrax_simulation("jax")
        dv_twin = float(np.max(np.abs(forward_compiled(params) - twin.run(params, t_max=T_MAX))))
    memory = grad_compiled.memory_analysis()
    grad_bytes = memory.temp_size_in_bytes + memory.output_size_in_bytes if memory else -1

    neuron_times, neuron_cpu_times, neuron_traces = neuron_run(np.asarray(scales))
    neuron_time = float(np.median(neuron_times))
    ours = np.asarray(batch_compiled(batch_params)[0])  # gNa x 0.9, NEURON's first run
    max_dv = float(np.max(np.abs(ours - neuron_traces)))

    results = {
        "model": f"random tree {N_BRANCHES} branches x {NCOMP} compartments, HH, "
        f"{T_MAX} ms at dt {DT}, float64",
        "threads": threads,
        "backend": sim.spec.backend,
        "neuron_ms_per_sim": 1e3 * neuron_time,
        "dendrax_ms_single": 1e3 * single,
        "dendrax_ms_per_sim_batch": 1e3 * batch / args.batch,
        "neuron_cpu_ms_per_sim": 1e3 * float(np.median(neuron_cpu_times)),
        "dendrax_cpu_ms_single": 1e3 * single_cpu,
        "dendrax_cpu_ms_per_sim_batch": 1e3 * batch_cpu / args.batch,
        "batch": args.batch,
        "speedup_single": neuron_time / single,
        "speedup_batch": neuron_time / (batch / args.batch),
        "speedup_single_cpu": float(np.median(neuron_cpu_times)) / single_cpu,
        "speedup_batch_cpu": float(np.median(neuron_cpu_times)) / (batch_cpu / args.batch),
        "compile_forward_s": compile_forward,
        "compile_grad_s": compile_grad,
        "grad_over_forward": grad / single,
        "grad_memory_mb": grad_bytes / 2**20,
        "max_abs_dv_mv": max_dv,
        "max_abs_dv_vs_pure_jax_mv": dv_twin,
    }
    width = max(map(len, results))
    for key, value in results.items():
        shown = f"{value:.4g}" if isinstance(value, float) else value
        print(f"{key:<{width}}  {shown}")
    path = pathlib.Path(args.output)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
