"""`build`: turn a description of one or several cells into a `Simulation` of flat arrays."""

import dataclasses
import math

import jax.numpy as jnp
import numpy as np

from dendrax import native
from dendrax.checkpointing import Checkpointing
from dendrax.mechanisms import membrane
from dendrax.model.assembly import Assembly, assemble
from dendrax.morphology.node_layout import node_layout
from dendrax.network.network import Network
from dendrax.simulation import Simulation
from dendrax.solve import events as event_steps
from dendrax.solve.gather import children_table, inverse_index, slot_table
from dendrax.solve.stepping import SOLVERS
from dendrax.static_spec import StaticSpec
from dendrax.training.layout import resolve as resolve_trainables
from dendrax.units import ABSOLUTE_ZERO


def build(
    cells,
    dt: float = 0.025,
    solver: str = "backward_euler",
    v_init: float = -65.0,
    celsius: float = 6.3,
    settle: float = 0.0,
    backend: str = "auto",
    checkpointing: Checkpointing | None = None,
    events: str = "step",
) -> Simulation:
    """Compile a cell, or several cells simulated together, into a simulation.

    Args:
        cells: a `Cell`, a `Network`, or a list of cells simulated together, each keeping
            its identity (`sim.compartment_cells`; recordings named "cell i, ...");
            synapses and junctions may connect them.
        dt: time step (ms).
        solver: "backward_euler" (NEURON's default) or "crank_nicolson" (NEURON's
            secondorder = 2) for the voltage; gates always use exponential Euler.
        v_init: initial voltage (mV); states start at their steady state for it.
        celsius: temperature (°C) for the mechanisms' q10 factors and Nernst potentials:
            the default of `params["celsius"]`, a run-time value (changed, vmapped and
            differentiated like any parameter, without recompiling).
        settle: time (ms) simulated before t = 0, without stimuli and with clamps at their
            first command, starting from the steady state at v_init: the run then starts
            from the cell's true resting state. It runs inside `run` (jit, grad, vmap), so
            it follows parameters being trained; it costs settle / dt extra steps.
        backend: "auto" (the native C++ kernel on CPU where it supports the model and
            builds, else pure JAX), "native" (the same, but say why when it falls back) or
            "jax" (always pure JAX). See docs/performance.md.
        checkpointing: how gradients bound their memory (`dendrax.Checkpointing`; default:
            an eighth of the machine's memory, at most 2 GiB).
        events: how spike events are timed: "step" (NEURON's fixed step: a spike at the
            end of the step that crosses the threshold, its event at the nearest step
            start) or "interpolated" (spike times interpolated within the step and events
            delivered with their exact lateness, so that gradients flow through spike
            times). See docs/networks.md.
    """
    model = assemble(list(cells.cells) if isinstance(cells, Network) else cells)
    for name, value in (("dt", dt), ("v_init", v_init), ("celsius", celsius), ("settle", settle)):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError(f"build: {name} must be a number, got {value!r}")
    if not (np.isfinite(dt) and dt > 0):
        raise ValueError(f"dt must be > 0 ms, got {dt}")
    for name, value in (("v_init", v_init), ("celsius", celsius)):
        if not np.isfinite(value):
            raise ValueError(f"{name} must be finite, got {value}")
    if celsius < ABSOLUTE_ZERO:
        raise ValueError(f"celsius = {celsius} is below absolute zero ({ABSOLUTE_ZERO} °C)")
    if backend not in native.BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose one of {list(native.BACKENDS)}")
    if solver not in SOLVERS:
        raise ValueError(f"unknown solver {solver!r}; choose one of {sorted(SOLVERS)}")
    checkpointing = Checkpointing() if checkpointing is None else checkpointing
    if not isinstance(checkpointing, Checkpointing):
        raise TypeError(f"checkpointing must be a dendrax.Checkpointing, got {checkpointing!r}")
    if events not in event_steps.MODES:
        raise ValueError(f"unknown events {events!r}; choose one of {list(event_steps.MODES)}")
    _check_step_dt(model, dt)
    layout = node_layout(model.tree)
    n_comp = model.n_compartments
    comp_node = layout.comp_node

    dtype = jnp.zeros(0).dtype
    params: dict = {name: jnp.asarray(values, dtype) for name, values in model.geometry.items()}
    sites = {}
    for name, inserted in model.mechanisms.items():
        comps = np.flatnonzero(inserted.where)
        sites[name] = _site_arrays(comps, comp_node, layout.n_nodes)
        sites[name]["comp_site"] = inverse_index(comps, n_comp)
        params[name] = {p: jnp.asarray(v[comps], dtype) for p, v in inserted.values.items()}
    for name, placed in model.placed.items():
        sites[name] = _site_arrays(placed.comps, comp_node, layout.n_nodes)
        if placed.peer_comps is not None:
            sites[name]["peer_node"] = comp_node[placed.peer_comps]
        if placed.event_source is not None:
            sites[name].update(_delays(name, placed.event_source, placed.delay, dt))
        params[name] = {p: jnp.asarray(v, dtype) for p, v in placed.values.items()}
    params.update({name: jnp.asarray(v, dtype) for name, v in model.ion_values.items()})
    params["celsius"] = jnp.asarray(celsius, dtype)
    ion_nernst = membrane.reversal_from_concentrations(
        {inserted.mechanism: inserted.where for inserted in model.mechanisms.values()}, n_comp
    )

    stim_pairs = _pairs([s.comps for s in model.stimuli])
    stimulated, stim_slot = np.unique(comp_node[stim_pairs[1]], return_inverse=True)
    clamp_pairs = _pairs([c.comps for c in model.clamps])
    is_clamped = np.zeros(layout.n_nodes, dtype=bool)
    is_clamped[comp_node[clamp_pairs[1]]] = True

    groups, record_index, order, names = _recordings(model, sites, comp_node)
    units = tuple(r.unit for r in model.recordings for _ in _rows(r))
    nanoampere_rows, nanoampere_comps = _densities_in_nanoamperes(model)
    arrays = {
        "parent": layout.parent,
        "is_root": layout.is_root,
        "near_half": np.where(layout.near_half < 0, n_comp, layout.near_half),
        "far_half": np.where(layout.far_half < 0, n_comp, layout.far_half),
        "shape": dict(model.shape_factors),
        "comp_node": comp_node,
        "comp_cell": model.comp_cell,
        "comp_branch": np.concatenate([c.tree.comp_branch for c in model.cells]),
        "comp_index_in_branch": np.concatenate([c.tree.comp_index_in_branch for c in model.cells]),
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
        "nanoampere_rows": nanoampere_rows,
        "nanoampere_comps": nanoampere_comps,
    }
    event_spec = None
    if model.sources.n_sources or any(p.event_source is not None for p in model.placed.values()):
        arrays["events"], event_spec = _event_arrays(model, sites, comp_node, dt, events)
    arrays = _to_device(arrays)
    mechanisms = tuple(
        inserted.mechanism for inserted in (*model.mechanisms.values(), *model.placed.values())
    )
    for mechanism in mechanisms:
        membrane.check_outputs(mechanism, float(dt), float(celsius))
    spec = StaticSpec(
        mechanisms=mechanisms,
        dt=float(dt),
        solver=solver,
        v_init=float(v_init),
        record_groups=groups,
        has_clamps=bool(model.clamps),
        settle_steps=_settle_steps(settle, dt),
        checkpointing=checkpointing,
        precision=np.dtype(dtype).name,
        events=event_spec,
    )
    spec = dataclasses.replace(spec, backend=native.choose(backend, spec, dtype))
    return Simulation(
        spec=spec,
        arrays=arrays,
        params=params,
        stimuli=_stack("stimulus", [s.current for s in model.stimuli], dtype),
        clamps=_stack("clamp", [c.values for c in model.clamps], dtype),
        recording_names=names,
        recording_units=units,
        trainables=resolve_trainables(model, params),
    )


def _check_step_dt(model: Assembly, dt: float) -> None:
    """Raise if a stimulus or clamp series was made for another time step."""
    for what, series in (("stimulus", model.stimuli), ("clamp", model.clamps)):
        for k, item in enumerate(series):
            if item.dt is not None and not math.isclose(item.dt, dt, rel_tol=1e-9):
                raise ValueError(
                    f"{what} {k} (in the order of the calls) was made for dt = {item.dt} ms, "
                    f"but the simulation is built with dt = {dt} ms: it would run "
                    f"{dt / item.dt:g}x as long; make it with dt={dt}"
                )


def _delays(name: str, source: np.ndarray, delay: np.ndarray, dt: float) -> dict:
    """A mechanism's event sources and delays in steps (whole and fraction)."""
    bad = ~np.isfinite(delay) | (delay < 0)
    if np.any(bad):
        site = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{name} site {site} has delay {delay[site]} ms: it must be >= 0")
    return {
        "event_source": source,
        "delay": delay,
        "delay_steps": event_steps.whole_steps(delay, dt),
    }


def _event_arrays(model: Assembly, sites: dict, comp_node, dt: float, mode: str):
    """The detectors and trains of the events (arrays["events"]) and their `EventSpec`."""
    sources = model.sources
    lengths = [t.size for t in sources.trains]
    times = np.concatenate([np.zeros(0), *sources.trains])
    train_source = np.repeat(np.arange(len(lengths)), lengths) + sources.detector_comps.size
    step = event_steps.whole_steps(times, dt)
    order = np.argsort(step, kind="stable")
    delays = [s["delay_steps"] for s in sites.values() if "delay_steps" in s]
    longest = int(max((d.max() for d in delays if d.size), default=0))
    arrays = {
        "detector_node": comp_node[sources.detector_comps],
        "detector_threshold": sources.detector_threshold,
        "train_step": step[order],
        "train_time": times[order],
        "train_source": train_source[order].astype(np.int64),
    }
    spec = event_steps.EventSpec(
        mode=mode,
        n_slots=longest + event_steps.OFFSETS,
        n_sources=sources.n_sources,
        trains_per_step=int(np.bincount(step).max()) if step.size else 0,
    )
    return arrays, spec


def _site_arrays(comps: np.ndarray, comp_node: np.ndarray, n_nodes: int) -> dict:
    """A mechanism's sites: their compartments and nodes, and the sites of each node."""
    comps = np.asarray(comps, np.int64)
    return {
        "comp": comps,
        "node": comp_node[comps],
        "node_sites": slot_table(comp_node[comps], n_nodes),
    }


def _rows(recording) -> np.ndarray:
    """What each row of a recording is at: a site of a placed mechanism, or a compartment."""
    return recording.comps if recording.sites is None else recording.sites


def _densities_in_nanoamperes(model: Assembly) -> tuple[np.ndarray, np.ndarray]:
    """The rows of densities recorded in nA (to be multiplied by their compartment's area)
    and those compartments; a point or junction current is in nA already."""
    rows, comps, row = [], [], 0
    for recording in model.recordings:
        count = _rows(recording).size
        if recording.unit == "nA" and recording.sites is None:
            rows.append(np.arange(row, row + count))
            comps.append(recording.comps)
        row += count
    if not rows:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(rows).astype(np.int64), np.concatenate(comps).astype(np.int64)


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


def _recordings(model: Assembly, sites: dict, comp_node: np.ndarray):
    """Group recordings by quantity: the gather index of each group and the row order."""
    groups: list[str] = []
    indices: list[list[np.ndarray]] = []
    positions: list[list[np.ndarray]] = []
    names = []
    row = 0
    for recording in model.recordings:
        mech_name = recording.name.partition(".")[0]
        if recording.name == "v":
            index = comp_node[recording.comps]
        elif recording.sites is not None:  # a point or junction mechanism, per site
            index = recording.sites
        elif "." not in recording.name:  # an ion variable such as "cai", per compartment
            index = recording.comps
        else:
            site_of_comp = np.full(model.n_compartments, -1)
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
        if recording.sites is None or recording.name == "spikes":
            names.extend(f"{recording.name} at {model.describe(c)}" for c in recording.comps)
        else:
            at = model.placed[mech_name].comps[recording.sites]
            names.extend(
                f"{recording.name} at site {s}, {model.describe(c)}"
                for s, c in zip(recording.sites, at, strict=True)
            )
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
