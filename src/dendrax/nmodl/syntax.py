"""The parsed form of a .mod file: declarations, and statements and expressions as trees."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Number:
    value: float


@dataclass(frozen=True)
class Name:
    name: str
    line: int


@dataclass(frozen=True)
class Unary:
    op: str
    operand: object


@dataclass(frozen=True)
class Binary:
    op: str
    left: object
    right: object


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple
    line: int


@dataclass(frozen=True)
class Assign:
    target: str
    value: object
    line: int


@dataclass(frozen=True)
class Derivative:
    """`state' = value` in a DERIVATIVE block."""

    state: str
    value: object
    line: int


@dataclass(frozen=True)
class Local:
    names: tuple


@dataclass(frozen=True)
class If:
    condition: object
    then: tuple
    otherwise: tuple


@dataclass(frozen=True)
class Solve:
    block: str
    method: str
    line: int


@dataclass(frozen=True)
class Routine:
    """A PROCEDURE or FUNCTION: its arguments and body."""

    name: str
    args: tuple
    body: tuple


@dataclass(frozen=True)
class UseIon:
    ion: str
    read: tuple
    write: tuple
    valence: float | None


@dataclass(frozen=True)
class Declared:
    """A PARAMETER, ASSIGNED or STATE entry."""

    name: str
    default: float | None
    unit: str
    lower: float | None
    line: int


@dataclass
class ModFile:
    """What a .mod file declares and computes."""

    source: str
    suffix: str = ""
    point_process: bool = False
    ions: list[UseIon] = field(default_factory=list)
    nonspecific: list[str] = field(default_factory=list)
    parameters: list[Declared] = field(default_factory=list)
    assigned: list[Declared] = field(default_factory=list)
    states: list[Declared] = field(default_factory=list)
    constants: dict[str, float] = field(default_factory=dict)
    initial: tuple = ()
    breakpoint: tuple = ()
    derivatives: dict[str, tuple] = field(default_factory=dict)
    procedures: dict[str, Routine] = field(default_factory=dict)
    functions: dict[str, Routine] = field(default_factory=dict)


def names_used(body, routines: dict, seen=None) -> tuple[set[str], set[str]]:
    """(names read, names assigned) by statements `body`, following calls into the
    PROCEDUREs and FUNCTIONs of `routines` (their arguments and locals excluded)."""
    seen = set() if seen is None else seen
    read: set[str] = set()
    written: set[str] = set()

    def expression(node, local):
        if isinstance(node, Name) and node.name not in local:
            read.add(node.name)
        elif isinstance(node, Unary):
            expression(node.operand, local)
        elif isinstance(node, Binary):
            expression(node.left, local)
            expression(node.right, local)
        elif isinstance(node, Call):
            for arg in node.args:
                expression(arg, local)
            routine = routines.get(node.name)
            if routine is not None and routine.name not in seen:
                seen.add(routine.name)
                statements(routine.body, {*routine.args, routine.name})

    def statements(body, local):
        local = set(local)
        for statement in body:
            if isinstance(statement, Local):
                local.update(statement.names)
            elif isinstance(statement, Assign | Derivative):
                expression(statement.value, local)
                name = statement.target if isinstance(statement, Assign) else statement.state
                if name not in local:
                    written.add(name)
            elif isinstance(statement, If):
                expression(statement.condition, local)
                statements(statement.then, local)
                statements(statement.otherwise, local)
            elif isinstance(statement, Call):
                expression(statement, local)

    statements(body, set())
    return read, written
