"""Membrane area and axial resistance of compartments from 3D points, as NEURON computes them.

A section of length L (the arc length of its last 3D point) is cut into `ncomp` compartments
of equal length, each into two halves. Between consecutive 3D points the diameter varies
linearly, so each piece between breakpoints (3D points and half-compartment ends) is a
truncated cone: its lateral area is π (r1 + r2) √(Δ² + (r2 - r1)²), and its axial
resistance ρ Δ / (π r1 r2). Two points at one place with different diameters add the
annulus between them to the area. NEURON's `seg.area()` sums the pieces of both halves,
and `seg.ri()` is the near half of a compartment plus the far half of the previous one
(Hines and Carnevale, The NEURON Book, 2006, ch. 5).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dendrax import units

TINY = 1e-15
"""NEURON's floor for a piece's length and for d1·d2/Δ, which keeps zero-length pieces finite."""

FLAT = 1e-10
"""Two 3D points closer than this along the arc (µm) count as one place (NEURON's rule)."""


@dataclass(frozen=True)
class CompartmentGeometry:
    """Per-compartment geometry of a discretised morphology.

    Attributes:
        length: compartment length (µm), L / ncomp of its section.
        area: membrane area (µm²).
        near_resistance: axial resistance of the near half (towards x = 0) per unit axial
            resistivity (MΩ per Ω·cm).
        far_resistance: the same for the far half (towards x = 1).
    """

    length: np.ndarray
    area: np.ndarray
    near_resistance: np.ndarray
    far_resistance: np.ndarray


def compartment_geometry(arc, diameters, offsets, ncomp) -> CompartmentGeometry:
    """Integrate the truncated cones of every section over its compartments' halves.

    Args:
        arc: arc length of each 3D point from its section's first point (µm).
        diameters: diameter at each 3D point (µm).
        offsets: index of each section's first point, and the number of points at the end.
        ncomp: compartments of each section.
    """
    ncomp = np.asarray(ncomp, dtype=np.int64)
    n_sections = ncomp.size
    count = np.diff(offsets)
    if np.any(count < 2):
        bad = int(np.flatnonzero(count < 2)[0])
        raise ValueError(f"section {bad} has {count[bad]} 3D points; it needs at least 2")
    section_length = arc[offsets[1:] - 1]
    step = section_length / ncomp

    # Half-compartment ends, computed as NEURON does: s = i·ds + ds/2, then s + ds/2.
    n_halves = 2 * ncomp
    half_section = np.repeat(np.arange(n_sections), n_halves)
    half_in_section = np.arange(n_halves.sum()) - np.repeat(
        np.concatenate([[0], np.cumsum(n_halves)[:-1]]), n_halves
    )
    comp_start = (half_in_section // 2) * step[half_section]
    middle = comp_start + step[half_section] / 2.0
    boundary = np.where(half_in_section % 2 == 0, middle, middle + step[half_section] / 2.0)
    last_boundary = boundary[np.cumsum(n_halves) - 1]

    # Breakpoints: the 3D points (except each section's last, which NEURON never visits)
    # before every half end at or past them.
    point_section = np.repeat(np.arange(n_sections), count)
    is_last = np.zeros(arc.size, dtype=bool)
    is_last[offsets[1:] - 1] = True
    visited = ~is_last & (arc <= last_boundary[point_section])
    point_index = np.flatnonzero(visited)
    node_section = np.concatenate([point_section[point_index], half_section])
    node_position = np.concatenate([arc[point_index], boundary])
    node_kind = np.concatenate([np.zeros(point_index.size), np.ones(boundary.size)])
    node_order = np.concatenate([point_index, np.arange(boundary.size)])
    order = np.lexsort((node_order, node_kind, node_position, node_section))
    node_section, node_position = node_section[order], node_position[order]
    is_boundary = node_kind[order] == 1
    node_point = np.where(is_boundary, -1, node_order[order])

    # Diameter at each breakpoint: the point's own, or interpolated between the last point
    # at or before a half end and the next one.
    last_point = np.maximum.accumulate(node_point)
    after = last_point + 1
    gap = arc[after] - arc[last_point]
    flat = np.abs(gap) < FLAT
    frac = np.where(flat, 1.0, (node_position - arc[last_point]) / np.where(flat, 1.0, gap))
    interpolated = (1.0 - frac) * diameters[last_point] + frac * diameters[after]
    node_diameter = np.where(is_boundary, interpolated, diameters[np.maximum(node_point, 0)])

    # Pieces between consecutive breakpoints of one section; each belongs to the half whose
    # end is the next half end.
    same = node_section[1:] == node_section[:-1]
    delta = (node_position[1:] - node_position[:-1])[same]
    d1, d2 = node_diameter[:-1][same], node_diameter[1:][same]
    # Boundaries of earlier sections all sort first, so counting half ends before a piece's
    # end gives its global half index.
    halves_before = np.cumsum(is_boundary) - is_boundary
    piece_half = halves_before[1:][same]
    slant = np.sqrt(delta**2 + (0.5 * (d2 - d1)) ** 2)
    area_piece = (d1 + d2) * slant
    conductance = d1 * d2 / np.maximum(delta, TINY)
    resistance_piece = 1.0 / np.where(conductance == 0, TINY, conductance)
    n_total = int(n_halves.sum())
    half_area = np.bincount(piece_half, weights=area_piece, minlength=n_total) * np.pi / 2
    half_resistance = np.bincount(piece_half, weights=resistance_piece, minlength=n_total)
    half_resistance *= 4.0 * units.RESISTIVITY_TO_RESISTANCE / np.pi
    return CompartmentGeometry(
        length=np.repeat(step, ncomp),
        area=half_area[0::2] + half_area[1::2],
        near_resistance=half_resistance[0::2],
        far_resistance=half_resistance[1::2],
    )
