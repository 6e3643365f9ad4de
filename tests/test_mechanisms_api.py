"""The mechanism API: a user-defined channel and ion, GHK currents, checks of bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

pytest.importorskip(
    "neuron", reason="NEURON (pip install neuron) is the reference these tests compare against"
)

from neuron_mechanisms import load_test_mechanisms
from neuron_reference import NeuronModel

import dendrax as dx
from dendrax.mechanisms import exponential_euler, gates, ghk_current, implicit_euler, nernst

DT = 0.025


class KDelayed(dx.Mechanism):
    """A user-written delayed-rectifier K channel: ik = gbar n⁴ (v - ek)."""

    parameters = {"gbar": dx.Parameter(0.02, "S/cm2", "maximal conductance", nonnegative=True)}
    states = {"n": dx.State("1", "activation")}
    reads = ("ek",)
    writes = ("ik",)

    def rates(self, v):
        return 1.0 / (1.0 + jnp.exp(-(v + 40.0) / 8.0)), 3.0 + 0.0 * v

    def steady_state(self, v, params, celsius):
        return {"n": self.rates(v)[0]}

    def update(self, states, v, params, dt, celsius, t):
        return {"n": exponential_euler(states["n"], *self.rates(v), dt)}

    def current(self, states, v, params, celsius, t):
        return {"ik": params["gbar"] * states["n"] ** 4 * (v - params["ek"])}


def test_user_channel_is_inserted_simulated_and_differentiated():
    cell = dx.Cell.from_parents([-1, 0], ncomp=2, length=20.0, radius=[5.0, 1.0])
    cell.insert(dx.channels.HH(gK=0.0))
    cell.insert(KDelayed())
    cell.branch(0).comp(0).stimulate(dx.step_current(2.0, 10.0, 0.4, DT, 20.0))
    cell.branch(1).comp(1).record("v")
    cell.branch(1).comp(1).record("KDelayed.ik")
    sim = dx.build(cell, dt=DT)
    trace = np.asarray(sim.run())
    assert np.max(trace[0]) > 0.0, "HH sodium with the user's K channel should fire"
    assert np.min(trace[1]) >= 0.0 and np.max(trace[1]) > 1e-3, "outward K current (mA/cm2)"

    def loss(gbar):
        params = {**sim.params, "KDelayed": {"gbar": gbar * jnp.ones(4)}}
        return jnp.mean(sim.run(params)[0])

    gradient = jax.grad(loss)(0.02)
    eps = 1e-6
    finite = (loss(0.02 + eps) - loss(0.02 - eps)) / (2 * eps)
    assert abs(gradient) > 1.0
    assert abs(gradient - finite) <= 1e-5 * abs(finite)


def test_ion_values_are_parameters_set_per_selection():
    cell = dx.Cell.from_parents([-1, 0], ncomp=1, length=20.0, radius=5.0)
    cell.insert(KDelayed())
    assert cell.get("ek").tolist() == [-77.0, -77.0]
    assert cell.branch(0).get("ki").tolist() == [54.4]
    cell.branch(1).set("ek", -90.0)
    cell.record("v")
    sim = dx.build(cell, dt=DT)
    assert sim.params["ek"].tolist() == [-77.0, -90.0]
    v = np.asarray(sim.run(t_max=50.0))
    # With only K in the membrane, each branch relaxes towards its own ek (coupled).
    assert v[0, -1] > v[1, -1]
    with pytest.raises(ValueError, match="ki"):
        cell.set("ki", 0.0)


class Chloride(dx.Mechanism):
    """A chloride leak of a user-defined ion, icl = g (v - ecl)."""

    new_ions = (dx.Ion("cl", -1, internal=10.0, external=110.0, reversal=-65.0),)
    parameters = {"g": dx.Parameter(0.001, "S/cm2", nonnegative=True)}
    reads = ("ecl", "cli")
    writes = ("icl",)

    def steady_state(self, v, params, celsius):
        return {}

    def update(self, states, v, params, dt, celsius, t):
        return {}

    def current(self, states, v, params, celsius, t):
        return {"icl": params["g"] * (v - params["ecl"])}


def test_user_defined_ion_reverses_at_its_nernst_potential():
    # The channel reads "cli", so ecl is the Nernst potential of cli/clo (NEURON's rule).
    cell = dx.Cell.from_parents([-1], ncomp=1, length=20.0, radius=5.0)
    cell.insert(Chloride())
    cell.record("v")
    cell.record("ecl")
    cell.record("Chloride.icl")
    trace = np.asarray(dx.build(cell, dt=DT, celsius=20.0).run(t_max=100.0))
    expected = 8.31446261815324 * 293.15 / (-1 * 96485.33212331001) * np.log(110.0 / 10.0)
    np.testing.assert_allclose(trace[1], 1e3 * expected, rtol=1e-12)
    assert abs(trace[0, -1] - 1e3 * expected) < 0.01  # v relaxes to ecl
    assert abs(trace[2, 0]) > 1e-3  # current at t = 0 (v_init = -65)


class CaGHK(dx.Mechanism):
    """The calcium channel of tests/mod/CaGHK.mod: ica = pbar m² GHK(v, cai, cao)."""

    parameters = {
        "pbar": dx.Parameter(1e-4, "cm/s", "maximal permeability", nonnegative=True),
        "mtau": dx.Parameter(2.0, "ms", "activation time constant"),
    }
    states = {"m": dx.State("1")}
    reads = ("cai", "cao")
    writes = ("ica",)
    slope_by_difference = True

    def steady_state(self, v, params, celsius):
        return {"m": 1.0 / (1.0 + jnp.exp(-(v + 20.0) / 5.0))}

    def update(self, states, v, params, dt, celsius, t):
        m_inf = 1.0 / (1.0 + jnp.exp(-(v + 20.0) / 5.0))
        return {"m": exponential_euler(states["m"], m_inf, params["mtau"], dt)}

    def current(self, states, v, params, celsius, t):
        flux = ghk_current(v, params["cai"], params["cao"], 2, celsius)
        return {"ica": params["pbar"] * states["m"] ** 2 * flux}


class CaGHKExactSlope(CaGHK):
    slope_by_difference = False


@pytest.fixture(scope="module")
def mechanisms(tmp_path_factory):
    return load_test_mechanisms(tmp_path_factory)


def _ghk_cells(channel, celsius):
    cell = dx.Cell.from_parents([-1], ncomp=1, length=20.0, radius=10.0)
    cell.insert(dx.channels.Leak())
    cell.insert(channel)
    cell.insert(dx.channels.CaDynamics_E2())
    cell.set(f"{channel.name}.pbar", 2e-4)
    cell.branch(0).comp(0).stimulate(dx.step_current(5.0, 20.0, 1.0, DT, 40.0))
    for name in ("v", "cai", f"{channel.name}.ica"):
        cell.record(name)
    return np.asarray(dx.build(cell, dt=DT, celsius=celsius).run())


def test_ghk_channel_with_calcium_accumulation_matches_neuron(mechanisms):
    celsius = 34.0
    ours = _ghk_cells(CaGHK(), celsius)
    neuron = NeuronModel([-1], [1], [20.0], [10.0])
    neuron.insert("pas")
    neuron.insert("CaGHK", pbar=2e-4)
    neuron.insert("CaDynamics_E2")
    neuron.iclamp(0, 0, 5.0, 20.0, 1.0)
    for name in ("v", "cai", "ica_CaGHK"):
        neuron.record(0, 0, name)
    theirs = neuron.run(40.0, DT, celsius=celsius)
    assert np.ptp(theirs[0]) > 50.0 and np.max(theirs[1]) > 5 * theirs[1][0]
    assert np.max(np.abs(ours[0] - theirs[0])) < 1e-9
    np.testing.assert_allclose(ours[1:], theirs[1:], rtol=1e-9, atol=0)
    # NEURON's difference quotient di/dv is what gives this parity: the exact derivative
    # of the (nonlinear) GHK current moves the trace measurably further from NEURON.
    exact = _ghk_cells(CaGHKExactSlope(), celsius)
    assert np.max(np.abs(exact[0] - theirs[0])) > 1e3 * np.max(np.abs(ours[0] - theirs[0]))


def test_nernst_and_ghk_formulas():
    # NEURON 9's h.nernst(5e-5, 2, 2) at 34 °C (measured): 140.23660113151266 mV.
    np.testing.assert_allclose(nernst(5e-5, 2.0, 2, 34.0), 140.23660113151266, rtol=1e-13)
    assert np.isnan(nernst(jnp.asarray(-1e-5), 2.0, 2, 6.3))
    # GHK: zero current at the Nernst potential, continuous through v = 0.
    e = nernst(1e-3, 2.0, 2, 20.0)
    assert abs(ghk_current(e, 1e-3, 2.0, 2, 20.0)) < 1e-12
    near = ghk_current(jnp.asarray([-1e-7, 0.0, 1e-7]), 1e-3, 2.0, 2, 20.0)
    assert np.ptp(np.asarray(near)) < 1e-6 * abs(float(near[1]))


def test_alpha_beta_gates_step_like_cnexp_from_their_rates():
    # from_alpha_beta's kinetics read as (steady state, tau) and step by exp(-dt·rate):
    # equal, to rounding, to the exponential-Euler step from tau (the analytic solution of
    # dx/dt = alpha (1 - x) - beta x over dt with v fixed).
    alpha, beta, q, dt, x = 0.3, 1.7, 2.5, 0.025, 0.4
    kinetics = gates.from_alpha_beta(jnp.asarray(alpha), jnp.asarray(beta), q)
    steady_state, tau = kinetics
    np.testing.assert_allclose([steady_state, tau], [alpha / 2.0, 1.0 / (2.0 * q)], rtol=1e-15)
    stepped = gates.advance({"m": x}, {"m": kinetics}, dt)["m"]
    exact = alpha / 2.0 + (x - alpha / 2.0) * np.exp(-2.0 * q * dt)
    np.testing.assert_allclose(stepped, exact, rtol=1e-14)
    from_tau = gates.advance({"m": x}, {"m": (steady_state, tau)}, dt)["m"]
    np.testing.assert_allclose(stepped, from_tau, rtol=1e-14)


# -- bad input ---------------------------------------------------------------------


def test_channel_missing_a_method_is_refused():
    class NoCurrent(dx.Mechanism):
        def steady_state(self, v, params, celsius):
            return {}

        def update(self, states, v, params, dt, celsius, t):
            return {}

    with pytest.raises(TypeError, match="current"):
        NoCurrent()


def test_parameter_without_default_is_refused():
    with pytest.raises(TypeError, match="default"):
        dx.Parameter(unit="S/cm2")
    with pytest.raises(TypeError, match=r"Bad\.g must be declared as Parameter"):

        class Bad(dx.Mechanism):
            parameters = {"g": "S/cm2"}


def test_undeclared_ion_is_refused():
    with pytest.raises(ValueError, match=r"'ecl'.*not a variable of a declared ion"):

        class Bad(dx.Mechanism):
            reads = ("ecl",)


def test_written_concentration_must_be_a_state():
    with pytest.raises(ValueError, match=r"cai.*must also be one of its states"):

        class Bad(dx.Mechanism):
            writes = ("cai",)


def test_negative_conductance_is_refused():
    with pytest.raises(ValueError, match="gNaTa_tbar must be >= 0"):
        dx.channels.NaTa_t(gNaTa_tbar=-1.0)
    cell = dx.Cell.from_parents([-1])
    cell.insert(dx.channels.Ca_HVA())
    with pytest.raises(ValueError, match="gCa_HVAbar must be >= 0"):
        cell.set("Ca_HVA.gCa_HVAbar", -0.1)


def test_two_writers_of_one_concentration_are_refused():
    class OtherPump(dx.channels.CaDynamics_E2):
        pass

    cell = dx.Cell.from_parents([-1])
    cell.insert(dx.channels.CaDynamics_E2())
    cell.insert(OtherPump())
    with pytest.raises(ValueError, match="both write cai"):
        dx.build(cell)


class Drain(dx.Mechanism):
    """Removes internal calcium at a fixed rate, so that cai goes negative."""

    parameters = {"rate": dx.Parameter(1e-4, "mM/ms")}
    states = {"cai": dx.State("mM")}
    writes = ("cai",)

    def steady_state(self, v, params, celsius):
        return {"cai": params["cai"]}

    def update(self, states, v, params, dt, celsius, t):
        return {"cai": states["cai"] - params["rate"] * dt}

    def current(self, states, v, params, celsius, t):
        return {}


def test_concentration_going_non_positive_makes_the_run_nan():
    cell = dx.Cell.from_parents([-1])
    cell.insert(Drain())
    cell.insert(dx.channels.Ca_HVA(gCa_HVAbar=1e-3))
    cell.record("v")
    cell.record("cai")
    with pytest.warns(dx.diagnose.BlowUpWarning, match="v at branch 0, compartment 0 is nan"):
        trace = np.asarray(dx.build(cell, dt=DT).run(t_max=2.0))
    gone = np.flatnonzero(trace[1] <= 0)[0]  # 5e-5 mM at 1e-4 mM/ms: after 0.5 ms
    assert np.all(np.isfinite(trace[0, : gone + 1]))
    assert np.all(np.isnan(trace[0, gone + 1 :]))


def test_implicit_euler_solves_a_nonlinear_state_update():
    # dx/dt = -x²: backward Euler's x_new solves dt x_new² + x_new - x = 0 in closed form.
    x, dt = jnp.asarray([0.5, 2.0, 10.0]), 0.1
    exact = (-1.0 + jnp.sqrt(1.0 + 4.0 * dt * x)) / (2.0 * dt)
    np.testing.assert_allclose(implicit_euler(lambda s: -s * s, x, dt, 6), exact, rtol=1e-12)


class Pump(dx.Mechanism):
    """A saturating calcium pump, dcai/dt = -vmax cai / (cai + km), stepped implicitly."""

    parameters = {"vmax": dx.Parameter(2e-4, "mM/ms"), "km": dx.Parameter(1e-3, "mM")}
    states = {"cai": dx.State("mM")}
    writes = ("cai",)

    def steady_state(self, v, params, celsius):
        return {"cai": params["cai"]}

    def update(self, states, v, params, dt, celsius, t):
        def rate(c):
            return -params["vmax"] * c / (c + params["km"])

        return {"cai": implicit_euler(rate, states["cai"], dt)}

    def current(self, states, v, params, celsius, t):
        return {}


def test_implicitly_stepped_pump_runs_and_differentiates():
    cell = dx.Cell.from_parents([-1])
    cell.insert(Pump())
    cell.set("cai", 0.01)
    cell.record("cai")
    sim = dx.build(cell, dt=DT)
    cai = np.asarray(sim.run(t_max=50.0))[0]
    assert np.all(np.diff(cai) < 0) and cai[-1] > 0
    # Michaelis–Menten decay: km ln(c0/c) + (c0 - c) = vmax t, here to the step's accuracy.
    t = 50.0
    assert abs(1e-3 * np.log(0.01 / cai[-1]) + (0.01 - cai[-1]) - 2e-4 * t) < 1e-4
    grad = jax.grad(lambda p: sim.run({**sim.params, "cai": p}, t_max=50.0)[0, -1])(
        sim.params["cai"]
    )
    assert 0 < float(grad[0]) < 1
