"""The trainable parameters of a built simulation: index arrays from a small theta to the
full parameter pytree.

theta holds one array per `make_trainable` call, one unconstrained number per group.
`params_from` maps it onto the sites by a gather (each site takes its group's value) and a
scatter into the parameter's array, so that it runs inside `jit`, `grad` and `vmap`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from dendrax.mechanisms import membrane
from dendrax.model.cell import GEOMETRY_UNITS
from dendrax.training.trainable import Trainable
from dendrax.training.transforms import Transform


@dataclass(frozen=True)
class TrainableInfo:
    """What a trainable is (static): its `key` in theta, the parameter `name`, its
    `transform`, a description of each group ("branch 1", "cell 0", "all") and the unit
    of its values."""

    key: str
    name: str
    transform: Transform
    groups: tuple[str, ...]
    unit: str


@dataclass(frozen=True)
class TrainableValue:
    """The values of one trainable (in `unit`, one per group) with its name and groups."""

    name: str
    values: jax.Array
    groups: tuple[str, ...]
    unit: str


@partial(
    jax.tree_util.register_dataclass,
    data_fields=["index", "group", "init"],
    meta_fields=["info"],
)
@dataclass(frozen=True)
class Trainables:
    """The trainables of a simulation, one entry per `make_trainable` call in call order.

    Attributes:
        index: per trainable, the entries of its parameter's array (`sim.params`) it sets.
        group: per trainable, the group of each of those entries.
        init: per trainable, the initial values (in the parameter's unit), one per group.
        info: per trainable, its `TrainableInfo`.
    """

    index: tuple = ()
    group: tuple = ()
    init: tuple = ()
    info: tuple[TrainableInfo, ...] = ()

    def theta(self) -> dict:
        """The initial theta: per key, the unconstrained number of each group."""
        return {
            i.key: i.transform.inverse(init) for i, init in zip(self.info, self.init, strict=True)
        }

    def params_from(self, theta: dict, params: dict) -> dict:
        """`params` with every trainable's sites set to its group's value in theta."""
        self.check(theta)
        for info, index, group in zip(self.info, self.index, self.group, strict=True):
            values = info.transform.forward(jnp.asarray(theta[info.key]))[group]
            params = _with_leaf(params, info.name, lambda leaf, i=index, v=values: _set(leaf, i, v))
        return params

    def values(self, theta: dict) -> dict[str, TrainableValue]:
        """Per key, the constrained values of theta with their name, groups and unit."""
        self.check(theta)
        return {
            i.key: TrainableValue(
                i.name, i.transform.forward(jnp.asarray(theta[i.key])), i.groups, i.unit
            )
            for i in self.info
        }

    def describe(self, key: str, group: int) -> str:
        """ "HH.gNa@soma (group 'branch 1')": a group of a trainable, for messages."""
        info = next(i for i in self.info if i.key == key)
        return f"{key} (parameter {info.name}, group {info.groups[group]!r})"

    def check(self, theta) -> None:
        """Raise unless theta has one array of shape (n_groups,) per trainable."""
        keys = [i.key for i in self.info]
        if not isinstance(theta, dict):
            raise TypeError(
                f"theta must be a dict with one array per trainable ({keys}), as "
                f"sim.trainable_params() gives, got {type(theta).__name__}"
            )
        missing = [k for k in keys if k not in theta]
        unknown = [k for k in theta if k not in keys]
        if missing or unknown:
            raise KeyError(
                f"theta does not match the simulation's trainables: missing {missing}, "
                f"unknown {unknown}; expected keys {keys}"
            )
        for info in self.info:
            shape = jnp.shape(theta[info.key])
            if shape != (len(info.groups),):
                raise ValueError(
                    f"theta[{info.key!r}] has shape {shape}, expected ({len(info.groups)},): "
                    f"one value per group ({_preview(info.groups)})"
                )


def _set(leaf, index, values):
    return jnp.asarray(leaf).at[index].set(values.astype(jnp.result_type(leaf)))


def _with_leaf(params: dict, name: str, change) -> dict:
    group, _, key = name.partition(".")
    if key:
        return {**params, group: {**params[group], key: change(params[group][key])}}
    return {**params, group: change(params[group])}


def _preview(items, n: int = 4) -> str:
    return ", ".join(items[:n]) + (", ..." if len(items) > n else "")


def resolve(model, params: dict) -> Trainables:
    """The trainables declared on the cells of `model` (an `Assembly`), as index arrays
    into `params` (the built parameter pytree, which also gives initial values)."""
    found: dict[Trainable, list] = {}
    for cell_index, cell in enumerate(model.cells):
        for part in cell.trainables:
            found.setdefault(part.trainable, []).append((cell_index, part))
    places = _Places(model)
    ordered = sorted(found.items(), key=lambda item: item[0].serial)
    keys = [trainable.key for trainable, _ in ordered]
    entries = [
        _resolve_one(model, params, places, trainable, parts, keys.count(trainable.key) > 1)
        for trainable, parts in ordered
    ]
    return (
        Trainables(*(tuple(column) for column in zip(*entries, strict=True)))
        if entries
        else Trainables()
    )


def _resolve_one(model, params, places: _Places, trainable: Trainable, parts, repeated: bool):
    """(index, group, init, info) of one trainable; a key `repeated` by trainables of
    copied cells gets the index of its first cell ("HH.gNa@soma (cell 3)")."""
    pairs = [places.entries(trainable.name, cell_index, part) for cell_index, part in parts]
    index = np.concatenate([i for i, _ in pairs])
    comps = np.concatenate([c for _, c in pairs])
    labels = np.concatenate(
        [p.labels[p.labels >= 0] if p.sites is None else p.labels for _, p in parts]
    )
    per_site = parts[0][1].sites is not None
    keys, names = _grouping(places, trainable.share, index, comps, labels, per_site)
    _, first, group = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    group = group.reshape(-1)
    groups = tuple(names[f] for f in first)
    leaf = np.asarray(_leaf(params, trainable.name))
    init = _init(trainable, leaf[index], group, groups)
    mechanisms = [m.mechanism for m in (*model.mechanisms.values(), *model.placed.values())]
    unit = unit_of(trainable.name, mechanisms)
    key = f"{trainable.key} (cell {parts[0][0]})" if repeated else trainable.key
    info = TrainableInfo(key, trainable.name, trainable.transform, groups, unit)
    dtype = jnp.zeros(0).dtype
    return jnp.asarray(index), jnp.asarray(group), jnp.asarray(init, dtype), info


def _leaf(params: dict, name: str):
    group, _, key = name.partition(".")
    return params[group][key] if key else params[group]


class _Places:
    """Where each cell's compartments and sites are in the built arrays, computed once
    per build (not once per cell and trainable)."""

    def __init__(self, model):
        self.model = model
        self.comp_branch = np.concatenate([c.tree.comp_branch for c in model.cells])
        self.site_offsets = {
            name: np.cumsum(
                [0] + [c.placed[name].n_sites if name in c.placed else 0 for c in model.cells]
            )
            for name in model.placed
        }
        self.site_of_comp = {}
        for name, inserted in model.mechanisms.items():
            where = np.flatnonzero(inserted.where)
            self.site_of_comp[name] = np.full(model.n_compartments, -1)
            self.site_of_comp[name][where] = np.arange(where.size)

    def entries(self, name: str, cell_index: int, part) -> tuple[np.ndarray, np.ndarray]:
        """The entries of parameter `name`'s array that `part` (on cell `cell_index`)
        trains, and the global compartment of each."""
        mech = name.partition(".")[0]
        if part.sites is not None:
            index = self.site_offsets[mech][cell_index] + part.sites
            return index, self.model.placed[mech].comps[index]
        comps = self.model.comp_offsets[cell_index] + np.flatnonzero(part.labels >= 0)
        if mech in self.site_of_comp and "." in name:
            return self.site_of_comp[mech][comps], comps
        return comps, comps


def _grouping(places: _Places, share: str, index, comps, labels, per_site: bool):
    """A key per entry (entries with equal keys share a value) and a name per entry for
    the group it is in."""
    model = places.model
    cell = model.comp_cell[comps]
    branch = places.comp_branch[comps]
    several = len(model.cells) > 1
    if share == "all":
        return np.zeros(index.size, np.int64), ["all"] * index.size
    if share == "cell":
        return cell, [f"cell {c}" for c in cell]
    if share == "branch":
        prefix = [f"cell {c}, " if several else "" for c in cell]
        return np.stack([cell, branch], 1), [
            f"{p}branch {b}" for p, b in zip(prefix, branch, strict=True)
        ]
    if share == "compartment":
        return comps, [model.describe(c) for c in comps]
    if share == "site" and per_site:
        return index, [f"site {i}, {model.describe(c)}" for i, c in zip(index, comps, strict=True)]
    if share == "site":
        return comps, [model.describe(c) for c in comps]
    return labels, [f"label {label}" for label in labels]  # share == LABELS


def _init(trainable: Trainable, values: np.ndarray, group: np.ndarray, groups: tuple) -> np.ndarray:
    """The initial value of each group: `init`, or the one value its sites hold."""
    n = len(groups)
    key = trainable.key
    if trainable.init is None:
        low, high = np.full(n, np.inf), np.full(n, -np.inf)
        np.minimum.at(low, group, values)
        np.maximum.at(high, group, values)
        differ = np.flatnonzero(low != high)
        if differ.size:
            g = differ[0]
            raise ValueError(
                f"{key}: the sites of group {groups[g]!r} hold different values "
                f"({low[g]:g} to {high[g]:g}); give init (a value or one per group)"
            )
        init = low
    elif trainable.init.ndim == 0 or trainable.init.shape == (n,):
        init = np.broadcast_to(trainable.init, (n,))
    else:
        raise ValueError(
            f"init for {key} has {trainable.init.size} values but it has {n} groups "
            f"({_preview(groups)}): give one value or one per group"
        )
    outside = np.flatnonzero(~trainable.transform.inside(init))
    if outside.size:
        g = outside[0]
        raise ValueError(
            f"{key}: initial value {init[g]:g} of group {groups[g]!r} is outside the bounds "
            f"of {trainable.transform}"
        )
    return init


def unit_of(name: str, mechanisms) -> str:
    """The unit of parameter `name` ("radius", "HH.gNa", "ena", "celsius") of a model with these
    `mechanisms` (all of them, density, point and junction)."""
    if name in GEOMETRY_UNITS:
        return GEOMETRY_UNITS[name]
    if name == "celsius":
        return "degC"
    mech, _, param = name.partition(".")
    if param:
        return next(m for m in mechanisms if m.name == mech).parameters[param].unit
    density = [m for m in mechanisms if m.kind == "density"]
    return "mV" if membrane.ion_variable_kind(name, density) == "reversal" else "mM"
