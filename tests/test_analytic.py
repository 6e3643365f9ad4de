"""Passive cables against closed-form solutions (Rall's cable theory)."""

import numpy as np
import pytest

import dendrax as dx

LEAK_G = 1e-4  # S/cm2
LEAK_E = -70.0  # mV


def passive_cable(ncomp, length, radius, axial_resistivity=100.0, capacitance=1.0):
    cell = dx.Cell.from_parents(
        [-1],
        ncomp=ncomp,
        length=length / ncomp,
        radius=radius,
        axial_resistivity=axial_resistivity,
        capacitance=capacitance,
    )
    cell.insert(dx.channels.Leak(gLeak=LEAK_G, eLeak=LEAK_E))
    return cell


def sealed_cable_steady_state(x, length, radius, axial_resistivity, current):
    """Steady voltage (mV) at x (µm) of a sealed-end cable of `length` (µm) with `current`
    (nA) injected at x = 0: V - E = I r_a λ cosh((L - x)/λ) / sinh(L/λ) (Rall 1977)."""
    radius_cm = radius * 1e-4
    space_constant = np.sqrt(radius_cm / (2.0 * axial_resistivity * LEAK_G)) * 1e4  # µm
    resistance_per_um = axial_resistivity / (np.pi * radius_cm**2) * 1e-4  # Ω/µm
    shape = np.cosh((length - x) / space_constant) / np.sinh(length / space_constant)
    volts = current * 1e-9 * resistance_per_um * space_constant * shape
    return LEAK_E + 1e3 * volts


def test_sealed_cable_steady_state_converges_to_closed_form():
    length, radius, resistivity, current = 1000.0, 1.0, 100.0, 0.1  # λ ≈ 707 µm
    errors = []
    for ncomp in (8, 16, 32, 64):
        cell = passive_cable(ncomp, length, radius, resistivity)
        cell.branch(0).comp(0).stimulate(np.full(40, current))
        cell.record("v")
        # Backward Euler with dt = 50 τ damps every transient by ≥ 50× per step.
        voltage = np.asarray(dx.build(cell, dt=50.0, v_init=LEAK_E).run())[:, -1]
        centres = (np.arange(ncomp) + 0.5) * length / ncomp
        expected = sealed_cable_steady_state(centres, length, radius, resistivity, current)
        errors.append(np.max(np.abs(voltage - expected)))
    errors = np.array(errors)
    # Second order in the compartment length (measured ratios 3.96-4.00 per halving).
    assert np.all(errors[:-1] / errors[1:] > 3.5), errors
    assert errors[-1] < 5e-4, errors  # mV, out of ~25 mV of depolarisation


def test_input_resistance_of_one_compartment():
    # A single compartment (with its zero-area end nodes) is a membrane patch: at steady
    # state V - E = I / (g · area).
    length, radius, current = 20.0, 5.0, 0.05
    cell = passive_cable(1, length, radius)
    cell.stimulate(np.full(20, current))
    cell.record("v")
    voltage = np.asarray(dx.build(cell, dt=100.0, v_init=LEAK_E).run())[0, -1]
    area_cm2 = 2 * np.pi * radius * length * 1e-8
    expected = LEAK_E + current * 1e-9 / (LEAK_G * area_cm2) * 1e3
    np.testing.assert_allclose(voltage, expected, rtol=1e-10)


@pytest.mark.parametrize(("solver", "order"), [("backward_euler", 1), ("crank_nicolson", 2)])
def test_membrane_charging_converges_with_the_solvers_order(solver, order):
    # V(t) = E + I R (1 - exp(-t / τ)) with τ = c / g (10 ms here) and R = 1 / (g · area).
    length, radius, current, capacitance, t_max = 20.0, 5.0, 0.05, 1.0, 10.0
    area_cm2 = 2 * np.pi * radius * length * 1e-8
    tau = capacitance * 1e-6 / LEAK_G * 1e3  # ms
    steady = current * 1e-9 / (LEAK_G * area_cm2) * 1e3  # mV
    errors = []
    for dt in (0.4, 0.2, 0.1, 0.05):
        cell = passive_cable(1, length, radius, capacitance=capacitance)
        cell.stimulate(np.full(round(t_max / dt), current))
        cell.record("v")
        sim = dx.build(cell, dt=dt, solver=solver, v_init=LEAK_E)
        voltage = np.asarray(sim.run())[0]
        expected = LEAK_E + steady * (1.0 - np.exp(-sim.time() / tau))
        errors.append(np.max(np.abs(voltage - expected)))
    ratios = np.array(errors[:-1]) / np.array(errors[1:])
    np.testing.assert_allclose(ratios, 2.0**order, rtol=0.1)
