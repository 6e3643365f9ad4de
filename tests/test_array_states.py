"""States that are arrays at each site (`dx.State(..., shape=(n,))`): simulated as the same
values held as separate states, vectorised, differentiated (with checkpoints), diagnosed;
not recorded, and run in pure JAX where the native kernel is asked for."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import dendrax as dx

DT = 0.025
SCALES = (4.0, 1.0, 2.0)
"""Each filter's time constant, in units of the parameter tau."""


class Filters(dx.Mechanism):
    """Three first-order filters of v per site, one array state: a current that pulls v
    towards their mean plus 10 mV."""

    parameters = {"g": dx.Parameter(1e-3, "S/cm2"), "tau": dx.Parameter(2.0, "ms")}
    states = {"x": dx.State("mV", "v filtered by each time constant", shape=(3,))}

    def steady_state(self, v, params, celsius):
        return {"x": jnp.stack([v] * 3, axis=-1)}

    def update(self, states, v, params, dt, celsius, t):
        x = states["x"]
        taus = jnp.stack([params["tau"] * k for k in SCALES], axis=-1)
        return {"x": x + (1.0 - jnp.exp(-dt / taus)) * (jnp.stack([v] * 3, axis=-1) - x)}

    def current(self, states, v, params, celsius, t):
        return params["g"] * (v - jnp.mean(states["x"], axis=-1) - 10.0)


class SeparateFilters(dx.Mechanism):
    """`Filters` with a state per filter."""

    parameters = Filters.parameters
    states = {f"x{k}": dx.State("mV") for k in range(3)}

    def steady_state(self, v, params, celsius):
        return {name: v for name in self.states}

    def update(self, states, v, params, dt, celsius, t):
        return {
            f"x{k}": states[f"x{k}"]
            + (1.0 - jnp.exp(-dt / (params["tau"] * scale))) * (v - states[f"x{k}"])
            for k, scale in enumerate(SCALES)
        }

    def current(self, states, v, params, celsius, t):
        mean = (states["x0"] + states["x1"] + states["x2"]) / 3.0
        return params["g"] * (v - mean - 10.0)


def simulation(mechanism, backend="jax", **build):
    cell = dx.Cell.from_parents([-1, 0], ncomp=2, length=20.0, radius=[5.0, 1.0])
    cell.insert(dx.channels.HH()).insert(mechanism)
    cell.branch(0).comp(0).stimulate(dx.step_current(1.0, 5.0, 0.3, DT, 10.0))
    cell.branch(1).comp(1).record("v")
    return dx.build(cell, dt=DT, backend=backend, **build)


def test_an_array_state_runs_as_separate_states_do():
    ours = np.asarray(simulation(Filters()).run())
    separate = np.asarray(simulation(SeparateFilters()).run())
    assert np.ptp(ours) > 50.0  # HH fires
    np.testing.assert_allclose(ours, separate, atol=1e-10, rtol=0)


def test_the_native_backend_declines_with_the_reason(caplog):
    with caplog.at_level("WARNING", logger="dendrax"):
        sim = simulation(Filters(), backend="native")
    assert sim.spec.backend == "jax"
    assert "Filters.x is an array of shape (3,) at each site" in caplog.text


def test_an_array_state_is_vectorised_and_differentiated_through_checkpoints():
    sim = simulation(Filters(), checkpointing=dx.Checkpointing(memory_bytes=20_000))

    def run(tau):
        return sim.run(sim.set_param(sim.params, "Filters.tau", tau))[0]

    batched = np.asarray(jax.vmap(run)(jnp.array([1.0, 3.0])))
    np.testing.assert_allclose(batched[1], np.asarray(run(3.0)), atol=1e-12, rtol=0)

    def loss(tau):
        return jnp.mean(run(tau))

    analytic = float(jax.grad(loss)(2.0))
    eps = 1e-6
    numeric = float(loss(2.0 + eps) - loss(2.0 - eps)) / (2 * eps)
    assert abs(analytic) > 1e-3
    assert abs(analytic - numeric) <= 1e-6 * abs(numeric)


def test_an_array_state_is_not_recorded():
    cell = dx.Cell.from_parents([-1], ncomp=1, length=20.0, radius=5.0)
    cell.insert(Filters())
    with pytest.raises(ValueError, match=r"Filters.x.*array of shape \(3,\) at each site"):
        cell.record("Filters.x")


def test_first_invalid_names_the_element():
    # A negative time constant makes each filter grow; the one of the shortest (element
    # 1) overflows first, and the voltage (g = 0) only after it.
    sim = simulation(Filters(g=0.0, tau=-0.01))
    found = sim.first_invalid()
    assert found.quantity == "Filters.x[1]"
    assert not np.isfinite(found.value)
    assert found.parameters["Filters.tau"] == -0.01


def test_a_shape_must_be_positive_whole_numbers():
    with pytest.raises(ValueError, match="shape must be a tuple of positive ints"):
        dx.State("1", shape=(0,))
    with pytest.raises(ValueError, match="shape must be a tuple of positive ints"):
        dx.State("1", shape=3)
