"""dendrax, NEURON and Arbor side by side on the benchmark models of benchmarks/models.py.

For each model (one HH compartment, CA1 n120 with 4 compartments per section, the random
200-branch tree), as one simulation of 20 ms at dt 0.025 and as a batch of 64 parameter
sets (gNa x linspace(0.9, 1.1, 64)), float64: time per simulation, ratios to NEURON and
Arbor, compile times and gradient time over forward time (dendrax), peak memory, threads,
and the largest voltage difference of dendrax and Arbor to NEURON. Writes a JSON file.

    python benchmarks/peers.py [--quick] [--threads 1 2] [--models single ca1 tree]
                               [--rounds 3] [--repeats 5] [--batch 64]

Each (simulator, model, thread count) runs in a fresh process pinned to that many cores
(`os.sched_setaffinity` before JAX or Arbor start their threads), so that its memory and
threads are its own. NEURON always runs on one thread (finitialize + continuerun, usetable
off), a loop over the batch; Arbor runs the batch as 64 cells of one recipe on a context of
that many threads; dendrax runs the batch under `vmap`, its single simulations on one core.
Times are the shortest of `--repeats` runs; with `--rounds N` every worker runs N times,
interleaved, so that a burst of load on a shared machine does not fall on one simulator.
"""

import argparse
import json
import os
import pathlib
import platform
import resource
import subprocess
import sys
import tempfile
import time

import models
import numpy as np

RESULTS = pathlib.Path(__file__).parent / "results" / "peers.json"


# -- workers: one simulator, one model, one thread count, in a process of its own -----------


def _max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _best(fn, repeats: int) -> float:
    """The shortest of `repeats` timed calls of fn (s), after one untimed call."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def neuron_worker(m: models.Model, scales: np.ndarray, repeats: int) -> dict:
    import neuron  # noqa: F401 (loaded before the memory baseline, as Arbor and JAX are)

    rss = _max_rss_mb()
    start = time.perf_counter()
    sim = models.NeuronModel(m)
    setup = time.perf_counter() - start
    traces = sim.run(1.0)
    single = _best(lambda: sim.run(1.0), repeats)
    batch = _best(lambda: [sim.run(float(s)) for s in scales], max(1, repeats // 3))
    return {
        "threads_single": 1,
        "threads_batch": 1,
        "setup_s": setup,
        "single_ms": 1e3 * single,
        "batch_ms_per_sim": 1e3 * batch / len(scales),
        "rss_mb": _max_rss_mb() - rss,
        "traces": traces.tolist(),
    }


def arbor_worker(m: models.Model, scales: np.ndarray, repeats: int, threads: int) -> dict:
    import arbor

    units = arbor.units
    rss = _max_rss_mb()
    context = arbor.context(threads=threads)
    cells = models.ArborModel(m)

    def simulation(gna_scales):
        recipe = cells.recipe(gna_scales)
        sim = arbor.simulation(recipe, context, arbor.partition_load_balance(recipe, context))
        every_step = arbor.regular_schedule(models.DT * units.ms)
        handles = [
            sim.sample((gid, f"v{k}"), every_step)
            for gid in range(len(gna_scales))
            for k in range(len(m.records))
        ]
        return sim, handles

    def run(sim):
        sim.reset()
        sim.run(models.T_MAX * units.ms, models.DT * units.ms)

    start = time.perf_counter()
    one, handles = simulation([1.0])
    setup = time.perf_counter() - start
    single = _best(lambda: run(one), repeats)
    run(one)
    traces = [one.samples(h)[0][0][:, 1] for h in handles]  # reset clears samples
    many, _ = simulation(scales)
    batch = _best(lambda: run(many), max(1, repeats // 3))
    return {
        "threads_single": threads,
        "threads_batch": threads,
        "setup_s": setup,
        "single_ms": 1e3 * single,
        "batch_ms_per_sim": 1e3 * batch / len(scales),
        "rss_mb": _max_rss_mb() - rss,
        "n_cv": arbor.cv_data(cells.cell()).num_cv,
        "traces": np.array(traces).tolist(),
    }


def dendrax_worker(
    m: models.Model, scales: np.ndarray, repeats: int, threads: int, backend: str
) -> dict:
    import inspect

    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    import dendrax as dx

    has_backends = "backend" in inspect.signature(dx.build).parameters
    if backend != "jax" and not has_backends:
        return {"skipped": "this dendrax has no backend setting"}
    rss = _max_rss_mb()
    start = time.perf_counter()
    sim = models.dendrax_simulation(m, backend if has_backends else None)
    setup = time.perf_counter() - start
    used = getattr(sim.spec, "backend", "jax")
    if used != backend:
        return {"skipped": f"dx.build(backend={backend!r}) fell back to {used!r}"}
    params = sim.params
    batch_params = jax.tree_util.tree_map(
        lambda x: jnp.broadcast_to(x, (len(scales), *x.shape)), params
    )
    batch_params["HH"] = dict(batch_params["HH"])
    batch_params["HH"]["gNa"] = params["HH"]["gNa"][None, :] * jnp.asarray(scales)[:, None]

    def forward(p):
        return sim.run(p, t_max=models.T_MAX)

    def loss(p):
        return jnp.mean(forward(p)[0])

    def batch_loss(p):
        return jnp.mean(jax.vmap(forward)(p)[:, 0])

    def compiled(fn, args):
        start = time.perf_counter()
        result = jax.jit(fn).lower(args).compile()
        return time.perf_counter() - start, result

    compile_forward, forward_fn = compiled(forward, params)
    compile_grad, grad_fn = compiled(jax.value_and_grad(loss), params)
    compile_batch, batch_fn = compiled(jax.vmap(forward), batch_params)
    _, batch_grad_fn = compiled(jax.value_and_grad(batch_loss), batch_params)

    def timed(fn, args):
        return lambda: jax.block_until_ready(fn(args))

    pinned = set(sorted(os.sched_getaffinity(0))[:1])
    batch = _best(timed(batch_fn, batch_params), max(1, repeats // 3))
    batch_grad = _best(timed(batch_grad_fn, batch_params), max(1, repeats // 3))
    with _pinned(pinned):  # single simulations on one core (XLA splits small fusions)
        single = _best(timed(forward_fn, params), repeats)
        grad = _best(timed(grad_fn, params), repeats)
    return {
        "backend": used,
        "threads_single": 1,
        "threads_batch": threads,
        "setup_s": setup,
        "single_ms": 1e3 * single,
        "batch_ms_per_sim": 1e3 * batch / len(scales),
        "grad_ms": 1e3 * grad,
        "grad_over_forward": grad / single,
        "batch_grad_ms_per_sim": 1e3 * batch_grad / len(scales),
        "batch_grad_over_forward": batch_grad / batch,
        "compile_forward_s": compile_forward,
        "compile_grad_s": compile_grad,
        "compile_batch_s": compile_batch,
        "memory_mb": {
            "forward": _compiled_mb(forward_fn),
            "grad": _compiled_mb(grad_fn),
            "batch": _compiled_mb(batch_fn),
        },
        "rss_mb": _max_rss_mb() - rss,
        "traces": np.asarray(forward_fn(params)).tolist(),
    }


def _compiled_mb(compiled) -> float | None:
    """Arguments + outputs + temporaries of a compiled XLA program (MB), if XLA says."""
    memory = compiled.memory_analysis()
    if memory is None:
        return None
    total = memory.argument_size_in_bytes + memory.output_size_in_bytes
    return (total + memory.temp_size_in_bytes) / 2**20


class _pinned:
    """Pin every thread of this process to `cores` for the duration of a `with` block."""

    def __init__(self, cores: set[int]):
        self.cores = cores

    def __enter__(self):
        self.before = os.sched_getaffinity(0)
        _set_affinity(self.cores)

    def __exit__(self, *exc):
        _set_affinity(self.before)


def _set_affinity(cores: set[int]) -> None:
    for tid in os.listdir("/proc/self/task"):
        try:
            os.sched_setaffinity(int(tid), cores)
        except ProcessLookupError:  # a thread that has ended since
            continue


def worker(args) -> None:
    cores = sorted(os.sched_getaffinity(0))
    if args.threads > len(cores):
        raise SystemExit(f"--threads {args.threads}, but only {len(cores)} cores are usable")
    _set_affinity(set(cores[: args.threads]))  # every thread so far; later ones inherit it
    m = models.model(args.model)
    scales = np.linspace(0.9, 1.1, args.batch)
    simulator = args.worker
    if simulator == "neuron":
        result = neuron_worker(m, scales, args.repeats)
    elif simulator == "arbor":
        result = arbor_worker(m, scales, args.repeats, args.threads)
    else:
        backend = simulator.removeprefix("dendrax-")
        result = dendrax_worker(m, scales, args.repeats, args.threads, backend)
    pathlib.Path(args.worker_output).write_text(json.dumps(result))


# -- the driver ------------------------------------------------------------------------------

SIMULATORS = ("neuron", "arbor", "dendrax-jax", "dendrax-native")


def run_worker(simulator: str, model: str, threads: int, args) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        output = pathlib.Path(folder) / "result.json"
        command = [
            sys.executable, __file__, "--worker", simulator, "--model", model,
            "--threads", str(threads), "--batch", str(args.batch),
            "--repeats", str(args.repeats), "--worker-output", str(output),
        ]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            return {"failed": done.stderr.strip().splitlines()[-1:]}
        return json.loads(output.read_text())


TIMES = (
    "single_ms", "batch_ms_per_sim", "grad_ms", "batch_grad_ms_per_sim", "setup_s",
    "compile_forward_s", "compile_grad_s", "compile_batch_s",
)  # fmt: skip


def best(results: list[dict]) -> dict | None:
    """One result from several rounds: the shortest of each time, the rest from the first."""
    good = [r for r in results if "skipped" not in r and "failed" not in r]
    if not good:
        return results[0] if results else None
    merged = dict(good[0])
    for key in TIMES:
        if key in merged:
            merged[key] = min(r[key] for r in good)
    if "grad_ms" in merged:
        merged["grad_over_forward"] = merged["grad_ms"] / merged["single_ms"]
    if "batch_grad_ms_per_sim" in merged:
        ratio = merged["batch_grad_ms_per_sim"] / merged["batch_ms_per_sim"]
        merged["batch_grad_over_forward"] = ratio
    merged["rounds"] = len(good)
    return merged


def parity(result: dict, reference: dict) -> float | None:
    """Largest |V - V_NEURON| (mV) over the common samples of the recorded traces."""
    if "traces" not in result or "traces" not in reference:
        return None
    ours, theirs = np.array(result["traces"]), np.array(reference["traces"])
    n = min(ours.shape[1], theirs.shape[1])
    return float(np.max(np.abs(ours[:, :n] - theirs[:, :n])))


def machine() -> dict:
    cpu = platform.processor()
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "load_average": os.getloadavg(),
        "python": platform.python_version(),
    }


def versions() -> dict:
    from importlib.metadata import version

    return {name: version(name) for name in ("dendrax", "jax", "neuron", "arbor")}


def table(results: list[dict], batch: int) -> str:
    """A Markdown table of the results: one row per model, simulator and thread count."""
    head = (
        "| model | simulator | threads (single/batch) | one sim (ms) | NEURON / this "
        f"| Arbor / this | batch of {batch}, per sim (ms) | NEURON / this | Arbor / this "
        "| max abs dV to NEURON (mV) | compile fwd / grad (s) | grad / fwd: single, batch "
        "| memory (MB): fwd / grad / batch |"
    )
    lines = [head, "|" + " --- |" * 13]
    for row in results:
        r = row["result"]
        if "skipped" in r or "failed" in r:
            why = r.get("skipped") or " ".join(r["failed"])
            lines.append(f"| {row['model']} | {row['simulator']} | {row['threads']} | {why} |")
            continue
        ref = row["reference"]

        compile_ = (
            f"{r['compile_forward_s']:.2f} / {r['compile_grad_s']:.2f}"
            if "compile_forward_s" in r
            else "-"
        )
        grad = " / ".join(
            f"{r[key]:.2f}" if key in r else "-"
            for key in ("grad_over_forward", "batch_grad_over_forward")
        )
        xla = r.get("memory_mb")
        memory = (
            f"XLA {xla['forward']:.2g} / {xla['grad']:.2g} / {xla['batch']:.2g}"
            if xla and None not in xla.values()
            else f"RSS +{r['rss_mb']:.0f}"
        )
        dv = row["max_dv_mv"]
        lines.append(
            f"| {row['model']} | {row['simulator']} | {r['threads_single']}/"
            f"{r['threads_batch']} | {r['single_ms']:.2f} | {_ratio(ref['neuron'], r, 'single_ms')}"
            f" | {_ratio(ref['arbor'], r, 'single_ms')} | {r['batch_ms_per_sim']:.2f} | "
            f"{_ratio(ref['neuron'], r, 'batch_ms_per_sim')} | "
            f"{_ratio(ref['arbor'], r, 'batch_ms_per_sim')} | "
            f"{'-' if dv is None else f'{dv:.2g}'} | {compile_} | {grad} | "
            f"{memory} |"
        )
    return "\n".join(lines)


def _ratio(peer: dict | None, result: dict, key: str) -> str:
    """peer[key] / result[key]: how many times faster the result is than the peer."""
    value = peer.get(key) if peer else None
    return f"{value / result[key]:.2f}" if value else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="batch 8, 1 repeat: a smoke run")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--models", nargs="+", default=list(models.MODEL_NAMES))
    parser.add_argument("--simulators", nargs="+", default=list(SIMULATORS))
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--rounds", type=int, default=1, help="measure everything this often, keep the fastest"
    )
    parser.add_argument("--output", default=str(RESULTS))
    parser.add_argument("--worker", choices=SIMULATORS, help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    parser.add_argument("--worker-output", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        args.threads = args.threads[0]
        worker(args)
        return
    if args.quick:
        args.batch, args.repeats = 8, 1
    usable = len(os.sched_getaffinity(0))
    for threads in args.threads:
        if threads > usable:
            parser.error(f"--threads {threads}, but only {usable} cores are usable here")

    load_before = os.getloadavg()
    measured: dict[tuple, list[dict]] = {}
    one = min(args.threads)  # NEURON runs on one thread whatever the setting
    for round_ in range(args.rounds):
        for model in args.models:
            for threads in args.threads:
                for simulator in args.simulators:
                    if simulator == "neuron" and threads != one:
                        continue
                    print(f"round {round_ + 1}: {model}, {simulator}, {threads} thread(s)")
                    result = run_worker(simulator, model, threads, args)
                    measured.setdefault((model, simulator, threads), []).append(result)
    rows = []
    for model in args.models:
        for threads in args.threads:
            reference = {
                "neuron": best(measured.get((model, "neuron", one), [])),
                "arbor": best(measured.get((model, "arbor", threads), [])),
            }
            for simulator in args.simulators:
                if simulator == "neuron" and threads != one:
                    continue
                result = best(measured[(model, simulator, threads)])
                row = {"model": model, "simulator": simulator, "threads": threads}
                row["max_dv_mv"] = parity(result, reference["neuron"] or {})
                rows.append({**row, "result": result, "reference": reference})
    text = table(rows, args.batch)
    print(text)
    report = {
        "settings": {
            "dt_ms": models.DT,
            "t_max_ms": models.T_MAX,
            "batch": args.batch,
            "repeats": args.repeats,
            "rounds": args.rounds,
            "statistic": "shortest of the repeats over all rounds",
            "precision": "float64",
        },
        "machine": {**machine(), "load_average_before": load_before},
        "versions": versions(),
        "models": {name: models.model(name).description for name in args.models},
        "rows": [
            {
                **{k: v for k, v in row.items() if k not in ("result", "reference")},
                **{k: v for k, v in row["result"].items() if k != "traces"},
            }
            for row in rows
        ],
        "table": text,
    }
    path = pathlib.Path(args.output)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2))
    print(f"load average before/after: {load_before} / {os.getloadavg()}; wrote {path}")


if __name__ == "__main__":
    main()
