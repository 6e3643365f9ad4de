"""A simulation through the native kernel, differentiable.

The forward pass packs the model into flat arrays and makes one FFI call that runs every
step in C++. Under `vmap` the batch reaches the kernel as leading dimensions of every
operand (`vmap_method="broadcast_all"`), and the kernel loops over it, on up to as many
threads as the process may use. `jax.grad` goes through a `custom_vjp` whose backward pass
are `dendrax.native.gradient.forward` and `backward`.
"""

import os
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from dendrax.mechanisms import membrane
from dendrax.native import gradient
from dendrax.native.library import load
from dendrax.native.source import ion_rows, kernel_source, recorded_densities, site_inputs
from dendrax.solve import stepping
from dendrax.solve.gather import sum_over_children


def index_dtype():
    """JAX's default integer type (int64 with jax_enable_x64, else int32)."""
    return jnp.zeros(0, int).dtype


def target(spec: stepping.StaticSpec, dtype) -> str:
    """The FFI target of the kernel for `spec` and `dtype` (built on first use)."""
    return load(kernel_source(spec, dtype, index_dtype()))


def _packed(spec: stepping.StaticSpec, arrays: dict, params: dict):
    """The kernel's operands: per-node, per-site and per-state arrays and index arrays, then,
    where the kernel keeps ion rows (`source.ion_rows`), their initial values per node."""
    dtype = params["radius"].dtype
    index = index_dtype()
    capacitance, coupling, area = stepping.node_geometry(arrays, params)
    coupling_total = coupling + sum_over_children(coupling, arrays["children"])
    factor = stepping.SOLVERS[spec.solver]
    diag_fixed = capacitance * factor / spec.dt + coupling_total
    v0, states0 = stepping.initial_state(spec, arrays, params, dtype)
    # Ions from the initial states: the site values of those constant during the run.
    ions = membrane.compartment_ions(spec.mechanisms, arrays, params, states0, spec.celsius)
    site_values, state_values, site_node, counts, state_offset = [], [], [], [], {}
    offset = v0.shape[0]
    for mechanism in spec.mechanisms:
        sites = arrays["sites"][mechanism.name]
        count = sites["comp"].shape[0]
        values = membrane.site_params(mechanism, arrays, params, ions)
        site_values += [values[name] for name in site_inputs(mechanism, spec)]
        site_values.append(membrane.site_scale(mechanism, sites, area))
        for state in mechanism.states:
            state_values.append(states0[mechanism.name][state])
            state_offset[f"{mechanism.name}.{state}"] = offset
            offset += count
        site_node.append(sites["node"])
        counts.append(count)
    rows = ion_rows(spec)
    comp_node = arrays["comp_node"]
    slots = []
    density_offset, density_slot = offset + len(rows.names) * v0.shape[0], {}
    for mechanism, count in zip(spec.mechanisms, counts, strict=True):
        for density in recorded_densities(mechanism, spec):
            density_slot[f"{mechanism.name}.{density}"] = density_offset
            density_offset += count
    for group, index_array in zip(spec.record_groups, arrays["record_index"], strict=True):
        if group in rows.names:  # an ion variable, per compartment
            slots.append(offset + rows.row(group) * v0.shape[0] + comp_node[index_array])
        elif group in density_slot:  # a mechanism's current density, per site
            slots.append(density_slot[group] + index_array)
        else:
            slots.append(index_array + (0 if group == "v" else state_offset[group]))
    record_slot = jnp.concatenate(slots)[arrays["record_order"]] if slots else jnp.zeros(0)
    operands = (
        diag_fixed.astype(dtype),
        coupling.astype(dtype),
        v0.astype(dtype),
        _concat(state_values, dtype),
        _concat(site_values, dtype),
        arrays["parent"].astype(index),
        _concat(site_node, index),
        jnp.asarray(np.array(counts), index),
        arrays["stim_row"].astype(index),
        arrays["stimulated_node"][arrays["stim_slot"]].astype(index),
        record_slot.astype(index),
        arrays["clamp_row"].astype(index),
        arrays["clamp_node"].astype(index),
    )
    if not rows.names:
        return operands
    return (*operands, _ion_values(rows, spec, arrays, params, ions, v0.shape[0], dtype))


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
    on_nodes = [
        jnp.zeros(n_nodes, dtype).at[arrays["comp_node"]].set(initial[name].astype(dtype))
        for name in rows.names
    ]
    return jnp.concatenate(on_nodes)


def _usable_cores() -> int:
    """Cores this process may run on (`taskset` limits them; all cores where unknown)."""
    if hasattr(os, "sched_getaffinity"):  # Linux
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _concat(parts: list, dtype) -> jax.Array:
    return jnp.concatenate([p.astype(dtype) for p in parts]) if parts else jnp.zeros(0, dtype)


def _forward(spec: stepping.StaticSpec, arrays: dict, params: dict, stimuli, clamps, n_steps):
    dtype = params["radius"].dtype
    packed = _packed(spec, arrays, params)
    (diag_fixed, coupling, v0, states0, site_values, *indices) = packed[:13]
    ion_values = packed[13] if len(packed) > 13 else jnp.zeros(0, dtype)
    n_records = arrays["record_order"].shape[0]
    settle = spec.settle_steps
    stimuli, clamps = stepping.with_settle_steps(spec, stimuli, clamps)
    call = jax.ffi.ffi_call(
        target(spec, dtype),
        jax.ShapeDtypeStruct((n_records, settle + n_steps + 1), dtype),
        vmap_method="broadcast_all",
    )
    threads = np.int64(_usable_cores())
    floats = (diag_fixed, coupling, v0, states0, site_values, stimuli, clamps)
    out = call(*floats, *indices, ion_values, threads=threads)
    return out[:, settle:]


def simulate(spec: stepping.StaticSpec, arrays: dict, params: dict, stimuli, clamps, n_steps):
    """As `dendrax.solve.stepping.simulate`, computed by the native kernel."""
    dtype = params["radius"].dtype
    stimuli, clamps = jnp.asarray(stimuli, dtype), jnp.asarray(clamps, dtype)
    return _differentiable(spec, n_steps, params, stimuli, clamps, arrays)


@partial(jax.custom_vjp, nondiff_argnums=(0, 1))
def _differentiable(spec, n_steps, params, stimuli, clamps, arrays):
    return _forward(spec, arrays, params, stimuli, clamps, n_steps)


def _differentiable_fwd(spec, n_steps, params, stimuli, clamps, arrays):
    return gradient.forward(spec, n_steps, params, stimuli, clamps, arrays)


def _differentiable_bwd(spec, n_steps, residuals, cotangent):
    return (*gradient.backward(spec, n_steps, residuals, cotangent), None)


_differentiable.defvjp(_differentiable_fwd, _differentiable_bwd)
