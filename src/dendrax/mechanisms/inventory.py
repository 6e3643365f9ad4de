"""Inspection: which mechanisms are inserted where, with their parameters and units."""

from dataclasses import dataclass

import numpy as np

from dendrax.mechanisms import membrane
from dendrax.mechanisms.base import Mechanism
from dendrax.mechanisms.ions import VARIABLE_UNITS


@dataclass(frozen=True)
class ParameterSummary:
    """A parameter's unit, description and the range of its values over the sites."""

    name: str
    unit: str
    description: str
    low: float
    high: float


@dataclass(frozen=True)
class MechanismSummary:
    """A mechanism inserted in a cell: where, its parameters, states and currents."""

    name: str
    branches: tuple[int, ...]
    n_compartments: int
    parameters: tuple[ParameterSummary, ...]
    states: dict[str, str]
    currents: tuple[str, ...]
    reads: tuple[str, ...]
    writes: tuple[str, ...]


def parameter_table(mechanism: Mechanism | type[Mechanism]) -> str:
    """One line per parameter of a mechanism: name, default, unit, description."""
    lines = [
        f"{name} = {p.default:g} {p.unit}  {p.description}".rstrip()
        for name, p in mechanism.parameters.items()
    ]
    return "\n".join(lines)


def mechanisms_of(cell) -> list[MechanismSummary]:
    """The mechanisms inserted in `cell`, in insertion order."""
    summaries = []
    for name, inserted in cell.mechanisms.items():
        mechanism = inserted.mechanism
        where = np.flatnonzero(inserted.where)
        parameters = tuple(
            ParameterSummary(
                p,
                declared.unit,
                declared.description,
                float(np.min(inserted.values[p][where])),
                float(np.max(inserted.values[p][where])),
            )
            for p, declared in mechanism.parameters.items()
        )
        summaries.append(
            MechanismSummary(
                name=name,
                branches=tuple(int(b) for b in np.unique(cell.tree.comp_branch[where])),
                n_compartments=int(where.size),
                parameters=parameters,
                states={s: declared.unit for s, declared in mechanism.states.items()},
                currents=membrane.current_names(mechanism),
                reads=mechanism.reads,
                writes=mechanism.writes,
            )
        )
    return summaries


def describe(cell) -> str:
    """A readable listing of the inserted mechanisms and the ion parameters of `cell`."""
    lines = []
    for summary in mechanisms_of(cell):
        lines.append(
            f"{summary.name}: {summary.n_compartments} compartments in "
            f"{len(summary.branches)} branches; currents {list(summary.currents)} (mA/cm2)"
        )
        for p in summary.parameters:
            values = f"{p.low:g}" if p.low == p.high else f"{p.low:g} .. {p.high:g}"
            lines.append(f"  {summary.name}.{p.name} = {values} {p.unit}  {p.description}".rstrip())
    in_use = [inserted.mechanism for inserted in cell.mechanisms.values()]
    for variable, values in cell.ion_values.items():
        unit = VARIABLE_UNITS[membrane.ion_variable_kind(variable, in_use)]
        low, high = float(np.min(values)), float(np.max(values))
        shown = f"{low:g}" if low == high else f"{low:g} .. {high:g}"
        lines.append(f"{variable} = {shown} {unit}")
    return "\n".join(lines)
