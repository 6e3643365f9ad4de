"""Networks: how long describing, building and simulating a large network takes, and a
spiking network against NEURON.

Part 1 (scale, as the large-network benchmark of the best-known differentiable
simulator): `--cells` multi-compartment HH cells (a soma and two dendrites, `--ncomp`
compartments each), connected by `sparse_connect` with Ionotropic synapses at the
probability that gives `--synapses` connections; prints the seconds to describe, to
build, to compile and run a forward pass of `--t-max` ms, and the gradient with respect
to every synaptic conductance and every compartment's HH conductances (the native kernel
and its adjoint).

Part 2 (vs NEURON): `--spiking` HH cells with Exp2Syn synapses at p = 0.1, delays 1-5 ms,
driven by a current into a tenth of them, 1 s simulated: NEURON (one thread) and dendrax
(events on the native kernel), and Arbor (one thread) where it is installed, with the spike
counts of each, a batch of 16 weight sets, and the gradient of a voltage with respect to
every weight (the native adjoint).

    python benchmarks/networks.py [--cells 2000] [--synapses 1000000] [--t-max 20]
                                  [--neuron-cells 200] [--spiking 100]
                                  [--reconstructed] [--only neuron|scale|spiking]

With `--reconstructed`, part 1 uses the layout of the published benchmark instead: CA1
and Allen reconstructions (tests/data, 2 compartments per branch) in 5 layers.

NEURON runs the network of part 1 (with `--reconstructed`, the reconstructions read by its
Import3d) at `--neuron-cells` cells with the synapses scaled alike (the same density of
synapses): building a million POINTER synapses there takes too long.
"""

import argparse
import copy
import itertools
import pathlib
import resource
import sys
import tempfile
import time

import jax
import jax.numpy as jnp
import numpy as np

jax.config.update("jax_enable_x64", True)
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "tests"))

import dendrax as dx  # noqa: E402
from dendrax.mechanisms import HH  # noqa: E402

DT = 0.025
CA1 = "ca1_n120.swc"
ALLEN = "allen_485574832.swc"


def hh_cells(n, ncomp):
    cells = [
        dx.Cell.from_parents(
            [-1, 0, 0], ncomp=ncomp, length=[20.0, 100.0, 100.0], radius=[8.0, 1.0, 1.0]
        )
        for _ in range(n)
    ]
    for cell in cells:
        cell.insert(HH())
    return cells


def reconstructed_network(n_cells, n_synapses, t_max):
    """The published large-network benchmark's layout: reconstructions (CA1 and Allen,
    alternating, 2 compartments per branch) with HH everywhere, in 5 layers, each layer
    fully connected to the next by Ionotropic synapses and sparsely within itself up to
    `n_synapses` in all."""
    data = pathlib.Path(__file__).resolve().parent.parent / "tests" / "data"
    shapes = [dx.Cell.from_swc(data / name, ncomp=2) for name in (CA1, ALLEN)]
    cells = [copy.deepcopy(shapes[i % 2]) for i in range(n_cells)]
    net = dx.Network(cells)
    net.cells.insert(HH())
    layers = np.array_split(np.arange(n_cells), 5)
    synapse = dx.synapses.Ionotropic(gmax=1e-4)
    forward = sum(a.size * b.size for a, b in itertools.pairwise(layers))
    within = sum(a.size * (a.size - 1) for a in layers)
    p = float(np.clip((n_synapses - forward) / within, 0.0, 1.0))
    for k, layer in enumerate(layers):
        dx.sparse_connect(net.cells[layer], net.cells[layer], synapse, p=p, seed=k)
        if k + 1 < len(layers):
            dx.fully_connect(net.cells[layer], net.cells[layers[k + 1]], synapse, seed=k)
    net.cell(0).branch(0).loc(0.5).stimulate(dx.step_current(1.0, 5.0, 1.0, DT, t_max))
    net.cell(n_cells - 1).branch(0).loc(0.5).record("v")
    return net


def trained_values(sim) -> dict:
    """What the gradients of these benchmarks are taken with respect to: every synapse's
    gmax and every compartment's HH conductances."""
    return {
        "gmax": sim.params["Ionotropic"]["gmax"],
        "HH": {name: sim.params["HH"][name] for name in ("gNa", "gK", "gLeak")},
    }


def trained_loss(trained, sim):
    """The mean of the recordings with `trained` (as `trained_values`) in the parameters."""
    params = {
        **sim.params,
        "Ionotropic": {**sim.params["Ionotropic"], "gmax": trained["gmax"]},
        "HH": {**sim.params["HH"], **trained["HH"]},
    }
    return jnp.mean(sim.run(params))


def graded_network(n_cells, n_synapses, ncomp, t_max):
    """HH cells joined by Ionotropic synapses at random, a current into cell 0."""
    net = dx.Network(hh_cells(n_cells, ncomp))
    p = min(1.0, n_synapses / (n_cells * (n_cells - 1)))
    dx.sparse_connect(net.cells, net.cells, dx.synapses.Ionotropic(gmax=1e-4), p=p, seed=0)
    net.cell(0).branch(0).loc(0.5).stimulate(dx.step_current(1.0, 5.0, 1.0, DT, t_max))
    net.cell(n_cells - 1).branch(0).loc(0.5).record("v")
    return net


def versus_neuron(args):
    """The network of part 1 (`--reconstructed` or not) at `--neuron-cells` cells (synapses
    scaled alike) in NEURON (GradedSyn of tests/mod, one thread) and dendrax: forward time
    and largest v difference."""
    from neuron import h
    from neuron_mechanisms import load_test_mechanisms

    class Folder:
        def mktemp(self, name):
            return pathlib.Path(tempfile.mkdtemp(prefix=name))

    load_test_mechanisms(Folder())
    n = args.neuron_cells
    n_syn = int(args.synapses * (n * (n - 1)) / (args.cells * (args.cells - 1)))
    if args.reconstructed:
        net = reconstructed_network(n, n_syn, args.t_max)
        morphologies = _neuron_reconstructions(n)  # kept: they own the sections
        sections = [m.sections for m in morphologies]
    else:
        net = graded_network(n, n_syn, args.ncomp, args.t_max)
        sections = _neuron_hh_cells(n, args.ncomp)
    sim = dx.build(net, dt=DT)
    run = jax.jit(lambda sim: sim.run())
    ours_v = np.asarray(run(sim))
    start = time.perf_counter()
    run(sim).block_until_ready()
    ours = time.perf_counter() - start
    table = net.synapses
    keep = []
    for k in range(table["type"].size):
        post = sections[int(table["post_cell"][k])][int(table["post_branch"][k])]
        pre = sections[int(table["pre_cell"][k])][int(table["pre_branch"][k])]
        syn = h.GradedSyn(post(float(table["post_x"][k])))
        syn.gmax = float(table["Ionotropic.gmax"][k])
        h.setpointer(pre(float(table["pre_x"][k]))._ref_v, "vpre", syn)
        keep.append(syn)
    stim = h.IClamp(sections[0][0](0.5))
    stim.delay, stim.dur, stim.amp = 1.0, 5.0, 1.0
    recorded = h.Vector().record(sections[-1][0](0.5)._ref_v)
    h.usetable_hh = 0
    h.dt = DT
    h.finitialize(-65.0)
    start = time.perf_counter()
    h.continuerun(args.t_max)
    theirs = time.perf_counter() - start
    gap = np.abs(np.asarray(recorded) - ours_v[0]).max()
    print(
        f"vs NEURON at {n} cells ({int(sim.compartment_cells.size)} compartments), "
        f"{table['type'].size} synapses, {args.t_max} ms: NEURON "
        f"{theirs:.2f} s, dendrax {ours:.2f} s ({sim.spec.backend}): {theirs / ours:.1f}x; "
        f"largest v difference {gap:.1e} mV",
        flush=True,
    )


def _neuron_hh_cells(n, ncomp):
    """`hh_cells` in NEURON: per cell its sections in dendrax's branch order."""
    from neuron import h

    cells = []
    for _ in range(n):
        soma = h.Section()
        soma.L, soma.diam, soma.nseg = 20.0 * ncomp, 16.0, ncomp
        dends = []
        for _ in range(2):
            dend = h.Section()
            dend.L, dend.diam, dend.nseg = 100.0 * ncomp, 2.0, ncomp
            dend.connect(soma(1.0))
            dends.append(dend)
        for sec in [soma, *dends]:
            sec.insert("hh")
        cells.append([soma, *dends])
    return cells


def _neuron_reconstructions(n):
    """The cells of `reconstructed_network` read by NEURON's Import3d (2 segments per
    section, HH everywhere); `.sections` in dendrax's branch order."""
    from neuron_import3d import NeuronMorphology

    data = pathlib.Path(__file__).resolve().parent.parent / "tests" / "data"
    cells = []
    for i in range(n):
        morphology = NeuronMorphology(str(data / (CA1, ALLEN)[i % 2]))
        morphology.set_nseg(2)
        morphology.insert("hh")
        cells.append(morphology)
    return cells


def scale(args):
    start = time.perf_counter()
    if args.reconstructed:
        net = reconstructed_network(args.cells, args.synapses, args.t_max)
    else:
        net = graded_network(args.cells, args.synapses, args.ncomp, args.t_max)
    described = time.perf_counter() - start
    n_syn = len(net.synapses["type"])
    print(f"{args.cells} cells, {n_syn} synapses: described in {described:.1f} s", flush=True)
    start = time.perf_counter()
    sim = dx.build(net, dt=DT)
    built = time.perf_counter() - start
    print(f"  built in {built:.1f} s ({sim.spec.backend})", flush=True)
    # The simulation is an argument (a pytree), not a constant of the program: XLA would
    # spend minutes folding gathers over a million-entry constant.
    run = jax.jit(lambda sim: sim.run())
    start = time.perf_counter()
    run = run.lower(sim).compile()
    compiled = time.perf_counter() - start
    start = time.perf_counter()
    run(sim).block_until_ready()
    warm = time.perf_counter() - start
    print(
        f"  forward: compiled in {compiled:.1f} s, ran in {warm:.2f} s; peak memory of the "
        f"process {_peak_gib():.1f} GiB",
        flush=True,
    )

    trained = trained_values(sim)
    start = time.perf_counter()
    grad = jax.jit(jax.grad(trained_loss)).lower(trained, sim).compile()
    grad_compiled = time.perf_counter() - start
    start = time.perf_counter()
    jax.block_until_ready(grad(trained, sim))
    grad_warm = time.perf_counter() - start
    n_comp = int(sim.compartment_cells.size)
    print(f"  {n_comp} compartments, {args.t_max} ms")
    print(
        f"  gradient (every gmax and every compartment's HH conductances): "
        f"compiled in {grad_compiled:.1f} s, ran in {grad_warm:.2f} s "
        f"({grad_warm / warm:.1f}x forward); peak memory of the process {_peak_gib():.1f} GiB"
    )


def _peak_gib() -> float:
    """The largest resident memory of this process so far (GiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def spiking(args):
    n, t_max = args.spiking, 1000.0
    rng = np.random.default_rng(2)
    pairs = np.argwhere(rng.random((n, n)) < 0.1)
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    delays = rng.uniform(1.0, 5.0, len(pairs))
    net = dx.Network(hh_cells(n, 1))
    synapse = dx.synapses.Exp2Syn(tau1=0.5, tau2=3.0)
    dx.connect_edges(pairs[:, 0], pairs[:, 1], synapse, network=net, weight=0.002, delay=delays)
    table = net.synapses
    delays = table["delay"]
    driven = np.arange(0, n, 10)
    current = dx.step_current(0.0, t_max, 0.3, DT, t_max)
    for i in driven:
        net.cell(int(i)).branch(0).loc(0.5).stimulate(current)
    for i in range(n):
        net.cell(i).branch(0).loc(0.5).record_spikes(threshold=10.0)
    net.cell(1).branch(0).loc(0.5).record()  # a voltage for the gradient's loss
    sim = dx.build(net, dt=DT)
    run = jax.jit(lambda params: sim.run(params))
    start = time.perf_counter()
    traces = run(sim.params).block_until_ready()
    first = time.perf_counter() - start
    start = time.perf_counter()
    traces = run(sim.params).block_until_ready()
    ours = time.perf_counter() - start
    spikes = int(np.asarray(traces[:n]).sum())
    batch = jax.jit(
        jax.vmap(
            lambda w: sim.run({**sim.params, "Exp2Syn": {**sim.params["Exp2Syn"], "weight": w}})
        )
    )
    weights = sim.params["Exp2Syn"]["weight"] * jnp.linspace(0.9, 1.1, 16)[:, None]
    batch(weights).block_until_ready()
    start = time.perf_counter()
    batch(weights).block_until_ready()
    per_sim = (time.perf_counter() - start) / 16
    grad = jax.jit(
        jax.grad(
            lambda w: sim.run({**sim.params, "Exp2Syn": {**sim.params["Exp2Syn"], "weight": w}})[
                n:
            ].mean()
        )
    )
    start = time.perf_counter()
    grad(sim.params["Exp2Syn"]["weight"]).block_until_ready()
    grad_first = time.perf_counter() - start
    start = time.perf_counter()
    grad(sim.params["Exp2Syn"]["weight"]).block_until_ready()
    grad_warm = time.perf_counter() - start
    theirs, their_spikes = _neuron_spiking(n, table, delays, driven, t_max)
    print(f"{n} spiking cells, {table['pre_cell'].size} Exp2Syn, {t_max:.0f} ms")
    print(
        f"  NEURON {theirs:.2f} s ({their_spikes} spikes); dendrax {ours:.2f} s "
        f"({spikes} spikes; first call {first:.1f} s): {theirs / ours:.2f}x NEURON; "
        f"batch of 16: {per_sim:.2f} s per simulation ({theirs / per_sim:.2f}x NEURON)"
    )
    try:
        arbor_s, arbor_spikes, arbor_batch = _arbor_spiking(
            n, table, delays, set(driven.tolist()), t_max, np.linspace(0.9, 1.1, 16)
        )
    except ImportError:
        print("  Arbor: not installed (pip install -e '.[bench]')")
    else:
        print(
            f"  Arbor {arbor_s:.2f} s ({arbor_spikes} spikes): "
            f"dendrax {arbor_s / ours:.2f}x Arbor; "
            f"batch of 16: {arbor_batch:.2f} s per network ({arbor_batch / per_sim:.2f}x)"
        )
    print(
        f"  gradient with respect to every weight: {grad_warm:.2f} s warm "
        f"({grad_warm / ours:.1f}x forward; first call {grad_first:.1f} s), "
        f"{sim.spec.backend}; peak memory {_peak_gib():.1f} GiB"
    )


def _neuron_spiking(n, table, delays, driven, t_max):
    from neuron import h

    h.load_file("stdrun.hoc")
    somas = []
    for _ in range(n):
        soma = h.Section()
        dends = [h.Section() for _ in range(2)]
        soma.L, soma.diam, soma.nseg = 20.0, 16.0, 1
        for d in dends:
            d.L, d.diam, d.nseg = 100.0, 2.0, 1
            d.connect(soma(1.0))
        for sec in [soma, *dends]:
            sec.insert("hh")
        somas.append((soma, dends))
    keep = []
    for k in range(table["pre_cell"].size):
        pre, post = int(table["pre_cell"][k]), int(table["post_cell"][k])
        branch, x = int(table["post_branch"][k]), float(table["post_x"][k])
        section = somas[post][0] if branch == 0 else somas[post][1][branch - 1]
        syn = h.Exp2Syn(section(x))
        syn.tau1, syn.tau2 = 0.5, 3.0
        nc = h.NetCon(somas[pre][0](0.5)._ref_v, syn, sec=somas[pre][0])
        nc.threshold, nc.delay, nc.weight[0] = 10.0, float(delays[k]), 0.002
        keep += [syn, nc]
    for i in driven:
        stim = h.IClamp(somas[int(i)][0](0.5))
        stim.delay, stim.dur, stim.amp = 0.0, t_max, 0.3
        keep.append(stim)
    counts = h.Vector()
    watchers = []
    for soma, _ in somas:
        w = h.NetCon(soma(0.5)._ref_v, None, sec=soma)
        w.threshold = 10.0
        w.record(counts)
        watchers.append(w)
    h.usetable_hh = 0  # dendrax computes the rates exactly
    h.dt = DT
    h.finitialize(-65.0)
    start = time.perf_counter()
    h.continuerun(t_max)
    return time.perf_counter() - start, int(counts.size())


def _arbor_spiking(n, table, delays, driven, t_max, scales):
    """The spiking network in Arbor, one thread: (seconds, spikes) for one network, and
    seconds per network for len(scales) networks with scaled weights in one recipe."""
    import arbor

    units = arbor.units
    tree = arbor.segment_tree()
    soma = tree.append(arbor.mnpos, (0, 0, 0, 8.0), (20.0, 0, 0, 8.0), tag=1)
    for end in ((120.0, 0, 0, 1.0), (20.0, 100.0, 0, 1.0)):  # two 100 µm dendrites
        tree.append(soma, (20.0, 0, 0, 1.0), end, tag=3)
    morphology = arbor.morphology(tree)
    # NEURON's segments as CVs (one per branch), and the fork a CV of its own as NEURON's node
    ends = " ".join(f"(location {b} {x})" for b in range(3) for x in (0, 1))
    policy = arbor.cv_policy_explicit(f"(sum {ends})")
    incoming = [np.flatnonzero(table["post_cell"] == i) for i in range(n)]

    def cell(i):
        decor = arbor.decor()
        decor.set_property(Vm=-65.0 * units.mV, tempK=(6.3 + 273.15) * units.Kelvin)
        decor.paint("(all)", arbor.density("hh"))
        decor.place("(location 0 0.5)", arbor.threshold_detector(10.0 * units.mV), "spike")
        for k in incoming[i]:
            where = f"(location {int(table['post_branch'][k])} {float(table['post_x'][k])!r})"
            decor.place(where, arbor.synapse("exp2syn", tau1=0.5, tau2=3.0), f"s{k}")
        if i in driven:
            clamp = arbor.i_clamp(0.0 * units.ms, t_max * units.ms, 0.3 * units.nA)
            decor.place("(location 0 0.5)", clamp)
        return arbor.cable_cell(morphology, decor, discretization=policy)

    cells = [cell(i) for i in range(n)]
    properties = arbor.neuron_cable_properties()

    class Recipe(arbor.recipe):
        def __init__(self, weight_scales):
            super().__init__()
            self.weight_scales = weight_scales

        def num_cells(self):
            return n * len(self.weight_scales)

        def cell_kind(self, gid):
            return arbor.cell_kind.cable

        def cell_description(self, gid):
            return cells[gid % n]

        def connections_on(self, gid):
            offset, scale = gid - gid % n, self.weight_scales[gid // n]
            return [
                arbor.connection(
                    (offset + int(table["pre_cell"][k]), "spike"),
                    f"s{k}",
                    0.002 * scale,
                    float(delays[k]) * units.ms,
                )
                for k in incoming[gid % n]
            ]

        def global_properties(self, kind):
            return properties

    def simulate(weight_scales):
        recipe = Recipe(weight_scales)
        context = arbor.context(threads=1)
        sim = arbor.simulation(recipe, context, arbor.partition_load_balance(recipe, context))
        sim.record(arbor.spike_recording.all)
        start = time.perf_counter()
        sim.run(t_max * units.ms, DT * units.ms)
        return time.perf_counter() - start, len(sim.spikes())

    seconds, spikes = simulate([1.0])
    batch, _ = simulate(list(scales))
    return seconds, spikes, batch / len(scales)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=2000)
    parser.add_argument("--ncomp", type=int, default=2)
    parser.add_argument("--synapses", type=int, default=1_000_000)
    parser.add_argument("--t-max", type=float, default=20.0)
    parser.add_argument("--spiking", type=int, default=100)
    parser.add_argument("--neuron-cells", type=int, default=200)
    parser.add_argument("--reconstructed", action="store_true")
    parser.add_argument("--only", choices=["neuron", "scale", "spiking"])
    args = parser.parse_args()
    for name, part in (("neuron", versus_neuron), ("scale", scale), ("spiking", spiking)):
        if args.only in (None, name):
            part(args)


if __name__ == "__main__":
    main()
