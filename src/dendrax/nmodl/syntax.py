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
    steady: bool = False
    """SOLVE ... STEADYSTATE (in INITIAL): the block's steady state."""


@dataclass(frozen=True)
class Reaction:
    """`~ left <-> right (forward, backward)` in a KINETIC block, each side a tuple of
    (name, stoichiometry); a flux `~ state << (flux)` has no right side and `forward` is
    the flux."""

    left: tuple
    right: tuple | None
    forward: object
    backward: object
    line: int


@dataclass(frozen=True)
class Conserve:
    """`CONSERVE terms = total`: terms are (state, stoichiometry) pairs."""

    terms: tuple
    total: object
    line: int


@dataclass(frozen=True)
class Compartment:
    """`COMPARTMENT volume {states}`: the states' equations are d(volume state)/dt."""

    volume: object
    states: tuple


@dataclass(frozen=True)
class Routine:
    """A PROCEDURE or FUNCTION: its arguments and body."""

    name: str
    args: tuple
    body: tuple
    units: tuple = ()
    """The unit of each argument ("" where none is given)."""


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
    electrode: list[str] = field(default_factory=list)
    """ELECTRODE_CURRENTs: inward, as a current injected by an electrode."""
    pointers: list[str] = field(default_factory=list)
    parameters: list[Declared] = field(default_factory=list)
    assigned: list[Declared] = field(default_factory=list)
    states: list[Declared] = field(default_factory=list)
    constants: dict[str, float] = field(default_factory=dict)
    initial: tuple = ()
    breakpoint: tuple = ()
    derivatives: dict[str, tuple] = field(default_factory=dict)
    kinetics: dict[str, tuple] = field(default_factory=dict)
    """KINETIC blocks by name."""
    procedures: dict[str, Routine] = field(default_factory=dict)
    functions: dict[str, Routine] = field(default_factory=dict)
    net_receive: Routine | None = None
    """NET_RECEIVE: its arguments (the weight first) and body."""


def read_before_set(body, routines: dict) -> set[str]:
    """Names that statements `body` read before they set them (in the order they run),
    following calls into the PROCEDUREs and FUNCTIONs of `routines` (their arguments and
    locals excluded): the values a block takes from before it."""
    seen: set[str] = set()
    early: set[str] = set()
    written: set[str] = set()

    def expression(node, local):
        if isinstance(node, Name) and node.name not in local and node.name not in written:
            early.add(node.name)
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
            elif isinstance(statement, Reaction):
                expression(statement.forward, local)
                if statement.backward is not None:
                    expression(statement.backward, local)
            elif isinstance(statement, Conserve):
                expression(statement.total, local)
            elif isinstance(statement, Compartment):
                expression(statement.volume, local)

    statements(body, set())
    return early
