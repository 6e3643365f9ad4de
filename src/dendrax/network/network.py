"""`Network`: many cells simulated together, and groups of them."""

from __future__ import annotations

import numbers

import numpy as np

from dendrax.model.assembly import as_cells
from dendrax.model.cell import Cell
from dendrax.model.spike_trains import TrainSet
from dendrax.training.trainable import make_trainable


class CellGroup:
    """An ordered group of cells: indexable by an int (a `Cell`), a slice, an array of
    indices or a boolean mask (a `CellGroup`); editing calls apply to every cell."""

    def __init__(self, cells):
        self._cells = tuple(cells)

    def __len__(self) -> int:
        return len(self._cells)

    def __iter__(self):
        return iter(self._cells)

    def __getitem__(self, index):
        if isinstance(index, numbers.Integral) and not isinstance(index, bool):
            if not -len(self) <= index < len(self):
                raise IndexError(f"cell {index} does not exist (the group has {len(self)})")
            return self._cells[index]
        if isinstance(index, slice):
            return CellGroup(self._cells[index])
        chosen = np.asarray(index)
        if chosen.dtype == bool:
            if chosen.shape != (len(self),):
                raise IndexError(f"a mask of {chosen.shape} for a group of {len(self)} cells")
            chosen = np.flatnonzero(chosen)
        if chosen.dtype.kind not in "iu":
            raise TypeError(f"cells are indexed by integers or a boolean mask, got {index!r}")
        bad = (chosen < -len(self)) | (chosen >= len(self))
        if np.any(bad):
            raise IndexError(
                f"cell {int(chosen[bad][0])} does not exist (the group has {len(self)})"
            )
        return CellGroup(self._cells[i] for i in chosen.reshape(-1))

    def __repr__(self) -> str:
        return f"<CellGroup: {len(self)} cells>"

    def _each(self, method: str, *args, **kwargs) -> CellGroup:
        for cell in self._cells:
            getattr(cell, method)(*args, **kwargs)
        return self

    def insert(self, mechanism) -> CellGroup:
        """Insert a density or point mechanism in every compartment of each cell."""
        return self._each("insert", mechanism)

    def set(self, name: str, value) -> CellGroup:
        """Set a parameter on every compartment of each cell (see `Selection.set`)."""
        return self._each("set", name, value)

    def make_trainable(self, name: str, share="all", init=None, bounds=None) -> str:
        """Make `name` trainable on every compartment (or site) of each cell, "all"
        sharing one value across the cells and "cell" one per cell; see
        `Selection.make_trainable` (labels: one per site of every cell, in cell order)."""
        return make_trainable(list(self._cells), "cells", name, share, init, bounds)

    def stimulate(self, current) -> CellGroup:
        """Inject `current` into every compartment of each cell; usually one selects a
        compartment per cell instead, `group[i].branch(0).loc(0.5).stimulate(...)`."""
        return self._each("stimulate", current)

    def record(self, name: str = "v", unit: str | None = None) -> CellGroup:
        """Record `name` at every compartment of each cell."""
        return self._each("record", name, unit)

    def record_spikes(self, threshold: float = 10.0) -> CellGroup:
        """Record the spikes of each cell at its first compartment of branch 0 (the soma
        of a reconstruction, the default source of connections): one raster row per cell,
        in group order (see `Selection.record_spikes`)."""
        for cell in self._cells:
            cell.branch(0).comp(0).record_spikes(threshold)
        return self


class Network:
    """Cells simulated together and connected by synapses and gap junctions.

    `dendrax.build(net, ...)` builds it like a list of its cells (cell i is cell i of the
    simulation: `sim.compartment_cells`). The connectivity builders (`dendrax.connect`,
    `fully_connect`, `sparse_connect`, `connect_matrix`, `connect_edges`,
    `gap_junction`) place synapses on the cells; `net.synapses` lists them.
    """

    def __init__(self, cells):
        self._cells = as_cells(list(cells) if not isinstance(cells, Cell) else cells)
        self._positions = np.zeros((len(self._cells), 3))

    @property
    def cells(self) -> CellGroup:
        """Every cell, as a `CellGroup` (index, slice or mask it to select some)."""
        return CellGroup(self._cells)

    def cell(self, index: int) -> Cell:
        """Cell `index`."""
        return self.cells[index]

    def __len__(self) -> int:
        return len(self._cells)

    def __repr__(self) -> str:
        n_comp = sum(c.n_compartments for c in self._cells)
        return f"<Network: {len(self)} cells, {n_comp} compartments>"

    @property
    def positions(self) -> np.ndarray:
        """Each cell's position (µm), shape (n_cells, 3): where `dendrax.plot.network`
        draws it (zeros until `place`)."""
        return self._positions.copy()

    def place(self, xyz) -> Network:
        """Set each cell's position (µm, shape (n_cells, 3) or (n_cells, 2))."""
        xyz = np.asarray(xyz, float)
        if xyz.ndim != 2 or xyz.shape[0] != len(self) or xyz.shape[1] not in (2, 3):
            raise ValueError(f"place expects ({len(self)}, 3) positions, got shape {xyz.shape}")
        if not np.all(np.isfinite(xyz)):
            raise ValueError("cell positions must be finite")
        self._positions = np.zeros((len(self), 3))
        self._positions[:, : xyz.shape[1]] = xyz
        return self

    @property
    def synapses(self) -> dict[str, np.ndarray]:
        """Every connection as a table (columns of equal length): "type", "pre_cell"
        (-1 for a spike train), "pre_train" (-1 for a cell), "pre_branch", "pre_x",
        "post_cell", "post_branch", "post_x", "threshold" (mV), "delay" (ms), and each
        synapse type's parameters as "Type.name" (NaN for other types)."""
        index = {id(c): i for i, c in enumerate(self._cells)}
        owner_tables: dict[int, tuple] = {}  # per owners tuple, shared by many cells
        rows = []
        for post, cell in enumerate(self._cells):
            for name, placed in cell.placed.items():
                sites = placed.peer_sites()
                if not sites.size:
                    continue
                peers = placed.peers
                if id(peers.owners) not in owner_tables:
                    owner_tables[id(peers.owners)] = (
                        np.array([index.get(id(o), -1) for o in peers.owners], np.int64),
                        np.array([isinstance(o, TrainSet) for o in peers.owners], bool),
                    )
                owner_cell, is_train = owner_tables[id(peers.owners)]
                cells_of = owner_cell[peers.owner]
                rows.append(
                    {
                        "type": np.full(sites.size, name, dtype=object),
                        "pre_cell": cells_of,
                        "pre_train": np.where(is_train[peers.owner], peers.branch, -1),
                        "pre_branch": np.where(cells_of >= 0, peers.branch, -1),
                        "pre_x": np.where(cells_of >= 0, peers.x, np.nan),
                        "post_cell": np.full(sites.size, post),
                        "post_branch": placed.branch[sites],
                        "post_x": placed.x[sites],
                        "threshold": peers.threshold,
                        "delay": peers.delay,
                        **{f"{name}.{p}": v[sites] for p, v in placed.values.items()},
                    }
                )
        columns = dict.fromkeys(key for row in rows for key in row)
        fixed = ("type", "pre_cell", "pre_train", "pre_branch", "pre_x", "post_cell")
        table = {}
        for key in columns or fixed:
            parts = [row.get(key, np.full(row["post_cell"].size, np.nan)) for row in rows]
            table[key] = np.concatenate(parts) if parts else np.zeros(0)
        return table
