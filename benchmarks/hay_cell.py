"""The Hay-style pyramidal cell (all twelve Hay et al. 2011 mechanisms) against NEURON.

tests/hay_style_cell.py's cell with its basal and apical subtree repeated to about 1,000
compartments; 200 ms at dt 0.025 with a somatic step, float64. Prints, in one run: NEURON's
time per simulation (finitialize + fadvance loop, one thread), dendrax's backend, build time
(the native kernel's C++ compile, cached on disk after the first time) and jit compile time,
one simulation, per simulation in a vmapped batch (NaTs2_t density scaled), value_and_grad
over forward time, and the largest somatic voltage and calcium differences to NEURON.
Times are the best of a few runs, as wall-clock and as CPU time of this process (the fair
figure on a loaded machine when the process is limited to one core):

    taskset -c 0 python benchmarks/hay_cell.py [--copies 28] [--batch 32] [--t-max 200]
                                               [--rounds 1]

With `--rounds N` the timings (NEURON, one simulation, the batch, the gradient) run N times,
interleaved, and the least of each is kept, so that a slow spell of a shared machine does
not fall on one simulator only.

NEURON runs the published .mod files of Hay et al. (tests/mod/hay2011, as distributed with
the model); the NMODL files of tests/mod and tests/mod/hay2011 are compiled with nrnivmodl
into a temporary folder.
"""

import argparse
import os
import pathlib
import sys
import tempfile
import time

import jax
import jax.numpy as jnp
import numpy as np

jax.config.update("jax_enable_x64", True)
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "tests"))

from hay_style_cell import CELSIUS, V_INIT, compartments, dendrax_cell, neuron_cell, scaled  # noqa: E402

import dendrax as dx  # noqa: E402

DT = 0.025


class _Folder:
    def mktemp(self, name):
        return pathlib.Path(tempfile.mkdtemp(prefix=name))


def _best(function, repeats=3):
    """The least (wall-clock, CPU) seconds of `repeats` calls."""
    times = []
    for _ in range(repeats):
        start, cpu = time.perf_counter(), time.process_time()
        jax.block_until_ready(function())
        times.append((time.perf_counter() - start, time.process_time() - cpu))
    return np.min(times, axis=0)


def _line(what, ours, neuron_time):
    wall, cpu = ours
    return (
        f"{what}: {1e3 * wall:.0f} ms wall ({neuron_time[0] / wall:.2f}x NEURON), "
        f"{1e3 * cpu:.0f} ms CPU ({neuron_time[1] / cpu:.2f}x NEURON)"
    )


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--copies", type=int, default=28)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--t-max", type=float, default=200.0)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    branches = scaled(args.copies)
    t_max = args.t_max
    print(f"{compartments(branches)} compartments, {len(branches)} branches, {t_max} ms")

    from neuron import h
    from neuron_mechanisms import load_test_mechanisms

    load_test_mechanisms(_Folder())
    sections = neuron_cell(branches)
    stim = h.IClamp(sections[0](0.5))
    stim.delay, stim.dur, stim.amp = 20.0, 150.0, 2.0
    their_v = h.Vector().record(sections[0](0.5)._ref_v)
    their_cai = h.Vector().record(sections[0](0.5)._ref_cai)
    h.dt, h.celsius = DT, CELSIUS

    def neuron_run():
        h.finitialize(V_INIT)
        for _ in range(round(t_max / DT)):
            h.fadvance()

    neuron_time = _best(neuron_run)
    theirs = np.array([np.array(their_v), np.array(their_cai)])

    cell = dendrax_cell(branches)
    cell.branch(0).stimulate(dx.step_current(20.0, 150.0, 2.0, DT, t_max))
    cell.branch(0).record("v")
    cell.branch(0).record("cai")
    start = time.perf_counter()
    sim = dx.build(cell, dt=DT, v_init=V_INIT, celsius=CELSIUS)
    build_time = time.perf_counter() - start
    run = jax.jit(sim.run)
    start = time.perf_counter()
    ours = np.asarray(run(sim.params))
    compile_time = time.perf_counter() - start

    scale = jnp.linspace(0.9, 1.1, args.batch)
    base = sim.params["NaTs2_t"]["gNaTs2_tbar"]

    def batched(s):
        params = {**sim.params, "NaTs2_t": {"gNaTs2_tbar": base * s}}
        return sim.run(params)

    batch_run = jax.jit(jax.vmap(batched))
    jax.block_until_ready(batch_run(scale))
    loss = jax.jit(jax.value_and_grad(lambda s: jnp.mean(batched(s)[0])))
    jax.block_until_ready(loss(1.0))

    single = batch = gradient = np.full(2, np.inf)
    for _ in range(args.rounds):
        if args.rounds > 1:
            neuron_time = np.minimum(neuron_time, _best(neuron_run))
        single = np.minimum(single, _best(lambda: run(sim.params)))
        batch = np.minimum(batch, _best(lambda: batch_run(scale), repeats=1) / args.batch)
        gradient = np.minimum(gradient, _best(lambda: loss(1.0)))

    print(f"dendrax backend: {sim.spec.backend}, {len(os.sched_getaffinity(0))} core(s) usable")
    print(f"max |V - V_NEURON| at the soma: {np.max(np.abs(ours[0] - theirs[0])):.2e} mV")
    cai_error = np.max(np.abs(ours[1] - theirs[1]) / theirs[1])
    print(f"max |cai - cai_NEURON| / cai_NEURON at the soma: {cai_error:.2e}")
    print(f"NEURON: {1e3 * neuron_time[0]:.0f} ms wall, {1e3 * neuron_time[1]:.0f} ms CPU")
    print(f"dendrax build: {build_time:.1f} s (includes compiling the native kernel if new)")
    print(f"dendrax compile: {compile_time:.1f} s (first call, includes one run)")
    print(_line("dendrax single", single, neuron_time))
    print(_line(f"dendrax batch of {args.batch}, per simulation", batch, neuron_time))
    print(f"value_and_grad / forward: {gradient[0] / single[0]:.1f}x (wall)")


if __name__ == "__main__":
    main()
