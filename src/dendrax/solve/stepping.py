"""Time stepping of the cable equation with NEURON's fixed-step scheme.

Within one step of `dt` (as NEURON's `fadvance`):

1. membrane currents and their slopes di/dv are evaluated at the present voltage and the
   present states, stimuli at the middle of the step;
2. the linearised implicit system (C·f/dt + G) Δ = rhs is solved on the tree, with f = 1
   for backward Euler and f = 2 for Crank–Nicolson, and v += f·Δ;
3. mechanism states advance with the new voltage (exponential Euler for gates).

A model with spike events (`dendrax.solve.events`) delivers the events due at the start
of the step before 1, and detects threshold crossings after 3.
"""

import math

import jax
import jax.numpy as jnp

from dendrax import units
from dendrax.mechanisms import membrane
from dendrax.mechanisms.base import SELF_EVENT
from dendrax.solve import events
from dendrax.solve.checkpoint import checkpointed_scan
from dendrax.solve.gather import sum_over_children, sum_to_slots, to_slots
from dendrax.solve.tree_solver import solve_tree
from dendrax.static_spec import StaticSpec

SOLVERS = {"backward_euler": 1.0, "crank_nicolson": 2.0}
"""Voltage solvers and their factor f in (C·f/dt + G) Δ = rhs, v += f·Δ."""


def with_settle_steps(spec: StaticSpec, stimuli, clamps) -> tuple:
    """Stimuli and clamp commands (rows x steps) with `spec.settle_steps` steps in front:
    no stimulus, each clamp at its first command."""
    settle = spec.settle_steps
    if not settle:
        return stimuli, clamps
    quiet = jnp.zeros((stimuli.shape[0], settle), stimuli.dtype)
    held = jnp.broadcast_to(clamps[:, :1], (clamps.shape[0], settle))
    return jnp.concatenate([quiet, stimuli], 1), jnp.concatenate([held, clamps], 1)


def node_geometry(arrays: dict, params: dict) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Capacitance (nF) per node, coupling (µS) of each node to its parent, area (µm²).

    A compartment is a cylinder of `radius` and `length` scaled by fixed shape factors
    (all 1 for cylinders; from 3D points for reconstructed morphologies): its membrane area
    is 2π·radius·length·area, and each half's axial resistance is that of half the
    cylinder times `near_resistance` (towards x = 0) or `far_resistance` (towards x = 1).
    """
    radius, length = params["radius"], params["length"]
    shape = {name: factor.astype(radius.dtype) for name, factor in arrays["shape"].items()}
    area = 2.0 * math.pi * radius * length * shape["area"]
    half_cylinder = (
        units.RESISTIVITY_TO_RESISTANCE
        * params["axial_resistivity"]
        * (0.5 * length)
        / (math.pi * radius * radius)
    )
    zero = jnp.zeros(1, half_cylinder.dtype)
    near = jnp.concatenate([half_cylinder * shape["near_resistance"], zero])
    far = jnp.concatenate([half_cylinder * shape["far_resistance"], zero])
    resistance = near[arrays["near_half"]] + far[arrays["far_half"]]
    is_root = arrays["is_root"]
    coupling = jnp.where(is_root, 0.0, 1.0 / jnp.where(is_root, 1.0, resistance))
    n_nodes = arrays["parent"].shape[0]
    capacitance = (
        jnp.zeros(n_nodes, area.dtype)
        .at[arrays["comp_node"]]
        .set(units.CAPACITANCE_DENSITY_TO_CAPACITANCE * params["capacitance"] * area)
    )
    return capacitance, coupling, area


def initial_state(spec: StaticSpec, arrays: dict, params: dict, dtype) -> tuple:
    """Voltage v_init everywhere and every state at its steady state (NEURON's finitialize)."""
    n_nodes = arrays["parent"].shape[0]
    v = jnp.full(n_nodes, spec.v_init, dtype)
    return v, membrane.initial_states(spec.mechanisms, arrays, params, v, params["celsius"])


def initial_carry(spec: StaticSpec, arrays: dict, params: dict, dtype) -> tuple:
    """`initial_state` with an empty ring buffer of spikes (None without events): the
    carry of `step_function`."""
    buffer = None
    if spec.events is not None:
        buffer = events.initial_buffer(spec.events, dtype)
    return (*initial_state(spec, arrays, params, dtype), buffer)


def step_inputs(spec: StaticSpec, stimuli, clamps, n_steps: int, dtype) -> tuple:
    """The scan inputs of `n_steps` steps after the settling ones: per step the stimuli,
    clamp commands, start time and index (negative while settling)."""
    stimuli, clamps = with_settle_steps(
        spec, jnp.asarray(stimuli, dtype), jnp.asarray(clamps, dtype)
    )
    index = jnp.arange(-spec.settle_steps, n_steps, dtype=jnp.int32)
    return stimuli.T, clamps.T, start_times(spec, n_steps, dtype), index


def start_times(spec: StaticSpec, n_steps: int, dtype) -> jax.Array:
    """`step_times`, with NEURON's own clock after settling where the model has events
    (so that events due at half steps are delivered where NEURON's are)."""
    times = step_times(spec, n_steps, dtype)
    if spec.events is None:
        return times
    run = jnp.asarray(events.neuron_times(n_steps, spec.dt, dtype))
    return jnp.concatenate([times[: spec.settle_steps], run])


def _recorded(spec: StaticSpec, arrays: dict, v, states, observed: dict) -> jax.Array:
    rows = []
    for group, index in zip(spec.record_groups, arrays["record_index"], strict=True):
        mech_name, _, state = group.partition(".")
        if group == "v":
            rows.append(v[index])
        elif state in states.get(mech_name, {}):
            rows.append(states[mech_name][state][index])
        else:
            rows.append(observed[group][index])
    if not rows:
        return jnp.zeros(0, v.dtype)
    return jnp.concatenate(rows)[arrays["record_order"]]


def step_times(spec: StaticSpec, n_steps: int, dtype) -> jax.Array:
    """The time (ms) at which each of `n_steps` steps starts, the settling steps (at
    negative times) first: step k of the run starts at k dt."""
    first = -spec.settle_steps
    return (jnp.arange(first, n_steps, dtype=dtype)) * spec.dt


def step_function(spec: StaticSpec, arrays: dict, params: dict):
    """One time step: ((v, states, buffer), (stimulus, command, t, step)) ->
    ((v, states, buffer), recorded), with the stimuli (nA) and clamp commands (mV) of the
    step, the time (ms) at its start and its index (from 0 at t = 0), as `jax.lax.scan`
    takes it. Currents are evaluated at t + dt/2 and states updated at t + dt, as NEURON's
    fixed step does. `buffer` is the ring buffer of spikes (None without events); the
    settling steps (negative indices) neither detect nor deliver events."""
    capacitance, coupling, area = node_geometry(arrays, params)
    parent = arrays["parent"]
    children = arrays["children"]
    coupling_total = coupling + sum_over_children(coupling, children)
    factor = SOLVERS[spec.solver]
    diag_fixed = capacitance * factor / spec.dt + coupling_total
    site_scale = {
        m.name: membrane.site_scale(m, arrays["sites"][m.name], area) for m in spec.mechanisms
    }
    clamped = arrays["is_clamped"]

    def step(carry, inputs):
        v, states, buffer = carry
        stimulus, command, t, index = inputs
        if spec.events is not None:
            buffer = events.start_step(spec.events, arrays["events"], buffer, index)
            states, buffer = _deliver(spec, arrays, params, states, buffer, index, t)
        membrane_current = jnp.zeros_like(v)
        membrane_slope = jnp.zeros_like(v)
        ions, evaluated, currents, ion_slopes = membrane.evaluate(
            spec.mechanisms, arrays, params, v, states, params["celsius"], t + 0.5 * spec.dt
        )
        for mechanism in spec.mechanisms:
            name = mechanism.name
            current, slope, _ = evaluated[name]
            node_sites = arrays["sites"][name]["node_sites"]
            scale = site_scale[name]
            membrane_current = membrane_current + sum_to_slots(current * scale, node_sites)
            membrane_slope = membrane_slope + sum_to_slots(slope * scale, node_sites)
        per_stimulated_node = (
            jnp.zeros(arrays["stimulated_node"].shape[0], v.dtype)
            .at[arrays["stim_slot"]]
            .add(stimulus[arrays["stim_row"]])
        )
        injected = to_slots(per_stimulated_node, arrays["node_stim_slot"])
        flow = coupling * (v[parent] - v)
        axial = flow - sum_over_children(flow, children)
        rhs = injected - membrane_current + axial
        diag = diag_fixed + membrane_slope
        step_coupling = coupling
        if spec.has_clamps:
            known = to_slots(
                (command[arrays["clamp_row"]] - v[arrays["clamp_node"]]) / factor,
                arrays["node_clamp"],
            )
            # A clamped node's change is known: move its column to the right-hand side of
            # its neighbours and decouple it, keeping the matrix symmetric.
            rhs = rhs + jnp.where(clamped[parent], coupling * known[parent], 0.0)
            rhs = rhs + sum_over_children(jnp.where(clamped, coupling * known, 0.0), children)
            step_coupling = jnp.where(clamped | clamped[parent], 0.0, coupling)
            diag = jnp.where(clamped, 1.0, diag)
            rhs = jnp.where(clamped, known, rhs)
        delta = solve_tree(diag, step_coupling, rhs, parent)
        v_new = v + factor * delta
        if spec.solver == "crank_nicolson":
            comp_delta = delta[arrays["comp_node"]]
            currents = membrane.second_order_currents(currents, ion_slopes, comp_delta)
        new_states = membrane.advance_states(
            spec.mechanisms,
            arrays,
            params,
            v_new,
            states,
            ions,
            currents,
            spec.dt,
            params["celsius"],
            t + spec.dt,
        )
        observed = membrane.recordables(
            spec.mechanisms, arrays, params, new_states, ions, evaluated, currents
        )
        if spec.events is not None:
            buffer, observed["spikes"] = events.detect(
                spec.events, arrays["events"], buffer, index, t, spec.dt, v, v_new
            )
        else:
            observed["spikes"] = _no_spikes(arrays, v)
        recorded = _recorded(spec, arrays, v_new, new_states, observed)
        return (v_new, new_states, buffer), recorded

    return step


def _deliver(spec: StaticSpec, arrays: dict, params: dict, states: dict, buffer, index, t):
    """States with the events due at the start of step `index` (at `t`) received, and
    the buffer with this step's delivery done."""
    states = dict(states)
    closed = buffer
    for mechanism in spec.mechanisms:
        if not mechanism.receives_events:
            continue
        name = mechanism.name
        site = arrays["sites"][name]
        hit, lag, arrival, closed = events.arrivals(spec.events, buffer, site, index, t, spec.dt)
        time = arrival if mechanism.event_time else lag

        def received(where, mine, at, mechanism=mechanism, name=name):
            new = mechanism.receive(mine, params[name], at)
            new = membrane.checked_states(mechanism, "receive", new)
            return {
                key: jnp.where(membrane.per_site(where, value), new[key], value)
                for key, value in mine.items()
            }

        own = mechanism.self_events
        if own is None:
            states[name] = received(hit, states[name], time)
            continue
        # The site's own event and its spike event in time order (its own first at a tie);
        # an own event that the spike event sends into this window is delivered after it.
        pending = states[name][own]
        first = events.due(spec.events, buffer, pending, t, spec.dt) & ~(hit & (arrival < pending))
        mine = received(first, states[name], SELF_EVENT)
        mine = received(hit, mine, time)
        again = hit & events.due(spec.events, buffer, mine[own], t, spec.dt)
        states[name] = received(again, mine, SELF_EVENT)
    return states, closed


def _no_spikes(arrays: dict, v):
    """No detector spiking (settling steps, and the record at t = 0)."""
    if "events" not in arrays:
        return jnp.zeros(0, v.dtype)
    return jnp.zeros(arrays["events"]["detector_node"].shape[0], v.dtype)


def simulate(spec: StaticSpec, arrays: dict, params: dict, stimuli, clamps, n_steps: int):
    """Run `n_steps` steps; returns recordings of shape (n_recordings, n_steps + 1)."""
    dtype = params["radius"].dtype
    step = step_function(spec, arrays, params)
    carry = initial_carry(spec, arrays, params, dtype)
    inputs = step_inputs(spec, stimuli, clamps, n_steps, dtype)
    settle = spec.settle_steps
    budget = spec.checkpointing.budget
    if settle:
        quiet = tuple(x[:settle] for x in inputs)
        carry, _ = checkpointed_scan(step, carry, quiet, settle, budget)
    v0, states0, _ = carry
    ions0, evaluated0, currents0, _ = membrane.evaluate(
        spec.mechanisms, arrays, params, v0, states0, params["celsius"], 0.0
    )
    observed0 = membrane.recordables(
        spec.mechanisms, arrays, params, states0, ions0, evaluated0, currents0
    )
    observed0["spikes"] = _no_spikes(arrays, v0)
    run = tuple(x[settle:] for x in inputs)
    _, trace = checkpointed_scan(step, carry, run, n_steps, budget)
    first = _recorded(spec, arrays, v0, states0, observed0)
    return jnp.concatenate([first[None, :], trace], axis=0).T
