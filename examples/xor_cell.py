"""One cell computing XOR of two synaptic inputs, by training its radii, axial
resistivity and conductances.

A soma with one dendrite (Hodgkin–Huxley everywhere). Inputs A and B are spike trains
(`dx.spike_source`) that each drive an excitatory ExpSyn at the dendrite's tip and an
inhibitory Exp2Syn at the soma. The answer is whether the soma spikes: it should for A
alone and B alone, not for neither or both. XOR is possible because the thin dendrite's
excitation saturates (two inputs depolarise the tip little more than one) while the
inhibition at the soma adds up. The four input patterns run as four copies of the cell in
one network whose trained values are shared (one value per trained parameter for all
copies), so the trained model is one cell; one simulation gives all four answers.

The loss (mV²) is the mean over patterns of the squared margin violation of the peak
somatic v: a pattern that should spike is penalised below +10 mV, one that should not
above -50 mV.

    python examples/xor_cell.py [--steps 150] [--out xor.png]

Measured (2-core machine): loss 1.83e3 -> 0 mV² in 35 steps of Adam (rate 0.1), all four
patterns answered (peaks -65, 11, 11, -56 mV; 18 s).
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

import dendrax as dx

matplotlib.use("Agg")
import matplotlib.pyplot as plt

jax.config.update("jax_enable_x64", True)

DT, T_MAX, INPUT_TIME = 0.025, 30.0, 5.0  # ms
PATTERNS = [(0, 0), (1, 0), (0, 1), (1, 1)]
SPIKE, QUIET = 10.0, -50.0  # mV: the peak somatic v should be above / below


def build_model():
    """Four copies of the cell, copy i receiving PATTERNS[i]; returns the simulation."""
    cells = []
    for _ in PATTERNS:
        cell = dx.Cell.from_parents([-1, 0], ncomp=[1, 4], length=[20.0, 50.0], radius=[8.0, 1.0])
        cell.insert(dx.channels.HH())
        cell.branch(0).record("v")
        cells.append(cell)
    net = dx.Network(cells)
    sources = dx.spike_source([[INPUT_TIME], [INPUT_TIME]])  # input A, input B
    for cell, pattern in zip(cells, PATTERNS, strict=True):
        for source, active in enumerate(pattern):
            if active:
                excitation, inhibition = (
                    dx.synapses.ExpSyn(tau=2.0),
                    dx.synapses.Exp2Syn(tau1=1.0, tau2=5.0, e=-80.0),
                )
                tip, soma = cell.branch(1).loc(1.0), cell.branch(0).loc(0.5)
                dx.connect(sources[source], tip, excitation, weight=0.01, delay=1.0)
                dx.connect(sources[source], soma, inhibition, weight=0.01, delay=1.0)
    # One value per branch shared by the copies: labels soma 0, dendrite 1 per compartment.
    labels = np.tile([0, 1, 1, 1, 1], len(PATTERNS))
    net.cells.make_trainable("radius", share=labels, bounds=(0.2, 12.0))  # µm
    net.cells.make_trainable("HH.gNa", share=labels, bounds=(0.01, 0.5))  # S/cm²
    net.cells.make_trainable("HH.gK", share=labels, bounds=(0.005, 0.2))
    net.cells.make_trainable("axial_resistivity", bounds=(30.0, 300.0))
    net.cells[1:].make_trainable("ExpSyn.weight", bounds=(0.0, 0.2))  # µS
    net.cells[1:].make_trainable("Exp2Syn.weight", bounds=(0.0, 0.2))
    return dx.build(net, dt=DT)


def peaks(sim, theta):
    """Peak somatic v (mV) of each input pattern."""
    return jnp.max(sim.run(sim.params_from(theta), t_max=T_MAX), axis=-1)


def loss(sim, theta):
    """Mean squared margin violation (mV²) of the peaks: above SPIKE for XOR true, below
    QUIET for false."""
    target = jnp.array([a ^ b for a, b in PATTERNS], bool)
    v = peaks(sim, theta)
    return jnp.mean(jnp.where(target, jax.nn.relu(SPIKE - v), jax.nn.relu(v - QUIET)) ** 2)


def main(argv=None) -> dict:
    """Train; prints and returns the loss before and after and the four outputs."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--lr", type=float, default=0.1, help="Adam's rate")
    parser.add_argument("--out", default=str(pathlib.Path(tempfile.gettempdir()) / "xor.png"))
    args = parser.parse_args(argv)
    sim = build_model()
    theta = sim.trainable_params()
    before = float(loss(sim, theta))
    start = time.perf_counter()
    result = dx.fit(
        lambda th: loss(sim, th),
        theta,
        optax.adam(args.lr),
        args.steps,
        sim=sim,
        stop_below=1e-6,  # the loss is 0 once every margin is met
        progress=False,
    )
    seconds = time.perf_counter() - start
    traces = np.asarray(sim.run(sim.params_from(result.theta), t_max=T_MAX))
    print(
        f"loss {before:.3g} -> {result.loss:.3g} mV² in {len(result.history['loss'])} steps "
        f"({seconds:.1f} s)"
    )
    print("A B  XOR  peak v (mV)  spikes")
    for (a, b), trace in zip(PATTERNS, traces, strict=True):
        spikes = int(np.sum((trace[1:] > 0.0) & (trace[:-1] <= 0.0)))
        print(f"{a} {b}  {a ^ b:>3}  {trace.max():>11.1f}  {spikes:>6}")
    for key, value in sim.trainable_values(result.theta).items():
        print(key, np.round(np.asarray(value.values), 4), value.unit)
    figure(traces, result, args.out)
    print(f"figure: {args.out}")
    return {"before": before, "after": result.loss, "peaks": traces.max(-1)}


def figure(traces, result, path: str) -> None:
    """The somatic v of each pattern after training and the loss per step."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.5))
    t = DT * np.arange(traces.shape[-1])
    for (a, b), trace in zip(PATTERNS, traces, strict=True):
        left.plot(t, trace, label=f"A={a} B={b}")
    left.set(xlabel="time (ms)", ylabel="somatic v (mV)", title="trained cell")
    left.legend()
    right.plot(result.history["loss"])
    right.set(xlabel="step", ylabel="loss (mV²)", yscale="symlog")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
