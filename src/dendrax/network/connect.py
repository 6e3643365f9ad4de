"""Connectivity builders: synapses between cells, vectorised over connections.

Every builder ends in `Cell.place_sites`, once per postsynaptic cell, with arrays of all
of that cell's new connections: building a million connections loops over cells, never
over connections. Each connection is one synapse site on the postsynaptic cell (its
parameters and states its own), with a presynaptic side:

- a graded synapse or junction (`Ionotropic`, `TanhRate`, any junction mechanism) reads
  the voltage of its source location;
- an event synapse (`ExpSyn`, `Exp2Syn`, any mechanism with `receive`) gets an event
  `delay` ms after each upward crossing of `threshold` at its source location (NEURON's
  NetCon), or after each spike of an external train (`dendrax.spike_source`).

Locations: the source on a presynaptic cell is its first compartment of branch 0 (the
soma of a reconstruction) unless `source` says otherwise; the target on a postsynaptic
cell is drawn uniformly from its compartments (or from `target`'s) with `seed`, each
connection independently.
"""

from __future__ import annotations

import numpy as np

from dendrax.mechanisms.base import Mechanism
from dendrax.model.cell import Cell, peers_at
from dendrax.model.selection import Selection
from dendrax.model.sites import Peers, centre_of
from dendrax.model.spike_trains import SpikeTrains
from dendrax.network.network import CellGroup
from dendrax.synapses.gap import GapJunction

DEFAULT_THRESHOLD = 10.0
"""mV; NEURON's NetCon default."""

DEFAULT_DELAY = 1.0
"""ms; NEURON's NetCon default."""

BLOCK = 4096
"""Presynaptic rows drawn at once by `sparse_connect` (bounds its memory)."""


def connect(pre, post: Selection, synapse: Mechanism, **options) -> None:
    """Connect the compartments of `pre` (a selection, or `SpikeTrains`) to those of
    `post` (a selection), pairwise when they have as many, else broadcasting one to
    many: one `synapse` site per connection at the postsynaptic compartment.

    Options: `threshold` (mV), `delay` (ms) for event synapses, and any parameter of
    `synapse` ("weight", "gmax", ...), each a scalar or one value per connection.
    """
    if not isinstance(post, Selection):
        raise TypeError(f"connect: post must be a selection of a cell, got {type(post).__name__}")
    post_comps = post.compartments
    if isinstance(pre, SpikeTrains):
        n_pre = len(pre)
    elif isinstance(pre, Selection):
        n_pre = len(pre)
    else:
        raise TypeError(
            f"connect: pre must be a selection of a cell or SpikeTrains, got {type(pre).__name__}"
        )
    n = max(n_pre, post_comps.size)
    if {n_pre, post_comps.size} - {1, n}:
        raise ValueError(
            f"connect: pre has {n_pre} and post {post_comps.size} compartments; give as many, "
            f"or one on either side"
        )
    pre_index = np.broadcast_to(np.arange(n_pre), (n,)) if n_pre == n else np.zeros(n, int)
    post_comps = np.broadcast_to(post_comps, (n,))
    if isinstance(pre, SpikeTrains):
        peers = _train_peers(pre, pre_index)
    else:
        peers = peers_at(pre.cell, pre.compartments[pre_index])
    _place(post.cell, post_comps, synapse, peers, options, n, isinstance(pre, SpikeTrains))


def fully_connect(pre_cells, post_cells, synapse: Mechanism, **options) -> None:
    """Connect every presynaptic cell (or train) to every postsynaptic cell, except a
    cell to itself. Options as `connect_edges`."""
    n_pre, n_post = len(pre_cells), len(post_cells)
    pre, post = np.divmod(np.arange(n_pre * n_post), n_post)
    _connect_cells(pre_cells, post_cells, pre, post, synapse, options)


def sparse_connect(pre_cells, post_cells, synapse: Mechanism, p: float, seed=0, **options):
    """Connect each (presynaptic, postsynaptic) pair independently with probability `p`
    (no duplicates, no cell to itself; p = 1 is `fully_connect`), drawn with `seed`.
    Options as `connect_edges`."""
    if isinstance(p, bool) or not isinstance(p, int | float) or not 0.0 <= p <= 1.0:
        raise ValueError(f"sparse_connect: p must be a probability in [0, 1], got {p!r}")
    rng = np.random.default_rng(seed)
    n_pre, n_post = len(pre_cells), len(post_cells)
    pre, post = [], []
    for start in range(0, n_pre, BLOCK):
        rows = min(BLOCK, n_pre - start)
        hit = np.flatnonzero(rng.random((rows, n_post)) < p)
        pre.append(start + hit // n_post)
        post.append(hit % n_post)
    pre, post = np.concatenate([np.zeros(0, int), *pre]), np.concatenate([np.zeros(0, int), *post])
    _connect_cells(pre_cells, post_cells, pre, post, synapse, {"seed": seed, **options})


def connect_matrix(pre_cells, post_cells, synapse: Mechanism, matrix, value="weight", **options):
    """Connect pairs where `matrix` (n_pre x n_post) is True or non-zero; a numeric
    matrix also sets each connection's parameter `value` ("weight" by default, "gmax"
    for a graded synapse) to its entry. Options as `connect_edges`."""
    matrix = np.asarray(matrix)
    shape = (len(pre_cells), len(post_cells))
    if matrix.shape != shape:
        raise ValueError(
            f"connect_matrix: the matrix has shape {matrix.shape}, but there are {shape[0]} "
            f"presynaptic and {shape[1]} postsynaptic cells"
        )
    if matrix.dtype != bool and not np.all(np.isfinite(matrix.astype(float))):
        raise ValueError("connect_matrix: the matrix has NaN or infinite entries")
    pre, post = np.nonzero(matrix)
    if matrix.dtype != bool:
        if value in options:
            raise ValueError(f"connect_matrix: {value} is given by the matrix and as an option")
        options = {**options, value: matrix[pre, post].astype(float)}
    _connect_cells(pre_cells, post_cells, pre, post, synapse, options, skip_self=False)


def connect_edges(pre_ids, post_ids, synapse: Mechanism, *, network=None, **options) -> None:
    """Connect cell `pre_ids[k]` to cell `post_ids[k]` for every k (cells of `network`;
    or give `pre_cells` / `post_cells`, groups or `SpikeTrains`, that the ids index).

    Options: `source` (a function from a presynaptic cell to a selection of one
    compartment), `target` (a region name such as "basal", or a function from a cell to
    a selection: the target is drawn from its compartments), `seed` (for the targets),
    `threshold` (mV) and `delay` (ms) of event synapses, and any parameter of `synapse`
    ("weight", ...), each a scalar or one value per connection."""
    pre_cells = options.pop("pre_cells", None) or (network.cells if network else None)
    post_cells = options.pop("post_cells", None) or (network.cells if network else None)
    if pre_cells is None or post_cells is None:
        raise TypeError("connect_edges: give network=, or pre_cells= and post_cells=")
    pre, post = np.asarray(pre_ids), np.asarray(post_ids)
    if pre.shape != post.shape or pre.ndim != 1:
        raise ValueError(
            f"connect_edges: pre_ids and post_ids must be 1D of equal length, got "
            f"{pre.shape} and {post.shape}"
        )
    for ids, group, side in ((pre, pre_cells, "pre"), (post, post_cells, "post")):
        if ids.size and (ids.dtype.kind not in "iu" or ids.min() < 0 or ids.max() >= len(group)):
            raise IndexError(
                f"connect_edges: {side}_ids must be cell indices in [0, {len(group)}), got "
                f"{ids.min() if ids.dtype.kind in 'iu' else ids.dtype}..{ids.max()}"
            )
    _connect_cells(pre_cells, post_cells, pre, post, synapse, options, skip_self=False)


def gap_junction(a: Selection, b: Selection, conductance) -> None:
    """An ohmic gap junction of `conductance` (µS) between each compartment of `a` and
    the matching one of `b` (equal sizes, or one on either side): a `GapJunction` site on
    each side, driven by the other side's voltage (NEURON's pair of half gaps)."""
    for side in (a, b):
        if not isinstance(side, Selection):
            raise TypeError(f"gap_junction expects selections, got {type(side).__name__}")
    n = max(len(a), len(b))
    if {len(a), len(b)} - {1, n}:
        raise ValueError(f"gap_junction: {len(a)} and {len(b)} compartments; give as many")
    comps_a = np.broadcast_to(a.compartments, (n,))
    comps_b = np.broadcast_to(b.compartments, (n,))
    if a.cell is b.cell and np.any(comps_a == comps_b):
        where = a.cell.describe(int(comps_a[comps_a == comps_b][0]))
        raise ValueError(f"gap_junction from a location to itself ({where})")
    values = {"g": conductance}
    a.cell.place_sites(GapJunction(), comps_a, peers_at(b.cell, comps_b), values)
    b.cell.place_sites(GapJunction(), comps_b, peers_at(a.cell, comps_a), values)


def _connect_cells(pre_cells, post_cells, pre, post, synapse, options, skip_self=True):
    """Connect presynaptic cell `pre[k]` to postsynaptic cell `post[k]` for every k."""
    options = dict(options)
    source, target = options.pop("source", None), options.pop("target", None)
    rng = np.random.default_rng(options.pop("seed", 0))
    trains = isinstance(pre_cells, SpikeTrains)
    post_group = _cells(post_cells, "post")
    if not trains:
        pre_group = _cells(pre_cells, "pre")
        if skip_self:
            pre_id = np.array([id(c) for c in pre_group])
            post_id = np.array([id(c) for c in post_group])
            keep = pre_id[pre] != post_id[post]
            pre, post = pre[keep], post[keep]
        source_comps = [_source_comp(cell, source) for cell in pre_group]
        located = [
            centre_of(c.tree, np.array([k])) for c, k in zip(pre_group, source_comps, strict=True)
        ]
        source_branch = np.array([b[0] for b, _ in located], np.int64).reshape(-1)
        source_x = np.array([x[0] for _, x in located]).reshape(-1)
    per_connection = _per_connection(options, pre.size)
    order = np.argsort(post, kind="stable")
    bounds = np.flatnonzero(np.diff(post[order])) + 1
    for chosen in np.split(order, bounds) if order.size else []:
        cell = post_group[int(post[chosen[0]])]
        comps = _targets(cell, target, chosen.size, rng)
        mine = {k: v if np.ndim(v) == 0 else v[chosen] for k, v in per_connection.items()}
        if trains:
            peers = _train_peers(pre_cells, pre[chosen])
        else:
            index = pre[chosen].astype(np.int64)
            unset = np.zeros(chosen.size)
            peers = Peers(pre_group, index, source_branch[index], source_x[index], unset, unset)
        _place(cell, comps, synapse, peers, mine, chosen.size, trains)


def _place(cell: Cell, comps, synapse: Mechanism, peers: Peers, options: dict, n: int, trains):
    """Place `n` sites of `synapse` on `cell` at `comps` with `peers`, taking threshold
    and delay from `options` for an event synapse (their parameters are the rest)."""
    if not isinstance(synapse, Mechanism):
        raise TypeError(f"the synapse must be a Mechanism instance, got {synapse!r}")
    options = dict(options)
    threshold = options.pop("threshold", None)
    delay = options.pop("delay", None)
    if synapse.receives_events:
        if trains and threshold is not None:
            raise ValueError("a spike train has no threshold: connect it without one")
        threshold = np.nan if trains else DEFAULT_THRESHOLD if threshold is None else threshold
        delay = DEFAULT_DELAY if delay is None else delay
        threshold = _checked("threshold", threshold, n, finite=not trains)
        delay = _checked("delay", delay, n, nonnegative=True)
    elif synapse.kind == "junction":
        if trains:
            raise ValueError(
                f"{synapse.name} is a graded synapse (it follows the presynaptic voltage): a "
                f"spike train cannot drive it; use an event synapse such as ExpSyn"
            )
        given = [k for k, v in (("threshold", threshold), ("delay", delay)) if v is not None]
        if given:
            raise ValueError(
                f"{synapse.name} is a graded synapse: it has no {given[0]} (only event "
                f"synapses such as ExpSyn do)"
            )
        threshold, delay = np.full(n, np.nan), np.zeros(n)
    else:
        raise ValueError(
            f"{synapse.name} is a {synapse.kind} mechanism that receives no events: it "
            f"cannot be a synapse (give it a receive method, or make it a junction)"
        )
    peers = Peers(peers.owners, peers.owner, peers.branch, peers.x, threshold, delay)
    cell.place_sites(synapse, comps, peers, options)


def _checked(name: str, value, n: int, finite=True, nonnegative=False) -> np.ndarray:
    array = np.asarray(value, float)
    if array.ndim and array.shape != (n,):
        raise ValueError(
            f"{name} must be a scalar or one value per connection ({n}), got shape {array.shape}"
        )
    array = np.broadcast_to(array, (n,)).copy()
    if finite and not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be finite, got {array[~np.isfinite(array)][0]}")
    if nonnegative and np.any(array < 0):
        raise ValueError(f"{name} must be >= 0 ms, got {array[array < 0][0]}")
    return array


def _per_connection(options: dict, n: int) -> dict:
    checked = {}
    for name, value in options.items():
        array = np.asarray(value, float) if not isinstance(value, str) else None
        if array is None:
            raise TypeError(f"{name} must be a number or one number per connection, got {value!r}")
        if array.ndim and array.shape != (n,):
            raise ValueError(
                f"{name} must be a scalar or one value per connection ({n}), got shape "
                f"{array.shape}"
            )
        checked[name] = array
    return checked


def _cells(group, side: str):
    if isinstance(group, Cell):
        return (group,)
    if isinstance(group, CellGroup | list | tuple):
        cells = tuple(group)
        for cell in cells:
            if not isinstance(cell, Cell):
                raise TypeError(f"{side}synaptic cells must be Cells, got {type(cell).__name__}")
        return cells
    raise TypeError(f"{side}synaptic cells must be a CellGroup or a list of Cells, got {group!r}")


def _source_comp(cell: Cell, source) -> int:
    if source is None:
        return int(cell.tree.comp_offsets[0])
    chosen = source(cell)
    if not isinstance(chosen, Selection) or len(chosen) != 1:
        raise ValueError("source must map a cell to a selection of one compartment")
    return int(chosen.compartments[0])


def _targets(cell: Cell, target, n: int, rng) -> np.ndarray:
    if target is None:
        pool = np.arange(cell.n_compartments)
    elif isinstance(target, str):
        pool = cell.region(target).compartments
    elif callable(target):
        chosen = target(cell)
        if not isinstance(chosen, Selection):
            raise TypeError(f"target must map a cell to a selection, got {type(chosen).__name__}")
        pool = chosen.compartments
    else:
        raise TypeError(f"target must be None, a region name or a function, got {target!r}")
    if pool.size == 0:
        raise ValueError(f"target selects no compartment on {cell!r}")
    return pool if pool.size == 1 and n == 1 else pool[rng.integers(0, pool.size, n)]


def _train_peers(trains: SpikeTrains, index: np.ndarray) -> Peers:
    n = np.size(index)
    return Peers(
        (trains.trains,),
        np.zeros(n, np.int64),
        trains.rows[index].astype(np.int64),
        np.zeros(n),
        np.full(n, np.nan),
        np.zeros(n),
    )
