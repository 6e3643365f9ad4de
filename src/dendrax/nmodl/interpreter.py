"""Running the statements of a .mod file on JAX arrays, with NEURON's meaning.

Values are arrays over a mechanism's sites (or scalars). A branch (`if`) on values runs
both arms and keeps, per site, the values of the arm its condition chose (`jnp.where`),
so that imported mechanisms trace, vectorise and differentiate like written ones. A small
array's elements are variables of their own (`name[k]`): an index known when the code is
traced (a number, a FROM loop's variable) names one; an index computed from the values
reads the elements stacked in an array at that index, and writes each element
with `jnp.where`, so that the code stays elementwise. An ASSIGNED or STATE array of more
than `WHOLE_ARRAY` elements is one value held whole, of shape (sites, size) (`held_whole`),
read by `take_along_axis` and written by one `jnp.where` over its elements. A FROM loop
whose bounds vary at run time runs its most iterations (`bounds.loop_trips`), each masked
as an `if`; one with known bounds is unrolled, or runs as one `lax.fori_loop` where it has
more than `LONGEST_UNROLLED` iterations over an array held whole (`_rolled_loop`).
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass

import jax
import jax.numpy as jnp
from jax import lax

from dendrax.nmodl import syntax as s
from dendrax.nmodl.lexer import ModError

MATH = {
    "exp": jnp.exp,
    "log": jnp.log,
    "log10": jnp.log10,
    "fabs": jnp.abs,
    "sqrt": jnp.sqrt,
    "pow": jnp.power,
    "sin": jnp.sin,
    "cos": jnp.cos,
    "tan": jnp.tan,
    "tanh": jnp.tanh,
    "sinh": jnp.sinh,
    "cosh": jnp.cosh,
    "atan": jnp.arctan,
    "asin": jnp.arcsin,
    "acos": jnp.arccos,
    "floor": jnp.floor,
    "ceil": jnp.ceil,
    "fmin": jnp.minimum,
    "fmax": jnp.maximum,
    "fmod": jnp.fmod,
    "exprelr": lambda x: jnp.where(jnp.abs(x) < 1e-5, 1.0 - x / 2.0, x / jnp.expm1(x)),
}
"""The functions NMODL code may call, as NEURON defines them."""

CONSTANTS = {"PI": jnp.pi, "E": jnp.e}

WHOLE_ARRAY = 256
"""An ASSIGNED or STATE array of more elements than this is held whole (one state of shape
(sites, size)); a smaller one is a variable per element, as the native code generator
takes it (its arrays have at most 256 elements)."""

LONGEST_UNROLLED = 256
"""A FROM loop with bounds known when traced, more iterations than this and an array held
whole in its body runs as one `lax.fori_loop` where its body allows (`_rollable`); another
is unrolled, its indices known when traced (as the native code generator takes it)."""

SEND_TIME, SEND_FLAG = "net_send_time", "net_send_flag"
"""The values that hold the time (ms) and flag of the event a NET_RECEIVE sent its own
site (`net_send(delay, flag)`): present while a NET_RECEIVE that sends runs."""

_BINARY = {
    "+": jnp.add,
    "-": jnp.subtract,
    "*": jnp.multiply,
    "/": jnp.divide,
    "^": jnp.power,
    "<": jnp.less,
    ">": jnp.greater,
    "<=": jnp.less_equal,
    ">=": jnp.greater_equal,
    "==": jnp.equal,
    "!=": jnp.not_equal,
    "&&": jnp.logical_and,
    "||": jnp.logical_or,
}


def held_whole(mod: s.ModFile) -> dict[str, int]:
    """The ASSIGNED and STATE arrays of `mod` of more than `WHOLE_ARRAY` elements, held
    whole: name -> size. A ModError for such an array in a DERIVATIVE block."""
    parameters = {x.name for x in mod.parameters}
    found = {
        name: size
        for name, size in mod.arrays.items()
        if size > WHOLE_ARRAY and s.element(name, 0) not in parameters
    }
    for body in mod.derivatives.values():
        for node in s.nodes(body, {**mod.procedures, **mod.functions}):
            if isinstance(node, s.Derivative) and node.state in found:
                raise ModError(
                    mod.source,
                    node.line,
                    f"{node.state}': an array of more than {WHOLE_ARRAY}"
                    " elements in a DERIVATIVE block is not supported",
                )
    return found


class Interpreter:
    """Runs statements of `mod` on a dict of named values (the mechanism's variables)."""

    def __init__(self, mod: s.ModFile, trips: dict[int, int]):
        self.mod = mod
        self.trips = trips
        """The most iterations of each FROM loop whose bounds vary at run time, by the id
        of its node (`bounds.loop_trips`)."""
        self.whole = held_whole(mod)
        """The arrays held whole (`held_whole`): name -> size."""
        self._stacked: dict[str, tuple] = {}
        """Per array, its elements when last stacked and the stack (reused while they are
        the same values: a loop reads an array at many indices)."""

    def run(
        self, body, values: dict, local: dict | None = None, derivatives=None, kinetic=None
    ) -> dict:
        """`values` after `body`; names in `local` (LOCAL variables and arguments) stay
        there. `derivatives`, if given, receives each `state' = ...` as a function of the
        state's value (the other values as they are there), and the state is not changed.
        `kinetic`, if given, is a list that receives a KINETIC block's reactions, CONSERVE
        and COMPARTMENT statements with their values (see `_kinetic`)."""
        local = {} if local is None else local
        for statement in body:
            if isinstance(statement, s.Assign) and statement.index is not None:
                self._set_element(statement, values, local)
            elif isinstance(statement, s.Assign):
                target = local if statement.target in local else values
                target[statement.target] = self.value(statement.value, values, local)
            elif isinstance(statement, s.Local):
                local.update(dict.fromkeys(statement.names, 0.0))
            elif isinstance(statement, s.If):
                self._branch(statement, values, local, derivatives)
            elif isinstance(statement, s.From) and id(statement) in self.trips:
                self._masked_loop(statement, values, local, derivatives)
            elif isinstance(statement, s.From):
                found = self._loop_values(statement, values, local)
                over_whole = self._reads_or_writes_whole(statement)
                if len(found) > LONGEST_UNROLLED and over_whole and self._rollable(statement):
                    step = (found[-1] - found[0]) / (len(found) - 1)
                    self._rolled_loop(statement, len(found), found[0], step, values, local)
                    continue
                for value in found:
                    local[statement.variable] = value
                    self.run(statement.body, values, local, derivatives, kinetic)
            elif isinstance(statement, s.Call):
                self.call(statement, values, local)
            elif isinstance(statement, s.Derivative):
                if derivatives is None:
                    raise ModError(
                        self.mod.source, statement.line, "a derivative outside DERIVATIVE"
                    )
                derivatives[statement.state] = self._rate(statement, values, local)
            elif isinstance(statement, s.Reaction | s.Conserve | s.Compartment | s.Equation):
                self._kinetic(statement, values, local, kinetic)
        return values

    def _kinetic(self, statement, values: dict, local: dict, kinetic) -> None:
        """Append to `kinetic` ("reaction", statement, forward rate, backward rate) (a
        flux's backward rate is None), ("conserve", statement, total), ("compartment",
        states, volume) or ("equation", statement, left - right) (LINEAR); a reaction sets
        f_flux and b_flux as NEURON does."""
        if kinetic is None:
            raise ModError(
                self.mod.source,
                getattr(statement, "line", 1),
                "a reaction, CONSERVE or COMPARTMENT outside a KINETIC block or inside if",
            )
        if isinstance(statement, s.Equation):
            left, right = (self.value(x, values, local) for x in (statement.left, statement.right))
            kinetic.append(("equation", statement, left - right))
            return
        if isinstance(statement, s.Compartment):
            volume = self.value(statement.volume, values, local)
            kinetic.append(("compartment", statement.states, volume))
            return
        if isinstance(statement, s.Conserve):
            kinetic.append(("conserve", statement, self.value(statement.total, values, local)))
            return
        forward = self.value(statement.forward, values, local)
        if statement.right is None:
            local["f_flux"], local["b_flux"] = 0.0, forward
            kinetic.append(("reaction", statement, forward, None))
            return
        backward = self.value(statement.backward, values, local)
        local["f_flux"] = forward * self.product(statement.left, values, local)
        local["b_flux"] = backward * self.product(statement.right, values, local)
        kinetic.append(("reaction", statement, forward, backward))

    def product(self, species, values: dict, local: dict, without: str | None = None):
        """The product of the values of `species` ((name, count) pairs), one factor of
        `without` left out (a reaction term's derivative with respect to it)."""
        total = 1.0
        for name, count in species:
            count -= name == without
            for _ in range(count):
                total = total * self.value(s.Name(name, 0), values, local)
        return total

    def _rate(self, statement: s.Derivative, values: dict, local: dict) -> Rate:
        """d state/dt as a function of the state, the other values as they are now."""
        if statement.state not in values:
            raise ModError(self.mod.source, statement.line, f"{statement.state} is not a STATE")
        values, local = dict(values), dict(local)

        def rate(state):
            return self.value(statement.value, {**values, statement.state: state}, dict(local))

        parts = _relaxation_parts(statement)
        if parts is None:
            return Rate(rate)
        return Rate(rate, lambda: tuple(self.value(x, values, dict(local)) for x in parts))

    def _branch(self, statement: s.If, values: dict, local: dict, derivatives) -> None:
        condition = self.value(statement.condition, values, local)
        self._choose(condition, statement.then, statement.otherwise, values, local, derivatives)

    def _choose(self, condition, then, otherwise, values: dict, local: dict, derivatives) -> None:
        """Run statements `then` and `otherwise` and keep, per site, the values of the one
        `condition` chose."""
        arms = []
        for body in (then, otherwise):
            arm_values, arm_local = dict(values), dict(local)
            arm_derivatives = None if derivatives is None else dict(derivatives)
            self.run(body, arm_values, arm_local, arm_derivatives)
            arms.append((arm_values, arm_local, arm_derivatives))
        (then_values, then_local, then_d), (else_values, else_local, else_d) = arms
        for merged, first, second in (
            (values, then_values, else_values),
            (local, then_local, else_local),
        ):
            # in a fixed order (a set of strings has none), so that the generated code is
            # the same in every process and its compiled library is found in the cache
            for name in {**first, **second}:
                before = merged.get(name, 0.0)
                chosen = first.get(name, before), second.get(name, before)
                if chosen[0] is not chosen[1]:  # unchanged values stay as they are
                    if merged is values and name in self.whole:  # each site's whole array
                        merged[name] = jnp.where(*_broadcast(_per_element(condition), *chosen))
                    else:
                        merged[name] = jnp.where(condition, *chosen)
        if derivatives is not None:
            for name in {**then_d, **else_d}:
                before = derivatives.get(name, Rate(lambda x: 0.0 * x))
                first, second = then_d.get(name, before), else_d.get(name, before)
                derivatives[name] = _chosen(condition, first, second)

    def _masked_loop(self, loop: s.From, values: dict, local: dict, derivatives) -> None:
        """A FROM loop whose bounds vary at run time: its most iterations, each kept where
        its value of the variable is within the bounds (truncated to integers, as NEURON's
        loop counter is); one `lax.fori_loop` where its body allows (`_rollable`)."""
        start, stop = (jnp.trunc(self.value(x, values, local)) for x in (loop.start, loop.stop))
        step = s.static_value(loop.step, self.mod.constants)
        if derivatives is None and self._rollable(loop):
            self._rolled_loop(loop, self.trips[id(loop)], start, step, values, local, stop)
            return
        for k in range(self.trips[id(loop)]):
            local[loop.variable] = start + k * step
            inside = local[loop.variable] <= stop if step > 0 else local[loop.variable] >= stop
            self._choose(inside, loop.body, (), values, local, derivatives)

    def _inner(self, loop: s.From) -> list:
        """The nodes of the body of `loop`, and of the routines it calls."""
        return s.nodes(loop.body, {**self.mod.procedures, **self.mod.functions})

    def _rollable(self, loop: s.From) -> bool:
        """Whether `loop` may run as one `lax.fori_loop`: no loop, derivative or reaction
        in its body (nor in the routines it calls)."""
        kinds = s.From | s.Derivative | s.Reaction | s.Conserve | s.Compartment | s.Equation
        return not any(isinstance(x, kinds) for x in self._inner(loop))

    def _reads_or_writes_whole(self, loop: s.From) -> bool:
        """Whether the body of `loop` reads or writes an array held whole (a loop with
        bounds known when traced runs as one `lax.fori_loop` then; otherwise it is
        unrolled, its indices known when traced)."""
        inner = self._inner(loop)
        names = {x.name for x in inner if isinstance(x, s.Index)}
        names |= {x.target for x in inner if isinstance(x, s.Assign) and x.index is not None}
        return bool(names & set(self.whole))

    def _rolled_loop(
        self, loop: s.From, trips: int, first, step, values: dict, local: dict, stop=None
    ) -> None:
        """`trips` iterations of a FROM loop as one `lax.fori_loop`, its variable (traced)
        first + k step at iteration k; where `stop` is given, each iteration kept where
        the variable is within it (as an `if`). The values the body may set are carried,
        with the shapes and dtypes that a pass of the body gives them (traced abstractly
        until they no longer change); arrays of variables that it reads at computed
        indices are stacked once, before the loop."""
        for x in self._inner(loop):
            if isinstance(x, s.Index) and s.static_value(x.index, self.mod.constants) is None:
                defined = {*values, *local}
                if x.name not in self.whole and s.element(x.name, 0) in defined:
                    self._stack(x, values, local)  # kept in `_stacked` (values of this trace)

        def body(k, carry):
            self._stacked = dict(saved)
            inner_values, inner_local = dict(values), dict(local)
            inner_values.update(carry[0])
            inner_local.update(carry[1])
            at = inner_local[loop.variable] = first + step * k
            if stop is None:
                self.run(loop.body, inner_values, inner_local)
            else:
                inside = at <= stop if step > 0 else at >= stop
                self._choose(inside, loop.body, (), inner_values, inner_local, None)
            return self._carried(inner_values, values), self._carried(inner_local, local)

        saved = dict(self._stacked)  # stacks traced in the body stay there
        carry = ({}, {})
        for _ in range(4):  # until the shapes are those one pass gives
            shapes = jax.eval_shape(body, 0, carry)
            fitted = tuple(
                {
                    name: jnp.broadcast_to(jnp.asarray(before.get(name, 0.0), x.dtype), x.shape)
                    for name, x in part.items()
                }
                for part, before in zip(shapes, (values, local), strict=True)
            )
            if jax.tree.map(jnp.shape, fitted) == jax.tree.map(jnp.shape, carry):
                break
            carry = fitted
        after = lax.fori_loop(0, trips, body, fitted)
        self._stacked = saved
        values.update(after[0])
        local.update(after[1])
        local[loop.variable] = first + step * (trips - 1)

    @staticmethod
    def _carried(now: dict, before: dict) -> dict:
        """The entries of `now` that are new or not the same objects as in `before`."""
        return {name: x for name, x in now.items() if before.get(name) is not x}

    def _loop_values(self, loop: s.From, values: dict, local: dict) -> list[float]:
        """The values of a FROM loop's variable, its bounds known when the code is traced
        (numbers, CONSTANTs, an enclosing loop's variable: `bounds.loop_trips`)."""
        bounds = [self.value(x, values, local) for x in (loop.start, loop.stop, loop.step)]
        found = s.loop_values(*bounds)
        if found is None:
            raise ModError(self.mod.source, loop.line, f"FROM {loop.variable}: a step of 0")
        return found

    def _elements(self, node, values: dict, local: dict):
        """The index of `node` (an Index or an indexed Assign) and its array's elements:
        the element's name alone where the index is known when traced."""
        name = node.name if isinstance(node, s.Index) else node.target
        size = self.mod.arrays.get(name)
        if size is None:
            raise ModError(self.mod.source, node.line, f"{name}[...]: {name} is not an array")
        index = self._index(node, name, size, values, local)
        if isinstance(index, float):
            return index, [s.element(name, int(index))]
        return index, [s.element(name, k) for k in range(size)]

    def _index(self, node, name: str, size: int, values: dict, local: dict):
        """The index of `node` (an Index or an indexed Assign) into the array `name` of
        `size` elements: a number where it is known when traced (from numbers, CONSTANTs
        and unrolled loops' variables by arithmetic, which JAX would trace), checked
        against the size; else the computed index, truncated."""
        known = {k: v for k, v in {**self.mod.constants, **local}.items() if _number(v)}
        index = s.static_value(node.index, known)
        if index is None:
            index = self.value(node.index, values, local)
        if not _number(index):
            return jnp.floor(index)
        if not 0 <= int(index) < size:
            raise ModError(
                self.mod.source, node.line, f"{name}[{int(index)}]: out of {name}[{size}]"
            )
        return float(int(index))

    def _set_element(self, statement: s.Assign, values: dict, local: dict) -> None:
        """`name[index] = value`: at a computed index, each element takes the value where
        the index is its own (NEURON truncates a real index)."""
        new = self.value(statement.value, values, local)
        if statement.target in self.whole:
            at = _per_element(
                self._index(
                    statement, statement.target, self.whole[statement.target], values, local
                )
            )
            held = self._held(statement.target, values)
            elements = jnp.arange(self.whole[statement.target])
            at, new, held, elements = _broadcast(at, _per_element(new), held, elements)
            values[statement.target] = jnp.where(at == elements, new, held)
            return
        index, names = self._elements(statement, values, local)
        if len(names) == 1:
            values[names[0]] = new
            return
        for k, name in enumerate(names):
            values[name] = jnp.where(index == k, new, values.get(name, 0.0))

    def _stack(self, node: s.Index, values: dict, local: dict):
        """The elements of the array that `node` reads, stacked (last axis); kept while
        they are the same values of one trace."""
        names = [s.element(node.name, k) for k in range(self.mod.arrays[node.name])]
        found = tuple(self.value(s.Name(x, node.line), values, local) for x in names)
        kept = self._stacked.get(node.name)
        if kept is None or len(kept[0]) != len(found) or any(map(operator.is_not, kept[0], found)):
            kept = (found, jnp.stack(jnp.broadcast_arrays(*found), axis=-1))
            if all(isinstance(x, jax.core.Tracer) for x in found):  # values of one trace
                self._stacked[node.name] = kept
        return kept[1]

    def _held(self, name: str, values: dict):
        """The array `name`, held whole (its last axis the elements; 0 before any is set)."""
        found = values.get(name)
        return jnp.broadcast_to(0.0, (self.whole[name],)) if found is None else found

    def value(self, node, values: dict, local: dict):
        """The value of expression `node`."""
        if isinstance(node, s.Number):
            return node.value
        if isinstance(node, s.Index) and node.name in self.whole:
            at = self._index(node, node.name, self.whole[node.name], values, local)
            held = self._held(node.name, values)
            if isinstance(at, float):
                return held[..., int(at)]
            return _taken(held, at)
        if isinstance(node, s.Index):
            index, names = self._elements(node, values, local)
            if len(names) == 1:
                return self.value(s.Name(names[0], node.line), values, local)
            return _taken(self._stack(node, values, local), index)
        if isinstance(node, s.Name):
            for table in (local, values, self.mod.constants, CONSTANTS):
                if node.name in table:
                    return table[node.name]
            raise ModError(self.mod.source, node.line, f"{node.name} is not defined")
        if isinstance(node, s.Unary):
            operand = self.value(node.operand, values, local)
            return -operand if node.op == "-" else jnp.logical_not(operand)
        if isinstance(node, s.Binary):
            left = self.value(node.left, values, local)
            power = _whole_power(node)
            if power is not None:  # x^2 as x*x: pow(x, 2.0) rounds it so too
                return lax.integer_pow(jnp.asarray(left, jnp.result_type(float)), power)
            right = self.value(node.right, values, local)
            return _BINARY[node.op](left, right)
        return self.call(node, values, local)

    def call(self, node: s.Call, values: dict, local: dict):
        """Call a math function, a FUNCTION (its value) or a PROCEDURE (0)."""
        args = [self.value(arg, values, local) for arg in node.args]
        if node.name == "net_send":
            return self._net_send(node, args, values, local)
        if node.name in MATH:
            return MATH[node.name](*args)
        routine = self.mod.functions.get(node.name) or self.mod.procedures.get(node.name)
        if routine is None:
            raise ModError(self.mod.source, node.line, f"{node.name}() is not defined")
        if len(args) != len(routine.args):
            raise ModError(
                self.mod.source,
                node.line,
                f"{node.name}() takes {len(routine.args)} arguments, given {len(args)}",
            )
        scope = dict(zip(routine.args, args, strict=True))
        scope[routine.name] = 0.0
        self.run(routine.body, values, scope)
        return scope[routine.name]

    def _net_send(self, node: s.Call, args: list, values: dict, local: dict):
        """`net_send(delay, flag)` in NET_RECEIVE (`mechanism._check_events` checks where and
        how it is called): an event to the same connection at t + delay (NEURON's
        self-event), which replaces one not yet delivered."""
        now = self.value(s.Name("t", node.line), values, local)
        values[SEND_TIME] = now + args[0]
        values[SEND_FLAG] = args[1] + 0.0 * now
        return 0.0


def _number(value) -> bool:
    """Whether `value` is a Python number (known when the code is traced)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def _per_element(value):
    """`value` (per site) with an axis for the elements of an array held whole."""
    return jnp.expand_dims(jnp.asarray(value), -1)


def _broadcast(*arrays) -> list:
    """`arrays` broadcast to their common shape (explicitly: ranks may differ)."""
    shape = jnp.broadcast_shapes(*(jnp.shape(x) for x in arrays))
    return [jnp.broadcast_to(x, shape) for x in arrays]


def _taken(stacked, index):
    """The element of `stacked` (its last axis the elements) at `index` (per site, clamped
    to the elements): one `dynamic_slice` for one site (the native code's functions), else
    one `take_along_axis`."""
    size = stacked.shape[-1]
    at = jnp.clip(jnp.asarray(index), 0, size - 1).astype(int)
    if at.ndim == 0 and stacked.ndim == 1:
        return lax.dynamic_index_in_dim(stacked, at, keepdims=False)
    shape = jnp.broadcast_shapes(at.shape, stacked.shape[:-1])
    stacked = jnp.broadcast_to(stacked, (*shape, size))
    at = jnp.broadcast_to(at, shape)[..., None]
    return jnp.take_along_axis(stacked, at, axis=-1, mode="clip")[..., 0]


@dataclass(frozen=True)
class Rate:
    """d state/dt of a DERIVATIVE block as a function of the state (`of`), the other values
    as they were where it is written; and where it is written (A - state)/B, with neither A
    nor B reading the state (in each arm of an `if`), a function giving their values (the
    steady state and the time constant, ms), traced only by the method that uses them."""

    of: Callable
    relaxation: Callable | None = None

    def __call__(self, state):
        return self.of(state)


def _relaxation_parts(statement: s.Derivative) -> tuple | None:
    """(A, B) where `statement` is `x' = (A - x)/B` (or `x' = -x/B`: A = 0) and A and B
    read neither x nor a FUNCTION (which could read x); else None."""
    rate = statement.value
    if not (isinstance(rate, s.Binary) and rate.op == "/"):
        return None
    top = rate.left
    if isinstance(top, s.Unary) and top.op == "-" and _is_name(top.operand, statement.state):
        parts = (s.Number(0.0), rate.right)
    elif isinstance(top, s.Binary) and top.op == "-" and _is_name(top.right, statement.state):
        parts = (top.left, rate.right)
    else:
        return None
    for node in (x for part in parts for x in s.subexpressions(part)):
        if isinstance(node, s.Call) and node.name not in MATH:
            return None
        if isinstance(node, s.Name | s.Index) and node.name == statement.state:
            return None
    return parts


def _is_name(node, name: str) -> bool:
    return isinstance(node, s.Name) and node.name == name


def _whole_power(node: s.Binary) -> int | None:
    """n where `node` is x^n with n a whole number written in the file (|n| <= 32)."""
    if node.op != "^":
        return None
    exponent = node.right
    sign = 1
    if isinstance(exponent, s.Unary) and exponent.op == "-":
        sign, exponent = -1, exponent.operand
    if not isinstance(exponent, s.Number) or not float(exponent.value).is_integer():
        return None
    power = sign * int(exponent.value)
    return power if abs(power) <= 32 else None


def _chosen(condition, first: Rate, second: Rate) -> Rate:
    """A rate that is `first`'s where `condition` holds, else `second`'s."""

    def rate(state):
        return jnp.where(condition, first(state), second(state))

    if first.relaxation is None or second.relaxation is None:
        return Rate(rate)

    def relaxation():
        return tuple(
            jnp.where(condition, a, b)
            for a, b in zip(first.relaxation(), second.relaxation(), strict=True)
        )

    return Rate(rate, relaxation)
