"""A network against NEURON, run live: spike-event synapses with delays (NetCon to ExpSyn
and Exp2Syn), an external spike train (VecStim), a graded synapse and a gap junction
(POINTER-based .mod files in tests/mod), with events="step", which reproduces NEURON's
fixed step. The spike train's events reach NEURON by NetCon.event at spike + delay, as a
VecStim's would (VecStim is not built into NEURON)."""

import pathlib

import numpy as np
import pytest

neuron = pytest.importorskip("neuron", reason="the parity tests run NEURON")

from neuron import h  # noqa: E402
from neuron_mechanisms import load_test_mechanisms  # noqa: E402
from neuron_reference import NeuronModel  # noqa: E402

import dendrax as dx  # noqa: E402
from dendrax.mechanisms import HH  # noqa: E402

DT = 0.025
T_MAX = 200.0
PARENTS = [-1, 0, 0]
NCOMP = 3
LENGTH = [10.0, 40.0, 40.0]
RADIUS = [8.0, 1.0, 1.0]
TRAIN = [2.0, 20.0, 41.0125, 60.3, 100.0]
STIMULUS = (120.0, 5.0, 0.3)  # delay (ms), duration (ms), amplitude (nA) into cell 2
# (pre cell, post cell, post branch, synapse, parameters, threshold, delay)
EVENT_CONNECTIONS = [
    (0, 1, 1, "ExpSyn", {"tau": 2.0, "e": 0.0}, 10.0, 1.0, 0.02),
    (1, 2, 2, "Exp2Syn", {"tau1": 0.5, "tau2": 4.0, "e": 0.0}, -10.0, 1.3, 0.03),
    (2, 3, 1, "ExpSyn", {"tau": 3.0, "e": 0.0}, 0.0, 0.0, 0.04),
    (3, 0, 2, "Exp2Syn", {"tau1": 1.0, "tau2": 5.0, "e": -80.0}, 10.0, 1.0125, 0.01),
]
GRADED = (3, 4, 1, {"gmax": 0.004, "v_half": -20.0, "slope": 4.0})
SPIKE_THRESHOLD = [10.0, -10.0, 0.0, 10.0, 10.0]
"""Per cell, the threshold of its spike recording: the one of its outgoing connection
(NEURON keeps one threshold per watched voltage, shared by its NetCons)."""
GAP = (4, 0, 2, 0.002)  # between cell 4 and cell 0, at branch 2's middle, uS
TRAIN_TARGET = (0, 1, 0.03)  # cell, branch, weight: an ExpSyn with tau 2 ms
TRAIN_DELAY = 0.5


def _dendrax(synapses=None, gap=None):
    """The network in dendrax, with the library's synapses or those of `synapses`
    (name -> class); `gap(a, b, g)` joins the gap junction (default `dx.gap_junction`)."""
    cells = [
        dx.Cell.from_parents(PARENTS, ncomp=NCOMP, length=LENGTH, radius=RADIUS) for _ in range(5)
    ]
    net = dx.Network(cells)
    net.cells.insert(HH())
    syn = {
        "ExpSyn": dx.synapses.ExpSyn,
        "Exp2Syn": dx.synapses.Exp2Syn,
        "Ionotropic": dx.synapses.Ionotropic,
        **(synapses or {}),
    }
    soma = [c.branch(0).loc(0.5) for c in cells]
    trains = dx.spike_source(TRAIN)
    cell, branch, weight = TRAIN_TARGET
    dx.connect(
        trains,
        cells[cell].branch(branch).loc(0.5),
        syn["ExpSyn"](tau=2.0),
        weight=weight,
        delay=TRAIN_DELAY,
    )
    for pre, post, branch, kind, params, threshold, delay, weight in EVENT_CONNECTIONS:
        dx.connect(
            soma[pre],
            cells[post].branch(branch).loc(0.5),
            syn[kind](**params),
            threshold=threshold,
            delay=delay,
            weight=weight,
        )
    pre, post, branch, params = GRADED
    dx.connect(soma[pre], cells[post].branch(branch).loc(0.5), syn["Ionotropic"](**params))
    a, b, branch, g = GAP
    (gap or dx.gap_junction)(cells[a].branch(branch).loc(0.5), cells[b].branch(branch).loc(0.5), g)
    delay, duration, amplitude = STIMULUS
    current = dx.step_current(delay, duration, amplitude, DT, T_MAX)
    cells[2].branch(0).loc(0.5).stimulate(current)
    for s in soma:
        s.record("v")
    for s, threshold in zip(soma, SPIKE_THRESHOLD, strict=True):
        s.record_spikes(threshold=threshold)
    cells[1].branch(1).loc(0.5).record(f"{syn['ExpSyn'].__name__}.g")
    return net


def _neuron(tmp_path_factory):
    load_test_mechanisms(tmp_path_factory)
    models = [NeuronModel(PARENTS, NCOMP, LENGTH, RADIUS) for _ in range(5)]
    keep = []
    for m in models:
        m.insert("hh")

    def seg(cell, branch):
        return models[cell].sections[branch](0.5)

    cell, branch, weight = TRAIN_TARGET
    syn = h.ExpSyn(seg(cell, branch))
    syn.tau = 2.0
    train = h.NetCon(None, syn)  # the spike train's events, sent after finitialize
    train.weight[0] = weight
    keep += [syn, train]
    g_record = None
    for pre, post, branch, kind, params, threshold, delay, weight in EVENT_CONNECTIONS:
        syn = getattr(h, kind)(seg(post, branch))
        for name, value in params.items():
            setattr(syn, name, value)
        nc = h.NetCon(seg(pre, 0)._ref_v, syn, sec=models[pre].sections[0])
        nc.threshold, nc.delay, nc.weight[0] = threshold, delay, weight
        keep += [syn, nc]
        if (post, branch, kind) == (1, 1, "ExpSyn"):
            g_record = h.Vector().record(syn._ref_g)
    pre, post, branch, params = GRADED
    graded = h.GradedSyn(seg(post, branch))
    for name, value in params.items():
        setattr(graded, name, value)
    h.setpointer(seg(pre, 0)._ref_v, "vpre", graded)
    a, b, branch, g = GAP
    for one, other in ((a, b), (b, a)):
        gap = h.HalfGap(seg(one, branch))
        gap.g = g
        h.setpointer(seg(other, branch)._ref_v, "vgap", gap)
        keep.append(gap)
    delay, duration, amplitude = STIMULUS
    stim = h.IClamp(seg(2, 0))
    stim.delay, stim.dur, stim.amp = delay, duration, amplitude
    voltages = [h.Vector().record(seg(i, 0)._ref_v) for i in range(5)]
    spikes = []
    for i in range(5):
        watcher = h.NetCon(seg(i, 0)._ref_v, None, sec=models[i].sections[0])
        watcher.threshold = SPIKE_THRESHOLD[i]
        spikes.append(h.Vector())
        watcher.record(spikes[-1])
        keep.append(watcher)
    h.usetable_hh = 0
    h.dt = DT
    h.celsius = 6.3
    h.secondorder = 0
    h.finitialize(-65.0)
    for spike in TRAIN:
        train.event(spike + TRAIN_DELAY)
    for _ in range(round(T_MAX / DT)):
        h.fadvance()
    keep.append(graded)
    return np.array(voltages), [np.array(s) for s in spikes], np.array(g_record)


@pytest.fixture(scope="module")
def neuron_run(tmp_path_factory):
    return _neuron(tmp_path_factory)


@pytest.mark.parametrize("backend", ["native", "jax"])
def test_network_matches_neuron(neuron_run, backend):
    """Spike times identical and voltages within 1e-6 mV (measured: 3e-11 mV), on the
    native kernel and in pure JAX."""
    voltages, spikes, g = neuron_run
    sim = dx.build(_dendrax(), dt=DT, backend=backend)
    assert sim.spec.backend == backend
    traces = np.asarray(sim.run(t_max=T_MAX))
    ours_spikes = sim.spike_times(traces)
    assert sum(s.size for s in spikes) >= 10, "the network should spike"
    for cell in range(5):
        np.testing.assert_allclose(ours_spikes[cell], spikes[cell], atol=1e-9)
    np.testing.assert_allclose(traces[:5], voltages, atol=1e-6, rtol=0)
    np.testing.assert_allclose(traces[10], g, atol=1e-12, rtol=0)


def test_a_network_of_imported_mod_files_matches_neuron(neuron_run):
    """The same network with its ExpSyn (NEURON's own expsyn.mod, tests/mod/neuron, the
    source of the built-in ExpSyn NEURON runs here), graded synapse and gap junction (the
    POINTER .mod files NEURON runs) imported by dx.load_mod: spikes identical, voltages
    within 1e-6 mV."""
    mods = pathlib.Path(__file__).parent / "mod"
    half_gap = dx.load_mod(mods / "half_gap.mod")

    def gap(a, b, g):
        a.insert(half_gap(g=g), peer=b)
        b.insert(half_gap(g=g), peer=a)

    synapses = {
        "ExpSyn": dx.load_mod(mods / "neuron" / "expsyn.mod"),
        "Ionotropic": dx.load_mod(mods / "graded_syn.mod"),
    }
    voltages, spikes, g = neuron_run
    sim = dx.build(_dendrax(synapses, gap), dt=DT)
    traces = np.asarray(sim.run(t_max=T_MAX))
    for cell, times in enumerate(sim.spike_times(traces)):
        np.testing.assert_allclose(times, spikes[cell], atol=1e-9)
    np.testing.assert_allclose(traces[:5], voltages, atol=1e-6, rtol=0)
    np.testing.assert_allclose(traces[10], g, atol=1e-12, rtol=0)
