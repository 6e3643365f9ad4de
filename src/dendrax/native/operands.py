"""The operands of every native call, defined once: `Values` (floating point, with
cotangents) and `Indices` (integer), in the order the C++ side reads them (`operands.h`,
whose field lists `c_field_lists` writes from these classes).

The forward kernel takes (*values, *indices); the adjoint's forward pass the same; the
adjoint (*values, *indices, cotangent, ticket) and returns one cotangent per field of
`Values`, in its order.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from dendrax.mechanisms import membrane
from dendrax.native.source import (
    ion_rows,
    recorded_densities,
    site_inputs,
    temperature_terms,
)
from dendrax.solve import stepping
from dendrax.solve.gather import sum_over_children


class Values(NamedTuple):
    """Floating-point operands of one simulation (or their cotangents)."""

    diag_fixed: jax.Array
    """Per node: capacitance x f / dt plus the node's couplings (µS)."""
    coupling: jax.Array
    """Per node: axial conductance to its parent (µS; 0 at roots)."""
    v0: jax.Array
    """Per node: initial voltage (mV)."""
    states0: jax.Array
    """Initial states: per mechanism, state by state, one value per site."""
    site_values: jax.Array
    """Per mechanism: its `source.site_inputs` row by row, then its area factor (cm² per
    site, from mA/cm² to nA)."""
    ion_values: jax.Array
    """The `source.ion_rows`, n_nodes values each (empty where there are none)."""
    stimulus: jax.Array
    """Per stimulus row, one current per step (nA), settle steps first."""
    commands: jax.Array
    """Per clamp row, one command voltage per step (mV), settle steps first."""
    detector_threshold: jax.Array
    """Per spike detector: its threshold (mV). This and the other event operands are empty
    without events, and the same for every simulation of a batch."""
    event_delay: jax.Array
    """Per event site (the sites of the mechanisms that receive events, in order): the delay
    of its connection (ms)."""
    train_time: jax.Array
    """Per spike of the external trains, by step: its time (ms)."""
    step_start: jax.Array
    """With events, the start time (ms) of every step, settle steps first, on NEURON's clock
    (`solve.events.neuron_times`)."""


class Indices(NamedTuple):
    """Integer operands of one simulation (the same for every simulation of a batch)."""

    parent: jax.Array
    """Per node: its parent node (itself at roots); parent[i] <= i."""
    site_node: jax.Array
    """Per mechanism, per site: the node of the site."""
    site_peer: jax.Array
    """Per mechanism, per site: the node of a junction site's peer (the site's own node for
    other kinds)."""
    site_count: jax.Array
    """Per mechanism: its number of sites."""
    stim_row: jax.Array
    """Per stimulated (row, node) pair: the row of `Values.stimulus`."""
    stim_node: jax.Array
    """Per stimulated pair: the node that receives it."""
    record_slot: jax.Array
    """Per recording row: its slot among v, the states, the ion rows and the recorded
    densities, side by side."""
    clamp_row: jax.Array
    """Per clamped (row, node) pair: the row of `Values.commands`."""
    clamp_node: jax.Array
    """Per clamped pair: the node held."""
    settle_steps: jax.Array
    """One value: the settling steps before t = 0 (step k starts at (k - settle_steps) dt)."""
    detector_node: jax.Array
    """Per spike detector: the node it watches."""
    event_source: jax.Array
    """Per event site: its source (detectors, then trains; the number of sources for none)."""
    event_delay_steps: jax.Array
    """Per event site: the whole steps in its delay."""
    train_step: jax.Array
    """Per spike of the external trains: its step (sorted)."""
    train_source: jax.Array
    """Per spike of the external trains: its source."""
    event_shape: jax.Array
    """Two values: the ring buffer's rows and the number of sources (0, 0 without events)."""


def c_field_lists() -> dict[str, str]:
    """Template fields of `operands.h`: the X-macro lists of both classes' fields."""
    return {
        "@VALUE_FIELDS@": " ".join(f"X({name})" for name in Values._fields),
        "@INDEX_FIELDS@": " ".join(f"X({name})" for name in Indices._fields),
    }


def index_dtype():
    """JAX's default integer type (int64 with jax_enable_x64, else int32)."""
    return jnp.zeros(0, int).dtype


def operands(
    spec: stepping.StaticSpec, arrays: dict, params: dict, stimuli, clamps
) -> tuple[Values, Indices]:
    """The native operands of one simulation: `Values` (differentiable in params, stimuli
    and clamps) and `Indices`. Stimuli (nA) and clamp commands (mV) are rows x steps,
    without the settle steps."""
    dtype = params["radius"].dtype
    index = index_dtype()
    capacitance, coupling, area = stepping.node_geometry(arrays, params)
    coupling_total = coupling + sum_over_children(coupling, arrays["children"])
    factor = stepping.SOLVERS[spec.solver]
    diag_fixed = capacitance * factor / spec.dt + coupling_total
    v0, states0 = stepping.initial_state(spec, arrays, params, dtype)
    n_nodes = v0.shape[0]
    # Ions from the initial states: the site values of those constant during the run.
    ions = membrane.compartment_ions(spec.mechanisms, arrays, params, states0, params["celsius"])
    site_values, state_values, site_node, site_peer, counts = [], [], [], [], []
    state_offset = {}
    offset = n_nodes
    for mechanism in spec.mechanisms:
        sites = arrays["sites"][mechanism.name]
        count = sites["comp"].shape[0]
        values = membrane.site_params(mechanism, arrays, params, ions, v=v0)
        terms = temperature_terms(mechanism, spec, params["celsius"])
        values |= {name: jnp.broadcast_to(term, (count,)) for name, term in terms.items()}
        site_values += [values[name] for name in site_inputs(mechanism, spec)]
        site_values.append(membrane.site_scale(mechanism, sites, area))
        for state in mechanism.states:
            state_values.append(states0[mechanism.name][state])
            state_offset[f"{mechanism.name}.{state}"] = offset
            offset += count
        site_node.append(sites["node"])
        site_peer.append(sites["peer_node"] if mechanism.kind == "junction" else sites["node"])
        counts.append(count)
    rows = ion_rows(spec)
    record_slot = _record_slots(spec, arrays, rows, counts, state_offset, offset, n_nodes)
    stimulus, commands = stepping.with_settle_steps(spec, stimuli, clamps)
    event_values, event_indices = _event_operands(spec, arrays, stimulus.shape[1], dtype, index)
    values = Values(
        diag_fixed=diag_fixed.astype(dtype),
        coupling=coupling.astype(dtype),
        v0=v0.astype(dtype),
        states0=_concat(state_values, dtype),
        site_values=_concat(site_values, dtype),
        ion_values=_ion_values(rows, spec, arrays, params, ions, n_nodes, dtype),
        stimulus=jnp.asarray(stimulus, dtype),
        commands=jnp.asarray(commands, dtype),
        **event_values,
    )
    indices = Indices(
        parent=arrays["parent"].astype(index),
        site_node=_concat(site_node, index),
        site_peer=_concat(site_peer, index),
        site_count=jnp.asarray(np.array(counts), index),
        stim_row=arrays["stim_row"].astype(index),
        stim_node=arrays["stimulated_node"][arrays["stim_slot"]].astype(index),
        record_slot=record_slot.astype(index),
        clamp_row=arrays["clamp_row"].astype(index),
        clamp_node=arrays["clamp_node"].astype(index),
        settle_steps=jnp.asarray([spec.settle_steps], index),
        **event_indices,
    )
    return values, indices


def _event_operands(spec, arrays: dict, n_steps: int, dtype, index) -> tuple[dict, dict]:
    """The event fields of `Values` and `Indices` for a run of `n_steps` steps in all."""
    names = ("detector_threshold", "event_delay", "train_time", "step_start")
    if spec.events is None:
        empty = jnp.zeros(0, dtype)
        indices = ("detector_node", "event_source", "event_delay_steps", "train_step")
        return {name: empty for name in names}, {
            **{name: jnp.zeros(0, index) for name in (*indices, "train_source")},
            "event_shape": jnp.zeros(2, index),
        }
    events = arrays["events"]
    receiving = [m.name for m in spec.mechanisms if m.receives_events]
    sites = [arrays["sites"][name] for name in receiving]

    def joined(key, kind):
        return _concat([site[key] for site in sites], kind)

    values = {
        "detector_threshold": events["detector_threshold"].astype(dtype),
        "event_delay": joined("delay", dtype),
        "train_time": events["train_time"].astype(dtype),
        "step_start": stepping.start_times(spec, n_steps - spec.settle_steps, dtype),
    }
    indices = {
        "detector_node": events["detector_node"].astype(index),
        "event_source": joined("event_source", index),
        "event_delay_steps": joined("delay_steps", index),
        "train_step": events["train_step"].astype(index),
        "train_source": events["train_source"].astype(index),
        "event_shape": jnp.asarray([spec.events.n_slots, spec.events.n_sources], index),
    }
    return values, indices


def _record_slots(spec, arrays, rows, counts, state_offset, ion_offset, n_nodes) -> jax.Array:
    """Per recording row, its slot (see `Indices.record_slot`)."""
    comp_node = arrays["comp_node"]
    density_offset, density_slot = ion_offset + len(rows.names) * n_nodes, {}
    for mechanism, count in zip(spec.mechanisms, counts, strict=True):
        for density in recorded_densities(mechanism, spec):
            density_slot[f"{mechanism.name}.{density}"] = density_offset
            density_offset += count
    slots = []
    for group, index_array in zip(spec.record_groups, arrays["record_index"], strict=True):
        if group in rows.names:  # an ion variable, per compartment
            slots.append(ion_offset + rows.row(group) * n_nodes + comp_node[index_array])
        elif group in density_slot:  # a mechanism's current density, per site
            slots.append(density_slot[group] + index_array)
        elif group == "spikes":  # a detector's spike row, after the densities
            slots.append(density_offset + index_array)
        else:
            slots.append(index_array + (0 if group == "v" else state_offset[group]))
    return jnp.concatenate(slots)[arrays["record_order"]] if slots else jnp.zeros(0)


def _ion_values(rows, spec, arrays, params, ions, n_nodes, dtype) -> jax.Array:
    """The ion rows' initial values at the node of each compartment (0 at other nodes)."""
    species = membrane.used_ions(spec.mechanisms)
    initial = dict(ions)
    for current in rows.currents:  # summed in every step, from the initial state on
        initial[current] = initial[f"{current}:slope"] = jnp.zeros_like(params["radius"])
    for reversal, *_ in rows.reversals:
        ion = next(i for i in species.values() if i.variables["reversal"] == reversal)
        initial[f"{reversal}:param"] = params[reversal]
        initial[f"{reversal}:nernst"] = arrays["ion_nernst"][ion.name]
    if rows.reversals:
        initial["celsius"] = jnp.broadcast_to(params["celsius"], params["radius"].shape)
    on_nodes = [
        jnp.zeros(n_nodes, dtype).at[arrays["comp_node"]].set(initial[name].astype(dtype))
        for name in rows.names
    ]
    return _concat(on_nodes, dtype)


def _concat(parts: list, dtype) -> jax.Array:
    return jnp.concatenate([p.astype(dtype) for p in parts]) if parts else jnp.zeros(0, dtype)
