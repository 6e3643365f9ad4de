"""Selections: the whole cell, a branch, a compartment; and what can be done to them.

A selection is a set of compartments of one cell. On any selection, `insert` places a
mechanism, `set` writes a parameter, `stimulate` injects a current, `clamp` fixes the
voltage, and `record` asks for a trace. These edit the cell's description on the host;
`dendrax.build` then turns the description into arrays.
"""

from __future__ import annotations

import numbers
import operator
from typing import TYPE_CHECKING

import numpy as np

from dendrax.mechanisms.base import Mechanism
from dendrax.training.trainable import make_trainable

if TYPE_CHECKING:
    from dendrax.model.cell import Cell


class Selection:
    """Compartments `comps` (global indices) of `cell`, with a label for error messages."""

    def __init__(self, cell: Cell, comps: np.ndarray, label: str, branch: int | None = None):
        self._cell = cell
        self._comps = np.asarray(comps, dtype=np.int64)
        self._label = label
        self._branch = branch

    @property
    def cell(self) -> Cell:
        """The cell the selection belongs to."""
        return self._cell

    @property
    def compartments(self) -> np.ndarray:
        """Global indices of the selected compartments, in branch-then-compartment order."""
        return self._comps.copy()

    def __len__(self) -> int:
        return int(self._comps.size)

    def __repr__(self) -> str:
        return f"<Selection {self._label}: {len(self)} compartments>"

    def _require_branch(self, what: str) -> int:
        """The branch this selection is: a branch, or a region or selection that holds
        exactly the compartments of one branch (a one-section soma)."""
        if self._branch is not None:
            return self._branch
        tree = self._cell.tree
        branches = np.unique(tree.comp_branch[self._comps])
        if branches.size == 1:
            start, stop = tree.comp_offsets[branches[0] : branches[0] + 2]
            if np.array_equal(np.sort(self._comps), np.arange(start, stop)):
                return int(branches[0])
        shown = ", ".join(str(b) for b in branches[:5]) + (", ..." if branches.size > 5 else "")
        raise TypeError(
            f"{what} needs a branch: use cell.branch(i).{what} (the {self._label} holds "
            f"compartments of {branches.size} branches ({shown}), or part of one)"
        )

    def comp(self, index: int) -> Selection:
        """Compartment `index` of this branch (0 at the branch's 0 end)."""
        branch = self._require_branch("comp")
        index = integer_index(index, f"comp index on branch {branch}")
        ncomp = int(self._cell.tree.ncomp[branch])
        if not -ncomp <= index < ncomp:
            raise IndexError(f"branch {branch} has {ncomp} compartments; comp({index}) is outside")
        index %= ncomp
        label = f"branch {branch}, compartment {index}"
        return Selection(self._cell, self._comps[index : index + 1], label, branch)

    def loc(self, x: float) -> Selection:
        """The compartment of this branch that contains the fraction `x` in [0, 1]."""
        branch = self._require_branch("loc")
        if isinstance(x, bool) or not isinstance(x, numbers.Real):
            raise TypeError(f"loc({x!r}) on branch {branch}: x must be a number in [0, 1]")
        if not 0.0 <= x <= 1.0:
            raise ValueError(f"loc({x}) on branch {branch}: x must be in [0, 1]")
        ncomp = int(self._cell.tree.ncomp[branch])
        return self.comp(min(int(x * ncomp), ncomp - 1))

    def insert(self, mechanism: Mechanism, peer: Selection | None = None) -> Selection:
        """Insert `mechanism` with the instance's parameter values (`HH(gNa=0.2)`).

        A density mechanism is painted on every selected compartment; where it is already
        inserted, its parameters there are set to the instance's values. A point mechanism
        gets one new site in each selected compartment (a compartment may hold several), a
        junction one site per selected compartment whose current depends on the voltage
        at `peer` (a selection of one compartment, or of one per selected compartment, on
        this cell or another one built with it).
        """
        self._cell._insert(mechanism, self._comps, peer)
        return self

    def set(self, name: str, value) -> Selection:
        """Set geometry ("radius", "length", "axial_resistivity", "capacitance") or a
        mechanism parameter ("HH.gNa") to a scalar, one value per selected compartment, or a
        function of path distance from the soma (µm; see `Cell.path_distance`)."""
        self._cell._set(name, self._comps, value)
        return self

    def get(self, name: str) -> np.ndarray:
        """Current values of a parameter on the selected compartments."""
        return self._cell._get(name, self._comps)

    def make_trainable(self, name: str, share="all", init=None, bounds=None) -> str:
        """Make parameter `name` ("HH.gNa", "radius", "ena", "ExpSyn.weight") trainable on
        the selected compartments (for a point or junction mechanism: its sites there).

        Args:
            share: "all" (one value for the selection), "cell", "branch", "compartment",
                "site" (each synapse its own value), or one integer label >= 0 per selected
                compartment (or site): sites with the same label share a value.
            init: initial value (the parameter's unit), a scalar or one per group; None
                takes the values set on the cell at build (equal within each group).
            bounds: (lower, upper) (`dendrax.transforms.Sigmoid`), (lower, None)
                (`Softplus(lower)`), a `dendrax.transforms.Transform`, or None.

        Returns the trainable's key in theta ("HH.gNa@branch 1"); see
        `Simulation.trainable_params`.
        """
        return make_trainable([self], self._label, name, share, init, bounds)

    def stimulate(self, current) -> Selection:
        """Inject `current` (nA, one value per time step) into each selected compartment."""
        self._cell._stimulate(self._comps, current)
        return self

    def clamp(self, name: str, values) -> Selection:
        """Clamp the voltage ("v", mV) of each selected compartment: value k holds at the
        end of step k (an ideal voltage clamp, one value per time step)."""
        self._cell._clamp(name, self._comps, values)
        return self

    def record_spikes(self, threshold: float = 10.0) -> Selection:
        """Record spikes, one row per selected compartment: 1 at the sample ending a step
        in which v crossed `threshold` (mV) from below, else 0 (NEURON's NetCon.record;
        default threshold NEURON's 10 mV). `sim.spike_times(traces)` turns the rows into
        spike times."""
        self._cell._record_spikes(self._comps, threshold)
        return self

    def record(self, name: str = "v", unit: str | None = None) -> Selection:
        """Record a quantity, one row per selected compartment: "v" (mV), a mechanism state
        ("HH.m"), a mechanism's current ("NaTa_t.ina", "HH.i"), an ion's total current
        ("ica"), reversal potential ("eca") or concentration ("cai").

        Currents are densities (mA/cm²) unless `unit="nA"`: the compartment's current, the
        density times its membrane area. `sim.recording_units` states each row's unit.
        """
        self._cell._record(name, self._comps, unit)
        return self


def integer_index(index, what: str) -> int:
    """`index` as an int, or a TypeError naming `what` (floats and bools are refused)."""
    if isinstance(index, bool):
        raise TypeError(f"{what} must be an integer, got {index!r}")
    try:
        return operator.index(index)
    except TypeError:
        raise TypeError(f"{what} must be an integer, got {index!r}") from None
