"""Where a simulation first goes wrong: a value that is NaN or infinite, a voltage beyond
any membrane's range (the model has blown up), or a concentration that is no longer
positive (its Nernst potential would be NaN from the next step on).

A NaN inside a run spreads through the tree solve to every voltage within a step, so the
recordings only say that something failed. `first_invalid` replays the run with the
pure-JAX path, finds the first step after which a voltage or a mechanism state is invalid,
and names the quantity, the compartment, the value and the parameters there.
"""

import warnings
from dataclasses import dataclass, replace

import jax
import jax.numpy as jnp
import numpy as np

from dendrax.mechanisms import membrane
from dendrax.mechanisms.base import ion_species
from dendrax.mechanisms.ions import ion_of
from dendrax.solve.stepping import initial_carry, step_function, step_inputs
from dendrax.static_spec import StaticSpec

VOLTAGE_LIMIT = 1000.0
"""mV: a membrane voltage beyond ±this has blown up (no membrane survives a tenth of it);
both backends reach it at the same step even where their overflow to inf differs."""


class BlowUpWarning(UserWarning):
    """A run's recorded voltage is NaN, infinite or beyond `VOLTAGE_LIMIT`."""


def warn_if_blown_up(traces, names, units, dt: float) -> None:
    """Warn (`BlowUpWarning`) at the first recorded voltage of concrete `traces` (rows named
    `names`, in `units`) that is NaN, infinite or beyond ±`VOLTAGE_LIMIT`."""
    values = np.asarray(traces)
    voltage = np.array([name.startswith("v at") for name in names], dtype=bool)
    bad = np.zeros(values.shape, dtype=bool)
    bad[voltage] = ~(np.abs(values[voltage]) <= VOLTAGE_LIMIT)
    if not bad.any():
        return
    sample = int(np.argmax(bad.any(axis=0)))
    row = int(np.argmax(bad[:, sample]))
    warnings.warn(
        f"{names[row]} is {values[row, sample]:.6g} {units[row]} at t = {sample * dt:.6g} ms: "
        f"the model has blown up; sim.first_invalid(...) (with run's arguments) names the "
        f"first invalid value and the parameters there",
        BlowUpWarning,
        stacklevel=3,
    )


@dataclass(frozen=True)
class InvalidValue:
    """The first invalid value of a run.

    Attributes:
        step: the step after which it appeared (0: the initial state, before any step).
        time: its time (ms); negative during `build(settle=...)`'s steps before t = 0.
        quantity: "v" or "Mechanism.state" ("Mechanism.state[k]" for element k of a state
            that is an array at each site).
        compartment: the compartment's index (`cell.describe(compartment)` names it); -1
            for a node between sections (a zero-area section end), which has no compartment.
        value: the value found (NaN, ±inf, a voltage beyond ±`VOLTAGE_LIMIT` mV, or a
            concentration <= 0 in mM).
        parameters: the parameter values there: the geometry and every parameter of the
            mechanisms inserted in that compartment, by "Mechanism.parameter" names.
    """

    step: int
    time: float
    quantity: str
    compartment: int
    value: float
    parameters: dict

    def __str__(self) -> str:
        where = (
            f"compartment {self.compartment}"
            if self.compartment >= 0
            else "a node between sections"
        )
        shown = ", ".join(f"{name}={value:.6g}" for name, value in self.parameters.items())
        return (
            f"{self.quantity} is {self.value:.6g} at {where} at t = {self.time:.6g} ms "
            f"(step {self.step}); parameters there: {shown}"
        )


def _concentration_states(mechanism) -> tuple[str, ...]:
    """The states of `mechanism` that are concentrations it writes (mM, must stay > 0)."""
    species = ion_species((mechanism,))
    return tuple(
        state
        for state in mechanism.states
        if state in mechanism.writes and ion_of(state, species)[1] in ("internal", "external")
    )


def _invalid_masks(spec: StaticSpec, v, states) -> dict:
    """Per quantity ("v", "Mechanism.state"), where its values are invalid (per site, and
    per element of a state that is an array at each site)."""
    masks = {"v": ~(jnp.abs(v) <= VOLTAGE_LIMIT)}
    for mechanism in spec.mechanisms:
        concentrations = _concentration_states(mechanism)
        for name, values in states[mechanism.name].items():
            bad = ~jnp.isfinite(values)
            if name in concentrations:
                bad = bad | (values <= 0.0)
            masks[f"{mechanism.name}.{name}"] = bad
    return masks


def _any_invalid(spec: StaticSpec, carry) -> jax.Array:
    v, states, _ = carry
    return jnp.any(jnp.stack([jnp.any(m) for m in _invalid_masks(spec, v, states).values()]))


def first_invalid(
    spec: StaticSpec, arrays: dict, params: dict, stimuli, clamps, n_steps: int
) -> InvalidValue | None:
    """The first invalid value of a run (as `Simulation.run`'s arguments), or None.

    Replays the run with the pure-JAX path: one pass that flags every step, then the
    steps up to the first flagged one.
    """
    spec = replace(spec, backend="jax")
    dtype = params["radius"].dtype
    settle = spec.settle_steps
    inputs = step_inputs(spec, stimuli, clamps, n_steps, dtype)

    @jax.jit
    def flags(params, inputs):
        step = step_function(spec, arrays, params)
        carry = initial_carry(spec, arrays, params, dtype)

        def body(carry, step_inputs):
            carry, _ = step(carry, step_inputs)
            return carry, _any_invalid(spec, carry)

        _, later = jax.lax.scan(body, carry, inputs)
        return jnp.concatenate([_any_invalid(spec, carry)[None], later])

    flagged = np.asarray(flags(params, inputs))
    if not flagged.any():
        return None
    first = int(np.argmax(flagged))

    @jax.jit
    def state_after(params, inputs):
        step = step_function(spec, arrays, params)
        carry = initial_carry(spec, arrays, params, dtype)
        return jax.lax.scan(lambda c, x: (step(c, x)[0], None), carry, inputs)[0]

    window = jax.tree_util.tree_map(lambda x: x[:first], inputs)
    v, states, _ = state_after(params, window)
    for quantity, mask in _invalid_masks(spec, v, states).items():
        mask = np.asarray(mask)
        if not mask.any():
            continue
        index = int(np.argmax(mask))
        if quantity == "v":
            values = np.asarray(v)
            comp_node = np.asarray(arrays["comp_node"])
            in_compartments = np.flatnonzero(mask[comp_node])
            # A compartment's node where one is invalid, else a zero-area section end.
            compartment = int(in_compartments[0]) if in_compartments.size else -1
            index = int(comp_node[compartment]) if in_compartments.size else index
        else:
            mech_name, _, state = quantity.partition(".")
            at = np.unravel_index(index, mask.shape)  # the site, and an array's element
            if len(at) > 1:  # a state that is an array at each site: the element named
                quantity += f"[{', '.join(str(int(k)) for k in at[1:])}]"
            values, index = np.asarray(states[mech_name][state])[(slice(None), *at[1:])], at[0]
            compartment = int(np.asarray(arrays["sites"][mech_name]["comp"])[index])
        return InvalidValue(
            step=first,
            time=(first - settle) * spec.dt,
            quantity=quantity,
            compartment=compartment,
            value=float(values[index]),
            parameters=_parameters_at(spec, arrays, params, compartment),
        )
    raise AssertionError("a flagged step without an invalid value")  # unreachable


def _parameters_at(spec: StaticSpec, arrays: dict, params: dict, compartment: int) -> dict:
    """Geometry and mechanism parameters of one compartment, by name."""
    if compartment < 0:
        return {}
    found = {
        name: float(params[name][compartment])
        for name in ("radius", "length", "axial_resistivity", "capacitance")
    }
    for mechanism in spec.mechanisms:
        sites = np.asarray(arrays["sites"][mechanism.name]["comp"])
        at = np.flatnonzero(sites == compartment)
        if at.size:
            for name, values in params[mechanism.name].items():
                found[f"{mechanism.name}.{name}"] = float(np.asarray(values)[at[0]])
    for variable in membrane.ion_defaults(spec.mechanisms):
        if variable in params:
            found[variable] = float(np.asarray(params[variable])[compartment])
    return found
