"""Bad input raises a clear error that names the problem and where it is."""

import jax.numpy as jnp
import numpy as np
import pytest

import dendrax as dx

DT = 0.025


def small_cell():
    """Three branches (1, 2 and 3 compartments); HH only on branch 1."""
    cell = dx.Cell.from_parents([-1, 0, 0], ncomp=[1, 2, 3], length=10.0, radius=1.0)
    cell.branch(1).insert(dx.channels.HH())
    return cell


def built(stimulus_steps=40):
    cell = small_cell()
    cell.branch(0).comp(0).stimulate(np.zeros(stimulus_steps))
    cell.record("v")
    return dx.build(cell, dt=DT)


# -- morphology ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value", "match"),
    [
        ("length", [10.0, -1.0], r"length at branch 1, compartment 0 is -1\.0: must be .*> 0"),
        ("length", 0.0, r"length at branch 0, compartment 0 is 0\.0"),
        ("radius", [1.0, 0.0], r"radius at branch 1, compartment 0 is 0\.0: must be .*> 0"),
        ("radius", [np.nan, 1.0], r"radius at branch 0, compartment 0 is nan: must be finite"),
        ("axial_resistivity", -35.4, r"axial_resistivity at branch 0.* -35\.4"),
        ("capacitance", np.inf, r"capacitance at branch 0.*inf: must be finite"),
    ],
)
def test_bad_geometry_in_from_parents(name, value, match):
    with pytest.raises(ValueError, match=match):
        dx.Cell.from_parents([-1, 0], **{name: value})


def test_geometry_of_wrong_length():
    with pytest.raises(ValueError, match=r"radius must be a scalar or one value per branch \(2\)"):
        dx.Cell.from_parents([-1, 0], radius=[1.0, 2.0, 3.0])


@pytest.mark.parametrize(
    ("parents", "match"),
    [
        ([-1, 5], r"parent of branch 1 is 5: out of range \[-1, 1\]"),
        ([-1, -2], r"parent of branch 1 is -2: out of range"),
        ([-1, 2, 1], r"parent of branch 1 is 2 \(a later branch\).*cycles"),
        ([-1, 0, 2], r"parent of branch 2 is 2 \(itself\)"),
        ([-1, 0.5], r"parents must be integers"),
        (["soma"], r"parents must be integers"),
        ([], r"parents must be a non-empty 1D list"),
        ([[-1, 0]], r"parents must be a non-empty 1D list"),
    ],
)
def test_bad_parents(parents, match):
    with pytest.raises(ValueError, match=match):
        dx.Cell.from_parents(parents)


@pytest.mark.parametrize(
    ("ncomp", "match"),
    [
        (0, r"ncomp of branch 0 is 0\.0: must be an integer >= 1"),
        ([2, 1.5], r"ncomp of branch 1 is 1\.5"),
        ([1, 2, 3], r"ncomp must be a scalar or one value per branch \(2\)"),
    ],
)
def test_bad_ncomp(ncomp, match):
    with pytest.raises(ValueError, match=match):
        dx.Cell.from_parents([-1, 0], ncomp=ncomp)


def test_bad_attachment_point():
    with pytest.raises(ValueError, match=r"parent_x of branch 1 is nan: must be in \[0, 1\]"):
        dx.morphology.BranchTree.from_parents([-1, 0], parent_x=[1.0, np.nan])
    with pytest.raises(ValueError, match=r"parent_x of branch 1 is 1\.5"):
        dx.morphology.BranchTree.from_parents([-1, 0], parent_x=[1.0, 1.5])


# -- selections ---------------------------------------------------------------------


def test_branch_index_out_of_range_or_not_an_integer():
    cell = small_cell()
    with pytest.raises(IndexError, match=r"the cell has 3 branches; branch\(3\) is outside"):
        cell.branch(3)
    with pytest.raises(IndexError, match=r"branch\(-4\) is outside"):
        cell.branch(-4)
    with pytest.raises(TypeError, match=r"branch index must be an integer, got 1\.0"):
        cell.branch(1.0)


def test_comp_index_out_of_range_or_not_an_integer():
    cell = small_cell()
    with pytest.raises(IndexError, match=r"branch 1 has 2 compartments; comp\(2\) is outside"):
        cell.branch(1).comp(2)
    with pytest.raises(TypeError, match=r"comp index on branch 1 must be an integer, got 0\.5"):
        cell.branch(1).comp(0.5)
    with pytest.raises(TypeError, match=r"comp needs a branch: use cell\.branch\(i\)\.comp"):
        cell.comp(0)


@pytest.mark.parametrize("x", [-0.1, 1.5, np.nan])
def test_loc_outside_unit_interval(x):
    with pytest.raises(ValueError, match=r"loc\(.*\) on branch 2: x must be in \[0, 1\]"):
        small_cell().branch(2).loc(x)


def test_loc_not_a_number():
    with pytest.raises(TypeError, match=r"loc\('0\.5'\) on branch 2: x must be a number"):
        small_cell().branch(2).loc("0.5")


# -- parameters ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value", "match"),
    [
        ("length", -2.0, r"length at branch 1, compartment 0 is -2\.0: must be .*> 0"),
        ("radius", [1.0, 0.0], r"radius at branch 1, compartment 1 is 0\.0"),
        ("capacitance", np.nan, r"capacitance at branch 1, compartment 0 is nan"),
        ("HH.gNa", np.nan, r"HH\.gNa must be finite"),
        ("HH.gK", -0.1, r"HH\.gK must be >= 0"),
        ("radius", [1.0, 2.0, 3.0], r"one per selected compartment \(2\), got shape \(3,\)"),
    ],
)
def test_bad_values_in_set(name, value, match):
    cell = small_cell()
    with pytest.raises(ValueError, match=match):
        cell.branch(1).set(name, value)
    # Nothing was written.
    assert np.all(cell.get("radius") == 1.0) and np.all(cell.get("length") == 10.0)


def test_unknown_parameter_in_set():
    cell = small_cell()
    with pytest.raises(KeyError, match=r"unknown parameter 'gNa'; known parameters are .*HH\.gNa"):
        cell.branch(1).set("gNa", 0.1)
    with pytest.raises(KeyError, match=r"HH has no parameter 'gCa'; its parameters are"):
        cell.branch(1).set("HH.gCa", 0.1)
    with pytest.raises(KeyError, match=r"unknown parameter 'Leak\.gLeak'"):
        cell.set("Leak.gLeak", 0.1)
    with pytest.raises(ValueError, match=r"HH is not inserted at branch 0, compartment 0"):
        cell.set("HH.gNa", 0.1)


def test_unknown_parameter_in_mechanism():
    with pytest.raises(ValueError, match=r"HH has no parameter 'gCa'"):
        dx.channels.HH(gCa=1.0)
    with pytest.raises(TypeError, match=r"insert expects a Mechanism instance"):
        small_cell().insert(dx.channels.HH)


def test_unknown_state_in_record():
    cell = small_cell()
    with pytest.raises(KeyError, match=r"cannot record 'HH\.x'; recordable here: .*'HH\.m'"):
        cell.branch(1).record("HH.x")
    with pytest.raises(KeyError, match=r"cannot record 'voltage'"):
        cell.record("voltage")
    with pytest.raises(ValueError, match=r"HH is not inserted at branch 0, compartment 0"):
        cell.record("HH.m")
    assert cell.recordings == []


# -- stimuli, clamps and time ---------------------------------------------------------


def test_bad_stimulus_at_description():
    cell = small_cell()
    with pytest.raises(ValueError, match=r"stimulus current contains NaN"):
        cell.branch(0).stimulate([0.0, np.nan])
    with pytest.raises(ValueError, match=r"stimulus current must be a 1D array .* got \(2, 3\)"):
        cell.branch(0).stimulate(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"clamp voltage contains NaN"):
        cell.branch(0).clamp("v", [-65.0, np.nan])
    with pytest.raises(ValueError, match=r"only the voltage can be clamped"):
        cell.branch(1).clamp("HH.m", [0.5])


def test_stimuli_of_different_lengths_at_build():
    cell = small_cell()
    cell.branch(0).stimulate(np.zeros(40))
    cell.branch(1).stimulate(np.zeros(41))
    with pytest.raises(ValueError, match=r"every stimulus must have the same number of steps"):
        dx.build(cell)


def test_stimulus_of_wrong_length_at_run():
    sim = built(stimulus_steps=40)
    with pytest.raises(ValueError, match=r"stimuli must have shape \(1, 40\).*got \(1, 39\)"):
        sim.run(stimuli=jnp.zeros((1, 39)))
    with pytest.raises(ValueError, match=r"stimuli must have shape \(1, 40\).*got \(2, 40\)"):
        sim.run(stimuli=jnp.zeros((2, 40)))
    # t_max asks for 80 steps; the model's stimulus has 40.
    with pytest.raises(ValueError, match=r"stimuli must have shape \(1, 80\).*got \(1, 40\)"):
        sim.run(t_max=2.0)
    with pytest.raises(ValueError, match=r"stimuli\[0, 0\] is nan: values must be finite"):
        sim.run(stimuli=jnp.full((1, 40), jnp.nan))


def test_stimuli_for_a_model_without_stimuli():
    cell = small_cell()
    cell.record("v")
    with pytest.raises(ValueError, match=r"the model has no stimuli \(no \.stimulate call"):
        dx.build(cell).run(t_max=1.0, stimuli=jnp.zeros((1, 40)))


def test_step_current_arguments():
    with pytest.raises(ValueError, match=r"step_current: dt must be > 0 ms, got 0"):
        dx.step_current(1.0, 2.0, 0.1, dt=0.0, t_max=10.0)
    with pytest.raises(ValueError, match=r"step_current: amplitude must be finite"):
        dx.step_current(1.0, 2.0, np.nan, dt=DT, t_max=10.0)
    with pytest.raises(ValueError, match=r"step_current: duration must be >= 0 ms"):
        dx.step_current(1.0, -2.0, 0.1, dt=DT, t_max=10.0)
    with pytest.raises(ValueError, match=r"less than one step"):
        dx.step_current(1.0, 2.0, 0.1, dt=DT, t_max=0.01)


def test_step_current_that_is_zero_everywhere_warns():
    from dendrax.stimuli import StimulusWarning

    with pytest.warns(
        StimulusWarning, match=r"is 0 at every step: it starts at 50 ms, at or af"
    ) as w:
        current = dx.step_current(start=50.0, duration=10.0, amplitude=1.0, dt=DT, t_max=30.0)
    assert not current.any()
    assert w[0].filename == __file__  # attributed to the caller
    with pytest.warns(StimulusWarning, match=r"from 1 to 1.01 ms it contains no step's middle"):
        dx.step_current(start=1.0, duration=0.01, amplitude=1.0, dt=DT, t_max=30.0)
    # Deliberate zeros (amplitude 0) and a step that is on somewhere do not warn.
    assert not dx.step_current(start=1.0, duration=5.0, amplitude=0.0, dt=DT, t_max=30.0).any()
    assert dx.step_current(start=29.9, duration=5.0, amplitude=1.0, dt=DT, t_max=30.0)[-1] == 1


@pytest.mark.parametrize("dt", [0.0, -0.025, np.nan])
def test_bad_dt(dt):
    with pytest.raises(ValueError, match=r"dt must be > 0 ms"):
        dx.build(small_cell(), dt=dt)


def test_bad_build_settings():
    with pytest.raises(ValueError, match=r"unknown solver 'rk4'; choose one of"):
        dx.build(small_cell(), solver="rk4")
    with pytest.raises(ValueError, match=r"v_init must be finite"):
        dx.build(small_cell(), v_init=np.nan)
    with pytest.raises(ValueError, match=r"celsius must be finite"):
        dx.build(small_cell(), celsius=np.inf)
    with pytest.raises(TypeError, match=r"build expects a dendrax Cell, got str"):
        dx.build("cell.swc")


def test_bad_duration():
    cell = small_cell()
    cell.record("v")
    sim = dx.build(cell, dt=DT)
    with pytest.raises(ValueError, match=r"run needs t_max \(ms\): the model has no stimulus"):
        sim.run()
    with pytest.raises(ValueError, match=r"t_max must be > 0 ms, got -1"):
        sim.run(t_max=-1.0)
    with pytest.raises(ValueError, match=r"t_max = 0\.01 ms is less than one step"):
        sim.run(t_max=0.01)


# -- params passed to run -------------------------------------------------------------


def test_unknown_or_missing_parameter_in_run():
    sim = built()
    with pytest.raises(KeyError, match=r"unknown parameter 'gNa' in params"):
        sim.run({**sim.params, "gNa": jnp.ones(6)})
    with pytest.raises(KeyError, match=r"unknown parameter 'HH\.gCa' in params"):
        sim.run({**sim.params, "HH": {**sim.params["HH"], "gCa": jnp.ones(2)}})
    params = dict(sim.params)
    del params["radius"]
    with pytest.raises(KeyError, match=r"params lacks 'radius'"):
        sim.run(params)


def test_wrong_params_shape_in_run():
    sim = built()
    with pytest.raises(ValueError, match=r"params\['radius'\] has shape \(5,\), expected \(6,\)"):
        sim.run({**sim.params, "radius": jnp.ones(5)})
    gna = jnp.ones((2, 1))
    with pytest.raises(
        ValueError, match=r"params\['HH\.gNa'\] has shape \(2, 1\), expected \(2,\)"
    ):
        sim.run({**sim.params, "HH": {**sim.params["HH"], "gNa": gna}})


def test_nan_or_nonpositive_values_in_run():
    sim = built()
    radius = sim.params["radius"].at[2].set(jnp.nan)
    with pytest.raises(ValueError, match=r"params\['radius'\]\[2\] is nan: values must be finite"):
        sim.run({**sim.params, "radius": radius})
    gna = sim.params["HH"]["gNa"].at[1].set(jnp.inf)
    with pytest.raises(ValueError, match=r"params\['HH'\]\['gNa'\]\[1\] is inf"):
        sim.run({**sim.params, "HH": {**sim.params["HH"], "gNa": gna}})
    length = sim.params["length"].at[4].set(-1.0)
    with pytest.raises(ValueError, match=r"params\['length'\]\[4\] \(compartment 4\) is -1\.0"):
        sim.run({**sim.params, "length": length})
