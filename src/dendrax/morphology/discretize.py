"""Discretisation of a morphology into compartments: fixed counts or NEURON's d_lambda rule."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from dendrax import units
from dendrax.morphology.branch_tree import BranchTree, per_branch
from dendrax.morphology.checks import check_diameters
from dendrax.morphology.frustum import compartment_geometry
from dendrax.morphology.morphology import Morphology

DEFAULT_D_LAMBDA = 0.1
"""Largest compartment length as a fraction of the AC length constant (NEURON's usual)."""

DEFAULT_FREQUENCY = 100.0
"""Frequency (Hz) at which the AC length constant is taken (NEURON's usual)."""


@dataclass(frozen=True)
class Discretization:
    """Compartments of a morphology, as `Cell` takes them.

    Attributes:
        tree: branches (one per section) with their compartment counts.
        length: per compartment (µm). radius: per compartment (µm), that of the cylinder of
            the compartment's length with NEURON's membrane area.
        near_resistance, far_resistance: shape factors of the two halves: NEURON's half
            resistance over that of the cylinder (dimensionless).
    """

    tree: BranchTree
    length: np.ndarray
    radius: np.ndarray
    near_resistance: np.ndarray
    far_resistance: np.ndarray


def d_lambda_ncomp(
    morphology: Morphology,
    d_lambda: float = DEFAULT_D_LAMBDA,
    frequency: float = DEFAULT_FREQUENCY,
    axial_resistivity=35.4,
    capacitance=1.0,
) -> np.ndarray:
    """Odd compartment counts with no compartment longer than d_lambda AC length constants.

    As NEURON's recipe `nseg = int((L / (d_lambda * lambda_f(f)) + 0.9) / 2) * 2 + 1`, where
    `lambda_f` integrates the length constant over the 3D points (Hines and Carnevale,
    The NEURON Book, 2006, sec. 5.6). `axial_resistivity` (Ω·cm) and `capacitance`
    (µF/cm²) are scalars or one per section.
    """
    if not (np.isfinite(d_lambda) and d_lambda > 0):
        raise ValueError(f"d_lambda must be > 0, got {d_lambda}")
    if not (np.isfinite(frequency) and frequency > 0):
        raise ValueError(f"frequency must be > 0 Hz, got {frequency}")
    n = morphology.n_sections
    ra = per_branch(axial_resistivity, n, "axial_resistivity")
    cm = per_branch(capacitance, n, "capacitance")
    arc, diam, offsets = morphology.arc, morphology.diameters, morphology.offsets
    step = np.diff(arc)
    pair_sum = diam[:-1] + diam[1:]
    same_section = np.ones(arc.size - 1, dtype=bool)
    same_section[offsets[1:-1] - 1] = False
    check_diameters(morphology)
    term = np.where(same_section, step / np.sqrt(np.where(same_section, pair_sum, 1.0)), 0.0)
    per_section = np.bincount(morphology.point_section[:-1], weights=term, minlength=n)
    electrotonic = per_section * math.sqrt(2) * 1e-5 * np.sqrt(4 * math.pi * frequency * ra * cm)
    # NEURON's lambda_f is L / electrotonic, and the recipe divides L by it again.
    length = morphology.lengths
    safe = electrotonic > 0
    lambda_f = np.where(safe, length / np.where(safe, electrotonic, 1.0), 1.0)
    ratio = np.where(safe, length / (d_lambda * lambda_f), 0.0)
    return (np.floor((ratio + 0.9) / 2) * 2 + 1).astype(np.int64)


def discretize(morphology: Morphology, ncomp) -> Discretization:
    """Cut every section into `ncomp` (scalar or one per section) equal compartments."""
    check_diameters(morphology)
    tree = BranchTree.from_parents(morphology.parents, ncomp, morphology.parent_x)
    geometry = compartment_geometry(
        morphology.arc, morphology.diameters, morphology.offsets, tree.ncomp
    )
    flat = np.flatnonzero((geometry.length <= 0) | (geometry.area <= 0))
    if flat.size:
        section = int(tree.comp_branch[flat[0]])
        raise ValueError(
            f"{morphology.where(int(morphology.offsets[section]), section)}: the section has "
            "zero length or area (its 3D points are at one place): it cannot carry a compartment"
        )
    radius = geometry.area / (2 * math.pi * geometry.length)
    cylinder_half = units.RESISTIVITY_TO_RESISTANCE * 0.5 * geometry.length / (math.pi * radius**2)
    return Discretization(
        tree=tree,
        length=geometry.length,
        radius=radius,
        near_resistance=geometry.near_resistance / cylinder_half,
        far_resistance=geometry.far_resistance / cylinder_half,
    )
