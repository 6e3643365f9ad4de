"""`Simulation.first_invalid`: the first NaN, infinite value or non-positive concentration."""

import numpy as np
import pytest

import dendrax as dx

DT = 0.025


def _calcium_cell():
    cell = dx.Cell.from_parents([-1, 0], ncomp=[1, 2], length=20.0, radius=[10.0, 2.0])
    cell.insert(dx.channels.Leak())
    cell.branch(1).insert(dx.channels.Ca_HVA())
    cell.branch(1).insert(dx.channels.CaDynamics_E2())
    cell.branch(1).set("Ca_HVA.gCa_HVAbar", 0.05)
    return cell


def test_a_concentration_driven_below_zero_is_found():
    # Clamped far above eca, the calcium current flows outward and empties the cell.
    cell = _calcium_cell()
    command = np.where(np.arange(400) * DT < 2.0, -70.0, 200.0)
    cell.branch(1).comp(1).clamp("v", command)
    cell.branch(1).comp(1).record("cai")
    sim = dx.build(cell, dt=DT, v_init=-70.0, celsius=34.0)
    found = sim.first_invalid()
    assert found is not None
    assert found.quantity == "CaDynamics_E2.cai"
    assert found.compartment == 2  # branch 1, compartment 1: the clamped one
    assert found.value <= 0.0
    assert found.parameters["Ca_HVA.gCa_HVAbar"] == 0.05
    # The recorded trace agrees: positive before that step, not after it.
    cai = np.asarray(sim.run())[0]
    assert np.all(cai[: found.step] > 0.0) and not cai[found.step] > 0.0
    assert found.time == pytest.approx(found.step * DT)
    assert "CaDynamics_E2.cai is" in str(found) and "compartment 2" in str(found)


def test_an_overflowing_voltage_is_found_at_its_step():
    cell = dx.Cell.from_parents([-1], ncomp=1, length=20.0, radius=10.0)
    cell.insert(dx.channels.HH())
    cell.stimulate(dx.step_current(1.0, 1.0, 1e308, DT, 4.0))
    sim = dx.build(cell, dt=DT)
    found = sim.first_invalid()
    assert found.quantity == "v"
    assert found.step == round(1.0 / DT) + 1  # the first step of the stimulus
    assert not np.isfinite(found.value)
    assert found.parameters["HH.gNa"] == pytest.approx(0.12)


def test_a_healthy_run_has_none():
    sim = dx.build(_calcium_cell(), dt=DT, v_init=-70.0, celsius=34.0, settle=5.0)
    assert sim.first_invalid(t_max=5.0) is None


def test_settle_steps_count_before_zero():
    cell = _calcium_cell()
    cell.branch(1).comp(1).clamp("v", np.full(40, 200.0))
    sim = dx.build(cell, dt=DT, v_init=-70.0, celsius=34.0, settle=50.0)
    found = sim.first_invalid()
    assert found.quantity == "CaDynamics_E2.cai"
    assert found.time < 0.0  # in the settling steps before t = 0
    assert found.time == pytest.approx((found.step - round(50.0 / DT)) * DT)


def _blowing_up_tree():
    """Three branches: a huge stimulus from 1 ms blows the model up (to inf on one backend
    and to huge finite values on the other, depending on the order of the tree solve)."""
    cell = dx.Cell.from_parents([-1, 0, 0], ncomp=[1, 2, 2], length=30.0, radius=[8.0, 1.0, 1.0])
    cell.insert(dx.channels.HH())
    cell.branch(0).comp(0).stimulate(dx.step_current(1.0, 1.0, 1e308, DT, 2.0))
    cell.branch(1).loc(0.5).record("v")
    return cell


@pytest.mark.parametrize("backend", ["jax", "native"])
def test_a_blown_up_run_warns_and_first_invalid_names_its_step(backend):
    sim = dx.build(_blowing_up_tree(), dt=DT, backend=backend)
    with pytest.warns(dx.diagnose.BlowUpWarning, match=r"v at branch 1, compartment 1 is"):
        trace = np.asarray(sim.run())
    found = sim.first_invalid()
    blown = int(np.argmax(~(np.abs(trace[0]) <= 1000.0)))
    assert found.quantity == "v" and found.step == round(1.0 / DT) + 1
    assert blown >= found.step  # the recorded compartment blows up at or after the first


def test_a_voltage_beyond_any_membrane_range_is_invalid():
    cell = dx.Cell.from_parents([-1], ncomp=1, length=20.0, radius=10.0)
    cell.insert(dx.channels.Leak())
    cell.stimulate(dx.step_current(1.0, 1.0, 2e3, DT, 4.0))  # finite, but thousands of mV
    cell.record("v")
    sim = dx.build(cell, dt=DT)
    with pytest.warns(dx.diagnose.BlowUpWarning, match="the model has blown up"):
        trace = np.asarray(sim.run())
    assert np.all(np.isfinite(trace)) and np.max(trace) > 1000.0
    found = sim.first_invalid()
    assert found.quantity == "v" and abs(found.value) > 1000.0
    assert found.step == int(np.argmax(np.abs(trace[0]) > 1000.0))
