"""Build the same models in NEURON as in dendrax, and run them (for parity tests)."""

import numpy as np
from neuron import h

h.load_file("stdrun.hoc")


class NeuronModel:
    """Sections mirroring `dx.Cell.from_parents(parents, ncomp, length, radius)`.

    `length` and `radius` are per compartment, one value per branch, as in dendrax.
    """

    def __init__(self, parents, ncomp, length, radius, axial_resistivity=35.4, capacitance=1.0):
        n = len(parents)
        ncomp = np.broadcast_to(ncomp, n)
        length = np.broadcast_to(length, n)
        radius = np.broadcast_to(radius, n)
        self.sections = []
        for i in range(n):
            sec = h.Section(name=f"branch{i}")
            sec.nseg = int(ncomp[i])
            sec.L = float(length[i] * ncomp[i])
            sec.diam = float(2 * radius[i])
            sec.Ra = axial_resistivity
            sec.cm = capacitance
            if parents[i] >= 0:
                sec.connect(self.sections[parents[i]](1.0), 0.0)
            self.sections.append(sec)
        self.ncomp = ncomp
        self.vectors = []
        self.point_processes = []

    def segment(self, branch: int, comp: int):
        sec = self.sections[branch]
        return sec((comp + 0.5) / sec.nseg)

    def insert(self, mechanism: str, **params):
        for sec in self.sections:
            sec.insert(mechanism)
            for seg in sec:
                for name, value in params.items():
                    setattr(seg, f"{name}_{mechanism}", value)

    def iclamp(self, branch, comp, delay, duration, amplitude):
        stim = h.IClamp(self.segment(branch, comp))
        stim.delay, stim.dur, stim.amp = delay, duration, amplitude
        self.point_processes.append(stim)

    def record(self, branch, comp, name="v"):
        vector = h.Vector()
        vector.record(getattr(self.segment(branch, comp), f"_ref_{name}"))
        self.vectors.append(vector)

    def run(self, t_max, dt=0.025, v_init=-65.0, celsius=6.3, secondorder=0) -> np.ndarray:
        h.usetable_hh = 0
        h.dt = dt
        h.celsius = celsius
        h.secondorder = secondorder
        h.finitialize(v_init)
        for _ in range(round(t_max / dt)):
            h.fadvance()
        return np.array([np.array(v) for v in self.vectors])


def spike_times(trace: np.ndarray, dt: float, threshold: float = 0.0) -> np.ndarray:
    """Indices of upward threshold crossings, times in ms."""
    above = trace >= threshold
    return np.flatnonzero(~above[:-1] & above[1:]) * dt
