"""Imported .mod files against the library's hand-written twins: loading and run speed.

Loads the .mod files of tests/mod and tests/mod/hay2011 with `dx.load_mods` (twice in one
process: the first load parses and translates, the second finds them in the process's
cache), then builds the Hay-style cell of benchmarks/hay_cell.py (about 1,000 compartments,
200 ms at dt 0.025) twice, once with the library's Hay channels and once with the classes
imported from the published Hay et al. (2011) files (tests/mod/hay2011, as distributed with
the model), and times one native simulation of each (CPU time of
this process, the best of `--repeats`, the two interleaved for `--rounds` rounds). Prints
the load times, both run times, their ratio and the largest voltage difference.

    taskset -c 0 python benchmarks/nmodl_speed.py [--copies 28] [--rounds 3] [--repeats 3]

Measured (2026-12-07, one core of the 2-core machine, quiet but for the benchmark, two
runs, the published files): the 39 files then in tests/mod and tests/mod/hay2011 load in
0.06-0.11 s (the first time in a process; their classes are made then, their JAX code
traced when a model is built); the cell builds in 0.8-0.9 s with either set (kernels
cached); one simulation takes 429 ms CPU with the hand-written channels and 452-455 ms with
the imported ones, 1.054-1.060x (the goal is 1.05x; 1.17-1.18x before the imported code
held constants as constants, stepped cnexp's (A - x)/B with one division and squared by
products), and the two differ by 1.4e-14 mV. What is left is mostly the files' own
arithmetic: with only NaTa_t and NaTs2_t imported (the others hand-written) a simulation
took 1.047x, with the other ten channels imported 1.025x, with CaDynamics_E2 alone 1.007x.
Those two files compute each gate's beta with an exponential and a division of its own
(as NEURON does), where the hand-written channels derive it from alpha's exponential;
the rest is NEURON's di/dv, which imported mechanisms take as NEURON does, by a difference
quotient of two current evaluations (`slope_by_difference`).
"""

import argparse
import pathlib
import sys
import time

import jax
import numpy as np

jax.config.update("jax_enable_x64", True)
HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from hay_style_cell import CELSIUS, V_INIT, dendrax_cell, scaled  # noqa: E402

import dendrax as dx  # noqa: E402

MOD_FOLDER = HERE.parent / "tests" / "mod"
HAY_FOLDER = MOD_FOLDER / "hay2011"
T_MAX = 200.0


def build(copies: int, mechanisms=None):
    cell = dendrax_cell(scaled(copies), mechanisms)
    cell.branch(0).stimulate(dx.step_current(20.0, 150.0, 2.0, 0.025, T_MAX))
    cell.branch(0).record("v")
    return dx.build(cell, dt=0.025, v_init=V_INIT, celsius=CELSIUS, backend="native")


def cpu_time(sim, repeats: int) -> float:
    """The least CPU time (s) of `repeats` runs, after a first (compiling) one."""
    run = jax.jit(lambda params: sim.run(params, t_max=T_MAX))
    jax.block_until_ready(run(sim.params))
    best = np.inf
    for _ in range(repeats):
        start = time.process_time()
        jax.block_until_ready(run(sim.params))
        best = min(best, time.process_time() - start)
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=28)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    files = sorted([*MOD_FOLDER.glob("*.mod"), *HAY_FOLDER.glob("*.mod")])
    start = time.perf_counter()
    dx.load_mods(MOD_FOLDER)
    mechanisms = dx.load_mods(HAY_FOLDER)
    first = time.perf_counter() - start
    start = time.perf_counter()
    dx.load_mods(MOD_FOLDER)
    dx.load_mods(HAY_FOLDER)
    again = time.perf_counter() - start
    print(f"load_mods: {len(files)} files, {first:.2f} s the first time, {again:.2f} s again")

    start = time.perf_counter()
    written = build(args.copies)
    built = time.perf_counter() - start
    start = time.perf_counter()
    imported = build(args.copies, mechanisms)
    print(f"build: {built:.2f} s hand-written, {time.perf_counter() - start:.2f} s imported")
    for sim in (written, imported):
        if sim.spec.backend != "native":
            raise SystemExit("the native kernel is not available here")
    difference = np.max(np.abs(np.asarray(written.run()) - np.asarray(imported.run())))
    times = {"hand-written": np.inf, "imported": np.inf}
    for _ in range(args.rounds):
        times["hand-written"] = min(times["hand-written"], cpu_time(written, args.repeats))
        times["imported"] = min(times["imported"], cpu_time(imported, args.repeats))
    for name, seconds in times.items():
        print(f"{name}: {1e3 * seconds:.1f} ms CPU per {T_MAX:.0f} ms simulation")
    ratio = times["imported"] / times["hand-written"]
    print(f"imported / hand-written: {ratio:.3f}; largest difference {difference:.2e} mV")


if __name__ == "__main__":
    main()
