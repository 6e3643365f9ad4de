"""`build(settle=...)`: relaxing to the resting state before t = 0, inside the run."""

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

DT = 0.025
SETTLE = 50.0
T_MAX = 20.0
MECHANISMS = [
    (dx.channels.Leak(gLeak=5e-5), "pas", {"g": 5e-5}),
    (dx.channels.Ih(gIhbar=0.0005), "Ih", {"gIhbar": 0.0005}),
    (dx.channels.Im(gImbar=0.001), "Im", {"gImbar": 0.001}),
    (dx.channels.Ca_LVAst(gCa_LVAstbar=0.003), "Ca_LVAst", {"gCa_LVAstbar": 0.003}),
    (dx.channels.CaDynamics_E2(), "CaDynamics_E2", {}),
    (dx.channels.SK_E2(gSK_E2bar=0.001), "SK_E2", {"gSK_E2bar": 0.001}),
]


def _cell(amplitude=0.1):
    cell = dx.Cell.from_parents([-1], ncomp=1, length=20.0, radius=10.0)
    for mechanism, _, _ in MECHANISMS:
        cell.insert(mechanism)
    cell.stimulate(dx.step_current(5.0, 10.0, amplitude, DT, T_MAX))
    cell.record("v")
    cell.record("cai")
    return cell


def test_settled_run_continues_neurons_run_from_v_init(tmp_path_factory):
    load_test_mechanisms(tmp_path_factory)
    ours = np.asarray(dx.build(_cell(), dt=DT, celsius=34.0, settle=SETTLE).run())
    neuron = NeuronModel([-1], [1], [20.0], [10.0])
    for _, suffix, values in MECHANISMS:
        neuron.insert(suffix, **values)
    neuron.iclamp(0, 0, SETTLE + 5.0, 10.0, 0.1)
    neuron.record(0, 0, "v")
    neuron.record(0, 0, "cai")
    theirs = neuron.run(SETTLE + T_MAX, DT, celsius=34.0)[:, round(SETTLE / DT) :]
    assert abs(theirs[0, 0] - -65.0) > 1.0, "the cell should have moved away from v_init"
    assert np.max(np.abs(ours[0] - theirs[0])) < 1e-9
    np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-9)


def test_long_settle_reaches_rest():
    sim = dx.build(_cell(amplitude=0.0), dt=DT, celsius=34.0, settle=1500.0)
    v = np.asarray(sim.run())[0]
    assert np.ptp(v) < 1e-3, "after settling, an unstimulated cell stays at rest"
    assert abs(v[0] - -65.0) > 1.0


def test_settled_state_is_differentiable():
    sim = dx.build(_cell(amplitude=0.0), dt=DT, celsius=34.0, settle=SETTLE)

    def start(g):
        ih = {**sim.params["Ih"], "gIhbar": jnp.full(1, g)}
        return sim.run({**sim.params, "Ih": ih})[0, 0]

    gradient = jax.grad(start)(0.0005)
    eps = 1e-7
    finite = (start(0.0005 + eps) - start(0.0005 - eps)) / (2 * eps)
    assert gradient > 0.0  # more Ih (reversing at -45 mV) depolarises the settling cell
    assert abs(gradient - finite) < 1e-5 * abs(finite)


def test_negative_settle_is_refused():
    with pytest.raises(ValueError, match="settle"):
        dx.build(_cell(), settle=-1.0)
