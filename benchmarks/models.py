"""The benchmark models, built alike in dendrax, NEURON and Arbor.

Every model is a set of sections (dendrax's branches) of `ncomp` compartments, HH everywhere
(squid defaults, celsius 6.3), axial resistivity 100 Ω·cm, capacitance 1 µF/cm², a step
current at one site and two recorded sites, 20 ms at dt 0.025 ms:

- "single": one cylinder, 20 µm long and 20 µm wide, one compartment, 0.2 nA from 10 ms;
- "ca1": the CA1 n120 reconstruction read by each simulator's own SWC reader, 4 compartments
  per section, 2 nA from 10 ms into the soma at 0.5, recorded there and at the middle of the
  section farthest from the soma;
- "tree": a random tree of 200 branches, 4 compartments per branch: each branch's parent
  drawn uniformly among the earlier ones, radius uniform in [0.3, 2] µm, whole length in
  [40, 200] µm (`numpy.random.default_rng(1)`, in that order; branch 0, the soma, 8 µm radius,
  20 µm long), 2 nA from 10 ms into branch 0 at 0.5, recorded there and at branch 199.

Arbor gets NEURON's node layout: CV boundaries at the ends of NEURON's segments (Arbor then
puts a CV of zero length at every fork, as NEURON's zero-area section-end nodes), and the
stimulus and probes at the centres of NEURON's segments that hold the sites.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np

DT, T_MAX = 0.025, 20.0  # ms
AXIAL_RESISTIVITY, CAPACITANCE, CELSIUS, V_INIT = 100.0, 1.0, 6.3, -65.0
GNA = 0.12  # S/cm², HH's default sodium conductance, scaled in batches
CA1_SWC = Path(__file__).resolve().parents[1] / "tests" / "data" / "ca1_n120.swc"
"""NeuroMorpho.org's n120 (origin and licence: tests/data/README.md)."""
MODEL_NAMES = ("single", "ca1", "tree")


@dataclass(frozen=True)
class Model:
    """One benchmark model, independent of the simulator.

    Attributes:
        name: "single", "ca1" or "tree".
        description: one line for tables.
        ncomp: compartments (NEURON: segments) per section.
        stimulus: (section, x) of the step current.
        amplitude, delay, duration: of the step current (nA, ms, ms).
        records: (section, x) of each recorded voltage.
        parents, length, radius: per section for cylinder models (µm, whole section);
            None for a reconstruction.
        swc: path of the reconstruction, or None.
    """

    name: str
    description: str
    ncomp: int
    stimulus: tuple[int, float]
    amplitude: float
    delay: float
    duration: float
    records: tuple[tuple[int, float], ...]
    parents: tuple[int, ...] | None = None
    length: np.ndarray | None = None
    radius: np.ndarray | None = None
    swc: Path | None = None


def model(name: str) -> Model:
    """The benchmark model called `name` (one of MODEL_NAMES)."""
    if name == "single":
        return Model(
            "single", "one HH compartment", 1, (0, 0.5), 0.2, 10.0, 80.0, ((0, 0.5),),
            parents=(-1,), length=np.array([20.0]), radius=np.array([10.0]),
        )  # fmt: skip
    if name == "tree":
        rng = np.random.default_rng(1)
        parents = (-1, *(int(rng.integers(0, i)) for i in range(1, 200)))
        radius = rng.uniform(0.3, 2.0, 200)
        radius[0] = 8.0
        length = rng.uniform(40.0, 200.0, 200)
        length[0] = 20.0
        return Model(
            "tree", "random tree, 200 branches x 4", 4, (0, 0.5), 2.0, 10.0, 80.0,
            ((0, 0.5), (199, 0.5)), parents=parents, length=length, radius=radius,
        )  # fmt: skip
    if name == "ca1":
        return Model(
            "ca1", "CA1 n120, 156 sections x 4", 4, (0, 0.5), 2.0, 10.0, 80.0,
            ((0, 0.5), (_farthest_section(CA1_SWC), 0.5)), swc=CA1_SWC,
        )  # fmt: skip
    raise ValueError(f"unknown model {name!r}; choose one of {list(MODEL_NAMES)}")


def _farthest_section(path: Path) -> int:
    """The section whose far end is farthest from the soma along the tree."""
    import dendrax as dx

    cell = dx.Cell.from_swc(path, ncomp=1)
    return int(cell.tree.comp_branch[np.argmax(cell.path_distance())])


# -- dendrax ------------------------------------------------------------------------------


def dendrax_simulation(m: Model, backend: str | None = None):
    """The model as a dendrax `Simulation`; `backend` is passed to `dx.build` if given."""
    import dendrax as dx

    common = {"axial_resistivity": AXIAL_RESISTIVITY, "capacitance": CAPACITANCE}
    if m.swc is not None:
        cell = dx.Cell.from_swc(m.swc, ncomp=m.ncomp, **common)
    else:
        cell = dx.Cell.from_parents(
            list(m.parents), ncomp=m.ncomp, length=m.length / m.ncomp, radius=m.radius, **common
        )
    cell.insert(dx.channels.HH())
    section, x = m.stimulus
    current = dx.step_current(m.delay, m.duration, m.amplitude, DT, T_MAX)
    cell.branch(section).loc(x).stimulate(current)
    for section, x in m.records:
        cell.branch(section).loc(x).record("v")
    options = {} if backend is None else {"backend": backend}
    return dx.build(cell, dt=DT, v_init=V_INIT, celsius=CELSIUS, **options)


# -- NEURON -------------------------------------------------------------------------------


class NeuronModel:
    """The model in NEURON (usetable_hh = 0, fixed step backward Euler, one thread)."""

    def __init__(self, m: Model):
        from neuron import h

        self._h = h
        h.load_file("stdrun.hoc")
        if m.swc is not None:
            self.sections, self._import3d = _import3d(h, m.swc)  # keep Import3d's objects
        else:
            self.sections = _cylinders(h, m)
        for sec in self.sections:
            sec.nseg, sec.Ra, sec.cm = m.ncomp, AXIAL_RESISTIVITY, CAPACITANCE
            sec.insert("hh")
        section, x = m.stimulus
        self._stimulus = h.IClamp(self.sections[section](x))
        self._stimulus.delay, self._stimulus.dur = m.delay, m.duration
        self._stimulus.amp = m.amplitude
        self._vectors = [h.Vector().record(self.sections[s](x)._ref_v) for s, x in m.records]
        h.usetable_hh, h.dt, h.celsius, h.secondorder = 0, DT, CELSIUS, 0

    def run(self, gna_scale: float = 1.0) -> np.ndarray:
        """Run 20 ms with gNa scaled; the recorded voltages (mV), (n_records, n_steps + 1)."""
        for sec in self.sections:
            sec.gnabar_hh = GNA * gna_scale
        self._h.finitialize(V_INIT)
        self._h.continuerun(T_MAX)
        return np.array([np.array(v) for v in self._vectors])


def _cylinders(h, m: Model) -> list:
    sections = []
    for i, parent in enumerate(m.parents):
        sec = h.Section(name=f"branch{i}")
        sec.L, sec.diam = m.length[i], 2.0 * m.radius[i]
        if parent >= 0:
            sec.connect(sections[parent](1.0), 0.0)
        sections.append(sec)
    return sections


class _Holder:
    """A Python object that Import3d fills with its section lists."""


def _import3d(h, path: Path) -> tuple[list, tuple]:
    """Sections made by Import3d from an SWC file, in Import3d's order (dendrax's branches),
    and the objects that hold them."""
    h.load_file("import3d.hoc")
    reader = h.Import3d_SWC_read()
    reader.quiet = 1
    reader.input(str(path))
    gui = h.Import3d_GUI(reader, False)
    holder = _Holder()
    gui.instantiate(holder)
    types = {1: "soma", 2: "axon", 3: "dend", 4: "apic"}
    sections = []
    for i in range(int(gui.swc.sections.count())):
        imported = gui.swc.sections.object(i)
        if not imported.is_subsidiary:
            kind = types[int(imported.type)]
            sections.append(getattr(holder, kind)[int(imported.nameindex)])
    return sections, (reader, gui, holder)


# -- Arbor --------------------------------------------------------------------------------


def sections(m: Model) -> tuple[list[int], list[float], list[np.ndarray], list[np.ndarray]]:
    """Parents, parent_x, 3D points (µm) and radii (µm) of each section, as NEURON has them.

    A reconstruction comes from dendrax's reader, which reproduces Import3d's sections and
    points exactly (tests/test_swc_neuron.py); a cylinder model gets random directions."""
    if m.swc is not None:
        import dendrax as dx

        morphology = dx.read_swc(m.swc)
        points = [morphology.section_points(i) for i in range(morphology.n_sections)]
        return (
            morphology.parents.tolist(),
            morphology.parent_x.tolist(),
            [p for p, _ in points],
            [d / 2 for _, d in points],
        )
    directions = np.random.default_rng(0).normal(size=(len(m.parents), 3))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    points = []
    for i, parent in enumerate(m.parents):
        start = points[parent][-1] if parent >= 0 else np.zeros(3)
        points.append(np.stack([start, start + m.length[i] * directions[i]]))
    return list(m.parents), [1.0] * len(points), points, [np.full(2, r) for r in m.radius]


def point_at(points: np.ndarray, x: float) -> np.ndarray:
    """The point at arc-length fraction x along a polyline."""
    arc = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(points, axis=0), axis=1))])
    return np.array([np.interp(x * arc[-1], arc, points[:, k]) for k in range(3)])


def segment_centre(x: float, ncomp: int) -> float:
    """The centre of NEURON's segment that holds x (0 < x < 1) in a section of ncomp."""
    return (min(int(x * ncomp), ncomp - 1) + 0.5) / ncomp


class ArborModel:
    """The model as Arbor cable cells: one per gNa scale, NEURON's segments as CVs.

    The morphology is built from the sections' 3D points as NEURON has them, one Arbor
    segment per pair of points. Arbor's own `load_swc_neuron` reads CA1 n120 differently
    from NEURON 9's Import3d (a dendrite on the second soma section starts at its first
    dendrite sample there, 27 µm from where Import3d starts it), so it would not be the
    same cell (see docs/performance.md).
    """

    def __init__(self, m: Model):
        import arbor

        self.model = m
        self._arbor = arbor
        parents, parent_x, points, radii = sections(m)
        self.morphology = arbor.morphology(_segment_tree(arbor, parents, parent_x, points, radii))
        place = arbor.place_pwlin(self.morphology)

        def locate(section: int, x: float) -> str:
            location, distance = place.closest(*point_at(points[section], x))
            if distance > 1e-6:
                raise ValueError(f"section {section} at {x} is {distance} µm from Arbor's cell")
            return f"(location {location.branch} {location.pos!r})"

        fractions = np.linspace(0.0, 1.0, m.ncomp + 1)
        ends = [locate(s, x) for s in range(len(points)) for x in fractions]
        # The start of every Arbor branch too: a fork then gets a CV of its own.
        ends += [f"(location {b} 0)" for b in range(self.morphology.num_branches)]
        self.policy = arbor.cv_policy_explicit(f"(sum {' '.join(ends)})")
        self.stimulus = locate(m.stimulus[0], segment_centre(m.stimulus[1], m.ncomp))
        self.records = [locate(s, segment_centre(x, m.ncomp)) for s, x in m.records]

    def cell(self, gna_scale: float = 1.0):
        """One Arbor cable cell with gNa scaled."""
        arbor, units = self._arbor, self._arbor.units
        decor = arbor.decor()
        decor.set_property(
            Vm=V_INIT * units.mV,
            cm=CAPACITANCE * 1e-2 * units.F / units.m2,
            rL=AXIAL_RESISTIVITY * units.Ohm * units.cm,
            tempK=(CELSIUS + 273.15) * units.Kelvin,
        )
        decor.paint("(all)", arbor.density("hh", gnabar=GNA * gna_scale))
        m = self.model
        clamp = arbor.i_clamp(m.delay * units.ms, m.duration * units.ms, m.amplitude * units.nA)
        decor.place(self.stimulus, clamp)
        return arbor.cable_cell(self.morphology, decor, discretization=self.policy)

    def recipe(self, gna_scales):
        """A recipe of one cell per gNa scale, each with a voltage probe per record site."""
        arbor = self._arbor
        cells = [self.cell(float(s)) for s in gna_scales]
        probes = [
            arbor.cable_probe_membrane_voltage(where, f"v{k}")
            for k, where in enumerate(self.records)
        ]
        properties = arbor.neuron_cable_properties()

        class Recipe(arbor.recipe):
            def num_cells(self):
                return len(cells)

            def cell_kind(self, gid):
                return arbor.cell_kind.cable

            def cell_description(self, gid):
                return cells[gid]

            def probes(self, gid):
                return probes

            def global_properties(self, kind):
                return properties

        return Recipe()


def _segment_tree(arbor, parents, parent_x, points, radii):
    """Arbor segments along each section's points; a section hangs from its parent's end."""
    tree = arbor.segment_tree()
    last = []  # the last segment of each section
    for i, parent in enumerate(parents):
        if parent < 0 or (parent_x[i] == 0.0 and parents[parent] < 0):
            previous = arbor.mnpos  # at the root's 0 end
        elif parent_x[i] == 1.0:
            previous = last[parent]
        else:
            raise ValueError(f"section {i} hangs at x = {parent_x[i]} of its parent: not built")
        for k in range(1, len(points[i])):
            start = arbor.mpoint(*points[i][k - 1], radii[i][k - 1])
            end = arbor.mpoint(*points[i][k], radii[i][k])
            previous = tree.append(previous, start, end, 1 if i == 0 else 3)
        last.append(previous)
    return tree
