"""Fitted parameters to and from a file (.json or .npz) with names and units, so that a
fit can be reloaded in a new Python process."""

from __future__ import annotations

import json
import pathlib
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from dendrax.training.layout import unit_of

FORMAT = "dendrax parameters"
VERSION = 1


@dataclass(frozen=True)
class SavedParams:
    """What `load_params` read.

    Attributes:
        params: the parameter pytree (as `sim.params`), ready for `sim.run`.
        units: the unit of each parameter, by name ("HH.gNa": "S/cm2").
        values: per trainable key, its values (in its unit, one per group); empty when
            no theta was saved.
        groups: per trainable key, the description of each group.
        theta: the values turned back into theta (unconstrained) by the simulation's
            transforms, when `load_params` was given the simulation; else None.
    """

    params: dict
    units: dict[str, str]
    values: dict[str, np.ndarray]
    groups: dict[str, tuple[str, ...]]
    theta: dict | None = None


def save_params(path, sim, theta=None, params=None) -> None:
    """Write a model's parameters to `path` (.json: readable text; .npz: NumPy arrays
    with the names and units in a JSON header).

    Args:
        sim: the `Simulation` the parameters belong to (names and units).
        theta: trained values (`sim.trainable_params()` after a fit): saved with their
            names, groups and units, and applied to the parameters.
        params: the parameter pytree (default: `sim.params_from(theta)`, or `sim.params`).
    """
    path = pathlib.Path(path)
    _check_suffix(path)
    if params is None:
        params = sim.params if theta is None else sim.params_from(theta)
    mechanisms = sim.spec.mechanisms
    arrays = {name: np.asarray(values) for name, values in _flat(params).items()}
    header = {
        "format": FORMAT,
        "version": VERSION,
        "params": {name: {"unit": unit_of(name, mechanisms)} for name in arrays},
        "trainables": {},
    }
    trained = {}
    if theta is not None:
        for key, value in sim.trainable_values(theta).items():
            trained[key] = np.asarray(value.values)
            header["trainables"][key] = {
                "parameter": value.name,
                "unit": value.unit,
                "groups": list(value.groups),
            }
    if path.suffix == ".json":
        for name, values in arrays.items():
            header["params"][name]["values"] = values.tolist()
        for key, values in trained.items():
            header["trainables"][key]["values"] = values.tolist()
        path.write_text(json.dumps(header, indent=1))
        return
    with open(path, "wb") as file:
        np.savez(
            file,
            header=np.asarray(json.dumps(header)),
            **{f"params/{n}": v for n, v in arrays.items()},
            **{f"trainables/{k}": v for k, v in trained.items()},
        )


def load_params(path, sim=None) -> SavedParams:
    """Read what `save_params` wrote. With `sim`, check that the parameters have its
    names, shapes and units, and turn saved trainable values into its theta."""
    path = pathlib.Path(path)
    _check_suffix(path)
    if path.suffix == ".json":
        header = json.loads(path.read_text())
        arrays = {n: np.asarray(p["values"], float) for n, p in header["params"].items()}
        trained = {k: np.asarray(t["values"], float) for k, t in header["trainables"].items()}
    else:
        with np.load(path) as data:
            header = json.loads(str(data["header"]))
            arrays = {n: data[f"params/{n}"] for n in header["params"]}
            trained = {k: data[f"trainables/{k}"] for k in header["trainables"]}
    if header.get("format") != FORMAT:
        raise ValueError(f"{path} is not a file of dendrax parameters (save_params writes them)")
    units = {name: p["unit"] for name, p in header["params"].items()}
    groups = {key: tuple(t["groups"]) for key, t in header["trainables"].items()}
    params = _nested({name: jnp.asarray(values) for name, values in arrays.items()})
    theta = None
    if sim is not None:
        _check_params(path, sim, arrays, units)
        theta = _theta(path, sim, trained, groups)
    return SavedParams(params, units, trained, groups, theta)


def _check_suffix(path: pathlib.Path) -> None:
    if path.suffix not in (".json", ".npz"):
        raise ValueError(f"parameters are saved as .json or .npz, got {path.name!r}")


def _flat(params: dict) -> dict:
    """{"radius": ..., "HH.gNa": ...} from the nested pytree."""
    return {
        ".".join(str(k.key) for k in path): leaf
        for path, leaf in jax.tree_util.tree_flatten_with_path(params)[0]
    }


def _nested(flat: dict) -> dict:
    params: dict = {}
    for name, values in flat.items():
        group, _, key = name.partition(".")
        if key:
            params.setdefault(group, {})[key] = values
        else:
            params[group] = values
    return params


def _check_params(path, sim, arrays: dict, units: dict) -> None:
    expected = {name: np.shape(v) for name, v in _flat(sim.params).items()}
    for name, shape in expected.items():
        if name not in arrays:
            raise KeyError(f"{path} has no parameter {name!r}, which the simulation has")
        if arrays[name].shape != shape:
            raise ValueError(
                f"{path}: {name} has shape {arrays[name].shape}, the simulation's {shape}"
            )
        unit = unit_of(name, sim.spec.mechanisms)
        if units[name] != unit:
            raise ValueError(f"{path}: {name} is in {units[name]}, the simulation's in {unit}")
    extra = sorted(set(arrays) - set(expected))
    if extra:
        raise KeyError(f"{path} has parameters the simulation does not: {extra}")


def _theta(path, sim, trained: dict, groups: dict) -> dict | None:
    if not trained:
        return None
    expected = {i.key: i for i in sim.trainables.info}
    if set(trained) != set(expected):
        raise KeyError(
            f"{path} holds trainables {sorted(trained)}, the simulation has {sorted(expected)}"
        )
    theta = {}
    for key, info in expected.items():
        if groups[key] != info.groups:
            raise ValueError(
                f"{path}: {key} has groups {list(groups[key])[:4]}, the simulation's "
                f"{list(info.groups)[:4]}"
            )
        theta[key] = info.transform.inverse(jnp.asarray(trained[key]))
    return theta
