"""The description and the built model: immutable declarations, several cells in one build,
the simulation as a pytree, stimuli that carry their dt, clear errors for bad mechanisms."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import dendrax as dx

DT = 0.025


def _cell(gna=0.12) -> dx.Cell:
    cell = dx.Cell.from_parents([-1, 0], ncomp=[1, 2], length=[20.0, 50.0], radius=[6.0, 1.0])
    cell.insert(dx.channels.HH(gNa=gna))
    cell.branch(0).comp(0).stimulate(dx.step_current(1.0, 3.0, 0.5, DT, 8.0))
    cell.branch(1).loc(0.9).record("v")
    return cell


def test_declarations_cannot_change_after_the_class_is_defined():
    with pytest.raises(TypeError):
        dx.channels.Leak.parameters["gLeak"] = dx.Parameter(1.0, "S/cm2")
    with pytest.raises(TypeError):
        dx.channels.HH.states["x"] = dx.State("1")
    assert dx.channels.Leak().defaults["gLeak"] == 0.001


@pytest.mark.parametrize("name", ["radius", "v", "celsius", "cai"])
def test_mechanism_names_cannot_collide_with_the_engine_names(name):
    with pytest.raises(ValueError, match="cannot be named"):
        type(name, (dx.channels.Leak,), {})


def test_parameters_cannot_take_reserved_names():
    with pytest.raises(ValueError, match="reserved"):

        class Timed(dx.channels.Leak):
            parameters = {"t": dx.Parameter(1.0, "ms")}


def test_methods_must_take_the_engine_arguments():
    with pytest.raises(
        TypeError, match=r"current must take \(self, states, v, params, celsius, t\)"
    ):

        class OldStyle(dx.channels.Leak):
            def current(self, states, v, params):
                return params["gLeak"] * v


def test_gated_channels_customise_through_hooks():
    with pytest.raises(TypeError, match=r"overrides GatedChannel\.steady_state"):

        class Closed(dx.channels.Im):
            def steady_state(self, v, params, celsius):
                return {"m": jnp.zeros_like(v)}

    class StartsClosed(dx.channels.Im):
        states = {"m": dx.State("1", "activation", initial=0.0)}

    cell = dx.Cell.from_parents([-1])
    cell.insert(StartsClosed())
    cell.record("StartsClosed.m")
    assert float(dx.build(cell).run(t_max=1.0)[0, 0]) == 0.0


class _WrongKey(dx.channels.Leak):
    states = {"n": dx.State("1")}

    def steady_state(self, v, params, celsius):
        return {"n": jnp.zeros_like(v)}

    def update(self, states, v, params, dt, celsius, t):
        return {"m": states["n"]}


class _WrongSteadyState(_WrongKey):
    def steady_state(self, v, params, celsius):
        return {"m": jnp.zeros_like(v)}


@pytest.mark.parametrize(
    ("mechanism", "method"), [(_WrongKey, "update"), (_WrongSteadyState, "steady_state")]
)
def test_wrong_state_names_name_the_mechanism_and_the_key(mechanism, method):
    cell = dx.Cell.from_parents([-1])
    cell.insert(mechanism())
    cell.record("v")
    with pytest.raises(ValueError, match=rf"{mechanism.__name__}.{method} returned states \['m'\]"):
        dx.build(cell, backend="jax").run(t_max=1.0)


def test_insert_again_applies_the_given_values():
    cell = _cell()
    cell.branch(1).insert(dx.channels.HH(gNa=0.3))
    assert list(cell.get("HH.gNa")) == [0.12, 0.3, 0.3]


def test_current_and_update_receive_celsius_and_t():
    class Ramp(dx.Mechanism):
        """A current of t (ms) · 1e-3 mA/cm², scaled by celsius / 10."""

        states = {"clock": dx.State("ms")}

        def steady_state(self, v, params, celsius):
            return {"clock": jnp.zeros_like(v)}

        def update(self, states, v, params, dt, celsius, t):
            return {"clock": jnp.full_like(v, t)}

        def current(self, states, v, params, celsius, t):
            return jnp.full_like(v, -1e-3 * t * celsius / 10.0)

    cell = dx.Cell.from_parents([-1])
    cell.insert(Ramp())
    cell.record("Ramp.clock")
    cell.record("Ramp.i")
    sim = dx.build(cell, celsius=20.0, settle=0.5)
    assert sim.spec.backend == "native"  # t reaches the native kernel too
    clock, current = np.asarray(sim.run(t_max=1.0))
    # States are updated at the end of each step: the settling steps end at t = 0.
    np.testing.assert_allclose(clock, sim.time(1.0), rtol=0, atol=1e-12)
    # Currents are evaluated in the middle of each step (and at t = 0 for the first sample).
    np.testing.assert_allclose(current[1:], -2e-3 * (sim.time(1.0)[:-1] + DT / 2), rtol=1e-12)


def test_several_cells_build_as_one_forest():
    cells = [_cell(gna) for gna in (0.12, 0.0, 0.2)]
    together = dx.build(cells, dt=DT)
    alone = np.concatenate([np.asarray(dx.build(c, dt=DT).run()) for c in cells])
    np.testing.assert_allclose(np.asarray(together.run()), alone, rtol=0, atol=1e-12)
    assert list(together.compartment_cells) == [0] * 3 + [1] * 3 + [2] * 3
    assert together.params["HH"]["gNa"].shape == (9,)
    assert together.recording_names[2].startswith("v at cell 2, branch 1")
    with pytest.raises(ValueError, match="same cell twice"):
        dx.build([cells[0], cells[0]])
    with pytest.raises(TypeError, match="item 1 is str"):
        dx.build([cells[0], "cell"])


def test_cells_with_different_mechanisms_build_together():
    plain = dx.Cell.from_parents([-1], length=20.0, radius=5.0)
    plain.insert(dx.channels.Leak())
    plain.record("v")
    hay = dx.Cell.from_parents([-1], length=20.0, radius=5.0)
    hay.insert(dx.channels.CaDynamics_E2())
    hay.insert(dx.channels.Ca_HVA())
    hay.record("cai")
    together = np.asarray(dx.build([plain, hay]).run(t_max=2.0))
    alone = [np.asarray(dx.build(c).run(t_max=2.0)) for c in (plain, hay)]
    np.testing.assert_allclose(together, np.concatenate(alone), rtol=1e-12)


def test_simulation_is_a_pytree():
    sim = dx.build(_cell(), dt=DT)
    leaves, structure = jax.tree_util.tree_flatten(sim)
    assert any(leaf is sim.params["HH"]["gNa"] for leaf in leaves)
    rebuilt = jax.tree_util.tree_unflatten(structure, leaves)
    assert rebuilt.spec == sim.spec

    @jax.jit
    def peak(sim):
        return jnp.max(sim.run())

    assert float(peak(sim)) == pytest.approx(float(jnp.max(sim.run())), abs=1e-12)
    scaled = jax.tree_util.tree_map(lambda x: x, sim)
    assert float(peak(scaled)) == pytest.approx(float(peak(sim)), abs=1e-12)


def test_stimulus_made_for_another_dt_is_refused():
    cell = dx.Cell.from_parents([-1])
    cell.insert(dx.channels.HH())
    cell.stimulate(dx.step_current(1.0, 5.0, 0.1, dt=0.025, t_max=30.0))
    with pytest.raises(ValueError, match=r"made for dt = 0.025 ms.*built with dt = 0.05 ms"):
        dx.build(cell, dt=0.05)
    waveform = 2.0 * dx.step_current(1.0, 5.0, 0.1, dt=0.1, t_max=3.0)
    assert isinstance(waveform, dx.Waveform) and waveform.dt == 0.1


def test_build_settings_are_checked():
    with pytest.raises(ValueError, match="below absolute zero"):
        dx.build(_cell(), celsius=-400.0)
    with pytest.raises(TypeError, match="dt must be a number"):
        dx.build(_cell(), dt="0.025")
    with pytest.raises(ValueError, match="memory_bytes"):
        dx.Checkpointing(memory_bytes=-1)


def _one_compartment(mechanism) -> dx.Cell:
    cell = dx.Cell.from_parents([-1])
    cell.insert(mechanism)
    return cell


def test_mechanism_outputs_are_checked_at_build():
    class Undeclared(dx.channels.Leak):
        def current(self, states, v, params, celsius, t):
            return {"ina": params["gLeak"] * (v - params["eLeak"])}

    with pytest.raises(ValueError, match=r"Undeclared.current returns 'ina', an ion current"):
        dx.build(_one_compartment(Undeclared()))

    class Branchy(dx.channels.Leak):
        def current(self, states, v, params, celsius, t):
            if v > 0.0:
                return params["gLeak"] * v
            return params["gLeak"] * (v - params["eLeak"])

    with pytest.raises(TypeError, match=r"Branchy.current branches in Python.*jnp.where"):
        dx.build(_one_compartment(Branchy()))
    with pytest.raises(ValueError, match=r"_WrongKey.update returned states \['m'\]"):
        dx.build(_one_compartment(_WrongKey()))


def test_run_checks_values_as_set_does():
    sim = dx.build(_cell(), dt=DT)
    negative = {**sim.params, "HH": {**sim.params["HH"], "gNa": -sim.params["HH"]["gNa"]}}
    with pytest.raises(ValueError, match=r"params\['HH'\]\['gNa'\]: HH.gNa must be >= 0"):
        sim.run(negative)
    complex_radius = {**sim.params, "radius": sim.params["radius"] + 0j}
    with pytest.raises(TypeError, match=r"params\['radius'\] is complex"):
        sim.run(complex_radius)
    as_list = {**sim.params, "radius": [6.0, 1.0, 1.0]}
    with pytest.raises(TypeError, match=r"params\['radius'\] is a list: give an array"):
        sim.run(as_list)
    with pytest.raises(TypeError, match=r"value for HH.gNa must be a number"):
        _cell().set("HH.gNa", "abc")


def test_run_shorter_than_the_stimuli_runs_their_beginning():
    sim = dx.build(_cell(), dt=DT)  # an 8 ms stimulus
    np.testing.assert_allclose(sim.run(t_max=2.0), sim.run()[:, :81], rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match=r"the model's stimuli last 8 ms \(320 steps\)"):
        sim.run(t_max=20.0)


def test_running_in_another_precision_than_built_is_refused():
    sim = dx.build(_cell(), dt=DT)
    assert sim.spec.precision == "float64"
    with jax.enable_x64(False), pytest.raises(ValueError, match="built in float64 but JAX now"):
        sim.run()


def test_a_region_of_one_whole_branch_takes_loc_and_comp(tmp_path):
    path = tmp_path / "cell.swc"
    path.write_text("1 1 0 0 0 5 -1\n2 1 10 0 0 5 1\n3 3 10 0 0 1 2\n4 3 110 0 0 1 3\n")
    cell = dx.Cell.from_swc(path, ncomp=[1, 3])
    assert cell.soma.loc(0.5).compartments.tolist() == [0]
    assert cell.basal.comp(2).compartments.tolist() == [3]
    with pytest.raises(TypeError, match=r"loc needs a branch.*1 branches \(1\), or part of one"):
        dx.Selection(cell, np.array([1, 2]), "selection").loc(0.5)


def test_parameters_are_addressed_by_where_they_are_inside_jit():
    cells = [_cell(), _cell()]
    cells[1].branch(0).insert(dx.channels.Leak())
    sim = dx.build(cells, dt=DT)
    sites = sim.sites("HH")
    assert list(sites["cell"]) == [0, 0, 0, 1, 1, 1]
    assert list(sites["branch"]) == [0, 1, 1, 0, 1, 1]
    assert list(sites["index_in_branch"]) == [0, 0, 1, 0, 0, 1]
    assert list(sim.sites("Leak")["compartment"]) == [3]
    assert list(sim.sites("radius")["compartment"]) == list(range(6))
    soma_of_second = (sites["cell"] == 1) & (sites["branch"] == 0)

    @jax.jit
    def with_gna(gna):
        return sim.set_param(sim.params, "HH.gNa", gna, where=soma_of_second)

    params = with_gna(0.3)
    np.testing.assert_allclose(params["HH"]["gNa"], [0.12, 0.12, 0.12, 0.3, 0.12, 0.12])
    assert float(sim.get_param(params, "HH.gNa", where=soma_of_second)[0]) == 0.3
    first_dendrite = (sim.sites("radius")["branch"] == 1) & (sim.sites("radius")["cell"] == 0)
    wider = sim.set_param(sim.params, "radius", jnp.array([2.0, 3.0]), where=first_dendrite)
    np.testing.assert_allclose(wider["radius"][:3], [6.0, 2.0, 3.0])

    def loss(gna):
        return jnp.mean(sim.run(with_gna(gna))[1])

    assert float(jax.grad(loss)(0.3)) != 0.0  # the second cell's soma drives its recording
    with pytest.raises(
        ValueError, match=r"where for HH.gNa must be a boolean mask of shape \(6,\)"
    ):
        sim.set_param(sim.params, "HH.gNa", 0.3, where=np.ones(3, bool))
    with pytest.raises(KeyError, match=r"unknown parameter 'HH\.gCa'"):
        sim.get_param(sim.params, "HH.gCa")
