"""Values NEURON carries from one block of a .mod file to another that need care here.

- A PARAMETER that the file's statements assign (in INITIAL, NET_RECEIVE or a solved block)
  keeps its new value for the rest of the run in NEURON; here it becomes a state of its
  own (`RUN_VALUE`), set from the parameter before INITIAL, which the statements read and
  write in its place.
- A value that BREAKPOINT's statements outside SOLVE set and that a solved block reads
  (`Trelease = T + diffusione()` before `SOLVE kstates`) is, in NEURON's state update,
  the one the last current evaluation left: computed at the step's midpoint with the
  states before the update. The update recomputes it so (`breakpoint_values`).
"""

from __future__ import annotations

from dendrax.nmodl import syntax as s
from dendrax.nmodl.lexer import ModError

RUN_VALUE = "{}_now"
"""The name of the state that holds a PARAMETER's value as the file's statements left it."""


def run_parameters(mod: s.ModFile, parameters: set) -> dict[str, str]:
    """The PARAMETERs of `parameters` that the file's statements assign: state name ->
    parameter. A ModError where BREAKPOINT's statements outside SOLVE assign one (NEURON
    keeps it; the current evaluation here cannot change a state), or the state's name is
    taken."""
    routines = {**mod.procedures, **mod.functions}
    outside = s.outside_solves(mod.breakpoint)
    for node in s.nodes(outside, routines):
        if isinstance(node, s.Assign) and node.target in parameters:
            raise ModError(
                mod.source,
                node.line,
                f"BREAKPOINT assigns the PARAMETER {node.target} outside SOLVE: not supported "
                "(declare it ASSIGNED)",
            )
    bodies = [mod.initial, *mod.derivatives.values(), *mod.kinetics.values()]
    bodies += mod.linears.values()
    solved = {x.block for x in s.solves(mod.breakpoint)}
    bodies += [mod.procedures[name].body for name in sorted(solved & set(mod.procedures))]
    if mod.net_receive is not None:
        bodies += [mod.net_receive.body, mod.net_receive.initial]
    local = set(mod.net_receive.args) if mod.net_receive is not None else set()
    assigned = {x.target for b in bodies for x in s.nodes(b, routines) if isinstance(x, s.Assign)}
    declared = {x.name for x in (*mod.parameters, *mod.assigned, *mod.states)}
    found = {}
    for name in sorted((assigned & parameters) - local):
        if RUN_VALUE.format(name) in declared:
            raise ModError(mod.source, 1, f"{RUN_VALUE.format(name)} is a name dendrax takes")
        found[RUN_VALUE.format(name)] = name
    return found


def breakpoint_values(mod: s.ModFile, solved_reads: set) -> list[str]:
    """Of `solved_reads` (names the solved blocks read before they set them), those that
    BREAKPOINT's statements outside SOLVE set. A ModError for one that depends on v there:
    the state update here has the new voltage, not the one the current was evaluated at."""
    routines = {**mod.procedures, **mod.functions}
    outside = s.outside_solves(mod.breakpoint)
    set_there = {x.target for x in s.nodes(outside, routines) if isinstance(x, s.Assign)}
    found = sorted(solved_reads & set_there)
    on_v = _set_from_v(outside, routines)
    for name in found:
        if name in on_v:
            solve = s.solves(mod.breakpoint)[0]
            raise ModError(
                mod.source,
                solve.line,
                f"SOLVE {solve.block}: it reads {name}, which BREAKPOINT sets from v outside "
                "the SOLVE: not supported (set it in the solved block)",
            )
    return found


def _set_from_v(body, routines: dict) -> set[str]:
    """Names that statements `body`, run in order, may set from v (over-estimated: through
    any value read, condition or routine that depends on v, a routine's locals not told
    apart from the file's variables)."""
    tainted = {"v"}

    def reads_tainted(node) -> bool:
        return bool({getattr(x, "name", None) for x in s.nodes((node,), routines)} & tainted)

    for statement in body:
        nodes = s.nodes((statement,), routines)
        while True:
            before = len(tainted)
            for node in nodes:
                if isinstance(node, s.Assign) and reads_tainted(node.value):
                    tainted.add(node.target)
                elif isinstance(node, s.If) and reads_tainted(node.condition):
                    inner = s.nodes(node.then + node.otherwise, routines)
                    tainted.update(x.target for x in inner if isinstance(x, s.Assign))
            if len(tainted) == before:
                break
    return tainted
