"""Recording currents in nA: densities times NEURON's segment areas, and the stated units."""

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

pytest.importorskip(
    "neuron", reason="NEURON (pip install neuron) is the reference these tests compare against"
)

from neuron_import3d import NeuronMorphology

import dendrax as dx

DATA = Path(__file__).parent / "data"
DT, T_MAX = 0.025, 5.0


def test_nanoamperes_are_densities_times_neuron_areas():
    name = "ca1_n120_250.swc"
    cell = dx.Cell.from_swc(DATA / name, ncomp=3)
    cell.insert(dx.channels.HH())
    cell.branch(0).loc(0.5).stimulate(dx.step_current(1.0, 3.0, 1.0, DT, T_MAX))
    cell.record("HH.i")
    cell.record("HH.i", unit="nA")
    sim = dx.build(cell, dt=DT)
    traces = np.asarray(sim.run())
    n = cell.n_compartments
    theirs = NeuronMorphology(DATA / name)
    theirs.set_nseg(3)
    area = theirs.areas_and_ri()[0]  # µm²
    density, current = traces[:n], traces[n:]
    assert np.max(np.abs(density)) > 1e-4  # mA/cm², the cell is not at zero current
    np.testing.assert_allclose(current, density * area[:, None] * 1e-2, rtol=1e-12)
    assert sim.recording_units == ("mA/cm2",) * n + ("nA",) * n


def test_units_of_other_quantities():
    cell = dx.Cell.from_parents([-1], ncomp=1, length=20.0, radius=5.0)
    cell.insert(dx.channels.NaTa_t())
    cell.insert(dx.channels.CaDynamics_E2())
    cell.insert(dx.channels.Ca_HVA())
    for quantity in ("v", "NaTa_t.m", "NaTa_t.ina", "ica", "eca", "cai", "ina"):
        cell.record(quantity)
    cell.record("ica", unit="nA")
    sim = dx.build(cell, dt=DT)
    assert sim.recording_units == ("mV", "1", "mA/cm2", "mA/cm2", "mV", "mM", "mA/cm2", "nA")
    traces = sim.run(t_max=1.0)
    np.testing.assert_allclose(
        traces[7], traces[3] * 2 * np.pi * 5.0 * 20.0 * 1e-2, rtol=1e-12, atol=0
    )


@pytest.mark.parametrize("quantity", ["v", "HH.m", "cai"])
def test_only_currents_convert_to_nanoamperes(quantity):
    cell = dx.Cell.from_parents([-1], ncomp=1, length=20.0, radius=5.0)
    cell.insert(dx.channels.HH())
    cell.insert(dx.channels.CaDynamics_E2())
    with pytest.raises(ValueError, match=f"cannot record '{quantity}' in 'nA'"):
        cell.record(quantity, unit="nA")


def test_wrong_unit_for_a_current_is_refused():
    cell = dx.Cell.from_parents([-1], ncomp=1, length=20.0, radius=5.0)
    cell.insert(dx.channels.HH())
    with pytest.raises(ValueError, match=r"cannot record 'HH\.i' in 'pA'"):
        cell.record("HH.i", unit="pA")


def test_gradient_of_a_current_in_nanoamperes_wrt_radius():
    cell = dx.Cell.from_parents([-1, 0], ncomp=2, length=30.0, radius=[4.0, 1.0])
    cell.insert(dx.channels.HH())
    cell.branch(0).loc(0.5).stimulate(dx.step_current(0.5, 3.0, 0.5, DT, T_MAX))
    cell.branch(1).loc(0.25).record("HH.i", unit="nA")
    sim = dx.build(cell, dt=DT, backend="jax")

    def loss(scale):
        params = {**sim.params, "radius": sim.params["radius"] * scale}
        return jnp.sum(sim.run(params))

    eps = 1e-6
    finite = (loss(1.0 + eps) - loss(1.0 - eps)) / (2 * eps)
    assert jax.grad(loss)(1.0) == pytest.approx(float(finite), rel=1e-6)
