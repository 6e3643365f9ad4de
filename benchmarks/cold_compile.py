"""Time to first result with the native backend: build, first forward and first gradient,
then a first batch of 16 runs of 20 ms (forward, then gradient: the lanes parts compile on
first use).

Each model runs in a fresh process (`import dendrax` not counted); "cold" with an empty
`DENDRAX_CACHE` (the native kernel, its adjoint and the FFI binding compiled by g++), "new
model" with the binding cached but not the model's libraries (a user's next model), "warm"
in a further process with the same cache. Models: the benchmark tree of
`benchmarks/models.py` (HH) and the Hay et al. cell of `benchmarks/hay_cell.py` (985
compartments, the twelve Hay channels and CaDynamics_E2).

    python benchmarks/cold_compile.py [--models tree hay]
"""

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent


def worker(model: str) -> dict:
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    sys.path[:0] = [str(HERE), str(HERE.parent / "tests")]
    import dendrax as dx

    start = time.perf_counter()
    if model == "tree":
        import models

        sim = models.dendrax_simulation(models.model("tree"), "native")
        t_max = models.T_MAX
    else:
        from hay_style_cell import CELSIUS, V_INIT, dendrax_cell, scaled

        cell = dendrax_cell(scaled(28))
        cell.branch(0).stimulate(dx.step_current(20.0, 150.0, 2.0, 0.025, 200.0))
        cell.branch(0).record("v")
        sim = dx.build(cell, dt=0.025, v_init=V_INIT, celsius=CELSIUS, backend="native")
        t_max = 200.0
    build = time.perf_counter() - start
    jax.block_until_ready(sim.run(t_max=t_max))
    forward = time.perf_counter() - start

    def loss(params):
        return jnp.mean(sim.run(params, t_max=20.0)[0])

    jax.block_until_ready(jax.value_and_grad(loss)(sim.params))
    gradient = time.perf_counter() - start

    def scaled(factor):  # the simulation with every parameter scaled by `factor`
        params = jax.tree.map(lambda x: x * factor, sim.params)
        return jnp.mean(sim.run(params, t_max=20.0)[0])

    factors = jnp.linspace(0.99, 1.01, 16)
    start = time.perf_counter()
    jax.block_until_ready(jax.vmap(scaled)(factors))
    batch = time.perf_counter() - start
    jax.block_until_ready(jax.vmap(jax.grad(scaled))(factors))
    batch_gradient = time.perf_counter() - start
    return {
        "backend": sim.spec.backend,
        "build": build,
        "forward": forward,
        "gradient": gradient,
        "batch": batch,
        "batch_gradient": batch_gradient,
    }


def run(model: str, cache: str) -> dict:
    env = {**os.environ, "DENDRAX_CACHE": cache}
    command = [sys.executable, __file__, "--worker", model]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["tree", "hay"])
    parser.add_argument("--worker")
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker)))
        return
    print(
        "| model | cache | build / first forward / first gradient (s) "
        "| batch of 16: first forward / then first gradient (s) |"
    )
    print("| --- | --- | --- | --- |")
    for model in args.models:
        with tempfile.TemporaryDirectory() as cache:
            for kind in ("cold", "new model", "warm"):
                if kind == "new model":  # keep the binding only
                    for library in pathlib.Path(cache, "native").glob("[ka]*.so"):
                        library.unlink()
                r = run(model, cache)
                times = f"{r['build']:.1f} / {r['forward']:.1f} / {r['gradient']:.1f}"
                batch = f"{r['batch']:.1f} / {r['batch_gradient']:.1f}"
                print(f"| {model} ({r['backend']}) | {kind} | {times} | {batch} |", flush=True)


if __name__ == "__main__":
    main()
