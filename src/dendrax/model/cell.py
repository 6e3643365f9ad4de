"""The cell description: morphology, inserted mechanisms, parameters, stimuli, recordings."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dendrax.mechanisms.base import Mechanism
from dendrax.model.selection import Selection, integer_index
from dendrax.morphology.branch_tree import BranchTree, per_branch

GEOMETRY_UNITS = {
    "length": "um",
    "radius": "um",
    "axial_resistivity": "Ohm cm",
    "capacitance": "uF/cm2",
}
"""Per-compartment geometry parameters and their units."""

DEFAULT_AXIAL_RESISTIVITY = 35.4
"""NEURON's default Ra (Ω·cm)."""

DEFAULT_CAPACITANCE = 1.0
"""NEURON's default cm (µF/cm²)."""


SHAPE_FACTORS = ("area", "near_resistance", "far_resistance")
"""Fixed per-compartment factors relating a compartment to the cylinder of its radius and
length: membrane area, and axial resistance of its near (x = 0 side) and far halves. All 1
for cylinders; readers of 3D morphologies set them so that areas and resistances equal
NEURON's (see `dendrax.solve.stepping.node_geometry`)."""


@dataclass
class InsertedMechanism:
    """A mechanism and where it is inserted, with its parameter values per compartment."""

    mechanism: Mechanism
    where: np.ndarray
    values: dict[str, np.ndarray]


@dataclass(frozen=True)
class Stimulus:
    """A current (nA per time step) injected into each of `comps`."""

    comps: np.ndarray
    current: np.ndarray


@dataclass(frozen=True)
class Clamp:
    """An ideal voltage clamp of each of `comps` to `values` (mV per time step)."""

    comps: np.ndarray
    values: np.ndarray


@dataclass(frozen=True)
class Recording:
    """A recorded quantity ("v" or "Mechanism.state") at each of `comps`."""

    name: str
    comps: np.ndarray


class Cell(Selection):
    """A branched cell (or several, one per root) described on the host.

    The whole cell is itself a selection; `cell.branch(i)` selects one branch.
    """

    def __init__(self, tree: BranchTree, length, radius, axial_resistivity, capacitance):
        super().__init__(self, np.arange(tree.n_compartments), "cell")
        self.tree = tree
        self.geometry = {
            name: np.repeat(per_branch(value, tree.n_branches, name), tree.ncomp)
            for name, value in (
                ("length", length),
                ("radius", radius),
                ("axial_resistivity", axial_resistivity),
                ("capacitance", capacitance),
            )
        }
        for name, values in self.geometry.items():
            self._check_geometry(name, values, self._comps)
        self.shape_factors = {name: np.ones(tree.n_compartments) for name in SHAPE_FACTORS}
        self.mechanisms: dict[str, InsertedMechanism] = {}
        self.stimuli: list[Stimulus] = []
        self.clamps: list[Clamp] = []
        self.recordings: list[Recording] = []

    @classmethod
    def from_parents(
        cls,
        parents,
        ncomp=1,
        length=10.0,
        radius=1.0,
        axial_resistivity=DEFAULT_AXIAL_RESISTIVITY,
        capacitance=DEFAULT_CAPACITANCE,
    ) -> Cell:
        """Build a cell of cylinders from a parent list (-1 for a root).

        Args:
            parents: parent branch of each branch; `parents[i] < i`, -1 marks a root.
            ncomp: compartments per branch (scalar or one per branch).
            length: length of each compartment (µm; scalar or one per branch), so a branch
                of n compartments is n × length long.
            radius: radius of each compartment (µm; scalar or one per branch).
            axial_resistivity: Ω·cm (NEURON's Ra). capacitance: µF/cm² (NEURON's cm).
        """
        tree = BranchTree.from_parents(parents, ncomp)
        return cls(tree, length, radius, axial_resistivity, capacitance)

    @property
    def n_branches(self) -> int:
        return self.tree.n_branches

    @property
    def n_compartments(self) -> int:
        return self.tree.n_compartments

    def __repr__(self) -> str:
        return (
            f"Cell({self.n_branches} branches, {self.n_compartments} compartments, "
            f"mechanisms {list(self.mechanisms)})"
        )

    def branch(self, index: int) -> Selection:
        """All compartments of branch `index`."""
        index = integer_index(index, "branch index")
        n = self.n_branches
        if not -n <= index < n:
            raise IndexError(f"the cell has {n} branches; branch({index}) is outside")
        index %= n
        start, stop = self.tree.comp_offsets[index : index + 2]
        return Selection(self, np.arange(start, stop), f"branch {index}", index)

    def describe(self, comp: int) -> str:
        """Human-readable place of compartment `comp`: "branch b, compartment j"."""
        branch = int(self.tree.comp_branch[comp])
        return f"branch {branch}, compartment {int(self.tree.comp_index_in_branch[comp])}"

    # -- editing, called through selections -------------------------------------------

    def _insert(self, mechanism: Mechanism, comps: np.ndarray) -> None:
        if not isinstance(mechanism, Mechanism):
            raise TypeError(f"insert expects a Mechanism instance, got {mechanism!r}")
        inserted = self.mechanisms.get(mechanism.name)
        if inserted is None:
            n = self.n_compartments
            inserted = InsertedMechanism(
                mechanism,
                np.zeros(n, dtype=bool),
                {name: np.full(n, value) for name, value in mechanism.defaults.items()},
            )
            self.mechanisms[mechanism.name] = inserted
        elif type(inserted.mechanism) is not type(mechanism):
            raise ValueError(
                f"another mechanism named {mechanism.name!r} is already inserted in this cell"
            )
        new = comps[~inserted.where[comps]]
        for name, value in mechanism.defaults.items():
            inserted.values[name][new] = value
        inserted.where[comps] = True

    def _resolve(self, name: str, comps: np.ndarray) -> tuple[np.ndarray, Mechanism | None]:
        """The per-compartment value array behind `name`, checking it exists at `comps`."""
        if not isinstance(name, str):
            raise TypeError(f"parameter names are strings, got {name!r}")
        if name in self.geometry:
            return self.geometry[name], None
        mech_name, _, param = name.partition(".")
        inserted = self.mechanisms.get(mech_name)
        if inserted is None or not param:
            known = sorted(self.geometry) + [
                f"{m}.{p}" for m, ins in self.mechanisms.items() for p in ins.values
            ]
            raise KeyError(f"unknown parameter {name!r}; known parameters are {known}")
        if param not in inserted.values:
            raise KeyError(
                f"{mech_name} has no parameter {param!r}; its parameters are "
                f"{sorted(inserted.values)}"
            )
        missing = comps[~inserted.where[comps]]
        if missing.size:
            raise ValueError(
                f"{mech_name} is not inserted at {self.describe(missing[0])}, "
                f"so {name} cannot be set or read there"
            )
        return inserted.values[param], inserted.mechanism

    def _check_geometry(self, name: str, values: np.ndarray, comps: np.ndarray) -> None:
        bad = ~np.isfinite(values) | (values <= 0)
        if np.any(bad):
            first = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"{name} at {self.describe(comps[first])} is {values[first]}: "
                f"must be finite and > 0 ({GEOMETRY_UNITS[name]})"
            )

    def _broadcast(self, name: str, value, comps: np.ndarray) -> np.ndarray:
        array = np.asarray(value, dtype=float)
        if array.ndim == 0:
            return np.full(comps.size, float(array))
        if array.shape != (comps.size,):
            raise ValueError(
                f"value for {name} must be a scalar or one per selected compartment "
                f"({comps.size}), got shape {array.shape}"
            )
        return array

    def _set(self, name: str, comps: np.ndarray, value) -> None:
        target, mechanism = self._resolve(name, comps)
        values = self._broadcast(name, value, comps)
        if mechanism is None:
            self._check_geometry(name, values, comps)
        else:
            mechanism.check_value(name.partition(".")[2], values)
        target[comps] = values

    def _get(self, name: str, comps: np.ndarray) -> np.ndarray:
        target, _ = self._resolve(name, comps)
        return target[comps].copy()

    def _time_series(self, what: str, values) -> np.ndarray:
        array = np.asarray(values, dtype=float)
        if array.ndim != 1 or array.size == 0:
            raise ValueError(f"{what} must be a 1D array (one value per step), got {array.shape}")
        if not np.all(np.isfinite(array)):
            raise ValueError(f"{what} contains NaN or infinite values")
        return array

    def _stimulate(self, comps: np.ndarray, current) -> None:
        self.stimuli.append(Stimulus(comps, self._time_series("stimulus current", current)))

    def _clamp(self, name: str, comps: np.ndarray, values) -> None:
        if name != "v":
            raise ValueError(f"only the voltage can be clamped (clamp('v', ...)), got {name!r}")
        clamped = {int(c) for clamp in self.clamps for c in clamp.comps}
        twice = [c for c in comps if int(c) in clamped]
        if twice:
            raise ValueError(f"{self.describe(twice[0])} is already clamped")
        self.clamps.append(Clamp(comps, self._time_series("clamp voltage", values)))

    def _record(self, name: str, comps: np.ndarray) -> None:
        if name != "v":
            mech_name, _, state = name.partition(".")
            inserted = self.mechanisms.get(mech_name)
            if inserted is None or state not in inserted.mechanism.states:
                known = ["v"] + [
                    f"{m}.{s}" for m, ins in self.mechanisms.items() for s in ins.mechanism.states
                ]
                raise KeyError(f"cannot record {name!r}; recordable here: {known}")
            missing = comps[~inserted.where[comps]]
            if missing.size:
                raise ValueError(f"{mech_name} is not inserted at {self.describe(missing[0])}")
        self.recordings.append(Recording(name, comps))
