"""The cell description: morphology, inserted mechanisms, parameters, stimuli, recordings."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace

import numpy as np

from dendrax.mechanisms import membrane
from dendrax.mechanisms.base import Mechanism
from dendrax.mechanisms.ions import check_ion_value
from dendrax.model.selection import Selection, integer_index
from dendrax.model.sites import Peers, PlacedMechanism, centre_of
from dendrax.morphology import cell_morphology as morph
from dendrax.morphology.branch_tree import BranchTree, per_branch
from dendrax.morphology.rediscretize import location_map, moved
from dendrax.stimuli import step_dt

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


_calls = itertools.count()
"""Numbers the `stimulate`, `clamp` and `record` calls of every cell, so that a build of
several cells keeps their order across cells."""


@dataclass
class InsertedMechanism:
    """A mechanism and where it is inserted, with its parameter values per compartment."""

    mechanism: Mechanism
    where: np.ndarray
    values: dict[str, np.ndarray]


@dataclass(frozen=True)
class Stimulus:
    """A current (nA per time step) injected into each of `comps`; `dt` (ms) is the step
    it was made for, where known (`dendrax.step_current` records it)."""

    comps: np.ndarray
    current: np.ndarray
    dt: float | None = None
    serial: int = field(default_factory=_calls.__next__)


@dataclass(frozen=True)
class Clamp:
    """An ideal voltage clamp of each of `comps` to `values` (mV per time step); `dt` (ms)
    is the step the values were made for, where known."""

    comps: np.ndarray
    values: np.ndarray
    dt: float | None = None
    serial: int = field(default_factory=_calls.__next__)


@dataclass(frozen=True)
class Recording:
    """A recorded quantity ("v", "Mechanism.state", "spikes", ...) at each of `comps`, in
    `unit`; for a point or junction mechanism, at each of its `sites` in those
    compartments."""

    name: str
    comps: np.ndarray
    unit: str
    sites: np.ndarray | None = None
    threshold: float | None = None
    """For "spikes": the voltage (mV) whose upward crossing is a spike."""
    serial: int = field(default_factory=_calls.__next__)


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
        """Density mechanisms by name, painted on compartments."""
        self.placed: dict[str, PlacedMechanism] = {}
        """Point and junction mechanisms by name, placed at locations (see `model.sites`)."""
        self.ion_values: dict[str, np.ndarray] = {}
        """Per-compartment ion parameters ("ena", "cai", ...) of the ions in use (mV, mM)."""
        self.stimuli: list[Stimulus] = []
        self.clamps: list[Clamp] = []
        self.recordings: list[Recording] = []
        self.morphology = None
        """The `Morphology` the cell was read from (None for cells built from parents)."""
        self.groups: dict[str, np.ndarray] = {}
        """Named compartment groups (boolean masks), see `define_group`."""
        self.trainables: list = []
        """Trainable parameters (`dendrax.training.trainable.TrainablePart`), see
        `make_trainable`."""

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

    @classmethod
    def from_morphology(
        cls,
        morphology,
        ncomp=None,
        d_lambda=None,
        axial_resistivity=DEFAULT_AXIAL_RESISTIVITY,
        capacitance=DEFAULT_CAPACITANCE,
        frequency=100.0,
        max_compartments=morph.MAX_COMPARTMENTS,
    ) -> Cell:
        """A cell with one branch per section of `morphology` (branch 0: the root/soma),
        NEURON's areas and axial resistances from the 3D points.

        Args:
            ncomp: compartments per section (scalar or one per section); or
            d_lambda: NEURON's rule (odd counts, lambda_f at `frequency` Hz); default when
                neither is given: d_lambda = 0.1.
            axial_resistivity: Ω·cm. capacitance: µF/cm² (both also used by d_lambda).
            max_compartments: more compartments than this give a `MorphologyWarning`
                (100,000 by default; None for no limit).
        """
        counts = morph.choose_ncomp(
            morphology, ncomp, d_lambda, frequency, axial_resistivity, capacitance
        )
        morph.check_compartments(morphology, counts, max_compartments)
        pieces = morph.discretize(morphology, counts)
        cell = cls(pieces.tree, 1.0, 1.0, axial_resistivity, capacitance)
        cell.morphology = morphology
        cell._take_geometry(pieces)
        return cell

    def _take_geometry(self, pieces) -> None:
        """Lengths, radii and half-resistance factors from a discretisation of the 3D
        points (`dendrax.morphology.discretize.Discretization`)."""
        self.geometry["length"] = pieces.length.copy()
        self.geometry["radius"] = pieces.radius.copy()
        self.shape_factors = {
            "area": np.ones(pieces.length.size),
            "near_resistance": pieces.near_resistance.copy(),
            "far_resistance": pieces.far_resistance.copy(),
        }

    @classmethod
    def from_swc(cls, path, ncomp=None, d_lambda=None, scale=1.0, radius=None, **kwargs) -> Cell:
        """Read an SWC file as NEURON's Import3d does (see `dendrax.read_swc`); `scale`
        multiplies coordinates and radii (1e-3 for nm); `radius` (µm) is given to samples
        of radius 0 (files without diameters). Other arguments: `from_morphology`."""
        morphology = morph.read_swc(path, scale, radius)
        return cls.from_morphology(morphology, ncomp, d_lambda, **kwargs)

    @classmethod
    def from_asc(cls, path, ncomp=None, d_lambda=None, **kwargs) -> Cell:
        """Read a Neurolucida ASC file (contours and trees; see `dendrax.read_asc`)."""
        return cls.from_morphology(morph.read_asc(path), ncomp, d_lambda, **kwargs)

    def set_ncomp(self, ncomp=None, d_lambda=None, frequency=100.0) -> None:
        """Change the compartments per branch (scalar, per branch, or d_lambda for cells
        read from a morphology); parameters stay with their location."""
        if d_lambda is not None:
            if self.morphology is None:
                raise ValueError("d_lambda needs a morphology; give ncomp for this cell")
            ra = self.geometry["axial_resistivity"][self.tree.comp_offsets[:-1]]
            cm = self.geometry["capacitance"][self.tree.comp_offsets[:-1]]
            ncomp = morph.choose_ncomp(self.morphology, None, d_lambda, frequency, ra, cm)
        elif ncomp is None:
            raise ValueError("set_ncomp needs ncomp or d_lambda")
        self._recut(BranchTree.from_parents(self.tree.parents, ncomp, self.tree.parent_x))

    def _recut(self, new: BranchTree) -> None:
        """Cut the branches into `new`'s compartments, keeping every value at its location.

        Per-compartment values (geometry, density mechanisms, ions, groups, trainables) are
        taken from the old compartment that held each new centre; stimuli, clamps and
        recordings move to the new compartments that hold the old centres; point and
        junction sites are kept by location and need no change. Cells read from a
        morphology get lengths, radii and shape factors from the 3D points again; cylinder
        cells keep each branch's length. Selections made before refer to the old
        compartments.
        """
        old = self.tree
        take, back = location_map(old, new), location_map(new, old)
        lengths = morph.branch_lengths(old, self.geometry["length"])

        def per_comp(table: dict) -> dict:
            return {name: values[take].copy() for name, values in table.items()}

        self.geometry = per_comp(self.geometry)
        self.shape_factors = per_comp(self.shape_factors)
        self.ion_values = per_comp(self.ion_values)
        self.groups = per_comp(self.groups)
        self.trainables = [part.recut(take) for part in self.trainables]
        for inserted in self.mechanisms.values():
            inserted.where = inserted.where[take].copy()
            inserted.values = per_comp(inserted.values)
        self.stimuli = [replace(s, comps=moved(back, s.comps)) for s in self.stimuli]
        self.clamps = [replace(c, comps=moved(back, c.comps)) for c in self.clamps]
        self.recordings = [replace(r, comps=moved(back, r.comps)) for r in self.recordings]
        self.tree = new
        self._comps = np.arange(new.n_compartments)
        if self.morphology is not None:
            self._take_geometry(morph.discretize(self.morphology, new.ncomp))
        else:
            self.geometry["length"] = (lengths / new.ncomp)[new.comp_branch]

    # -- regions and geometry ----------------------------------------------------------

    @property
    def soma(self) -> Selection:
        """Compartments of SWC type 1."""
        return self.region("soma")

    @property
    def axon(self) -> Selection:
        """Compartments of SWC type 2."""
        return self.region("axon")

    @property
    def basal(self) -> Selection:
        """Compartments of SWC type 3."""
        return self.region("basal")

    @property
    def apical(self) -> Selection:
        """Compartments of SWC type 4."""
        return self.region("apical")

    def region(self, name: str) -> Selection:
        """ "soma", "axon", "basal", "apical", "type:<n>" (custom SWC type) or a group."""
        mask = morph.region_mask(name, self.compartment_types(), self.groups)
        return Selection(self, np.flatnonzero(mask), name)

    def select(self, predicate=None, *, region=None, distance=None, order=None) -> Selection:
        """Compartments meeting every criterion given: a `region` name, path `distance`
        from the soma (µm; a value or (low, high), None for open), branch `order` (value or
        range) and `predicate(table) -> bool array` over `compartment_table()`."""
        return Selection(self, morph.select(self, predicate, region, distance, order), "selection")

    def define_group(self, name: str, selection: Selection) -> Selection:
        """Name the compartments of `selection`, reusable as `cell.region(name)`."""
        self.groups[name] = morph.group_mask(self, name, selection)
        return selection

    def compartment_table(self) -> dict[str, np.ndarray]:
        """Per-compartment properties: branch, index_in_branch, type, distance, order,
        radius, length, area and x, y, z of the centre (µm; NaN without a morphology)."""
        return morph.compartment_table(self)

    def compartment_types(self) -> np.ndarray | None:
        """SWC type of every compartment (None for cells not read from a morphology)."""
        if self.morphology is None:
            return None
        return self.morphology.types[self.tree.comp_branch]

    def path_distance(self) -> np.ndarray:
        """Path length from the root's middle (NEURON's soma(0.5)) to each centre (µm)."""
        return morph.path_distance(self.tree, self.geometry["length"])

    def compartment_points(self) -> dict[str, np.ndarray]:
        """3D "start", "centre" and "end" of every compartment, each (n, 3) µm."""
        return morph.compartment_points(self._require_morphology("3D points"), self.tree)

    def move(self, shift) -> Cell:
        """Translate the cell's 3D points by `shift` (x, y, z in µm)."""
        self.morphology = self._require_morphology("move").translated(shift)
        return self

    def rotate(self, angle: float, axis: str = "z", center=None) -> Cell:
        """Rotate the 3D points by `angle` degrees about `axis` through `center` (default:
        the root's first point)."""
        matrix = morph.rotation_matrix(angle, axis)
        self.morphology = self._require_morphology("rotate").rotated(matrix, center)
        return self

    def compartment_area(self) -> np.ndarray:
        """Membrane area of each compartment (µm²)."""
        radius, length = self.geometry["radius"], self.geometry["length"]
        return 2 * np.pi * radius * length * self.shape_factors["area"]

    def total_area(self) -> float:
        """Membrane area of the whole cell (µm²)."""
        return float(self.compartment_area().sum())

    def total_length(self) -> float:
        """Summed length of all branches (µm)."""
        return float(self.geometry["length"].sum())

    def total_volume(self) -> float:
        """Volume (µm³): of the 3D truncated cones, or of the compartments' cylinders."""
        if self.morphology is not None:
            return morph.frustum_volume(self.morphology)
        radius, length = self.geometry["radius"], self.geometry["length"]
        return float(np.sum(np.pi * radius**2 * length))

    def summary(self) -> str:
        """Branches, compartments, length, area and regions, one item a line."""
        return morph.summary(self)

    def _require_morphology(self, what: str):
        if self.morphology is None:
            raise ValueError(f"{what} needs 3D points: read the cell from a morphology file")
        return self.morphology

    @property
    def n_branches(self) -> int:
        return self.tree.n_branches

    @property
    def n_compartments(self) -> int:
        return self.tree.n_compartments

    def __repr__(self) -> str:
        return (
            f"Cell({self.n_branches} branches, {self.n_compartments} compartments, "
            f"{self.total_length():.1f} um, {self.total_area():.1f} um2, "
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

    def _insert(self, mechanism: Mechanism, comps: np.ndarray, peer: Selection | None) -> None:
        self._check_insertable(mechanism)
        if (peer is not None) != (mechanism.kind == "junction"):
            raise ValueError(
                f"{mechanism.name} is a {mechanism.kind} mechanism: "
                + ("insert it with peer=<selection>" if peer is None else "it takes no peer")
            )
        if mechanism.kind == "density":
            self._paint(mechanism, comps)
        elif peer is None:
            self.place_sites(mechanism, comps)
        else:
            if not isinstance(peer, Selection):
                raise TypeError(f"peer must be a Selection, got {type(peer).__name__}")
            peer_comps = peer.compartments
            if peer_comps.size not in (1, comps.size):
                raise ValueError(
                    f"{mechanism.name}: peer has {peer_comps.size} compartments; give one, or "
                    f"one per selected compartment ({comps.size})"
                )
            peer_comps = np.broadcast_to(peer_comps, comps.shape)
            self.place_sites(mechanism, comps, peers_at(peer.cell, peer_comps))

    def _check_insertable(self, mechanism: Mechanism) -> None:
        if not isinstance(mechanism, Mechanism):
            raise TypeError(f"insert expects a Mechanism instance, got {mechanism!r}")
        name = mechanism.name
        if name in self.geometry or name in self.ion_values:
            raise ValueError(f"a mechanism cannot be named {name!r}: the cell has a {name}")
        known = self.mechanisms.get(name) or self.placed.get(name)
        if known is not None and type(known.mechanism) is not type(mechanism):
            raise ValueError(f"another mechanism named {name!r} is already inserted in this cell")

    def _paint(self, mechanism: Mechanism, comps: np.ndarray) -> None:
        """A density mechanism on `comps`, with the instance's parameter values there."""
        inserted = self.mechanisms.get(mechanism.name)
        if inserted is None:
            n = self.n_compartments
            inserted = InsertedMechanism(
                mechanism,
                np.zeros(n, dtype=bool),
                {name: np.full(n, value) for name, value in mechanism.defaults.items()},
            )
            self.mechanisms[mechanism.name] = inserted
        for name, value in mechanism.defaults.items():
            inserted.values[name][comps] = value
        inserted.where[comps] = True
        in_use = [m.mechanism for m in self.mechanisms.values()]
        for name, value in membrane.ion_defaults(in_use).items():
            self.ion_values.setdefault(name, np.full(self.n_compartments, value))

    def place_sites(
        self, mechanism: Mechanism, comps, peers: Peers | None = None, values: dict | None = None
    ) -> None:
        """One new site of a point or junction mechanism at each of `comps` (compartment
        indices, repeats allowed), with `peers` (a junction's peer locations, or the
        sources of an event-receiving mechanism's events: one per site) and parameter
        `values` (name -> a scalar or one value per site; the instance's defaults
        elsewhere). The connectivity builders (`dendrax.connect`, ...) place synapses
        through this; `insert` is the usual way."""
        self._check_insertable(mechanism)
        comps = np.asarray(comps, np.int64)
        if mechanism.kind == "density":
            raise ValueError(f"{mechanism.name} is a density mechanism: insert it instead")
        if comps.size and not (0 <= comps.min() and comps.max() < self.n_compartments):
            raise IndexError(
                f"{mechanism.name}: compartment {int(comps.max())} does not exist "
                f"(the cell has {self.n_compartments})"
            )
        if mechanism.kind == "junction" and peers is None:
            raise ValueError(f"{mechanism.name} is a junction: each site needs a peer")
        if peers is not None and (peers.size != comps.size):
            raise ValueError(f"{mechanism.name}: {peers.size} peers for {comps.size} sites")
        if peers is not None and mechanism.kind == "point" and not mechanism.receives_events:
            raise ValueError(
                f"{mechanism.name} does not receive events (it has no receive method), so "
                f"it cannot be the target of a connection"
            )
        values = dict(values or {})
        for name, value in values.items():
            if name not in mechanism.parameters:
                raise KeyError(
                    f"{mechanism.name} has no parameter {name!r}; its parameters are "
                    f"{sorted(mechanism.parameters)}"
                )
            value = np.asarray(value, float)
            if value.ndim and value.shape != comps.shape:
                raise ValueError(
                    f"{mechanism.name}.{name} needs a scalar or one value per connection "
                    f"({comps.size}), got shape {value.shape}"
                )
            mechanism.check_value(name, value)
            values[name] = value
        placed = self.placed.setdefault(mechanism.name, PlacedMechanism(mechanism))
        placed.add(mechanism, *centre_of(self.tree, comps), peers, values)

    def _resolve(self, name: str, comps: np.ndarray):
        """The value array behind `name`, the entries of it at `comps` (compartments, or
        the sites there of a point or junction mechanism) and the mechanism (or None),
        checking that it exists there."""
        if not isinstance(name, str):
            raise TypeError(f"parameter names are strings, got {name!r}")
        if name in self.geometry:
            return self.geometry[name], comps, None
        if name in self.ion_values:
            return self.ion_values[name], comps, None
        mech_name, _, param = name.partition(".")
        inserted = self.mechanisms.get(mech_name) or self.placed.get(mech_name)
        if inserted is None or not param:
            known = sorted(self.geometry) + [
                f"{m}.{p}"
                for m, ins in {**self.mechanisms, **self.placed}.items()
                for p in ins.values
            ]
            raise KeyError(f"unknown parameter {name!r}; known parameters are {known}")
        if param not in inserted.values:
            raise KeyError(
                f"{mech_name} has no parameter {param!r}; its parameters are "
                f"{sorted(inserted.values)}"
            )
        if mech_name in self.placed:
            sites = inserted.sites_in(self.tree, comps)
            if sites.size == 0:
                raise ValueError(f"{mech_name} has no site in {self.describe(comps[0])}")
            return inserted.values[param], sites, inserted.mechanism
        missing = comps[~inserted.where[comps]]
        if missing.size:
            raise ValueError(
                f"{mech_name} is not inserted at {self.describe(missing[0])}, "
                f"so {name} cannot be set or read there"
            )
        return inserted.values[param], comps, inserted.mechanism

    def _check_geometry(self, name: str, values: np.ndarray, comps: np.ndarray) -> None:
        bad = ~np.isfinite(values) | (values <= 0)
        if np.any(bad):
            first = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"{name} at {self.describe(comps[first])} is {values[first]}: "
                f"must be finite and > 0 ({GEOMETRY_UNITS[name]})"
            )

    def _broadcast(self, name: str, value, size: int, per: str) -> np.ndarray:
        try:
            array = np.asarray(value, dtype=float)
        except (TypeError, ValueError):
            raise TypeError(
                f"value for {name} must be a number or numbers, got {value!r}"
            ) from None
        if array.ndim == 0:
            return np.full(size, float(array))
        if array.shape != (size,):
            where = "site in the selected compartments" if per else "selected compartment"
            raise ValueError(
                f"value for {name} must be a scalar or one per {where} ({size}), "
                f"got shape {array.shape}"
            )
        return array

    def _set(self, name: str, comps: np.ndarray, value) -> None:
        target, index, mechanism = self._resolve(name, comps)
        if callable(value):
            if index is not comps:
                raise TypeError(f"{name} is set per site: give a value, not a function")
            value = value(self.path_distance()[comps])
        values = self._broadcast(name, value, index.size, "site" if index is not comps else "")
        if name in self.ion_values:
            in_use = [m.mechanism for m in self.mechanisms.values()]
            kind = membrane.ion_variable_kind(name, in_use)
            check_ion_value(name, kind, values, self.describe(comps[0]))
        elif mechanism is None:
            self._check_geometry(name, values, comps)
        else:
            mechanism.check_value(name.partition(".")[2], values)
        target[index] = values

    def _get(self, name: str, comps: np.ndarray) -> np.ndarray:
        target, index, _ = self._resolve(name, comps)
        return target[index].copy()

    def _time_series(self, what: str, values) -> np.ndarray:
        array = np.asarray(values, dtype=float)
        if array.ndim != 1 or array.size == 0:
            raise ValueError(f"{what} must be a 1D array (one value per step), got {array.shape}")
        if not np.all(np.isfinite(array)):
            raise ValueError(f"{what} contains NaN or infinite values")
        return array

    def _stimulate(self, comps: np.ndarray, current) -> None:
        series = self._time_series("stimulus current", current)
        self.stimuli.append(Stimulus(comps, series, step_dt(current)))

    def _clamp(self, name: str, comps: np.ndarray, values) -> None:
        if name != "v":
            raise ValueError(f"only the voltage can be clamped (clamp('v', ...)), got {name!r}")
        clamped = {int(c) for clamp in self.clamps for c in clamp.comps}
        twice = [c for c in comps if int(c) in clamped]
        if twice:
            raise ValueError(f"{self.describe(twice[0])} is already clamped")
        series = self._time_series("clamp voltage", values)
        self.clamps.append(Clamp(comps, series, step_dt(values)))

    def _record_spikes(self, comps: np.ndarray, threshold) -> None:
        if isinstance(threshold, bool) or not isinstance(threshold, int | float):
            raise TypeError(f"record_spikes: threshold must be a number (mV), got {threshold!r}")
        if not np.isfinite(threshold):
            raise ValueError(f"record_spikes: threshold must be finite, got {threshold}")
        self.recordings.append(Recording("spikes", comps, "1", threshold=float(threshold)))

    def _record(self, name: str, comps: np.ndarray, unit: str | None) -> None:
        in_use = [m.mechanism for m in self.mechanisms.values()]
        ion_variables = [*self.ion_values, *membrane.ion_currents_of(in_use)]
        sites = None
        if name != "v" and name not in ion_variables:
            mech_name, _, state = name.partition(".")
            everything = {**self.mechanisms, **self.placed}
            inserted = everything.get(mech_name)
            if inserted is not None and state in membrane.array_states(inserted.mechanism):
                shape = inserted.mechanism.states[state].shape
                raise ValueError(
                    f"cannot record {name!r}: it is an array of shape {shape} at each site "
                    "(a buffer), which recordings do not hold"
                )
            if inserted is None or state not in membrane.recordable(inserted.mechanism):
                known = ["v", *ion_variables] + [
                    f"{m}.{s}"
                    for m, ins in everything.items()
                    for s in membrane.recordable(ins.mechanism)
                ]
                raise KeyError(f"cannot record {name!r}; recordable here: {known}")
            if mech_name in self.placed:
                sites = inserted.sites_in(self.tree, comps)
                if sites.size == 0:
                    raise ValueError(f"{mech_name} has no site in the selected compartments")
            else:
                missing = comps[~inserted.where[comps]]
                if missing.size:
                    raise ValueError(f"{mech_name} is not inserted at {self.describe(missing[0])}")
        natural = self.recording_unit(name)
        if unit is not None and unit != natural and not (natural == "mA/cm2" and unit == "nA"):
            raise ValueError(
                f"cannot record {name!r} in {unit!r}: it is in {natural!r}; only currents "
                "(mA/cm2) can also be recorded in nA"
            )
        self.recordings.append(Recording(name, comps, unit or natural, sites))

    def recording_unit(self, name: str) -> str:
        """The unit of a recordable quantity: "mV" for v and reversal potentials, "mM" for
        concentrations, "mA/cm2" for currents, a state's declared unit for a state."""
        if name == "v":
            return "mV"
        in_use = [m.mechanism for m in self.mechanisms.values()]
        if "." not in name:
            kind = membrane.ion_variable_kind(name, in_use)
            return {"reversal": "mV", "current": "mA/cm2"}.get(kind, "mM")
        mech_name, _, quantity = name.partition(".")
        mechanism = {**self.mechanisms, **self.placed}[mech_name].mechanism
        if quantity in mechanism.states:
            return mechanism.states[quantity].unit
        return "mA/cm2" if mechanism.kind == "density" else "nA"


def peers_at(cell: Cell, comps, threshold=np.nan, delay=0.0) -> Peers:
    """`Peers` at compartments `comps` of `cell`, with each one's spike `threshold` (mV)
    and `delay` (ms), scalars or one per compartment."""
    comps = np.asarray(comps, np.int64)
    branch, x = centre_of(cell.tree, comps)
    shape = comps.shape
    return Peers(
        (cell,),
        np.zeros(comps.size, np.int64),
        branch,
        x,
        np.broadcast_to(np.asarray(threshold, float), shape).copy(),
        np.broadcast_to(np.asarray(delay, float), shape).copy(),
    )
