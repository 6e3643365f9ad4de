"""A reconstructed morphology: unbranched sections of 3D points, as NEURON's Import3d makes them."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

TYPE_NAMES = {1: "soma", 2: "axon", 3: "dend", 4: "apic"}
"""NEURON's section names for the standard SWC types; other types are "dend_<type>"."""

REGION_TYPES = {
    "soma": 1,
    "axon": 2,
    "basal": 3,
    "apical": 4,
    "somatic": 1,
    "axonal": 2,
    "dend": 3,
    "apic": 4,
}
"""Region names and the SWC type they select, with NEURON's section list ("somatic", ...)
and section array names ("dend", "apic") as aliases."""


REGION_NAMES = {1: "soma", 2: "axon", 3: "basal", 4: "apical"}
"""The region (and `Cell` attribute) name of each standard SWC type; others are "type:<n>"."""


def region_name(swc_type: int) -> str:
    """The region name of an SWC type: "soma", "axon", "basal", "apical" or "type:<n>"."""
    return REGION_NAMES.get(swc_type, f"type:{swc_type}")


def region_label(swc_type: int) -> str:
    """The region name with NEURON's section name where that differs, as summaries and
    legends show it: "soma", "basal (dend)", "apical (apic)", "type:7 (dend_7)"."""
    name, neuron = region_name(swc_type), type_name(swc_type)
    return name if name == neuron else f"{name} ({neuron})"


def type_name(swc_type: int) -> str:
    """NEURON's section array name for an SWC sample type ("soma", "dend_7", ...)."""
    if swc_type in TYPE_NAMES:
        return TYPE_NAMES[swc_type]
    return f"minus_{-swc_type}" if swc_type < 0 else f"dend_{swc_type}"


@dataclass(frozen=True)
class Morphology:
    """Sections of 3D points (NEURON's pt3d lists), with their types and connections.

    Attributes:
        points: (n_points, 3) coordinates of every 3D point, section after section (µm).
        diameters: (n_points,) diameter at every point (µm).
        offsets: (n_sections + 1,) index of each section's first point, and the total.
        types: SWC type of each section (1 soma, 2 axon, 3 basal, 4 apical, others custom).
        parents: parent section of each section (-1 for the root); parents[i] < i.
        parent_x: where on its parent each section attaches (fraction of the parent's length).
        source: the file it was read from ("" if built in memory).
        notes: what the reader interpreted or skipped (soma rules, dropped sections,
            markers, spines), one line each with its line in the file.
        point_lines: (n_points,) line of the file each 3D point comes from (None if built
            in memory), so that messages can name it.
    """

    points: np.ndarray
    diameters: np.ndarray
    offsets: np.ndarray
    types: np.ndarray
    parents: np.ndarray
    parent_x: np.ndarray
    source: str = ""
    notes: tuple[str, ...] = ()
    point_lines: np.ndarray | None = None

    @property
    def n_sections(self) -> int:
        return int(self.types.size)

    @property
    def n_points(self) -> int:
        return int(self.diameters.size)

    @property
    def point_section(self) -> np.ndarray:
        """Section of each point."""
        return np.repeat(np.arange(self.n_sections), np.diff(self.offsets))

    @property
    def arc(self) -> np.ndarray:
        """Path length of each point from its section's first point (µm).

        As NEURON: coordinate differences in single precision (its 3D points are floats),
        their lengths and sums in double.
        """
        difference = np.diff(self.points.astype(np.float32), axis=0).astype(float)
        squared = difference[:, 0] ** 2 + difference[:, 1] ** 2 + difference[:, 2] ** 2
        step = np.concatenate([[0.0], np.sqrt(squared)])
        # Sum along each section from its own start (a global cumulative sum minus the
        # section's start would round differently): one vectorised step per point position.
        count = np.diff(self.offsets)
        position = np.arange(self.n_points) - np.repeat(self.offsets[:-1], count)
        order = np.argsort(position, kind="stable")
        columns = np.split(order, np.cumsum(np.bincount(position))[:-1])
        arc = np.zeros(self.n_points)
        for column in columns[1:]:
            arc[column] = arc[column - 1] + step[column]
        return arc

    @property
    def lengths(self) -> np.ndarray:
        """Length of each section: the arc length of its last point (µm)."""
        return self.arc[self.offsets[1:] - 1]

    def where(self, point: int | None = None, section: int | None = None) -> str:
        """Where a point or section is, for messages: "file, line 12 (dend[3])"."""
        if section is None and point is not None:
            section = int(self.point_section[point])
        place = self.source or "the morphology"
        if point is not None and self.point_lines is not None:
            place += f", line {int(self.point_lines[point])}"
        if section is not None:
            place += f" (section {section}, {self.neuron_names()[section]})"
        return place

    def section_points(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """(points (n, 3), diameters (n,)) of section `index`."""
        start, stop = self.offsets[index : index + 2]
        return self.points[start:stop].copy(), self.diameters[start:stop].copy()

    def neuron_names(self) -> list[str]:
        """The name NEURON's Import3d gives each section ("soma[0]", "dend[3]", ...)."""
        names, count = [], {}
        for swc_type in self.types.tolist():
            index = count.get(swc_type, 0)
            count[swc_type] = index + 1
            names.append(f"{type_name(swc_type)}[{index}]")
        return names

    def translated(self, shift) -> Morphology:
        """A copy moved by `shift` (3 values, µm)."""
        return replace(self, points=self.points + np.asarray(shift, dtype=float))

    def rotated(self, matrix, center=None) -> Morphology:
        """A copy rotated by the 3×3 `matrix` about `center` (default: the root's first point)."""
        matrix = np.asarray(matrix, dtype=float)
        if matrix.shape != (3, 3):
            raise ValueError(f"a rotation is a 3x3 matrix, got shape {matrix.shape}")
        center = self.points[0] if center is None else np.asarray(center, dtype=float)
        return replace(self, points=(self.points - center) @ matrix.T + center)

    def __repr__(self) -> str:
        where = f" from {self.source}" if self.source else ""
        return f"Morphology({self.n_sections} sections, {self.n_points} points{where})"
