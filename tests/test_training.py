"""Training: trainables with sharing and bounds, transforms, losses, the fit loop, saving."""

import copy
import importlib.util

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from test_gradients import branched_hh_cell, check_directional_derivatives, trace_loss

import dendrax as dx
from dendrax.training.transforms import Affine, Chain, Log, Sigmoid, Softplus, from_bounds

DT = 0.025


def small_hh_cell():
    """A soma and a dendrite, HH everywhere, one spike from a step into the soma."""
    cell = dx.Cell.from_parents([-1, 0], ncomp=[1, 2], length=[20.0, 50.0], radius=[8.0, 1.0])
    cell.insert(dx.channels.HH())
    cell.branch(0).comp(0).stimulate(dx.step_current(1.0, 8.0, 0.3, DT, 10.0))
    cell.branch(0).comp(0).record("v")
    return cell


def changed(before, after) -> dict:
    """Per parameter name, the indices where `after` differs from `before`."""
    flat = jax.tree_util.tree_flatten_with_path
    return {
        jax.tree_util.keystr(path): np.flatnonzero(np.asarray(a) != np.asarray(b))
        for (path, b), (_, a) in zip(flat(before)[0], flat(after)[0], strict=True)
        if np.any(np.asarray(a) != np.asarray(b))
    }


# -- sharing -------------------------------------------------------------------------------


def test_a_shared_value_changes_exactly_its_sites():
    cell = branched_hh_cell()  # branches of 1, 3, 2 and 2 compartments
    cell.make_trainable("HH.gNa", share="branch")
    cell.branch(1).make_trainable("radius", share="compartment")
    cell.branch(2).make_trainable("HH.gK", share=np.array([5, 5]))
    cell.branch(3).make_trainable("HH.gK", share="all", bounds=(0.0, 1.0))
    sim = dx.build(cell, dt=DT)
    theta = sim.trainable_params()
    assert {k: v.shape for k, v in theta.items()} == {
        "HH.gNa@cell": (4,),
        "radius@branch 1": (3,),
        "HH.gK@branch 2": (1,),
        "HH.gK@branch 3": (1,),
    }
    # The initial theta reproduces the cell's own parameters (to rounding by the transforms).
    base = sim.params_from(theta)
    jax.tree_util.tree_map(
        lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-14), base, sim.params
    )
    branch = sim.sites("HH")["branch"]
    for group in range(4):
        moved = {**theta, "HH.gNa@cell": theta["HH.gNa@cell"].at[group].add(0.01)}
        assert changed(base, sim.params_from(moved)).keys() == {"['HH']['gNa']"}
        where = changed(base, sim.params_from(moved))["['HH']['gNa']"]
        np.testing.assert_array_equal(where, np.flatnonzero(branch == group))
    moved = {**theta, "radius@branch 1": theta["radius@branch 1"].at[1].set(2.5)}
    assert changed(base, sim.params_from(moved)) == {"['radius']": np.array([2])}
    assert float(sim.params_from(moved)["radius"][2]) == 2.5
    for key, sites in (("HH.gK@branch 2", [4, 5]), ("HH.gK@branch 3", [6, 7])):
        moved = {**theta, key: theta[key] + 0.1}
        np.testing.assert_array_equal(changed(base, sim.params_from(moved))["['HH']['gK']"], sites)
    values = sim.trainable_values(theta)
    assert values["HH.gNa@cell"].groups == ("branch 0", "branch 1", "branch 2", "branch 3")
    assert values["HH.gK@branch 2"].groups == ("label 5",)
    assert values["radius@branch 1"].unit == "um"
    np.testing.assert_allclose(values["HH.gK@branch 3"].values, [0.036])


def test_labels_group_sites_and_survive_set_ncomp():
    cell = dx.Cell.from_parents([-1, 0], ncomp=[1, 4], length=[20.0, 10.0], radius=[5.0, 1.0])
    cell.insert(dx.channels.HH())
    cell.branch(1).make_trainable("HH.gLeak", share=np.array([0, 0, 1, 1]))
    cell.branch(1).make_trainable("length", share="compartment")
    cell.set_ncomp([1, 8])  # each label now covers twice as many compartments
    sim = dx.build(cell, dt=DT)
    theta = sim.trainable_params()
    assert theta["length@branch 1"].shape == (8,)
    moved = {**theta, "HH.gLeak@branch 1": theta["HH.gLeak@branch 1"].at[1].add(1.0)}
    np.testing.assert_array_equal(
        changed(sim.params_from(theta), sim.params_from(moved))["['HH']['gLeak']"], [5, 6, 7, 8]
    )


def test_point_sites_and_cells_of_a_network():
    cells = [small_hh_cell() for _ in range(3)]
    net = dx.Network(cells)
    dx.connect(net.cell(0).branch(0).loc(0.5), net.cell(1).branch(1).loc(0.5), dx.synapses.ExpSyn())
    dx.connect(net.cell(0).branch(0).loc(0.5), net.cell(2).branch(1).loc(0.5), dx.synapses.ExpSyn())
    dx.connect(net.cell(1).branch(0).loc(0.5), net.cell(2).branch(1).loc(0.5), dx.synapses.ExpSyn())
    dx.gap_junction(net.cell(0).branch(1).loc(0.9), net.cell(2).branch(1).loc(0.9), 0.002)
    net.cells.make_trainable("HH.gNa", share="cell")
    net.cells[1:].make_trainable("ExpSyn.weight", share="site", init=0.01, bounds=(0.0, None))
    with pytest.raises(KeyError, match=r"cell 1 of the group: unknown parameter 'GapJunction.g'"):
        net.cells.make_trainable("GapJunction.g")
    net.cells[[0, 2]].make_trainable("GapJunction.g", init=0.005, bounds=(0.0, None))
    net.cell(2).branch(1).record("v")
    sim = dx.build(net, dt=DT)
    theta = sim.trainable_params()
    assert theta["HH.gNa@cells"].shape == (3,)
    assert theta["ExpSyn.weight@cells"].shape == (3,)
    cell = sim.sites("HH")["cell"]
    moved = {**theta, "HH.gNa@cells": theta["HH.gNa@cells"].at[2].add(0.5)}
    np.testing.assert_array_equal(
        changed(sim.params_from(theta), sim.params_from(moved))["['HH']['gNa']"],
        np.flatnonzero(cell == 2),
    )
    weights = sim.params_from(theta)["ExpSyn"]["weight"]
    np.testing.assert_allclose(weights, 0.01)
    moved = {**theta, "ExpSyn.weight@cells": theta["ExpSyn.weight@cells"].at[1].add(1.0)}
    assert list(
        changed(sim.params_from(theta), sim.params_from(moved))["['ExpSyn']['weight']"]
    ) == [1]
    assert sim.trainable_values(theta)["ExpSyn.weight@cells"].groups[0].startswith("site 0, ")
    np.testing.assert_allclose(sim.params_from(theta)["GapJunction"]["g"], [0.005, 0.005])
    # The synaptic and junction parameters reach the run.
    grads = jax.grad(lambda t: sim.run(sim.params_from(t)).mean())(theta)
    assert np.all(np.asarray(grads["GapJunction.g@cells"]) != 0)
    assert np.all(np.asarray(grads["ExpSyn.weight@cells"]) != 0)


def test_copies_of_a_cell_keep_their_own_trainables():
    template = small_hh_cell()
    template.make_trainable("HH.gK")
    cells = [template, copy.deepcopy(template)]
    sim = dx.build(cells, dt=DT)
    theta = sim.trainable_params()
    assert sorted(theta) == ["HH.gK@cell (cell 0)", "HH.gK@cell (cell 1)"]
    moved = {**theta, "HH.gK@cell (cell 1)": theta["HH.gK@cell (cell 1)"] + 0.01}
    np.testing.assert_array_equal(
        changed(sim.params_from(theta), sim.params_from(moved))["['HH']['gK']"], [3, 4, 5]
    )


def test_params_from_inside_jit_and_vmap():
    cell = small_hh_cell()
    cell.make_trainable("HH.gK", bounds=(0.01, 0.1))
    sim = dx.build(cell, dt=DT)
    theta = sim.trainable_params()
    batch = {"HH.gK@cell": theta["HH.gK@cell"][None] + jnp.linspace(-0.5, 0.5, 3)[:, None]}
    peaks = jax.jit(jax.vmap(lambda t: sim.run(sim.params_from(t)).max()))(batch)
    one = sim.run(sim.params_from({"HH.gK@cell": batch["HH.gK@cell"][2]})).max()
    np.testing.assert_allclose(peaks[2], one, rtol=1e-12)


# -- transforms ----------------------------------------------------------------------------

TRANSFORMS = {
    "sigmoid": (Sigmoid(0.01, 0.5), [0.02, 0.25, 0.49]),
    "softplus": (Softplus(-70.0), [-69.9, -60.0, 10.0]),
    "log": (Log(), [1e-5, 0.1, 300.0]),
    "affine": (Affine(-2.0, 3.0), [-5.0, 0.0, 7.0]),
    "chain": (Chain(Sigmoid(0.0, 1.0), Affine(0.3, 0.05)), [0.06, 0.2, 0.34]),
    "upper only": (from_bounds((None, -50.0)), [-80.0, -50.5]),
}


@pytest.mark.parametrize("name", sorted(TRANSFORMS))
def test_transform_round_trips(name):
    transform, values = TRANSFORMS[name]
    values = np.array(values)
    np.testing.assert_allclose(transform.forward(transform.inverse(values)), values, rtol=1e-12)
    u = np.linspace(-4.0, 4.0, 9)
    np.testing.assert_allclose(transform.inverse(transform.forward(u)), u, atol=1e-9)
    assert np.all(transform.inside(values))
    assert np.all(transform.inside(np.asarray(transform.forward(u))))


def test_bounds_choose_transforms_and_inside_is_strict():
    assert from_bounds((0.0, 1.0)) == Sigmoid(0.0, 1.0)
    assert from_bounds((0.0, None)) == Softplus(0.0)
    assert from_bounds(None) == Affine(1.0, 0.0)
    assert list(Sigmoid(0.0, 1.0).inside([0.0, 0.5, 1.0])) == [False, True, False]
    assert list(Chain(Log(), Affine(1.0, -1.0)).inside([-1.5, -1.0, 0.0])) == [False, False, True]


# -- losses --------------------------------------------------------------------------------


def test_losses_batch_under_vmap_and_match_numpy():
    rng = np.random.default_rng(0)
    traces, target = rng.normal(size=(4, 2, 100)), rng.normal(size=(2, 100))
    for loss, ref in (
        (dx.losses.mse, lambda a, b: np.mean((a - b) ** 2)),
        (dx.losses.mae, lambda a, b: np.mean(np.abs(a - b))),
    ):
        batched = jax.vmap(loss, in_axes=(0, None))(traces, target)
        np.testing.assert_allclose(batched, [ref(t, target) for t in traces], rtol=1e-12)
    stats = jax.vmap(lambda t: dx.losses.window_stats(t, [(0.0, 1.0), (1.0, 2.5)], 0.025))(traces)
    assert stats.shape == (4, 2, 2, 2)
    piece = traces[3, 1, 40:100]
    np.testing.assert_allclose(stats[3, 1, 1], [piece.mean(), piece.std()], rtol=1e-12)
    total = dx.losses.weighted_sum({"a": 2.0, "b": 3.0}, {"a": 0.5, "b": 2.0})
    assert float(total) == 7.0


def test_soft_spike_count_counts_spikes_and_has_gradients():
    sim = dx.build(small_hh_cell(), dt=DT)
    v = sim.run()[0]
    hard = int(np.sum((np.asarray(v[:-1]) < 0) & (np.asarray(v[1:]) >= 0)))
    assert hard == 1
    assert abs(float(dx.losses.soft_spike_count(v)) - hard) < 1e-3
    time = np.arange(0.0, 30.0, DT)
    three = -65.0 + sum(100.0 * np.exp(-(((time - c) / 0.5) ** 2)) for c in (5.0, 12.0, 20.0))
    assert abs(float(dx.losses.soft_spike_count(three)) - 3) < 1e-3
    grad = jax.grad(lambda shift: dx.losses.soft_spike_count(three - shift, threshold=30.0))(0.0)
    assert np.isfinite(grad) and grad != 0


def test_spike_features_match_efel_and_have_gradients():
    time = np.arange(0.0, 30.0, DT)
    three = -65.0 + sum(100.0 * np.exp(-(((time - c) / 0.5) ** 2)) for c in (5.0, 12.0, 20.0))
    batch = np.stack([three, three - 60.0])  # the second never reaches -20 mV
    found = dx.losses.spike_features(batch, DT, 2.0, 25.0)
    assert set(found) == set(dx.losses.SPIKE_FEATURES)
    assert all(value.shape == (2,) for value in found.values())
    assert abs(float(found["spike_count"][0]) - 3) < 1e-3
    assert np.isnan(found["mean_frequency"][1]) and np.isnan(found["AP_amplitude"][1])
    assert float(found["voltage_base"][1]) == pytest.approx(-125.0)
    if importlib.util.find_spec("efel") is not None:
        wanted = dx.efel_features(DT, three, 2.0, 25.0, list(dx.losses.SPIKE_FEATURES))
        frequency = float(found["mean_frequency"][0])
        assert frequency == pytest.approx(wanted["mean_frequency"], rel=0.05)
        assert float(found["AP_amplitude"][0]) == pytest.approx(wanted["AP_amplitude"], abs=2.0)
        assert float(found["voltage_base"][0]) == pytest.approx(wanted["voltage_base"], abs=1e-6)

    def total(scale):
        features = dx.losses.spike_features(three * scale, DT, 2.0, 25.0)
        return features["mean_frequency"] + features["AP_amplitude"] + features["voltage_base"]

    grad = jax.grad(total)(1.0)
    assert np.isfinite(grad) and grad != 0


def test_spike_times_and_window_max_find_spikes_with_gradients():
    time = np.arange(0.0, 30.0, DT)
    three = -65.0 + sum(100.0 * np.exp(-(((time - c) / 0.5) ** 2)) for c in (5.0, 12.3, 20.01))
    batch = np.stack([three, three - 60.0])  # the second never reaches -20 mV
    times = dx.losses.spike_times(batch, DT, max_spikes=4)
    assert times.shape == (2, 4) and np.all(np.isnan(times[0, 3])) and np.all(np.isnan(times[1]))
    np.testing.assert_allclose(times[0, :3], [5.0, 12.3, 20.01], atol=1e-3)
    slope = np.gradient(three, DT)  # v - s dv/dt is v delayed by s ms, to first order

    def first(s):
        return dx.losses.spike_times(three - s * slope, DT, max_spikes=1)[0]

    assert float(jax.grad(first)(0.0)) == pytest.approx(1.0, abs=0.05)

    tops = dx.losses.window_max(batch, DT, [[0.0, 8.0, 25.0]], [[8.0, 10.0, 30.0]], softness=0.5)
    assert tops.shape == (2, 3)
    assert 35.0 <= float(tops[0, 0]) <= 35.0 + 0.5 * np.log(320)  # the peak of 100 - 65 mV
    np.testing.assert_allclose(tops[1], tops[0] - 60.0, rtol=1e-12)
    assert float(tops[0, 1]) < -60.0  # between spikes
    grad = jax.grad(lambda s: dx.losses.window_max(three + s, DT, [9.0], [15.0])[0])(0.0)
    assert grad == pytest.approx(1.0)
    with pytest.raises(ValueError, match="softness"):
        dx.losses.window_max(three, DT, [0.0], [1.0], softness=0.0)


def test_spike_time_offsets_match_the_nearest_spike_with_gradients():
    nan = np.nan
    times = np.array([[5.0, 12.0, 30.0, nan], [nan, nan, nan, nan]])
    reference = np.array([4.0, 13.0, 14.0, nan])
    offsets = dx.losses.spike_time_offsets(times, reference)
    assert offsets.shape == (2, 4)
    np.testing.assert_allclose(offsets[0, :3], [1.0, -1.0, -2.0])
    assert np.isnan(offsets[0, 3]) and np.all(np.isnan(offsets[1]))
    batched = jax.vmap(lambda t: dx.losses.spike_time_offsets(t, reference))(times)
    np.testing.assert_allclose(batched, offsets)

    def loss(shift):  # shift the model's second spike only
        offsets = dx.losses.spike_time_offsets(times[0] + shift * np.eye(4)[1], reference)
        return jnp.sum(jnp.where(jnp.isnan(offsets), 0.0, offsets) ** 2)

    grad = jax.grad(loss)(0.0)  # 2 (-1) + 2 (-2): the 13 and 14 ms spikes both match 12 ms
    assert grad == pytest.approx(-6.0)

    def total(times):  # NaN slots (no spike) give zero gradients, not NaN
        offsets = dx.losses.spike_time_offsets(times, reference)
        return jnp.sum(jnp.where(jnp.isnan(offsets), 0.0, offsets) ** 2)

    grads = jax.grad(total)(jnp.asarray(times))
    assert np.all(np.isfinite(grads)) and np.all(grads[1] == 0.0)


# -- gradients through params_from --------------------------------------------------------


def test_gradients_through_params_from_match_finite_differences():
    cell = branched_hh_cell()
    cell.make_trainable("HH.gNa", share="branch", bounds=(0.05, 0.3))
    cell.branch(1).make_trainable("radius", share="compartment", bounds=(0.1, None))
    cell.make_trainable("HH.gK", bounds=Log())
    cell.branch(0).make_trainable("capacitance", bounds=Chain(Log(), Affine(1.0, 0.5)))
    sim = dx.build(cell, dt=DT)

    def loss(theta):
        return trace_loss(sim.run(sim.params_from(theta)))

    errors = check_directional_derivatives(loss, sim.trainable_params(), np.random.default_rng(4))
    assert len(errors) == 4


# -- fitting -------------------------------------------------------------------------------

TRUE = {"HH.gNa": 0.12, "HH.gK": 0.036, "HH.gLeak": 0.0003}


def test_fit_recovers_three_conductances_within_one_percent():
    cell = small_hh_cell()
    target = dx.build(cell, dt=DT).run()
    for name, start in zip(TRUE, [0.1, 0.045, 0.0004], strict=True):
        cell.make_trainable(name, init=start, bounds=Log())
    sim = dx.build(cell, dt=DT)

    def loss(theta):
        return dx.losses.mse(sim.run(sim.params_from(theta)), target)

    result = dx.fit(loss, sim.trainable_params(), optax.adam(0.05), 150, sim=sim, progress=False)
    assert result.history["loss"].shape == (150,)
    assert result.loss < 1e-3 * result.history["loss"][0]
    for value in sim.trainable_values(result.theta).values():
        assert abs(float(value.values[0]) / TRUE[value.name] - 1) < 0.01, value


def quadratic(theta):
    return jnp.sum((theta["x"] - jnp.arange(3.0)) ** 2)


def test_fit_early_stopping_clipping_and_restarts():
    theta = {"x": jnp.zeros(3)}
    stopped = dx.fit(quadratic, theta, optax.sgd(0.0), 50, patience=5, progress=False)
    assert stopped.stopped == "early stopping" and stopped.history["loss"].size == 6
    reached = dx.fit(quadratic, theta, optax.adam(0.1), 200, stop_below=1.0, progress=False)
    losses = reached.history["loss"]
    assert reached.stopped == "stop_below" and losses[-1] < 1.0 <= losses[-2]
    assert reached.loss == losses[-1]
    clipped = dx.fit(
        quadratic, {"x": jnp.full(3, 100.0)}, optax.sgd(1.0), 1, clip=1.0, progress=False
    )
    step = np.asarray(clipped.last_theta["x"]) - 100.0
    np.testing.assert_allclose(np.linalg.norm(step), 1.0, rtol=1e-9)
    several = dx.fit(quadratic, theta, optax.adam(0.1), 30, restarts=4, seed=1, progress=False)
    assert several.history["loss"].shape == (30, 4)
    assert several.last_theta["x"].shape == (4, 3)
    assert several.loss == pytest.approx(several.history["loss"].min())
    assert several.theta["x"].shape == (3,)


def test_fit_passes_batches_of_data_each_example_once_a_pass():
    data = {"target": jnp.arange(6.0)[:, None] * jnp.ones((6, 3))}

    def loss(theta, batch):
        return jnp.mean((theta["x"][None] - batch["target"]) ** 2)

    theta = {"x": jnp.full(3, 1.5)}
    full = dx.fit(loss, theta, optax.sgd(0.0), 1, data=data, progress=False)
    assert float(full.loss) == pytest.approx(float(loss(theta, data)))
    parts = dx.fit(loss, theta, optax.sgd(0.0), 6, data=data, batch_size=2, progress=False)
    passes = parts.history["loss"].reshape(2, 3).mean(axis=1)
    np.testing.assert_allclose(passes, float(loss(theta, data)), rtol=1e-12)
    assert len(set(parts.history["loss"][:3].tolist())) > 1  # the batches differ
    with pytest.raises(ValueError, match=r"batch_size must be an integer in \[1, 6\]"):
        dx.fit(loss, theta, optax.sgd(0.0), 1, data=data, batch_size=7, progress=False)


def test_fit_resumes_from_a_checkpoint(tmp_path):
    theta, optimizer = {"x": jnp.zeros(3)}, optax.adam(0.1)
    plain = dx.fit(quadratic, theta, optimizer, 10, progress=False)
    path = tmp_path / "fit.npz"
    dx.fit(quadratic, theta, optimizer, 4, checkpoint=path, checkpoint_every=2, progress=False)
    resumed = dx.fit(quadratic, theta, optimizer, 10, checkpoint=path, progress=False)
    np.testing.assert_allclose(resumed.history["loss"], plain.history["loss"], rtol=1e-12)
    np.testing.assert_allclose(resumed.last_theta["x"], plain.last_theta["x"], rtol=1e-12)
    with pytest.raises(ValueError, match=r"holds another fit"):
        dx.fit(quadratic, {"x": jnp.zeros(4)}, optimizer, 12, checkpoint=path, progress=False)


def test_fit_shows_a_progress_bar(capsys):
    pytest.importorskip("tqdm")
    dx.fit(quadratic, {"x": jnp.zeros(3)}, optax.adam(0.1), 3)
    assert "3/3" in capsys.readouterr().err


def test_nan_protection_names_the_parameter_and_group():
    cell = branched_hh_cell()
    cell.make_trainable("HH.gNa", share="branch")
    sim = dx.build(cell, dt=DT)
    theta = sim.trainable_params()
    theta = {"HH.gNa@cell": theta["HH.gNa@cell"].at[2].set(0.0)}

    def loss(theta):  # finite, but d/dx sqrt(x) at 0 is infinite and 0 * inf is NaN
        gna = sim.params_from(theta)["HH"]["gNa"]
        return jnp.sum(gna**2) + 0.0 * jnp.sqrt(theta["HH.gNa@cell"][2])

    with pytest.raises(dx.NonFiniteError, match=r"gradient of HH.gNa@cell .*'branch 2'") as info:
        dx.fit(loss, theta, optax.sgd(0.1), 5, sim=sim, progress=False)
    assert info.value.theta is theta

    def blown(theta):  # as if the simulation had gone NaN
        return jnp.sum(sim.params_from(theta)["HH"]["gNa"]) * jnp.nan

    with pytest.raises(dx.NonFiniteError, match=r"the value of theta\['y'\]\[1\] is inf"):
        dx.fit(
            lambda t: jnp.sum((t["y"] - 3.0) ** 2),
            {"y": jnp.array([3.0, -1e10])},
            optax.sgd(1e300),
            5,
            progress=False,
        )
    big = {"HH.gNa@cell": jnp.full(4, 2.0)}
    with pytest.raises(dx.NonFiniteError, match=r"loss is nan.*first_invalid"):
        dx.fit(blown, big, optax.sgd(0.1), 5, sim=sim, progress=False)


def test_loss_curve_plots_the_history():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    result = dx.fit(quadratic, {"x": jnp.zeros(3)}, optax.adam(0.1), 5, restarts=2, progress=False)
    ax = dx.plot.loss_curve(result)
    assert len(ax.lines) == 2 and ax.get_yscale() == "log"


# -- saving --------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".json", ".npz"])
def test_save_and_load_round_trip(tmp_path, suffix):
    cell = branched_hh_cell()
    cell.make_trainable("HH.gNa", share="branch", bounds=(0.0, 1.0))
    cell.branch(0).make_trainable("HH.eNa", bounds=(0.0, 100.0))
    sim = dx.build(cell, dt=DT)
    theta = jax.tree_util.tree_map(lambda x: x + 0.3, sim.trainable_params())
    path = tmp_path / f"fitted{suffix}"
    dx.save_params(path, sim, theta)
    saved = dx.load_params(path, sim)
    assert not changed(sim.params_from(theta), saved.params)
    assert saved.units["HH.gNa"] == "S/cm2" and saved.units["HH.eNa"] == "mV"
    assert saved.groups["HH.gNa@cell"][1] == "branch 1"
    for key, value in theta.items():
        np.testing.assert_allclose(saved.theta[key], value, rtol=1e-10)
    np.testing.assert_array_equal(sim.run(saved.params), sim.run(sim.params_from(theta)))
    if suffix == ".json":
        assert '"unit": "S/cm2"' in path.read_text()
    plain = tmp_path / f"plain{suffix}"
    dx.save_params(plain, sim)
    assert dx.load_params(plain).theta is None
    other = dx.build(small_hh_cell(), dt=DT)
    with pytest.raises(ValueError, match=r"shape"):
        dx.load_params(path, other)


# -- bad input -----------------------------------------------------------------------------


def test_bad_input_gets_clear_errors():
    cell = branched_hh_cell()
    with pytest.raises(KeyError, match=r"HH has no parameter 'gna'; its parameters are"):
        cell.make_trainable("HH.gna")
    with pytest.raises(KeyError, match=r"unknown parameter 'Leak.gLeak'"):
        cell.make_trainable("Leak.gLeak")
    with pytest.raises(ValueError, match=r"one integer per selected site \(3\), got shape \(2,\)"):
        cell.branch(1).make_trainable("HH.gK", share=np.array([0, 1]))
    with pytest.raises(TypeError, match=r"must be integers"):
        cell.branch(1).make_trainable("HH.gK", share=np.array([0.0, 1.0, 1.0]))
    with pytest.raises(ValueError, match=r"share for HH.gK must be one of"):
        cell.make_trainable("HH.gK", share="region")
    with pytest.raises(ValueError, match=r"lower < upper, got \(0.5, 0.1\)"):
        cell.make_trainable("HH.gK", bounds=(0.5, 0.1))
    with pytest.raises(ValueError, match=r"init for HH.gK is 0.5: outside the bounds of Sigmoid"):
        cell.make_trainable("HH.gK", init=0.5, bounds=(0.0, 0.1))
    with pytest.raises(ValueError, match=r"cannot train HH.gK on <Selection selection: 0 comp"):
        cell.select(order=7).make_trainable("HH.gK")
    cell.make_trainable("HH.gNa", share="branch")
    with pytest.raises(ValueError, match=r"HH.gNa@branch 1 and HH.gNa@cell both train HH.gNa"):
        cell.branch(1).make_trainable("HH.gNa")
    cell.make_trainable("HH.gK", bounds=(0.0, 0.01))  # the cell's 0.036 is outside
    with pytest.raises(ValueError, match=r"HH.gK@cell: initial value 0.036 of group 'all' is"):
        dx.build(cell, dt=DT)


def test_group_values_must_agree_without_init_and_theta_must_match():
    cell = branched_hh_cell()
    cell.make_trainable("radius")  # radii differ between branches
    with pytest.raises(ValueError, match=r"radius@cell: the sites of group 'all' hold different"):
        dx.build(cell, dt=DT)
    cell = branched_hh_cell()
    cell.make_trainable("radius", share="branch")
    sim = dx.build(cell, dt=DT)
    theta = sim.trainable_params()
    with pytest.raises(TypeError, match=r"theta must be a dict"):
        sim.params_from([theta["radius@cell"]])
    with pytest.raises(KeyError, match=r"missing \['radius@cell'\], unknown \['radius'\]"):
        sim.params_from({"radius": theta["radius@cell"]})
    with pytest.raises(
        ValueError, match=r"theta\['radius@cell'\] has shape \(3,\), expected \(4,\)"
    ):
        sim.params_from({"radius@cell": theta["radius@cell"][:3]})
    cell = branched_hh_cell()
    cell.make_trainable("HH.gK", share="branch", init=[0.01, 0.02])
    with pytest.raises(ValueError, match=r"init for HH.gK@cell has 2 values but it has 4 groups"):
        dx.build(cell, dt=DT)


def test_efel_features_of_a_spiking_trace_and_their_table():
    pytest.importorskip("efel")
    cell = dx.Cell.from_parents([-1], ncomp=1, length=20.0, radius=10.0)
    cell.insert(dx.channels.HH())
    cell.stimulate(dx.step_current(10.0, 80.0, 0.5, DT, 100.0))
    cell.record("v")
    v = np.asarray(dx.build(cell, dt=DT).run())[0]
    names = ["spike_count", "mean_frequency", "AP_amplitude", "voltage_base"]
    features = dx.efel_features(DT, v, 10.0, 90.0, names)
    crossings = int(np.sum((v[1:] > 0.0) & (v[:-1] <= 0.0)))
    assert features["spike_count"] == crossings > 3
    assert 40.0 < features["mean_frequency"] < 200.0 and features["AP_amplitude"] > 50.0
    assert features["voltage_base"] == pytest.approx(v[round(9.0 / DT)], abs=1.0)
    t = DT * np.arange(v.size)
    quiet = dx.efel_features(t, np.full(v.size, -65.0), 10.0, 90.0, names)
    assert quiet["spike_count"] == 0 and np.isnan(quiet["AP_amplitude"])
    table = dx.feature_table(features, quiet)
    assert table.splitlines()[0].split() == ["feature", "target", "fitted", "difference"]
    assert table.splitlines()[1].split()[0] == "spike_count" and len(table.splitlines()) == 5


def test_efel_features_errors():
    pytest.importorskip("efel")
    v = np.full(400, -65.0)
    with pytest.raises(ValueError, match=r"unknown eFEL feature\(s\) \['spikes'\]"):
        dx.efel_features(DT, v, 1.0, 5.0, ["spikes"])
    with pytest.raises(ValueError, match=r"v must be one trace \(n_samples,\), got shape"):
        dx.efel_features(DT, v[None], 1.0, 5.0, "spike_count")
    with pytest.raises(ValueError, match=r"t has shape \(3,\) but v has \(400,\)"):
        dx.efel_features(np.arange(3.0), v, 1.0, 5.0, "spike_count")
    with pytest.raises(ValueError, match=r"v has NaN"):
        dx.efel_features(DT, np.where(np.arange(400) == 3, np.nan, v), 1.0, 5.0, "spike_count")
    with pytest.raises(ValueError, match=r"stimulus window \(5.0, 20.0\) ms is empty or outside"):
        dx.efel_features(DT, v, 5.0, 20.0, "spike_count")
    with pytest.raises(KeyError, match=r"fitted has no \['spike_count'\]"):
        dx.feature_table({"spike_count": 1.0}, {})
