"""Trainable parameters on the description: which values of a parameter are trained,
how they share values, their initial values and bounds.

`selection.make_trainable(...)` stores a `TrainablePart` on each cell it touches, by
location: per compartment for geometry, ion values and density mechanisms (so that it
follows `set_ncomp` like any other per-compartment value), per site for point and junction
mechanisms (sites keep their place). `build` resolves the parts into index arrays
(`dendrax.training.layout`).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace

import numpy as np

from dendrax.training.transforms import Transform, from_bounds

SHARES = ("all", "cell", "branch", "compartment", "site")
"""Sharing patterns by name: one value for the whole selection, per cell, per branch, per
compartment, or per site (point mechanisms: each synapse its own; else as compartment)."""

LABELS = "labels"
"""The sharing of a trainable whose groups are integer labels given per site."""

_serials = itertools.count()
"""Orders the trainables of every cell as the `make_trainable` calls were made."""


@dataclass(frozen=True, eq=False)
class Trainable:
    """One `make_trainable` call, shared by the parts it placed on its cells.

    Attributes:
        name: the parameter ("HH.gNa", "radius", "ExpSyn.weight").
        key: its name in theta, "name@selection" ("HH.gNa@soma").
        share: one of `SHARES`, or `LABELS`.
        init: initial value(s) in the parameter's unit, a scalar or one per group; None
            takes the values the description holds at build.
        transform: from unconstrained numbers to the parameter's values.
    """

    name: str
    key: str
    share: str
    init: np.ndarray | None
    transform: Transform
    serial: int = field(default_factory=_serials.__next__)


@dataclass(frozen=True)
class TrainablePart:
    """The sites of a `Trainable` on one cell.

    Attributes:
        trainable: the call it belongs to.
        labels: for a per-compartment parameter, the group label of each compartment of
            the cell (-1 where not trained); for a point or junction mechanism, the label of
            each site in `sites`.
        sites: the trained sites of a point or junction mechanism (None otherwise).
    """

    trainable: Trainable
    labels: np.ndarray
    sites: np.ndarray | None = None

    def recut(self, take: np.ndarray) -> TrainablePart:
        """The part on a cell cut into new compartments, compartment k taking the label of
        old compartment take[k] (see `Cell._recut`); sites keep their place."""
        if self.sites is not None:
            return self
        return replace(self, labels=self.labels[take].copy())

    def overlap(self, other: TrainablePart) -> np.ndarray:
        """Compartments (or sites) that both parts train."""
        if self.sites is not None:
            return np.intersect1d(self.sites, other.sites)
        return np.flatnonzero((self.labels >= 0) & (other.labels >= 0))


def make_trainable(selections, label: str, name: str, share, init, bounds) -> str:
    """Declare `name` trainable on `selections` (one per cell); see
    `Selection.make_trainable`. Returns the trainable's key in theta."""
    if not isinstance(name, str):
        raise TypeError(f"parameter names are strings, got {name!r}")
    entries = [
        _count(selection, name, i, len(selections)) for i, selection in enumerate(selections)
    ]
    labels = _labels(name, share, sum(entries))
    transform = from_bounds(bounds)
    init = _initial(name, init, transform)
    key = _unique_key(f"{name}@{label}", selections)
    trainable = Trainable(name, key, share if isinstance(share, str) else LABELS, init, transform)
    parts = []
    starts = np.cumsum([0, *entries])
    for selection, start, stop in zip(selections, starts[:-1], starts[1:], strict=True):
        parts.append(_part(trainable, selection, labels[start:stop]))
    for selection, part in zip(selections, parts, strict=True):
        _check_overlap(selection.cell, part)
    for selection, part in zip(selections, parts, strict=True):
        selection.cell.trainables.append(part)
    return key


def _count(selection, name: str, index: int, n_cells: int) -> int:
    """How many values of `name` the selection holds (compartments, or sites of a point
    mechanism); raises if it has none there, naming the cell of a group."""
    if len(selection) == 0:
        raise ValueError(f"cannot train {name} on {selection!r}: it holds no compartment")
    try:
        return selection.get(name).size
    except (KeyError, ValueError) as error:
        if n_cells == 1:
            raise
        raise type(error)(f"cell {index} of the group: {error.args[0]}") from None


def _labels(name: str, share, n_entries: int) -> np.ndarray:
    """One non-negative group label per selected entry (0 for the named shares)."""
    if isinstance(share, str):
        if share not in SHARES:
            raise ValueError(
                f"share for {name} must be one of {list(SHARES)} or one integer label per "
                f"site, got {share!r}"
            )
        return np.zeros(n_entries, np.int64)
    labels = np.asarray(share)
    if labels.dtype.kind not in "iu":
        raise TypeError(f"share labels for {name} must be integers, got {labels.dtype}")
    if labels.shape != (n_entries,):
        raise ValueError(
            f"share labels for {name} must be one integer per selected site ({n_entries}), "
            f"got shape {labels.shape}"
        )
    if np.any(labels < 0):
        raise ValueError(f"share labels for {name} must be >= 0, got {int(labels.min())}")
    return labels.astype(np.int64)


def _initial(name: str, init, transform: Transform) -> np.ndarray | None:
    if init is None:
        return None
    try:
        values = np.asarray(init, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"init for {name} must be a number or numbers, got {init!r}") from None
    if values.ndim > 1:
        raise ValueError(f"init for {name} must be a scalar or one value per group")
    outside = ~transform.inside(values)
    if np.any(outside):
        value = values.reshape(-1)[np.flatnonzero(outside.reshape(-1))[0]]
        raise ValueError(f"init for {name} is {value}: outside the bounds of {transform}")
    return values


def _unique_key(key: str, selections) -> str:
    """`key`, or `key#2`, `key#3`, ... where the cells have a trainable of that key."""
    taken = {p.trainable.key for s in selections for p in s.cell.trainables}
    candidates = (key if n == 1 else f"{key}#{n}" for n in itertools.count(1))
    return next(k for k in candidates if k not in taken)


def _part(trainable: Trainable, selection, labels: np.ndarray) -> TrainablePart:
    cell = selection.cell
    comps = selection.compartments
    placed = cell.placed.get(trainable.name.partition(".")[0])
    if placed is not None:
        return TrainablePart(trainable, labels, placed.sites_in(cell.tree, comps))
    per_comp = np.full(cell.n_compartments, -1, np.int64)
    per_comp[comps] = labels
    return TrainablePart(trainable, per_comp)


def _check_overlap(cell, part: TrainablePart) -> None:
    name = part.trainable.name
    for other in cell.trainables:
        if other.trainable.name != name:
            continue
        common = part.overlap(other)
        if common.size:
            where = f"site {int(common[0])}" if part.sites is not None else cell.describe(common[0])
            raise ValueError(
                f"{part.trainable.key} and {other.trainable.key} both train {name} at "
                f"{where}: a value can be trained by one make_trainable call"
            )
