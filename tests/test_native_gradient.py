"""Gradients through the native kernel: the native adjoint (adjoint.cc) against the pure-JAX
path's gradients and central finite differences, and the fallback to the pure-JAX recompute
where no adjoint can be generated.

Measured: native and pure-JAX gradients agree to 3e-14 relative (float64, 12 ms with a spike).
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import dendrax as dx
from dendrax.checkpointing import minimum_bytes
from dendrax.mechanisms import exponential_euler
from dendrax.native import gradient
from dendrax.native.codegen import Unsupported

DT = 0.025
T_MAX = 12.0
RELATIVE = 1e-10
SCALED = ("HH.gNa", "HH.gK", "HH.gLeak", "Leak.gLeak", "radius", "length")
SCALED += ("axial_resistivity", "capacitance", "amplitude")


def branched_cell(t_max: float = T_MAX, clamp: bool = False) -> dx.Cell:
    """Five branches: HH on the soma and two dendrites, Leak on two, HH + Leak on one."""
    cell = dx.Cell.from_parents(
        [-1, 0, 0, 1, 2],
        ncomp=[1, 3, 2, 3, 2],
        length=50.0,
        radius=[6.0, 1.0, 0.8, 0.5, 0.4],
        axial_resistivity=120.0,
    )
    cell.branch(0).insert(dx.channels.HH())
    cell.branch(1).insert(dx.channels.HH(gNa=0.2))
    cell.branch(2).insert(dx.channels.Leak())
    cell.branch(3).insert(dx.channels.Leak(gLeak=0.0005))
    cell.branch(3).insert(dx.channels.HH())
    cell.branch(0).comp(0).stimulate(dx.step_current(1.0, 10.0, 1.0, DT, t_max))
    cell.branch(3).loc(0.9).stimulate(dx.step_current(2.0, 10.0, 0.2, DT, t_max))
    if clamp:
        cell.branch(4).comp(1).clamp("v", np.full(round(t_max / DT), -50.0))
    for branch in range(5):
        cell.branch(branch).loc(0.5).record("v")
    cell.branch(1).comp(2).record("HH.m")
    return cell


def scaled_loss(sim: dx.Simulation):
    """Mean squared deviation of the recordings from -60, as a function of factors on the
    `SCALED` quantities."""

    def loss(factors):
        params = {**sim.params, "HH": {**sim.params["HH"]}, "Leak": {**sim.params["Leak"]}}
        for name in SCALED[:-1]:
            group, _, key = name.rpartition(".")
            where = params[group] if group else params
            where[key] = where[key] * factors[name]
        recordings = sim.run(params, stimuli=sim.stimuli * factors["amplitude"])
        return jnp.mean((recordings + 60.0) ** 2)

    return loss


def uses_native_adjoint(fn, *args) -> bool:
    return "dendrax_adjoint" in str(jax.make_jaxpr(jax.grad(fn))(*args))


def assert_trees_close(ours, twin, relative=RELATIVE):
    """Every leaf within `relative` of the largest magnitude of its twin."""
    for a, b in zip(jax.tree_util.tree_leaves(ours), jax.tree_util.tree_leaves(twin), strict=True):
        scale = np.max(np.abs(b)) if np.size(b) else 0.0
        np.testing.assert_allclose(a, b, rtol=0, atol=relative * scale)


def full_loss(sim: dx.Simulation):
    def loss(params, stimuli):
        return jnp.mean((sim.run(params, stimuli=stimuli) + 60.0) ** 2)

    return loss


@pytest.mark.parametrize(("solver", "settle"), [("backward_euler", 0.0), ("crank_nicolson", 2.0)])
def test_native_adjoint_matches_pure_jax(solver, settle):
    """Every parameter and the stimuli, with and without settling."""
    native = dx.build(branched_cell(), dt=DT, solver=solver, settle=settle, backend="native")
    pure = dx.build(branched_cell(), dt=DT, solver=solver, settle=settle, backend="jax")
    loss = full_loss(native)
    assert uses_native_adjoint(loss, native.params, native.stimuli)
    assert np.asarray(native.run())[0].max() > 0.0  # a spike: the gates are exercised
    ours = jax.grad(loss, argnums=(0, 1))(native.params, native.stimuli)
    twin = jax.grad(full_loss(pure), argnums=(0, 1))(pure.params, pure.stimuli)
    assert_trees_close(ours, twin)
    assert np.abs(ours[1]).max() > 0.0


def test_adjoint_compiled_in_two_units_gives_the_same_gradient(monkeypatch):
    """Where the machine has cores to spare, the adjoint's sweeps and its vector-Jacobian
    products' loops are compiled side by side as two units and linked: the same gradient,
    to the bit, as the adjoint compiled as one unit."""
    from dendrax.native import library

    sim = dx.build(branched_cell(), dt=DT, backend="native")
    loss = full_loss(sim)
    monkeypatch.setattr(library, "usable_cores", lambda: library.SPLIT_CORES - 1)
    assert len(library.compile_units("adjoint")) == 1
    whole = jax.grad(loss, argnums=(0, 1))(sim.params, sim.stimuli)
    monkeypatch.setattr(library, "usable_cores", lambda: library.SPLIT_CORES)
    assert len(library.compile_units("adjoint")) == 2
    split = jax.grad(loss, argnums=(0, 1))(sim.params, sim.stimuli)
    for a, b in zip(
        jax.tree_util.tree_leaves(split), jax.tree_util.tree_leaves(whole), strict=True
    ):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("solver", ["backward_euler", "crank_nicolson"])
def test_native_adjoint_matches_finite_differences(solver):
    sim = dx.build(branched_cell(), dt=DT, solver=solver, backend="native")
    loss = jax.jit(scaled_loss(sim))
    ones = {name: 1.0 for name in SCALED}
    assert uses_native_adjoint(scaled_loss(sim), ones)
    grads = jax.grad(loss)(ones)
    eps = 1e-5
    for name in SCALED:
        up = loss({**ones, name: 1.0 + eps})
        down = loss({**ones, name: 1.0 - eps})
        np.testing.assert_allclose(grads[name], (up - down) / (2 * eps), rtol=1e-5, err_msg=name)


def test_native_adjoint_under_vmap():
    """A batch of three through the adjoint's batch loop, against one at a time."""
    sim = dx.build(branched_cell(), dt=DT, backend="native")
    grad = jax.grad(scaled_loss(sim))
    ones = {name: 1.0 for name in SCALED}

    def one(scale):
        return grad({**ones, "HH.gNa": scale})

    scales = jnp.array([0.8, 1.0, 1.3])
    batch = jax.jit(jax.vmap(one))(scales)
    singles = [jax.jit(one)(scale) for scale in scales]
    for k, single in enumerate(singles):
        assert_trees_close(jax.tree_util.tree_map(lambda x, k=k: x[k], batch), single, 1e-13)
    assert np.ptp(np.asarray(batch["HH.gNa"])) > 0.0  # the three gradients differ


@pytest.mark.parametrize("memory_bytes", [None, 150_000])
def test_native_adjoint_of_lane_groups_matches_single_simulations(memory_bytes, one_core):
    """Ten simulations: lane groups of the adjoint (several, the last one padded), their steps
    stored or (in 150 kB, whatever the lanes of a group: 2 to 16) recomputed group by group
    from two or more levels of checkpoints; each as its own gradient."""
    checkpointing = dx.Checkpointing(memory_bytes)
    sim = dx.build(branched_cell(), dt=DT, backend="native", checkpointing=checkpointing)
    grad = jax.grad(scaled_loss(sim))
    ones = {name: 1.0 for name in SCALED}

    def one(scale):
        return grad({**ones, "HH.gNa": scale, "amplitude": 2.0 - scale})

    scales = jnp.linspace(0.8, 1.3, 10)
    batch = jax.jit(jax.vmap(one))(scales)
    for k in (0, 7, 8, 9):
        single = jax.jit(one)(scales[k])
        assert_trees_close(jax.tree_util.tree_map(lambda x, k=k: x[k], batch), single, 1e-13)


def test_native_adjoint_checkpoints_long_runs_within_the_least_budget():
    """804 steps in the least budget of any schedule (`checkpointing.minimum_bytes`): ten
    levels of checkpoints, two segments each; same gradients as every step stored (more
    budgets: tests/test_checkpoint.py)."""
    t_max = 20.1

    def built(memory_bytes=None):
        checkpointing = dx.Checkpointing(memory_bytes)
        return dx.build(branched_cell(t_max), dt=DT, backend="native", checkpointing=checkpointing)

    sim = built()
    stored_all = jax.jit(jax.grad(full_loss(sim), argnums=(0, 1)))(sim.params, sim.stimuli)
    row, point = gradient.step_values(sim.spec, sim.arrays)
    sim = built(memory_bytes=minimum_bytes(804, 8 * row, 8 * point))
    assert gradient.checkpoint_schedule(sim.spec, sim.arrays, 804).levels == 10
    ours = jax.jit(jax.grad(full_loss(sim), argnums=(0, 1)))(sim.params, sim.stimuli)
    assert_trees_close(ours, stored_all, 1e-13)


def test_native_adjoint_of_hay_channels_matches_finite_differences():
    """Ten Hay et al. (2011) channels reading constant ion potentials, against central
    differences (native and pure-JAX gradients measured 2e-13 apart)."""
    cell = dx.Cell.from_parents(
        [-1, 0, 0, 1], ncomp=[1, 3, 2, 3], length=60.0, radius=[8.0, 1.0, 0.8, 0.5]
    )
    cell.insert(dx.channels.Leak(gLeak=3e-5, eLeak=-90.0))
    cell.insert(dx.channels.Ih(gIhbar=8e-5))
    soma = cell.branch(0)
    soma.insert(dx.channels.NaTs2_t(gNaTs2_tbar=0.98))
    soma.insert(dx.channels.SKv3_1(gSKv3_1bar=0.3))
    soma.insert(dx.channels.K_Pst(gK_Pstbar=0.2))
    soma.insert(dx.channels.K_Tst(gK_Tstbar=0.05))
    soma.insert(dx.channels.Nap_Et2(gNap_Et2bar=0.002))
    soma.insert(dx.channels.Ca_HVA(gCa_HVAbar=0.001))
    soma.insert(dx.channels.Ca_LVAst(gCa_LVAstbar=0.003))
    cell.branch(1).insert(dx.channels.Im(gImbar=1e-3))
    cell.branch(2).insert(dx.channels.NaTa_t(gNaTa_tbar=0.02))
    soma.comp(0).stimulate(dx.step_current(2.0, 6.0, 1.0, DT, 8.0))
    for branch in range(4):
        cell.branch(branch).loc(0.5).record("v")
    sim = dx.build(cell, dt=DT, celsius=34.0, backend="native")
    assert np.asarray(sim.run())[0].max() > 0.0
    scaled = [("NaTs2_t", "gNaTs2_tbar"), ("SKv3_1", "gSKv3_1bar"), ("Ca_HVA", "gCa_HVAbar")]
    scaled += [("Im", "gImbar"), ("Ih", "gIhbar"), ("Nap_Et2", "gNap_Et2bar")]

    def loss(factors):
        params = {**sim.params, "radius": sim.params["radius"] * factors[-1]}
        for (name, key), factor in zip(scaled, factors[:-1], strict=True):
            params[name] = {**params[name], key: params[name][key] * factor}
        return jnp.mean((sim.run(params) + 60.0) ** 2)

    ones = jnp.ones(len(scaled) + 1)
    assert uses_native_adjoint(loss, ones)
    grads, loss = jax.grad(loss)(ones), jax.jit(loss)
    eps = 1e-5
    for k in range(ones.size):
        difference = (loss(ones.at[k].add(eps)) - loss(ones.at[k].add(-eps))) / (2 * eps)
        np.testing.assert_allclose(grads[k], difference, rtol=1e-5, err_msg=str(k))


def assert_matches_finite_differences(loss, x, rtol=1e-5, eps=1e-5):
    """d loss / d x at x against a central difference (x a scalar)."""
    grad = jax.grad(loss)(x)
    np.testing.assert_allclose(grad, (loss(x + eps) - loss(x - eps)) / (2 * eps), rtol=rtol)
    assert grad != 0.0


@pytest.mark.parametrize(("solver", "settle"), [("backward_euler", 0.0), ("crank_nicolson", 2.0)])
def test_native_adjoint_of_clamped_cells_matches_pure_jax(solver, settle):
    """A voltage clamp (its commands held during settling): every parameter, the stimuli
    and the commands, against the pure-JAX path (measured 5e-13 relative)."""

    def loss(sim):
        def mean_square(params, stimuli, clamps):
            recordings = sim.run(params, stimuli=stimuli, clamps=clamps)
            return jnp.mean((recordings + 60.0) ** 2)

        return mean_square

    builds = {
        backend: dx.build(
            branched_cell(clamp=True), dt=DT, solver=solver, settle=settle, backend=backend
        )
        for backend in ("native", "jax")
    }
    grads = {}
    for backend, sim in builds.items():
        args = (sim.params, sim.stimuli, sim.clamps)
        assert uses_native_adjoint(loss(sim), *args) == (backend == "native")
        grads[backend] = jax.grad(loss(sim), argnums=(0, 1, 2))(*args)
    assert_trees_close(grads["native"], grads["jax"], 1e-10)
    assert np.abs(grads["native"][2]).max() > 0.0


def test_native_adjoint_of_clamp_commands_matches_finite_differences():
    sim = dx.build(branched_cell(clamp=True), dt=DT, backend="native")

    def loss(offset):  # mV added to the clamp's command
        params = {**sim.params, "HH": {**sim.params["HH"]}}
        params["HH"]["gNa"] = params["HH"]["gNa"] * (1.0 + offset / 10.0)
        return jnp.mean((sim.run(params, clamps=sim.clamps + offset) + 60.0) ** 2)

    assert uses_native_adjoint(loss, 0.0)
    assert_matches_finite_differences(jax.jit(loss), 0.0)


def calcium_cell(record: str = "CaDynamics_E2.cai") -> dx.Cell:
    """A soma with Hay et al. (2011) calcium dynamics: Ca_HVA and Ca_LVAst feed
    CaDynamics_E2's cai (Nernst eca), SK_E2 reads it; a spike; v and `record` recorded."""
    cell = dx.Cell.from_parents([-1, 0], ncomp=[1, 2], length=[20.0, 50.0], radius=[8.0, 1.0])
    cell.insert(dx.channels.Leak(gLeak=3e-5))
    soma = cell.branch(0)
    soma.insert(dx.channels.NaTs2_t(gNaTs2_tbar=0.5))
    soma.insert(dx.channels.SKv3_1(gSKv3_1bar=0.3))
    soma.insert(dx.channels.Ca_HVA(gCa_HVAbar=0.005))
    soma.insert(dx.channels.Ca_LVAst(gCa_LVAstbar=0.005))
    soma.insert(dx.channels.SK_E2(gSK_E2bar=0.05))
    soma.insert(dx.channels.CaDynamics_E2(gamma=0.0005, decay=80.0))
    soma.comp(0).stimulate(dx.step_current(1.0, 4.0, 0.6, DT, 8.0))
    soma.comp(0).record("v")
    soma.comp(0).record(record)
    return cell


def calcium_loss(sim: dx.Simulation):
    """Voltage and calcium deviations, as a function of all parameters."""

    def loss(params):
        recordings = sim.run(params)
        return jnp.mean((recordings[0] + 60.0) ** 2) + 1e6 * jnp.mean(recordings[1])

    return loss


@pytest.mark.parametrize(
    ("solver", "record"),
    [
        ("backward_euler", "CaDynamics_E2.cai"),
        ("crank_nicolson", "CaDynamics_E2.cai"),
        ("backward_euler", "eca"),
        ("crank_nicolson", "ica"),
        ("backward_euler", "Ca_HVA.ica"),
        ("crank_nicolson", "SK_E2.ik"),
    ],
)
def test_native_adjoint_of_calcium_dynamics_matches_pure_jax(solver, record):
    """Concentrations written by CaDynamics_E2 from the summed ica (moved to mid-step under
    Crank–Nicolson), Nernst eca from them, SK_E2 reading cai, and these ion variables or
    current densities recorded: every parameter, including cai, cao and CaDynamics_E2's,
    against the pure-JAX path (measured 1e-11 relative)."""
    native = dx.build(calcium_cell(record), dt=DT, celsius=34.0, solver=solver, backend="native")
    pure = dx.build(calcium_cell(record), dt=DT, celsius=34.0, solver=solver, backend="jax")
    loss = calcium_loss(native)
    assert uses_native_adjoint(loss, native.params)
    assert np.asarray(native.run())[0].max() > 0.0
    ours = jax.grad(loss)(native.params)
    assert_trees_close(ours, jax.grad(calcium_loss(pure))(pure.params), 1e-9)
    for name in ("decay", "gamma", "depth", "minCai"):
        assert ours["CaDynamics_E2"][name] != 0.0, name
    assert ours["cai"].any() and ours["cao"].any()


def test_native_adjoint_of_calcium_dynamics_matches_finite_differences():
    sim = dx.build(calcium_cell(), dt=DT, celsius=34.0, backend="native")
    scaled = [("Ca_HVA", "gCa_HVAbar"), ("CaDynamics_E2", "gamma"), ("CaDynamics_E2", "decay")]
    scaled += [("SK_E2", "gSK_E2bar")]

    def loss(factors):
        params = dict(sim.params)
        for (name, key), factor in zip(scaled, factors, strict=True):
            params[name] = {**params[name], key: params[name][key] * factor}
        return calcium_loss(sim)(params)

    ones = jnp.ones(len(scaled))
    assert uses_native_adjoint(loss, ones)
    grads, loss = jax.grad(loss)(ones), jax.jit(loss)
    eps = 1e-5
    for k in range(ones.size):
        difference = (loss(ones.at[k].add(eps)) - loss(ones.at[k].add(-eps))) / (2 * eps)
        np.testing.assert_allclose(grads[k], difference, rtol=1e-5, err_msg=str(scaled[k]))


def test_models_the_adjoint_cannot_take_fall_back_to_the_pure_jax_recompute(monkeypatch):
    """Where no adjoint can be generated (here: made to fail), the gradient recomputes the
    simulation in pure JAX."""

    def unsupported(*args):
        raise Unsupported("made to fail")

    monkeypatch.setattr(gradient, "adjoint_source", unsupported)
    sim = dx.build(calcium_cell(), dt=DT, celsius=34.0, backend="native")

    def loss(scale):
        params = {**sim.params, "Ca_HVA": {"gCa_HVAbar": sim.params["Ca_HVA"]["gCa_HVAbar"]}}
        params["Ca_HVA"]["gCa_HVAbar"] = params["Ca_HVA"]["gCa_HVAbar"] * scale
        return calcium_loss(sim)(params)

    assert not uses_native_adjoint(loss, 1.0)
    assert_matches_finite_differences(jax.jit(loss), 1.0)


def test_forward_pass_of_a_gradient_matches_the_kernel_and_pullbacks_repeat():
    """The gradient's forward pass (adjoint.cc's, which stores the steps) records what the
    forward kernel records; a second pullback, whose stored steps the first one used,
    recomputes them and gives the same cotangents."""
    sim = dx.build(branched_cell(), dt=DT, backend="native")
    recordings, pullback = jax.vjp(lambda p: sim.run(p), sim.params)
    np.testing.assert_allclose(recordings, sim.run(), rtol=0, atol=1e-12)
    cotangent = jnp.ones_like(recordings)
    first, second = pullback(cotangent), pullback(cotangent)
    assert_trees_close(second, first, 1e-15)


def test_forward_pass_of_a_gradient_records_ion_variables_as_the_kernel():
    """Ion currents (mid-step under Crank–Nicolson, and at t = 0 from the initial state),
    Nernst potentials and one channel's current density recorded by the gradient's forward
    pass, against the kernel."""
    cases = [("ica", "crank_nicolson"), ("eca", "backward_euler")]
    for record, solver in [*cases, ("Ca_HVA.ica", "crank_nicolson")]:
        cell = calcium_cell(record)
        sim = dx.build(cell, dt=DT, celsius=34.0, solver=solver, backend="native")
        recordings, _ = jax.vjp(lambda p, sim=sim: sim.run(p), sim.params)
        np.testing.assert_allclose(recordings, sim.run(), rtol=1e-13, atol=0, err_msg=record)


class Pulsing(dx.Mechanism):
    """A conductance modulated in time (sin of t, ms) and a gate relaxing towards a target
    that moves with t: the native kernel passes t to both functions."""

    parameters = {
        "g": dx.Parameter(0.002, "S/cm2", nonnegative=True),
        "e": dx.Parameter(-20.0, "mV"),
    }
    states = {"a": dx.State("1")}

    def steady_state(self, v, params, celsius):
        return {"a": jnp.full_like(v, 0.5)}

    def update(self, states, v, params, dt, celsius, t):
        target = 0.5 + 0.4 * jnp.sin(t / 3.0) * jax.nn.sigmoid((v + 50.0) / 5.0)
        return {"a": exponential_euler(states["a"], target, 2.0, dt)}

    def current(self, states, v, params, celsius, t):
        return params["g"] * states["a"] * (1.0 + 0.5 * jnp.cos(t)) * (v - params["e"])


@pytest.mark.parametrize(("solver", "settle"), [("backward_euler", 0.0), ("crank_nicolson", 2.0)])
def test_mechanisms_of_time_run_natively_and_match_pure_jax(solver, settle):
    """Traces to 1e-8 mV and gradients (every parameter, the stimuli) as pure JAX's; the
    current recorded at t = 0 is evaluated at t = 0 after settling too."""
    cell = branched_cell()
    cell.branch(1).insert(Pulsing())
    cell.branch(1).comp(0).record("Pulsing.a")
    cell.branch(1).comp(0).record("Pulsing.i")
    native = dx.build(cell, dt=DT, solver=solver, settle=settle, backend="native")
    pure = dx.build(cell, dt=DT, solver=solver, settle=settle, backend="jax")
    assert native.spec.backend == "native"
    np.testing.assert_allclose(native.run(), pure.run(), rtol=0, atol=1e-8)
    loss = full_loss(native)
    assert uses_native_adjoint(loss, native.params, native.stimuli)
    ours = jax.grad(loss, argnums=(0, 1))(native.params, native.stimuli)
    twin = jax.grad(full_loss(pure), argnums=(0, 1))(pure.params, pure.stimuli)
    assert_trees_close(ours, twin)
    assert np.abs(ours[0]["Pulsing"]["g"]).max() > 0.0
