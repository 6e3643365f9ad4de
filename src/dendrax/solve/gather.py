"""Gather-only index maps between sites and nodes.

Scatters (`x.at[i].add`) inside the time loop are slow on CPU, and slower still under
`vmap`; every per-step map from sites (mechanism sites, stimuli, clamps, children) to nodes
is therefore a gather through an inverse index built once by `build`.
"""

import jax
import jax.numpy as jnp
import numpy as np


def inverse_index(targets: np.ndarray, size: int) -> np.ndarray:
    """For each of `size` slots, the position in `targets` that points at it, else len(targets).

    `targets` must not repeat; used with `to_slots`, which reads the extra entry as zero.
    """
    inverse = np.full(size, targets.size, dtype=np.int64)
    inverse[targets] = np.arange(targets.size)
    return inverse


def to_slots(values: jax.Array, inverse: jax.Array) -> jax.Array:
    """Place per-site `values` on their slots (zero where no site is) via `inverse_index`."""
    return jnp.concatenate([values, jnp.zeros(1, values.dtype)])[inverse]


def slot_table(targets: np.ndarray, size: int) -> np.ndarray:
    """(size, width) table of the positions in `targets` that point at each of `size`
    slots, in increasing order, padded with len(targets); `targets` may repeat (width is
    the largest count). Used with `sum_to_slots`."""
    order = np.argsort(targets, kind="stable")
    counts = np.bincount(targets, minlength=size)
    width = max(int(counts.max(initial=0)), 1)
    table = np.full((size, width), targets.size, dtype=np.int64)
    first = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    sorted_targets = targets[order]
    table[sorted_targets, np.arange(targets.size) - first[sorted_targets]] = order
    return table


def sum_to_slots(values: jax.Array, table: jax.Array) -> jax.Array:
    """Per slot, the sum of the `values` of the positions that point at it (`slot_table`):
    one reduction, so that the program does not grow with the sites per slot."""
    return jnp.concatenate([values, jnp.zeros(1, values.dtype)])[table].sum(axis=1)


def children_table(parent: np.ndarray, is_root: np.ndarray) -> np.ndarray:
    """(n_nodes, max_children) table of each node's children, padded with n_nodes."""
    n = parent.size
    child = np.flatnonzero(~is_root)
    return np.concatenate([child, [n]])[slot_table(parent[child], n)]


def sum_over_children(values: jax.Array, children: jax.Array) -> jax.Array:
    """For each node, the sum of `values` over its children (via `children_table`)."""
    return jnp.concatenate([values, jnp.zeros(1, values.dtype)])[children].sum(axis=1)
