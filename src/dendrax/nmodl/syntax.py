"""The parsed form of a .mod file: declarations, and statements and expressions as trees."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Number:
    value: float
    real: bool = field(default=False, compare=False)
    """Whether the file wrote it as a real number (1.0, 1e3, .5): not an integer expression."""


@dataclass(frozen=True)
class Name:
    name: str
    line: int


@dataclass(frozen=True)
class Index:
    """`name[index]`: an element of an array variable."""

    name: str
    index: object
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
    index: object = None
    """The element's index where the target is an array's element (`name[index] = ...`)."""


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
class From:
    """`FROM variable = start TO stop BY step { body }`: the body for each value, both ends
    included."""

    variable: str
    start: object
    stop: object
    step: object
    body: tuple
    line: int


@dataclass(frozen=True)
class Equation:
    """`~ left = right` in a LINEAR block."""

    left: object
    right: object
    line: int


@dataclass(frozen=True)
class Solve:
    block: str
    method: str
    line: int
    steady: bool = False
    """SOLVE ... STEADYSTATE (in INITIAL): the block's steady state."""
    given: bool = True
    """Whether the file names the METHOD (or STEADYSTATE); `method` is cnexp where not."""


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
    initial: tuple = ()
    """NET_RECEIVE's INITIAL block: run once per connection when the model is initialised."""


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


def element(name: str, index: int) -> str:
    """The name of an array's element as a variable of its own: `name[index]`."""
    return f"{name}[{index}]"


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
    linears: dict[str, tuple] = field(default_factory=dict)
    """LINEAR blocks by name."""
    arrays: dict[str, int] = field(default_factory=dict)
    """The size of each array variable (its elements are declared as `element`s)."""
    procedures: dict[str, Routine] = field(default_factory=dict)
    functions: dict[str, Routine] = field(default_factory=dict)
    net_receive: Routine | None = None
    """NET_RECEIVE: its arguments (the weight first, then the connection's own values),
    body and INITIAL block."""


def solves(body) -> list[Solve]:
    """The SOLVE statements of `body` (BREAKPOINT's or INITIAL's statements)."""
    return [statement for statement in body if isinstance(statement, Solve)]


def outside_solves(body) -> list:
    """The statements of `body` but its SOLVEs (BREAKPOINT's current evaluation)."""
    return [statement for statement in body if not isinstance(statement, Solve)]


def static_value(node, known: dict) -> float | None:
    """The value of expression `node` where it follows from numbers and the names in
    `known` alone (a FROM loop's variable, a constant index); else None."""
    if isinstance(node, Number):
        return node.value
    if isinstance(node, Name):
        return known.get(node.name)
    if isinstance(node, Unary) and node.op == "-":
        operand = static_value(node.operand, known)
        return None if operand is None else -operand
    if isinstance(node, Binary) and node.op in "+-*/":
        left, right = static_value(node.left, known), static_value(node.right, known)
        if left is None or right is None or (node.op == "/" and right == 0):
            return None
        if node.op == "/":
            return left / right
        return {"+": left + right, "-": left - right, "*": left * right}[node.op]
    return None


def loop_values(start, stop, step) -> list[float] | None:
    """The values a FROM loop's variable takes from `start` to `stop` (included) by
    `step`; None where a bound is unknown (None) or the step is 0."""
    if start is None or stop is None or not step:
        return None
    return [start + k * step for k in range(int((stop - start) // step) + 1)]


def read_before_set(body, routines: dict, arrays: dict | None = None) -> set[str]:
    """Names that statements `body` read before they set them (in the order they run),
    following calls into the PROCEDUREs and FUNCTIONs of `routines` (their arguments and
    locals excluded): the values a block takes from before it. An element of `arrays`
    (name -> size) is named by `element`; one at an index known only at run time stands
    for all of them, and setting it reads the others."""
    arrays = arrays or {}
    seen: set[str] = set()
    early: set[str] = set()
    written: set[str] = set()

    def elements(name, index, known):
        at = static_value(index, known)
        if at is None:
            return [element(name, k) for k in range(arrays.get(name, 0))]
        return [element(name, int(at))]

    def read(names):
        early.update(n for n in names if n not in written)

    def expression(node, local, known):
        if isinstance(node, Name) and node.name not in local:
            read([node.name])
        elif isinstance(node, Index):
            expression(node.index, local, known)
            read(elements(node.name, node.index, known))
        elif isinstance(node, Unary):
            expression(node.operand, local, known)
        elif isinstance(node, Binary):
            expression(node.left, local, known)
            expression(node.right, local, known)
        elif isinstance(node, Call):
            for arg in node.args:
                expression(arg, local, known)
            routine = routines.get(node.name)
            if routine is not None and routine.name not in seen:
                seen.add(routine.name)
                statements(routine.body, {*routine.args, routine.name}, {})

    def assign(statement, local, known):
        expression(statement.value, local, known)
        if statement.index is not None:
            expression(statement.index, local, known)
            targets = elements(statement.target, statement.index, known)
            if len(targets) > 1:
                read(targets)
            written.update(targets)
        elif statement.target not in local:
            written.add(statement.target)

    def loop(statement, local, known):
        for expr in (statement.start, statement.stop, statement.step):
            expression(expr, local, known)
        inner = {*local, statement.variable}
        bounds = [static_value(x, known) for x in (statement.start, statement.stop, statement.step)]
        for value in loop_values(*bounds) or [None]:
            statements(statement.body, inner, {**known, statement.variable: value})

    def statements(body, local, known):
        local = set(local)
        for statement in body:
            if isinstance(statement, Local):
                local.update(statement.names)
            elif isinstance(statement, Assign):
                assign(statement, local, known)
            elif isinstance(statement, Derivative):
                expression(statement.value, local, known)
                if statement.state not in local:
                    written.add(statement.state)
            elif isinstance(statement, If):
                expression(statement.condition, local, known)
                statements(statement.then, local, known)
                statements(statement.otherwise, local, known)
            elif isinstance(statement, From):
                loop(statement, local, known)
            elif isinstance(statement, Call):
                expression(statement, local, known)
            elif isinstance(statement, Reaction):
                expression(statement.forward, local, known)
                if statement.backward is not None:
                    expression(statement.backward, local, known)
            elif isinstance(statement, Conserve):
                expression(statement.total, local, known)
            elif isinstance(statement, Compartment):
                expression(statement.volume, local, known)
            elif isinstance(statement, Equation):
                expression(statement.left, local, known)
                expression(statement.right, local, known)

    statements(body, set(), {})
    return early


_PARTS = {
    Index: ("index",),
    Unary: ("operand",),
    Binary: ("left", "right"),
    Assign: ("value", "index"),
    Derivative: ("value",),
    If: ("condition",),
    From: ("start", "stop", "step"),
    Reaction: ("forward", "backward"),
    Conserve: ("total",),
    Compartment: ("volume",),
    Equation: ("left", "right"),
}
"""The fields of each node that hold expressions (a Call's are its arguments)."""


def nodes(body, routines: dict) -> list:
    """Every statement of `body` and expression they evaluate, nested ones included,
    following calls into the PROCEDUREs and FUNCTIONs of `routines` (each once)."""
    seen: set[str] = set()
    found: list = []

    def expression(node) -> None:
        if node is None:
            return
        found.append(node)
        children = node.args if isinstance(node, Call) else _parts(node)
        for child in children:
            expression(child)
        routine = routines.get(node.name) if isinstance(node, Call) else None
        if routine is not None and routine.name not in seen:
            seen.add(routine.name)
            statements(routine.body)

    def statements(body) -> None:
        for statement in body:
            found.append(statement)
            if isinstance(statement, Call):
                expression(statement)
            for part in _parts(statement):
                expression(part)
            if isinstance(statement, If):
                statements(statement.then + statement.otherwise)
            elif isinstance(statement, From):
                statements(statement.body)

    statements(body)
    return found


def subexpressions(node) -> list:
    """Expression `node` and every expression inside it (not following calls)."""
    children = node.args if isinstance(node, Call) else _parts(node)
    return [node, *(x for child in children if child is not None for x in subexpressions(child))]


def _parts(node) -> tuple:
    return tuple(getattr(node, name) for name in _PARTS.get(type(node), ()))
