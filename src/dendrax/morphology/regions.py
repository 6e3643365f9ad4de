"""Compartment selections by region (SWC type), path distance, branch order or predicate."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from dendrax.morphology.morphology import REGION_TYPES

COMPARTMENT_PROPERTIES = (
    "branch",
    "index_in_branch",
    "type",
    "distance",
    "order",
    "radius",
    "length",
    "area",
    "x",
    "y",
    "z",
)
"""Keys of the table a selection predicate receives (one array per compartment)."""


def region_mask(name: str, comp_types: np.ndarray | None, groups: dict[str, np.ndarray]):
    """Compartments of region `name`: "soma", "axon", "basal", "apical" (SWC types 1-4;
    NEURON's "somatic", "axonal", "dend", "apic" too), "type:<n>" for a custom SWC type, or
    a group the user defined."""
    if not isinstance(name, str):
        raise TypeError(f"region names are strings, got {name!r}")
    if name in groups:
        return groups[name].copy()
    swc_type = REGION_TYPES.get(name)
    if swc_type is None and name.startswith("type:"):
        try:
            swc_type = int(name.partition(":")[2])
        except ValueError:
            swc_type = None
    if swc_type is None:
        known = [*sorted(REGION_TYPES), "type:<n>", *sorted(groups)]
        raise KeyError(f"unknown region {name!r}; known regions are {known}")
    if comp_types is None:
        raise ValueError(
            f"region {name!r} needs SWC types, and this cell has none (it was not read "
            "from a morphology file); define a group with cell.define_group instead"
        )
    return comp_types == swc_type


def range_mask(values: np.ndarray, bounds, what: str) -> np.ndarray:
    """`values` equal to `bounds` (a number) or within `bounds` = (low, high), inclusive."""
    if np.ndim(bounds) == 0:
        return values == bounds
    if len(bounds) != 2:
        raise ValueError(f"{what} must be a value or a (low, high) pair, got {bounds!r}")
    low = -np.inf if bounds[0] is None else float(bounds[0])
    high = np.inf if bounds[1] is None else float(bounds[1])
    if low > high:
        raise ValueError(f"{what} range ({low}, {high}) is empty: low > high")
    return (values >= low) & (values <= high)


def predicate_mask(predicate: Callable, table: dict[str, np.ndarray]) -> np.ndarray:
    """Evaluate `predicate(table)` and check it gives one boolean per compartment."""
    mask = np.asarray(predicate(table))
    n = table["branch"].size
    if mask.shape != (n,) or mask.dtype != bool:
        raise ValueError(
            "a selection predicate must return one boolean per compartment "
            f"(shape ({n},)), got dtype {mask.dtype} and shape {mask.shape}"
        )
    return mask
