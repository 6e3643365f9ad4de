"""Checkpoints of a fit on disk: theta, the optimiser's state, the best theta and the
history, so that `fit` resumes where it stopped (in this process or another one)."""

from __future__ import annotations

import os
import pathlib

import jax
import jax.numpy as jnp
import numpy as np

HISTORY = ("loss", "grad_norm", "time")


def save(path, tree, best_loss: float, history: dict, step: int) -> None:
    """Write `tree` (theta, state, best theta), the best loss, the history and the number
    of steps done to `path` (.npz), replacing it at once (never half written)."""
    path = pathlib.Path(path)
    leaves = {f"leaf_{i}": np.asarray(x) for i, x in enumerate(jax.tree_util.tree_leaves(tree))}
    series = {f"history_{k}": np.asarray(history[k]) for k in HISTORY}
    partial = path.with_name(path.name + ".partial")
    with open(partial, "wb") as file:
        np.savez(file, step=step, best_loss=best_loss, **series, **leaves)
    os.replace(partial, path)


def load(path, reference):
    """(tree, best loss, history, steps done) from `path`, the tree shaped as
    `reference`; None where there is no file."""
    path = pathlib.Path(path)
    if not path.exists():
        return None
    leaves, treedef = jax.tree_util.tree_flatten(reference)
    with np.load(path) as data:
        stored = [data[f"leaf_{i}"] for i in range(len(leaves)) if f"leaf_{i}" in data]
        shapes = [np.shape(x) for x in leaves]
        if len(stored) != len(leaves) or [s.shape for s in stored] != shapes:
            raise ValueError(
                f"checkpoint {path} holds another fit (arrays of shapes "
                f"{[s.shape for s in stored]}; this one has {shapes}): remove it or give "
                f"another path"
            )
        tree = jax.tree_util.tree_unflatten(
            treedef,
            [jnp.asarray(s, jnp.result_type(x)) for s, x in zip(stored, leaves, strict=True)],
        )
        history = {k: list(data[f"history_{k}"]) for k in HISTORY}
        return tree, float(data["best_loss"]), history, int(data["step"])
