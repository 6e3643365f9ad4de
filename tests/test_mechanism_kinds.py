"""Mechanism kinds: point currents (nA, any number per compartment) and junctions (a current
driven by a peer location's voltage, possibly on another cell), on both backends."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from test_gradients import check_directional_derivatives

import dendrax as dx
from dendrax.native import gradient

DT = 0.025
T_MAX = 10.0
N_STEPS = round(T_MAX / DT)


class DecayingConductance(dx.Mechanism):
    """A point conductance g·s (µS) towards e (mV), s starting at 1 and decaying with tau."""

    kind = "point"
    parameters = {
        "g": dx.Parameter(0.002, "uS", "peak conductance", nonnegative=True),
        "e": dx.Parameter(0.0, "mV", "reversal potential"),
        "tau": dx.Parameter(3.0, "ms", "decay time constant", nonnegative=True),
    }
    states = {"s": dx.State("1", "open fraction", initial=1.0)}

    def steady_state(self, v, params, celsius):
        return {}

    def update(self, states, v, params, dt, celsius, t):
        return {"s": states["s"] * jnp.exp(-dt / params["tau"])}

    def current(self, states, v, params, celsius, t):
        return params["g"] * states["s"] * (v - params["e"])


class PointLeak(dx.Mechanism):
    """A point leak, g (µS) towards e (mV)."""

    kind = "point"
    parameters = {"g": dx.Parameter(1e-3, "uS"), "e": dx.Parameter(-70.0, "mV")}

    def steady_state(self, v, params, celsius):
        return {}

    def update(self, states, v, params, dt, celsius, t):
        return {}

    def current(self, states, v, params, celsius, t):
        return params["g"] * (v - params["e"])


class Gap(dx.Mechanism):
    """Half of an ohmic gap junction: g (µS) times (v - v_peer)."""

    kind = "junction"
    parameters = {"g": dx.Parameter(0.005, "uS", "junction conductance", nonnegative=True)}

    def steady_state(self, v, params, celsius):
        return {}

    def update(self, states, v, params, dt, celsius, t):
        return {}

    def current(self, states, v, params, celsius, t):
        return params["g"] * (v - params["v_peer"])


def _hh_cell(stimulated: bool) -> dx.Cell:
    cell = dx.Cell.from_parents([-1, 0], ncomp=[1, 3], length=[20.0, 60.0], radius=[8.0, 1.0])
    cell.insert(dx.channels.HH())
    if stimulated:
        cell.branch(0).comp(0).stimulate(dx.step_current(1.0, 4.0, 0.6, DT, T_MAX))
    return cell


def _point_cell() -> dx.Cell:
    cell = _hh_cell(stimulated=True)
    cell.branch(1).loc(0.9).insert(DecayingConductance())
    cell.branch(1).loc(0.9).insert(DecayingConductance(g=0.001, tau=5.0))
    cell.branch(1).loc(0.1).insert(DecayingConductance(e=-80.0))
    cell.branch(1).loc(0.9).record("v")
    cell.branch(1).loc(0.9).record("DecayingConductance.s")
    cell.branch(1).record("DecayingConductance.i")
    return cell


@pytest.mark.parametrize("backend", ["jax", "native"])
def test_point_leak_equals_the_same_density_leak(backend):
    """A point conductance g (µS) in a compartment of area A acts as a density g / A."""
    point, density = _hh_cell(True), _hh_cell(True)
    point.branch(1).comp(1).insert(PointLeak(g=0.004))
    area_cm2 = density.compartment_area()[2] * 1e-8
    density.branch(1).comp(1).insert(dx.channels.Leak(gLeak=0.004e-6 / area_cm2, eLeak=-70.0))
    for cell in (point, density):
        cell.branch(1).loc(0.5).record("v")
    ours = dx.build(point, dt=DT, backend=backend).run()
    reference = dx.build(density, dt=DT, backend=backend).run()
    assert np.ptp(np.asarray(reference)) > 50.0  # a spike crosses the site
    np.testing.assert_allclose(ours, reference, rtol=0, atol=1e-10)


def test_sites_in_one_compartment_add_up():
    """Two sites of g/2 in one compartment act as one of g."""
    one, two = _hh_cell(True), _hh_cell(True)
    one.branch(1).comp(2).insert(PointLeak(g=0.004))
    two.branch(1).comp(2).insert(PointLeak(g=0.002))
    two.branch(1).comp(2).insert(PointLeak(g=0.002))
    traces = [np.asarray(dx.build(c, dt=DT).run(t_max=T_MAX)) for c in (one, two)]
    assert two.placed["PointLeak"].n_sites == 2
    assert dx.build(two, dt=DT).params["PointLeak"]["g"].shape == (2,)
    np.testing.assert_allclose(traces[1], traces[0], rtol=0, atol=1e-10)


def test_point_sites_are_recorded_per_site_in_nanoamperes():
    sim = dx.build(_point_cell(), dt=DT, backend="jax")
    traces = np.asarray(sim.run())
    assert sim.recording_units == ("mV", "1", "1", "nA", "nA", "nA")
    assert len(sim.recording_names) == 6 and "site 0" in sim.recording_names[1]
    t = sim.time()
    np.testing.assert_allclose(traces[1], np.exp(-t / 3.0), rtol=1e-12)
    np.testing.assert_allclose(traces[2], np.exp(-t / 5.0), rtol=1e-12)
    # Rows of "DecayingConductance.i" follow the compartments of the selection (loc 0.1
    # first), then the sites' placement order; each is g s (v - e) at its compartment, the
    # current of step k (from the values at its start) recorded at sample k + 1.
    v_far = traces[0]
    for row, g, s in ((4, 0.002, traces[1]), (5, 0.001, traces[2])):
        np.testing.assert_allclose(traces[row][1:], g * (s * v_far)[:-1], rtol=1e-9)
        assert traces[row][0] == pytest.approx(g * v_far[0], rel=1e-12)


def test_point_parameters_are_set_per_site():
    cell = _point_cell()
    cell.branch(1).loc(0.9).set("DecayingConductance.g", [0.003, 0.004])
    assert list(cell.branch(1).loc(0.9).get("DecayingConductance.g")) == [0.003, 0.004]
    assert list(cell.branch(1).get("DecayingConductance.g")) == [0.002, 0.003, 0.004]
    with pytest.raises(ValueError, match="no site"):
        cell.branch(0).set("DecayingConductance.g", 0.1)
    with pytest.raises(ValueError, match=">= 0"):
        cell.branch(1).set("DecayingConductance.g", -1.0)


def test_point_sites_keep_their_location_when_recut():
    cell = _point_cell()
    before = np.asarray(dx.build(cell, dt=DT).run())
    cell.set_ncomp([1, 5])
    cell.set_ncomp([1, 3])
    np.testing.assert_allclose(np.asarray(dx.build(cell, dt=DT).run()), before, atol=1e-12)
    cell.set_ncomp([1, 7])
    sites = cell.placed["DecayingConductance"].compartments(cell.tree)
    assert list(sites) == [6, 6, 2]  # x = 5/6 and 1/6 of branch 1 (after comp 0), in 7


def test_point_mechanism_runs_natively_as_in_pure_jax():
    cell = _point_cell()
    native = dx.build(cell, dt=DT, backend="native")
    assert native.spec.backend == "native"
    ours = np.asarray(native.run())
    twin = np.asarray(dx.build(cell, dt=DT, backend="jax").run())
    assert np.max(np.abs(ours - twin)) < 1e-8


@pytest.mark.parametrize("backend", ["jax", "native"])
def test_gradient_of_point_parameters_matches_finite_differences(backend):
    sim = dx.build(_point_cell(), dt=DT, backend=backend)

    def loss(params):
        return jnp.mean((sim.run(params)[0] + 60.0) ** 2)

    paths = {
        path
        for path, _ in jax.tree_util.tree_flatten_with_path(sim.params)[0]
        if path[0].key == "DecayingConductance"
    }
    check_directional_derivatives(loss, sim.params, np.random.default_rng(0), paths)


def _gap_pair(g: float):
    """Two passive single-compartment cells joined by an ohmic gap junction (a site on
    each side), the first one stimulated."""
    cells = [dx.Cell.from_parents([-1], length=20.0, radius=5.0) for _ in range(2)]
    for cell in cells:
        cell.insert(dx.channels.Leak())
        cell.record("v")
    cells[0].insert(Gap(g=g), peer=cells[1])
    cells[1].insert(Gap(g=g), peer=cells[0])
    cells[0].stimulate(dx.step_current(1.0, 5.0, 0.05, DT, T_MAX))
    return cells


@pytest.mark.parametrize("backend", ["jax", "native"])
def test_gap_junction_matches_the_semi_implicit_scheme(backend):
    """Own side implicit, peer side the voltage at the start of the step (as NEURON reads a
    POINTER): against the same scheme written out for two isopotential compartments."""
    g = 0.005
    sim = dx.build(_gap_pair(g), dt=DT, v_init=-70.0, backend=backend)
    ours = np.asarray(sim.run())
    assert sim.spec.backend == backend
    area_cm2 = 2 * math.pi * 5.0 * 20.0 * 1e-8
    capacitance = 1.0 * area_cm2 * 1e3  # nF
    leak = 0.001 * area_cm2 * 1e6  # µS
    stimulus = np.asarray(dx.step_current(1.0, 5.0, 0.05, DT, T_MAX))
    v = np.array([-70.0, -70.0])
    expected = [v.copy()]
    for k in range(N_STEPS):
        injected = np.array([stimulus[k], 0.0])
        rhs = injected - leak * (v + 70.0) - g * (v - v[::-1])
        v = v + rhs / (capacitance / DT + leak + g)
        expected.append(v.copy())
    expected = np.array(expected).T
    assert np.ptp(expected[1]) > 1.0  # the current crosses the junction
    np.testing.assert_allclose(ours, expected, rtol=0, atol=1e-10)
    assert list(sim.compartment_cells) == [0, 1]
    assert sim.recording_names[1].startswith("v at cell 1,")


class GradedSynapse(dx.Mechanism):
    """A graded synapse (Abbott and Marder 1998 form) from the peer's voltage: s relaxes to
    1 / (1 + exp((v_th - v_pre) / delta)) with rate k_minus / (1 - s_inf); i = g s (v - e)."""

    kind = "junction"
    parameters = {
        "g": dx.Parameter(0.01, "uS", "maximal conductance", nonnegative=True),
        "e": dx.Parameter(0.0, "mV", "reversal potential"),
        "v_th": dx.Parameter(-40.0, "mV", "half-activation presynaptic voltage"),
        "delta": dx.Parameter(5.0, "mV", "slope of the activation"),
        "k_minus": dx.Parameter(0.2, "1/ms", "closing rate", nonnegative=True),
    }
    states = {"s": dx.State("1", "open fraction")}

    def _steady(self, params):
        return 1.0 / (1.0 + jnp.exp((params["v_th"] - params["v_peer"]) / params["delta"]))

    def steady_state(self, v, params, celsius):
        return {"s": self._steady(params)}

    def update(self, states, v, params, dt, celsius, t):
        steady = self._steady(params)
        rate = params["k_minus"] / (1.0 - steady)
        return {"s": dx.mechanisms.exponential_euler_rate(states["s"], steady, rate, dt)}

    def current(self, states, v, params, celsius, t):
        return params["g"] * states["s"] * (v - params["e"])


def _synapse_pair():
    """An HH cell driving a passive one through a graded synapse, and back through a gap."""
    pre, post = _hh_cell(stimulated=True), _hh_cell(stimulated=False)
    post.branch(0).comp(0).insert(GradedSynapse(e=5.0), peer=pre.branch(1).loc(0.9))
    pre.branch(1).loc(0.9).insert(Gap(g=0.001), peer=post.branch(1).loc(0.1))
    post.branch(1).loc(0.1).insert(Gap(g=0.001), peer=pre.branch(1).loc(0.9))
    post.branch(0).comp(0).record("v")
    post.branch(0).comp(0).record("GradedSynapse.s")
    pre.branch(1).loc(0.9).record("v")
    return [pre, post]


def test_junctions_run_natively_as_in_pure_jax():
    native = dx.build(_synapse_pair(), dt=DT, backend="native")
    twin = dx.build(_synapse_pair(), dt=DT, backend="jax")
    assert native.spec.backend == "native"
    ours, theirs = np.asarray(native.run()), np.asarray(twin.run())
    assert np.ptp(theirs[1]) > 0.1  # the presynaptic spike opens the synapse
    assert np.max(np.abs(ours - theirs)) < 1e-8


@pytest.mark.parametrize("backend", ["jax", "native"])
def test_gradient_of_junction_parameters_matches_finite_differences(backend, monkeypatch):
    sim = dx.build(_synapse_pair(), dt=DT, backend=backend)
    if backend == "native":  # the native adjoint, not the pure-JAX recomputation

        def recomputed(*args):
            raise AssertionError("the native adjoint was not used")

        monkeypatch.setattr(gradient, "_recomputed", recomputed)

    def loss(params):
        return jnp.mean((sim.run(params)[0] + 60.0) ** 2)

    paths = {
        path
        for path, _ in jax.tree_util.tree_flatten_with_path(sim.params)[0]
        if path[0].key in ("GradedSynapse", "Gap")
    }
    check_directional_derivatives(loss, sim.params, np.random.default_rng(1), paths)


def test_junction_needs_its_peer_in_the_build():
    cells = _gap_pair(0.005)
    with pytest.raises(ValueError, match="peer on a cell that is not built"):
        dx.build(cells[0])
    with pytest.raises(ValueError, match="peer=<selection>"):
        cells[0].insert(Gap())
    with pytest.raises(ValueError, match="takes no peer"):
        cells[0].insert(PointLeak(), peer=cells[1])


def test_kinds_are_declared():
    with pytest.raises(ValueError, match="kind"):

        class Odd(PointLeak):
            kind = "volume"

    with pytest.raises(ValueError, match="cannot read or write ion"):

        class IonPoint(PointLeak):
            writes = ("ina",)
