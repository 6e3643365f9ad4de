"""Checks of a read morphology: implausible sizes, several somata, zero diameters, and too
many compartments.

A reconstruction that reads but is probably wrong (a coordinate typo, a file in nm read as
µm, a soma sample inside a dendrite) gives a `MorphologyWarning` naming the file, line and
figure; geometry that cannot be simulated (a zero diameter inside a section) an error.
Silence the warnings with `warnings.filterwarnings("ignore", category=MorphologyWarning)`.
"""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

import numpy as np

from dendrax.morphology.morphology import Morphology, region_label

MAX_SECTION_LENGTH = 5_000.0
"""Sections longer than this (µm) are implausible: a coordinate typo or a file in nm."""

MAX_EXTENT = 10_000.0
"""Cells spanning more than this (µm) along x, y or z are implausible (nm, a typo)."""

MAX_COMPARTMENTS = 100_000
"""Default `max_compartments` of `Cell.from_morphology` (and `from_swc`, `from_asc`): more
compartments warn (pass a larger number, or None, to allow them)."""

_PACKAGE = os.path.realpath(Path(__file__).parents[1])


class MorphologyWarning(UserWarning):
    """A reconstruction that reads but looks wrong, or that the reader changed to read it
    (renumbered samples, filled radii). The message names the file and line."""


def warn(message: str) -> None:
    """Warn with `MorphologyWarning`, attributed to the first caller outside dendrax."""
    frame, level = sys._getframe(1), 2  # stacklevel 2: warn's caller
    while frame is not None and os.path.realpath(frame.f_code.co_filename).startswith(_PACKAGE):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, MorphologyWarning, stacklevel=level)


def check_size(morphology: Morphology) -> None:
    """Warn about sections longer than `MAX_SECTION_LENGTH` or a cell spanning more than
    `MAX_EXTENT` (µm), naming the line of the farthest step or point."""
    hint = "a coordinate typo on that line, or a file in nm (read it with scale=1e-3)"
    lengths = morphology.lengths
    long = np.flatnonzero(lengths > MAX_SECTION_LENGTH)
    if long.size:
        section = int(long[np.argmax(lengths[long])])
        start, stop = morphology.offsets[section : section + 2]
        steps = np.diff(morphology.arc[start:stop])
        point = int(start + 1 + np.argmax(steps))
        others = f" ({long.size} sections are)" if long.size > 1 else ""
        warn(
            f"{morphology.where(point, section)}: the section is {lengths[section]:.4g} um long, "
            f"longer than {MAX_SECTION_LENGTH:g} um{others}; this point is {steps.max():.4g} um "
            f"from the previous one: {hint}"
        )
        return
    points = morphology.points
    span = points.max(axis=0) - points.min(axis=0)
    axis = int(np.argmax(span))
    if span[axis] > MAX_EXTENT:
        point = int(np.argmax(np.abs(points[:, axis] - points[0, axis])))
        warn(
            f"{morphology.where(point)}: the cell spans {span[axis]:.4g} um along "
            f"{'xyz'[axis]} (to this point, the farthest from the root), more than "
            f"{MAX_EXTENT:g} um: {hint}"
        )


def check_somata(morphology: Morphology) -> None:
    """Warn when soma sections hang on non-soma sections: the file has several somata."""
    types, parents = morphology.types, morphology.parents
    soma = np.flatnonzero(types == 1)
    separate = [int(s) for s in soma if parents[s] < 0 or types[parents[s]] != 1]
    if len(separate) < 2:
        return
    second = separate[1]
    parent = int(parents[second])
    names = morphology.neuron_names()
    pieces = ", ".join(names[s] for s in separate)
    start, stop = morphology.offsets[second : second + 2]
    lines = morphology.point_lines
    copied = lines is not None and lines[start] == lines[morphology.offsets[parent + 1] - 1]
    first = int(start + 1 if copied and stop - start > 1 else start)
    warn(
        f"{morphology.where(first, second)}: soma samples on "
        f"{names[parent]} ({region_label(int(types[parent]))}) make another soma: the file "
        f"has {len(separate)} separate somata ({pieces}). cell.soma selects the compartments "
        "of all of them (cell.soma.stimulate injects into each); cell.branch(0) is the root "
        "soma. Check the samples' type (1 is soma)."
    )


def check_diameters(morphology: Morphology) -> None:
    """Raise for a 3D point of zero diameter that is not the last of its section (the
    section's axial resistance would be infinite there), naming the file and line."""
    last = np.zeros(morphology.n_points, dtype=bool)
    last[morphology.offsets[1:] - 1] = True
    zero = np.flatnonzero((morphology.diameters <= 0) & ~last)
    if zero.size:
        point = int(zero[0])
        raise ValueError(
            f"{morphology.where(point)}: a 3D point of diameter "
            f"{morphology.diameters[point]:g} inside a section ({zero.size} such points): the "
            "axial resistance there would be infinite, and the length constant (d_lambda) "
            "undefined; give the sample a radius > 0 (Cell.from_swc(path, radius=...) "
            "fills samples of radius 0)"
        )


def check_compartments(morphology: Morphology, ncomp, limit: int | None) -> None:
    """Warn when `ncomp` (scalar or one per section) makes more than `limit` compartments,
    naming the section with the most."""
    if limit is None:
        return
    counts = np.broadcast_to(np.asarray(ncomp), (morphology.n_sections,))
    total = int(counts.sum())
    if total <= limit:
        return
    section = int(np.argmax(counts))
    length = morphology.lengths[section]
    warn(
        f"{morphology.source or 'the morphology'}: the discretisation makes {total:,} "
        f"compartments, more than max_compartments={limit:,}; the most, {int(counts[section]):,}, "
        f"in {morphology.neuron_names()[section]} ({length:.4g} um long, from line "
        f"{_line(morphology, section)}). Check the coordinates (a typo, or a file in nm: "
        "scale=1e-3), give a larger d_lambda or fewer ncomp, or pass max_compartments=None "
        "(or a larger number) to allow it"
    )


def _line(morphology: Morphology, section: int) -> str:
    if morphology.point_lines is None:
        return "?"
    return str(int(morphology.point_lines[morphology.offsets[section]]))
