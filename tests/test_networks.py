"""Networks: synapses and their kinetics, event timing, gradients, connectivity builders,
one program for any size, and the errors of bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from test_gradients import check_directional_derivatives

import dendrax as dx
from dendrax.mechanisms import HH
from dendrax.native import source as native_source

DT = 0.025


def small_cells(n, ncomp=2):
    cells = [dx.Cell.from_parents([-1, 0], ncomp=ncomp, length=20.0, radius=4.0) for _ in range(n)]
    for cell in cells:
        cell.insert(HH())
    return cells


def test_graded_synapse_follows_its_closed_form_under_a_clamped_presynaptic_voltage():
    pre, post = small_cells(2, ncomp=1)
    synapse = dx.synapses.Ionotropic(alpha=0.8, beta=0.2, v_half=-20.0, slope=4.0)
    dx.connect(pre.branch(0).loc(0.5), post.branch(0).loc(0.5), synapse)
    n = 400
    pre.branch(0).loc(0.5).clamp("v", np.full(n, -15.0))
    post.branch(0).loc(0.5).record("Ionotropic.s")
    sim = dx.build([pre, post], dt=DT)
    s = np.asarray(sim.run(t_max=n * DT))[0]

    def steady(v):
        release = 1.0 / (1.0 + np.exp((-20.0 - v) / 4.0))
        return 0.8 * release / (0.8 * release + 0.2), 0.8 * release + 0.2

    s0, _ = steady(-65.0)
    s_inf, rate = steady(-15.0)
    t = np.arange(n + 1) * DT
    np.testing.assert_allclose(s, s_inf + (s0 - s_inf) * np.exp(-rate * t), rtol=1e-12)


def test_tanh_rate_synapse_injects_its_current():
    pre, post = small_cells(2, ncomp=1)
    dx.connect(
        pre.branch(0).loc(0.5), post.branch(0).loc(0.5), dx.synapses.TanhRate(amplitude=0.05)
    )
    post.branch(0).loc(0.5).record("TanhRate.i")
    sim = dx.build([pre, post], dt=DT)
    current = np.asarray(sim.run(t_max=1.0))[0]
    np.testing.assert_allclose(current[0], -0.05 * np.tanh((-65.0 + 60.0) / 10.0), rtol=1e-12)


def test_event_timing_follows_neuron_fixed_step():
    """An event for T is taken up at the first step start t with T <= t + dt/2; an
    ExpSyn's g is then weight x exp(-dt / tau) one sample later."""
    cell = small_cells(1, ncomp=1)[0]
    times = [1.0, 2.0125, 3.01]
    for k, spike in enumerate(times):
        dx.connect(
            dx.spike_source([spike]),
            cell.branch(0).loc(0.5),
            dx.synapses.ExpSyn(tau=1.0 + k),
            weight=0.001,
            delay=0.0,
        )
    cell.branch(0).loc(0.5).record("ExpSyn.g")
    traces = np.asarray(dx.build(cell, dt=DT).run(t_max=5.0))
    first = [int(np.flatnonzero(row)[0]) for row in traces]
    assert first == [41, 82, 121]  # 1.0 -> step 40; 2.0125 (half) -> 81; 3.01 -> 120
    np.testing.assert_allclose(traces[0, 41], 0.001 * np.exp(-DT / 1.0), rtol=1e-12)


def chain(events="step"):
    """Three cells: 0 -> 1 by ExpSyn (delay 1 ms), 1 -> 2 by Ionotropic, driven at cell 0."""
    cells = small_cells(3)
    net = dx.Network(cells)
    dx.connect(
        cells[0].branch(0).loc(0.5),
        cells[1].branch(1).loc(0.5),
        dx.synapses.ExpSyn(tau=2.0, e=5.0),
        weight=0.05,
        delay=1.0,
        threshold=0.0,
    )
    dx.connect(
        cells[1].branch(0).loc(0.5),
        cells[2].branch(1).loc(0.5),
        dx.synapses.Ionotropic(gmax=0.02, v_half=-20.0),
    )
    cells[0].branch(0).loc(0.5).stimulate(dx.step_current(1.0, 2.0, 0.5, DT, 20.0))
    for cell in cells:
        cell.branch(0).loc(0.5).record("v")
    return dx.build(net, dt=DT, events=events)


def test_gradients_through_a_chain_match_finite_differences():
    sim = chain()
    traces = np.asarray(sim.run())
    assert traces[1].max() > 0 and traces[2].max() > -50, "the chain should transmit"

    def loss(params):
        return jnp.mean(sim.run(params)[1:] ** 2)

    check_directional_derivatives(loss, sim.params, np.random.default_rng(0), paths=None)


def test_interpolated_events_give_gradients_through_spike_times():
    """With events="interpolated" the postsynaptic response moves continuously with the
    presynaptic spike time, and its gradient matches central differences."""
    sim = chain("interpolated")

    def loss(gna):
        params = sim.set_param(sim.params, "HH.gNa", gna, where=sim.sites("HH")["cell"] == 0)
        return jnp.sum(sim.run(params)[1, 150:300])

    gna = 0.12
    analytic = float(jax.grad(loss)(gna))
    eps = 1e-6
    numeric = float(loss(gna + eps) - loss(gna - eps)) / (2 * eps)
    assert abs(analytic) > 1.0
    assert abs(analytic - numeric) / abs(numeric) < 1e-4
    step = chain("step")
    stepped = float(
        jax.grad(
            lambda g: jnp.sum(
                step.run(
                    step.set_param(step.params, "HH.gNa", g, where=step.sites("HH")["cell"] == 0)
                )[1, 150:300]
            )
        )(gna)
    )
    assert abs(stepped) < 0.1 * abs(analytic), "step mode has no gradient through spike times"


def spiking_network(events):
    """Four cells: a spike train into cell 0 (ExpSyn), 0 -> 1 -> 2 -> 3 by ExpSyn and
    Exp2Syn at delays 0, 1.0125 (a half step past whole steps) and 2.3 ms, spikes recorded."""
    cells = small_cells(4)
    net = dx.Network(cells)
    soma = [c.branch(0).loc(0.5) for c in cells]
    dx.connect(dx.spike_source([1.0, 6.0, 6.01]), soma[0], dx.synapses.ExpSyn(), weight=0.08)
    for pre, synapse, delay in (
        (0, dx.synapses.ExpSyn(tau=2.0, e=5.0), 0.0),
        (1, dx.synapses.Exp2Syn(tau1=0.5, tau2=3.0), 1.0125),
        (2, dx.synapses.ExpSyn(tau=1.0), 2.3),
    ):
        dx.connect(soma[pre], cells[pre + 1].branch(1).loc(0.5), synapse, weight=0.06, delay=delay)
    for s in soma:
        s.record("v")
    for s in soma:
        s.record_spikes(threshold=0.0)
    cells[1].branch(1).loc(0.5).record("ExpSyn.g")
    return net


@pytest.mark.parametrize("events", ["step", "interpolated"])
def test_events_on_the_native_kernel_and_adjoint_are_twins_of_pure_jax(events):
    """Forward within 1e-8 mV, gradients within 1e-8 relative, for one simulation with
    the steps stored and recomputed from three and from nine levels of checkpoints (the
    deliveries replayed from the forward pass's log), and for a batch."""
    net = spiking_network(events)

    def built(backend, memory=None):
        checkpointing = dx.Checkpointing(memory_bytes=memory)
        return dx.build(net, dt=DT, backend=backend, events=events, checkpointing=checkpointing)

    ours, pure = built("native"), built("jax")
    assert ours.spec.backend == "native"
    traces, expected = np.asarray(ours.run(t_max=25.0)), np.asarray(pure.run(t_max=25.0))
    np.testing.assert_allclose(traces, expected, atol=1e-8, rtol=0)
    assert np.all(traces[4:8].sum(1) >= 1), "every cell should spike"

    def loss_of(sim):
        def loss(scale):
            params = dict(sim.params)
            params["ExpSyn"] = dict(params["ExpSyn"], weight=params["ExpSyn"]["weight"] * scale)
            traces = sim.run(params, t_max=25.0)
            return jnp.sum(traces[:4] ** 2) * 1e-4 + jnp.sum(traces[8])

        return jax.grad(loss)

    scales = jnp.array([1.0, 0.9, 1.2])
    expected = np.asarray(jax.vmap(loss_of(pure))(scales))
    assert np.all(np.abs(expected) > 1e-3)
    for memory in (None, 20_000, 10_000):
        sim = built("native", memory)
        np.testing.assert_allclose(float(loss_of(sim)(1.0)), expected[0], rtol=1e-8)
    batched = np.asarray(jax.vmap(loss_of(ours))(scales))
    np.testing.assert_allclose(batched, expected, rtol=1e-8)


def test_spike_recording_and_times():
    sim = chain()
    cells_spiking = sim.spike_times(np.zeros((3, 5)))
    assert cells_spiking == []
    net_cells = small_cells(1)
    net_cells[0].branch(0).loc(0.5).stimulate(dx.step_current(1.0, 10.0, 0.5, DT, 20.0))
    net_cells[0].branch(0).loc(0.5).record_spikes(threshold=0.0).record("v")
    sim = dx.build(net_cells[0], dt=DT)
    traces = np.asarray(sim.run())
    times = sim.spike_times(traces)[0]
    v = traces[1]
    crossings = np.flatnonzero((v[:-1] <= 0.0) & (v[1:] > 0.0)) + 1
    np.testing.assert_allclose(times, crossings * DT)
    assert times.size >= 1


def network_of(n, events=True):
    cells = small_cells(n)
    net = dx.Network(cells)
    if events:
        dx.fully_connect(net.cells[:2], net.cells[2:], dx.synapses.ExpSyn(), weight=0.01)
    dx.sparse_connect(net.cells[2:], net.cells, dx.synapses.Ionotropic(), p=0.01, seed=1)
    dx.fully_connect(net.cells[2:4], net.cells[4:], dx.synapses.Ionotropic())
    dx.gap_junction(cells[0].branch(1).loc(0.5), cells[1].branch(1).loc(0.5), 0.001)
    cells[0].branch(0).loc(0.5).record("v")
    return net


def test_one_program_for_any_network_size():
    """The jaxpr of a 10-cell and a 1,000-cell network of the same cell and synapse types
    has the same equations; so has the native kernel of a graded network."""

    def equations(n):
        sim = dx.build(network_of(n), dt=DT)
        program = str(jax.make_jaxpr(lambda p: sim.run(p, t_max=1.0))(sim.params))
        return sum(" = " in line for line in program.splitlines())

    assert equations(10) == equations(1000)

    def kernel(n):
        sim = dx.build(network_of(n, events=False), dt=DT, backend="jax")
        return native_source.kernel_source(sim.spec, np.float64, np.int64)

    assert kernel(10) == kernel(1000)


def test_builders_make_the_connections_asked_for():
    cells = small_cells(6)
    net = dx.Network(cells)
    dx.fully_connect(net.cells[:3], net.cells[3:], dx.synapses.ExpSyn(), weight=0.01)
    table = net.synapses
    assert len(table["type"]) == 9
    assert sorted(zip(table["pre_cell"], table["post_cell"], strict=True)) == [
        (i, j) for i in range(3) for j in range(3, 6)
    ]
    other = dx.Network(small_cells(5))
    dx.sparse_connect(other.cells, other.cells, dx.synapses.ExpSyn(), p=1.0)
    pairs = set(zip(other.synapses["pre_cell"], other.synapses["post_cell"], strict=True))
    assert len(pairs) == 20 and all(i != j for i, j in pairs)
    third = dx.Network(small_cells(4))
    matrix = np.array([[0, 0.5, 0, 0], [0, 0, 0.25, 0], [0, 0, 0, 0], [1.0, 0, 0, 0]])
    dx.connect_matrix(third.cells, third.cells, dx.synapses.ExpSyn(), matrix)
    table = third.synapses
    got = sorted(zip(table["pre_cell"], table["post_cell"], table["ExpSyn.weight"], strict=True))
    assert got == [(0, 1, 0.5), (1, 2, 0.25), (3, 0, 1.0)]
    fourth = dx.Network(small_cells(3))
    dx.connect_edges(
        [0, 1, 1], [2, 0, 2], dx.synapses.Exp2Syn(), network=fourth, delay=[1.0, 2.0, 3.0]
    )
    table = fourth.synapses
    assert list(zip(table["pre_cell"], table["post_cell"], table["delay"], strict=True)) == [
        (1, 0, 2.0),
        (0, 2, 1.0),
        (1, 2, 3.0),
    ]


def test_sparse_connect_is_reproducible_and_has_the_asked_density():
    def pairs(seed):
        net = dx.Network(small_cells(40, ncomp=1))
        dx.sparse_connect(net.cells, net.cells, dx.synapses.ExpSyn(), p=0.2, seed=seed)
        t = net.synapses
        return sorted(
            zip(t["pre_cell"], t["post_cell"], t["post_branch"], t["post_x"], strict=True)
        )

    first = pairs(3)
    assert first == pairs(3) and first != pairs(4)
    assert 0.15 < len(first) / (40 * 39) < 0.25


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda c, t: c[1].place_sites(dx.synapses.ExpSyn(), [99]), IndexError, "compartment 99"),
        (
            lambda c, t: dx.connect(
                c[0].branch(0).loc(0.5), c[1].branch(0).loc(0.5), dx.synapses.ExpSyn(), delay=-1.0
            ),
            ValueError,
            "delay",
        ),
        (
            lambda c, t: dx.connect(
                c[0].branch(0).loc(0.5), c[1].branch(0).loc(0.5), dx.synapses.ExpSyn(), delay=np.nan
            ),
            ValueError,
            "delay",
        ),
        (
            lambda c, t: dx.connect_matrix(c, c, dx.synapses.ExpSyn(), np.ones((2, 3))),
            ValueError,
            "shape",
        ),
        (
            lambda c, t: dx.sparse_connect(c, c, dx.synapses.ExpSyn(), p=1.5),
            ValueError,
            r"\[0, 1\]",
        ),
        (
            lambda c, t: dx.fully_connect(c, c, dx.synapses.ExpSyn(), weight=[1.0, 2.0, 3.0]),
            ValueError,
            "per connection",
        ),
        (
            lambda c, t: dx.gap_junction(c[0].branch(0).loc(0.5), c[0].branch(0).loc(0.5), 0.001),
            ValueError,
            "itself",
        ),
        (
            lambda c, t: dx.connect(t, c[0].branch(0).loc(0.5), dx.synapses.Ionotropic()),
            ValueError,
            "spike train",
        ),
        (
            lambda c, t: dx.connect(
                c[0].branch(0).loc(0.5),
                c[1].branch(0).loc(0.5),
                dx.synapses.Ionotropic(),
                delay=1.0,
            ),
            ValueError,
            "no delay",
        ),
        (lambda c, t: dx.spike_source([3.0, 1.0]), ValueError, "not sorted"),
        (lambda c, t: dx.spike_source([-1.0, 1.0]), ValueError, "negative"),
        (
            lambda c, t: dx.connect_edges(
                [0, 5], [1, 0], dx.synapses.ExpSyn(), network=dx.Network(c)
            ),
            IndexError,
            "pre_ids",
        ),
        (
            lambda c, t: (
                dx.build(c[1], dt=DT)
                if dx.connect(
                    c[0].branch(0).loc(0.5), c[1].branch(0).loc(0.5), dx.synapses.ExpSyn()
                )
                is None
                else None
            ),
            ValueError,
            "not built with it",
        ),
    ],
)
def test_bad_network_input_is_named(make, error, match):
    cells = small_cells(2)
    with pytest.raises(error, match=match):
        make(cells, dx.spike_source([1.0]))


class Saturating(dx.Mechanism):
    """A user-defined event synapse: each event moves the open fraction a weight's share of
    the way to 1, which then decays with tau; i = gmax s (v - e)."""

    kind = "point"
    parameters = {
        "gmax": dx.Parameter(0.01, "uS", nonnegative=True),
        "e": dx.Parameter(0.0, "mV"),
        "tau": dx.Parameter(2.0, "ms", nonnegative=True),
        "weight": dx.Parameter(0.5, "1", "share of the way to saturation"),
    }
    states = {"s": dx.State("1", initial=0.0)}

    def steady_state(self, v, params, celsius):
        return {}

    def update(self, states, v, params, dt, celsius, t):
        return {"s": states["s"] * jnp.exp(-dt / params["tau"])}

    def current(self, states, v, params, celsius, t):
        return params["gmax"] * states["s"] * (v - params["e"])

    def receive(self, states, params, lag):
        return {"s": states["s"] + params["weight"] * (1.0 - states["s"])}


def test_a_user_defined_event_synapse_and_a_raster_of_a_group():
    cells = small_cells(3, ncomp=1)
    net = dx.Network(cells)
    trains = dx.spike_source([[1.0, 1.5, 2.0]])
    dx.connect(trains, cells[0].branch(0).loc(0.5), Saturating(), delay=0.0)
    cells[0].branch(0).loc(0.5).record("Saturating.s")
    net.cells.record_spikes(threshold=0.0)
    sim = dx.build(net, dt=DT)
    traces = np.asarray(sim.run(t_max=5.0))
    s = traces[0]
    assert s[41] == pytest.approx(0.5 * np.exp(-DT / 2.0), rel=1e-12)  # 1.0 ms -> step 40
    assert 0.5 < s.max() < 1.0
    assert len(sim.spike_times(traces)) == 3


def test_mechanisms_that_receive_events_are_declared_completely():
    with pytest.raises(ValueError, match="weight"):

        class NoWeight(dx.Mechanism):
            kind = "point"

            def steady_state(self, v, params, celsius):
                return {}

            def update(self, states, v, params, dt, celsius, t):
                return {}

            def current(self, states, v, params, celsius, t):
                return 0.0 * v

            def receive(self, states, params, lag):
                return states

    with pytest.raises(ValueError, match="only point mechanisms"):

        class DensityReceiver(Saturating):
            kind = "density"
