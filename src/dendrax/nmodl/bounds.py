"""How many times a FROM loop with bounds that vary at run time may run, known before the run.

Such a loop (`FROM i = cntc TO numpulses` after `cntc = imax(numpulses - 100, 0)`) runs
as a fixed number of masked iterations, so that the code traces to a static graph that
runs natively and differentiates. The number comes from an upper bound of `stop - start`
found by algebra on the bounds: each is an affine form in the values it reads (LOCALs set
before the loop in the same block are replaced by what they were set to, so that a bound,
which NEURON's grammar keeps to names, numbers and + - * /, may name a LOCAL set to a
call), or a max or min of such forms (the math functions fmax and fmin, and FUNCTIONs of
the form `if (a > b) { f = a } else { f = b }`). Where the difference has no bound
(`FROM i = 0 TO n`), the file cannot be read.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from dendrax.nmodl import syntax as s
from dendrax.nmodl.lexer import ModError


@dataclass(frozen=True)
class Affine:
    """constant + sum of coefficient * value, the values named."""

    constant: float
    terms: tuple = ()
    """(name, coefficient) pairs, sorted by name, no zero coefficient."""

    def plus(self, other: Affine, sign: float = 1.0) -> Affine:
        terms = dict(self.terms)
        for name, coefficient in other.terms:
            terms[name] = terms.get(name, 0.0) + sign * coefficient
        kept = tuple(sorted((n, c) for n, c in terms.items() if c != 0.0))
        return Affine(self.constant + sign * other.constant, kept)

    def scaled(self, factor: float) -> Affine:
        return Affine(self.constant * factor, tuple((n, c * factor) for n, c in self.terms))


@dataclass(frozen=True)
class Extreme:
    """The largest (`largest`) or smallest of `forms` (Affine or Extreme)."""

    largest: bool
    forms: tuple


def _number(form) -> float | None:
    """The value of a form that is a number."""
    return form.constant if isinstance(form, Affine) and not form.terms else None


def _scaled(form, factor: float):
    if isinstance(form, Affine):
        return form.scaled(factor)
    forms = tuple(_scaled(f, factor) for f in form.forms)
    return Extreme(form.largest == (factor > 0), forms)


def _sum(left, right, sign: float = 1.0):
    """left + sign * right."""
    if isinstance(left, Affine) and isinstance(right, Affine):
        return left.plus(right, sign)
    if isinstance(left, Extreme):
        return Extreme(left.largest, tuple(_sum(f, right, sign) for f in left.forms))
    right = right if sign > 0 else _scaled(right, -1.0)
    return Extreme(right.largest, tuple(_sum(left, f) for f in right.forms))


def upper_bound(form) -> float:
    """The least upper bound this algebra proves for `form` (inf if none)."""
    if isinstance(form, Affine):
        return form.constant if not form.terms else math.inf
    bounds = [upper_bound(f) for f in form.forms]
    return max(bounds) if form.largest else min(bounds)


def _difference_bound(stop, start) -> float:
    """An upper bound of stop - start: a max subtracted is at least each of its forms."""
    if isinstance(start, Extreme) and start.largest:
        return min(_difference_bound(stop, f) for f in start.forms)
    if isinstance(stop, Extreme) and not stop.largest:
        return min(_difference_bound(f, start) for f in stop.forms)
    if isinstance(stop, Extreme):
        return max(_difference_bound(f, start) for f in stop.forms)
    if isinstance(start, Extreme):
        return max(_difference_bound(stop, f) for f in start.forms)
    return upper_bound(stop.plus(start, -1.0))


class _Algebra:
    """Expressions of `mod` as forms, LOCALs replaced by their values in `defined`."""

    def __init__(self, mod: s.ModFile, defined: dict):
        self.mod, self.defined = mod, defined

    def form(self, node, scope: dict | None = None):
        """The form of `node`, or None where it is neither affine nor a max or min."""
        scope = self.defined if scope is None else scope
        if isinstance(node, s.Number):
            return Affine(node.value)
        if isinstance(node, s.Name):
            if node.name in scope:
                return scope[node.name]
            if node.name in self.mod.constants:
                return Affine(self.mod.constants[node.name])
            return Affine(0.0, ((node.name, 1.0),))
        if isinstance(node, s.Unary) and node.op == "-":
            operand = self.form(node.operand, scope)
            return None if operand is None else _scaled(operand, -1.0)
        if isinstance(node, s.Binary):
            return self._binary(node, scope)
        if isinstance(node, s.Call):
            return self._call(node, scope)
        return None

    def _binary(self, node: s.Binary, scope: dict):
        left, right = self.form(node.left, scope), self.form(node.right, scope)
        if left is None or right is None:
            return None
        if node.op in "+-":
            return _sum(left, right, 1.0 if node.op == "+" else -1.0)
        if node.op == "*" and _number(left) is not None:
            left, right = right, left
        factor = _number(right)
        if node.op not in "*/" or not factor:
            return None
        return _scaled(left, factor if node.op == "*" else 1.0 / factor)

    def _call(self, node: s.Call, scope: dict):
        args = [self.form(arg, scope) for arg in node.args]
        if any(arg is None for arg in args):
            return None
        if node.name in ("fmax", "fmin") and len(args) == 2:
            return Extreme(node.name == "fmax", tuple(args))
        routine = self.mod.functions.get(node.name)
        if routine is None or len(routine.args) != len(args):
            return None
        largest = _choice(routine)
        if largest is None:
            return None
        return Extreme(largest, tuple(args))


def _choice(routine: s.Routine) -> bool | None:
    """True for a FUNCTION f(a, b) that is `if (a > b) { f = a } else { f = b }` (max),
    False for its min, None otherwise."""
    if len(routine.body) != 1 or len(routine.args) != 2:
        return None
    statement = routine.body[0]
    if not isinstance(statement, s.If) or not isinstance(statement.condition, s.Binary):
        return None
    condition, (a, b) = statement.condition, routine.args
    arms = (statement.then, statement.otherwise)
    picked = []
    for arm in arms:
        if len(arm) != 1 or not isinstance(arm[0], s.Assign) or arm[0].target != routine.name:
            return None
        if not isinstance(arm[0].value, s.Name):
            return None
        picked.append(arm[0].value.name)
    compared = (getattr(condition.left, "name", None), getattr(condition.right, "name", None))
    if compared not in ((a, b), (b, a)) or sorted(picked) != sorted([a, b]):
        return None
    first_wins = picked[0] == compared[0]
    if condition.op in (">", ">="):
        return first_wins
    if condition.op in ("<", "<="):
        return not first_wins
    return None


def loop_trips(mod: s.ModFile) -> dict[int, int]:
    """For each FROM loop of `mod` whose bounds are not numbers when the code is traced
    (they read more than numbers, CONSTANTs and the variables of enclosing loops that are
    unrolled): the most iterations it can run, by the id of its node. A ModError for such
    a loop with no bound, or a step that is not a nonzero number."""
    routines = {**mod.procedures, **mod.functions}
    trips: dict[int, int] = {}
    bodies = [mod.initial, mod.breakpoint]
    bodies += [*mod.derivatives.values(), *mod.kinetics.values(), *mod.linears.values()]
    bodies += [r.body for r in routines.values()]
    if mod.net_receive is not None:
        bodies += [mod.net_receive.body, mod.net_receive.initial]
    for body in bodies:
        _block_trips(_Algebra(mod, {}), body, set(), routines, trips)
    return trips


def _block_trips(algebra: _Algebra, body, unrolled: set, routines: dict, trips: dict) -> None:
    """Walk `body`, keeping the forms of the names set so far (at its own level; a name
    that a nested statement or a call sets is unknown from there on); `unrolled`: the
    variables of the enclosing loops with bounds known when traced."""
    for statement in body:
        changed = _assigned(statement, algebra.mod, routines)
        inner = _Algebra(algebra.mod, {**algebra.defined, **dict.fromkeys(changed)})
        if isinstance(statement, s.If):
            for arm in (statement.then, statement.otherwise):
                arm_algebra = _Algebra(algebra.mod, dict(algebra.defined))
                _block_trips(arm_algebra, arm, unrolled, routines, trips)
        elif isinstance(statement, s.From):
            static = _static(statement, algebra.mod, unrolled)
            if not static:
                trips[id(statement)] = _trips(statement, algebra)
            inside = unrolled | {statement.variable} if static else unrolled
            _block_trips(inner, statement.body, inside, routines, trips)
        value = None
        if isinstance(statement, s.Assign) and statement.index is None:
            value = algebra.form(statement.value)
        algebra.defined.update(dict.fromkeys(changed))
        if value is not None and not changed - {statement.target}:
            algebra.defined[statement.target] = value


def _assigned(statement, mod: s.ModFile, routines: dict) -> set[str]:
    """The names that `statement` sets, and the file's variables that routines it calls set."""
    found = {x.target for x in s.nodes((statement,), {}) if isinstance(x, s.Assign)}
    declared = {x.name for x in (*mod.parameters, *mod.assigned, *mod.states)}
    called = {x.target for x in s.nodes((statement,), routines) if isinstance(x, s.Assign)}
    if isinstance(statement, s.From):
        found.add(statement.variable)
    return found | (called & declared)


def _static(loop: s.From, mod: s.ModFile, unrolled: set) -> bool:
    """Whether the bounds of `loop` are numbers when the code is traced."""
    read = [x for bound in (loop.start, loop.stop, loop.step) for x in s.subexpressions(bound)]
    known = {*mod.constants, *unrolled, "PI", "E"}
    return not any(isinstance(x, s.Index | s.Call) for x in read) and all(
        x.name in known for x in read if isinstance(x, s.Name)
    )


def _trips(loop: s.From, algebra: _Algebra) -> int:
    mod = algebra.mod

    def error(reason):
        return ModError(
            mod.source,
            loop.line,
            f"FROM {loop.variable}: bounds that vary at run time are supported where their "
            f"difference has a bound known before the run (as in FROM i = first TO n after "
            f"first = imax(n - 100, 0)); {reason}",
        )

    step = s.static_value(loop.step, mod.constants)
    if not step:
        raise error("its step must be a nonzero number")
    start, stop = algebra.form(loop.start), algebra.form(loop.stop)
    if start is None or stop is None:
        raise error("these are not sums of values or their max or min")
    span = _difference_bound(stop, start) if step > 0 else _difference_bound(start, stop)
    if math.isinf(span):
        raise error("this one's has none")
    # NEURON truncates each bound to an integer: one more iteration at most
    return max(0, math.floor(span / abs(step))) + 2
