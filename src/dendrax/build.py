"""`build`: turn a cell description into a `Simulation` of flat arrays."""

import dataclasses

import jax.numpy as jnp
import numpy as np

from dendrax import native
from dendrax.mechanisms import membrane
from dendrax.model.cell import Cell
from dendrax.morphology.node_layout import node_layout
from dendrax.simulation import Simulation
from dendrax.solve.gather import children_table, inverse_index
from dendrax.solve.stepping import SOLVERS, StaticSpec


def build(
    cell: Cell,
    dt: float = 0.025,
    solver: str = "backward_euler",
    v_init: float = -65.0,
    celsius: float = 6.3,
    settle: float = 0.0,
    backend: str = "auto",
) -> Simulation:
    """Compile `cell` into a simulation.

    Args:
        cell: the model description.
        dt: time step (ms).
        solver: "backward_euler" (NEURON's default) or "crank_nicolson" (NEURON's
            secondorder = 2) for the voltage; gates always use exponential Euler.
        v_init: initial voltage (mV); states start at their steady state for it.
        celsius: temperature (°C) for the mechanisms' q10 factors.
        settle: time (ms) simulated before t = 0, without stimuli and with clamps at their
            first command, starting from the steady state at v_init: the run then starts
            from the cell's true resting state. It runs inside `run` (jit, grad, vmap), so
            it follows parameters being trained; it costs settle / dt extra steps.
        backend: "auto" (the native C++ kernel on CPU where it supports the model and
            builds, else pure JAX), "native" (the same, but say why when it falls back) or
            "jax" (always pure JAX). See docs/performance.md.
    """
    if not isinstance(cell, Cell):
        raise TypeError(f"build expects a dendrax Cell, got {type(cell).__name__}")
    if not (np.isfinite(dt) and dt > 0):
        raise ValueError(f"dt must be > 0 ms, got {dt}")
    for name, value in (("v_init", v_init), ("celsius", celsius)):
        if not np.isfinite(value):
            raise ValueError(f"{name} must be finite, got {value}")
    if backend not in native.BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose one of {list(native.BACKENDS)}")
    if solver not in SOLVERS:
        raise ValueError(f"unknown solver {solver!r}; choose one of {sorted(SOLVERS)}")
    layout = node_layout(cell.tree)
    n_comp = cell.n_compartments
    comp_node = layout.comp_node

    dtype = jnp.zeros(0).dtype
    params: dict = {name: jnp.asarray(values, dtype) for name, values in cell.geometry.items()}
    sites = {}
    for name, inserted in cell.mechanisms.items():
        comps = np.flatnonzero(inserted.where)
        sites[name] = {
            "comp": comps,
            "node": comp_node[comps],
            "node_site": inverse_index(comp_node[comps], layout.n_nodes),
            "comp_site": inverse_index(comps, n_comp),
        }
        params[name] = {p: jnp.asarray(v[comps], dtype) for p, v in inserted.values.items()}
    params.update({name: jnp.asarray(v, dtype) for name, v in cell.ion_values.items()})
    ion_nernst = membrane.reversal_from_concentrations(
        {inserted.mechanism: inserted.where for inserted in cell.mechanisms.values()}, n_comp
    )

    stim_pairs = _pairs([s.comps for s in cell.stimuli])
    stimulated, stim_slot = np.unique(comp_node[stim_pairs[1]], return_inverse=True)
    clamp_pairs = _pairs([c.comps for c in cell.clamps])
    is_clamped = np.zeros(layout.n_nodes, dtype=bool)
    is_clamped[comp_node[clamp_pairs[1]]] = True

    groups, record_index, order, names = _recordings(cell, sites, comp_node)
    units = tuple(r.unit for r in cell.recordings for _ in r.comps)
    in_nanoamperes = np.flatnonzero(np.array(units) == "nA") if units else np.zeros(0, int)
    recorded_comps = (
        np.concatenate([r.comps for r in cell.recordings]) if units else np.zeros(0, int)
    )
    arrays = {
        "parent": layout.parent,
        "is_root": layout.is_root,
        "near_half": np.where(layout.near_half < 0, n_comp, layout.near_half),
        "far_half": np.where(layout.far_half < 0, n_comp, layout.far_half),
        "shape": {name: values for name, values in cell.shape_factors.items()},
        "comp_node": comp_node,
        "sites": sites,
        "ion_nernst": ion_nernst,
        "children": children_table(layout.parent, layout.is_root),
        "stim_row": stim_pairs[0],
        "stim_slot": stim_slot,
        "stimulated_node": stimulated,
        "node_stim_slot": inverse_index(stimulated, layout.n_nodes),
        "clamp_row": clamp_pairs[0],
        "clamp_node": comp_node[clamp_pairs[1]],
        "node_clamp": inverse_index(comp_node[clamp_pairs[1]], layout.n_nodes),
        "is_clamped": is_clamped,
        "record_index": record_index,
        "record_order": order,
        "nanoampere_rows": in_nanoamperes.astype(np.int64),
        "nanoampere_comps": recorded_comps[in_nanoamperes].astype(np.int64),
    }
    arrays = _to_device(arrays)
    spec = StaticSpec(
        mechanisms=tuple(inserted.mechanism for inserted in cell.mechanisms.values()),
        dt=float(dt),
        solver=solver,
        v_init=float(v_init),
        celsius=float(celsius),
        record_groups=groups,
        has_clamps=bool(cell.clamps),
        settle_steps=_settle_steps(settle, dt),
    )
    spec = dataclasses.replace(spec, backend=native.choose(backend, spec, dtype))
    return Simulation(
        spec=spec,
        arrays=arrays,
        params=params,
        stimuli=_stack("stimulus", [s.current for s in cell.stimuli], dtype),
        clamps=_stack("clamp", [c.values for c in cell.clamps], dtype),
        recording_names=names,
        recording_units=units,
    )


def _pairs(comp_lists: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(row, compartment) for every compartment of every call."""
    if not comp_lists:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    rows = np.concatenate([np.full(c.size, i) for i, c in enumerate(comp_lists)])
    return rows.astype(np.int64), np.concatenate(comp_lists).astype(np.int64)


def _stack(what: str, series: list[np.ndarray], dtype):
    lengths = sorted({s.size for s in series})
    if len(lengths) > 1:
        raise ValueError(f"every {what} must have the same number of steps, got {lengths}")
    if not series:
        return jnp.zeros((0, 0), dtype)
    return jnp.asarray(np.stack(series), dtype)


def _recordings(cell: Cell, sites: dict, comp_node: np.ndarray):
    """Group recordings by quantity: the gather index of each group and the row order."""
    groups: list[str] = []
    indices: list[list[np.ndarray]] = []
    positions: list[list[np.ndarray]] = []
    names = []
    row = 0
    for recording in cell.recordings:
        if recording.name == "v":
            index = comp_node[recording.comps]
        elif "." not in recording.name:  # an ion variable such as "cai", per compartment
            index = recording.comps
        else:
            mech_name = recording.name.split(".")[0]
            site_of_comp = np.full(cell.n_compartments, -1)
            site_of_comp[sites[mech_name]["comp"]] = np.arange(sites[mech_name]["comp"].size)
            index = site_of_comp[recording.comps]
        if recording.name not in groups:
            groups.append(recording.name)
            indices.append([])
            positions.append([])
        g = groups.index(recording.name)
        indices[g].append(index)
        positions[g].append(np.arange(row, row + index.size))
        row += index.size
        names.extend(f"{recording.name} at {cell.describe(c)}" for c in recording.comps)
    record_index = tuple(np.concatenate(i).astype(np.int64) for i in indices)
    position = np.concatenate([np.concatenate(p) for p in positions]) if positions else []
    order = np.argsort(np.asarray(position, dtype=np.int64))
    return tuple(groups), record_index, order, tuple(names)


def _to_device(tree):
    if isinstance(tree, dict):
        return {k: _to_device(v) for k, v in tree.items()}
    if isinstance(tree, tuple):
        return tuple(_to_device(v) for v in tree)
    return jnp.asarray(tree)


def _settle_steps(settle: float, dt: float) -> int:
    if not (np.isfinite(settle) and settle >= 0):
        raise ValueError(f"settle must be a time >= 0 ms, got {settle}")
    return round(settle / dt)
