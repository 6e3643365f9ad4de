"""The Hay-style pyramidal cell (all twelve Hay et al. 2011 mechanisms) against NEURON.

tests/hay_style_cell.py's cell with its basal and apical subtree repeated to about 1,000
compartments; 200 ms at dt 0.025 with a somatic step, float64. Prints, in one run: NEURON's
time per simulation (finitialize + fadvance loop, one thread), dendrax's jit compile time,
one simulation, per simulation in a vmapped batch (NaTs2_t density scaled), value_and_grad
over forward time, and the largest somatic voltage difference to NEURON.

    python benchmarks/hay_cell.py [--copies 28] [--batch 32] [--t-max 200]

The NMODL files of tests/mod are compiled with nrnivmodl into a temporary folder.
"""

import argparse
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
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(function())
        times.append(time.perf_counter() - start)
    return min(times)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--copies", type=int, default=28)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--t-max", type=float, default=200.0)
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
    h.dt, h.celsius = DT, CELSIUS

    def neuron_run():
        h.finitialize(V_INIT)
        for _ in range(round(t_max / DT)):
            h.fadvance()

    neuron_time = _best(neuron_run)
    theirs = np.array(their_v)

    cell = dendrax_cell(branches)
    cell.branch(0).stimulate(dx.step_current(20.0, 150.0, 2.0, DT, t_max))
    cell.branch(0).record("v")
    sim = dx.build(cell, dt=DT, v_init=V_INIT, celsius=CELSIUS)
    run = jax.jit(sim.run)
    start = time.perf_counter()
    ours = np.asarray(run(sim.params))
    compile_time = time.perf_counter() - start
    single = _best(lambda: run(sim.params))

    scale = jnp.linspace(0.9, 1.1, args.batch)
    base = sim.params["NaTs2_t"]["gNaTs2_tbar"]

    def batched(s):
        params = {**sim.params, "NaTs2_t": {"gNaTs2_tbar": base * s}}
        return sim.run(params)

    batch_run = jax.jit(jax.vmap(batched))
    jax.block_until_ready(batch_run(scale))
    batch = _best(lambda: batch_run(scale), repeats=1) / args.batch

    loss = jax.jit(jax.value_and_grad(lambda s: jnp.mean(batched(s)[0])))
    jax.block_until_ready(loss(1.0))
    gradient = _best(lambda: loss(1.0))

    print(f"max |V - V_NEURON| at the soma: {np.max(np.abs(ours[0] - theirs)):.2e} mV")
    print(f"NEURON: {1e3 * neuron_time:.0f} ms per simulation")
    print(f"dendrax compile: {compile_time:.1f} s (first call, includes one run)")
    print(f"dendrax single: {1e3 * single:.0f} ms ({neuron_time / single:.2f}x NEURON)")
    print(
        f"dendrax batch of {args.batch}: {1e3 * batch:.0f} ms per simulation "
        f"({neuron_time / batch:.2f}x NEURON)"
    )
    print(f"value_and_grad / forward: {gradient / single:.1f}x")


if __name__ == "__main__":
    main()
