"""Load a morphology in NEURON with Import3d, as users do, for parity tests."""

import numpy as np
from neuron import h

h.load_file("stdrun.hoc")
h.load_file("import3d.hoc")


class _Holder:
    """A Python object that Import3d fills with section arrays (soma, dend, apic, axon)."""


class NeuronMorphology:
    """Sections made by `Import3d_SWC_read` (or the Neurolucida reader) + `Import3d_GUI`.

    `sections[i]` is the section made from Import3d's i-th section, the order dendrax's
    branches follow.
    """

    def __init__(self, path: str, reader: str = "swc"):
        if reader == "swc":
            self._reader = h.Import3d_SWC_read()
        else:
            self._reader = h.Import3d_Neurolucida3()
        self._reader.quiet = 1
        self._reader.input(str(path))
        self._gui = h.Import3d_GUI(self._reader, False)
        self._cell = _Holder()
        self._gui.instantiate(self._cell)
        imported = self._gui.swc.sections
        self.sections = []
        for i in range(int(imported.count())):
            sec = imported.object(i)
            if sec.is_subsidiary:
                continue
            self.sections.append(self._section_by_name(sec))
        self.vectors = []
        self.point_processes = []

    def _section_by_name(self, imported):
        name = _type_name(int(imported.type))
        return getattr(self._cell, name)[int(imported.nameindex)]

    def set_nseg(self, ncomp):
        for sec, n in zip(self.sections, np.broadcast_to(ncomp, len(self.sections)), strict=True):
            sec.nseg = int(n)

    def points(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        sec = self.sections[index]
        n = sec.n3d()
        xyz = np.array([[sec.x3d(i), sec.y3d(i), sec.z3d(i)] for i in range(n)])
        return xyz.reshape(n, 3), np.array([sec.diam3d(i) for i in range(n)])

    def areas_and_ri(self) -> tuple[np.ndarray, np.ndarray]:
        """seg.area() (µm²) and seg.ri() (MΩ) of every segment, section after section."""
        area = [seg.area() for sec in self.sections for seg in sec]
        ri = [seg.ri() for sec in self.sections for seg in sec]
        return np.array(area), np.array(ri)

    def parent_index(self) -> list[int]:
        index = {sec: i for i, sec in enumerate(self.sections)}
        parents = []
        for sec in self.sections:
            parent = sec.parentseg()
            parents.append(-1 if parent is None else index[parent.sec])
        return parents

    def parent_x(self) -> np.ndarray:
        return np.array(
            [1.0 if sec.parentseg() is None else sec.parentseg().x for sec in self.sections]
        )

    def insert(self, mechanism: str):
        for sec in self.sections:
            sec.insert(mechanism)

    def set_all(self, name: str, value: float):
        for sec in self.sections:
            setattr(sec, name, value)

    def iclamp(self, branch: int, x: float, delay: float, duration: float, amplitude: float):
        stim = h.IClamp(self.sections[branch](x))
        stim.delay, stim.dur, stim.amp = delay, duration, amplitude
        self.point_processes.append(stim)

    def record(self, branch: int, x: float):
        vector = h.Vector()
        vector.record(self.sections[branch](x)._ref_v)
        self.vectors.append(vector)

    def run(self, t_max: float, dt: float = 0.025, v_init: float = -65.0, celsius: float = 6.3):
        h.usetable_hh = 0
        h.dt = dt
        h.celsius = celsius
        h.secondorder = 0
        h.finitialize(v_init)
        for _ in range(round(t_max / dt)):
            h.fadvance()
        return np.array([np.array(v) for v in self.vectors])


def _type_name(swc_type: int) -> str:
    names = {1: "soma", 2: "axon", 3: "dend", 4: "apic"}
    if swc_type in names:
        return names[swc_type]
    return f"minus_{-swc_type}" if swc_type < 0 else f"dend_{swc_type}"
