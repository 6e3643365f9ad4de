"""Membrane mechanisms: the declaration API and the built-in library."""

from dendrax.mechanisms.base import (
    Mechanism,
    Parameter,
    State,
    exponential_euler,
    exponential_euler_rate,
    implicit_euler,
)
from dendrax.mechanisms.gates import GatedChannel
from dendrax.mechanisms.hh import HH
from dendrax.mechanisms.inventory import describe, mechanisms_of, parameter_table
from dendrax.mechanisms.ions import STANDARD_IONS, Ion, ghk_current, nernst
from dendrax.mechanisms.leak import Leak

__all__ = [
    "HH",
    "STANDARD_IONS",
    "GatedChannel",
    "Ion",
    "Leak",
    "Mechanism",
    "Parameter",
    "State",
    "describe",
    "exponential_euler",
    "exponential_euler_rate",
    "ghk_current",
    "implicit_euler",
    "mechanisms_of",
    "nernst",
    "parameter_table",
]
