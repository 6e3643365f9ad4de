"""C++ for a mechanism's per-site functions, generated from their jaxprs.

A mechanism's `current` (with its slope di/dv, as the JAX path takes it) and `update` are
traced with `jax.make_jaxpr` on scalars; each elementwise primitive of the jaxpr becomes one
C++ statement, so user-written mechanisms get native code without a second definition. A
primitive outside `_UNARY`, `_BINARY` and the few handled in `_statement` raises
`Unsupported`, and the caller falls back to the pure-JAX path.
"""

from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.extend.core import Literal

_C_TYPES = {
    np.dtype(np.float64): "double",
    np.dtype(np.float32): "float",
    np.dtype(np.bool_): "bool",
    np.dtype(np.int32): "int32_t",
    np.dtype(np.int64): "int64_t",
}

_UNARY = {
    "neg": "(-{0})",
    "abs": "std::abs({0})",
    "exp": "dx_exp({0})",
    "exp2": "std::exp2({0})",
    "log": "dx_log({0})",
    "log1p": "std::log1p({0})",
    "expm1": "std::expm1({0})",
    "sqrt": "std::sqrt({0})",
    "rsqrt": "({t}(1) / std::sqrt({0}))",
    "cbrt": "std::cbrt({0})",
    "tanh": "std::tanh({0})",
    "sin": "std::sin({0})",
    "cos": "std::cos({0})",
    "tan": "std::tan({0})",
    "asin": "std::asin({0})",
    "acos": "std::acos({0})",
    "atan": "std::atan({0})",
    "sinh": "std::sinh({0})",
    "cosh": "std::cosh({0})",
    "erf": "std::erf({0})",
    "floor": "std::floor({0})",
    "ceil": "std::ceil({0})",
    "logistic": "({t}(1) / ({t}(1) + dx_exp(-{0})))",
    "not": "(!{0})",
    "sign": "({t}(({0} > 0) - ({0} < 0)))",
    "square": "({0} * {0})",
    "copy": "{0}",
    "copy_p": "{0}",
    "stop_gradient": "{0}",
    "is_finite": "std::isfinite({0})",
}

_BINARY = {
    "add": "({0} + {1})",
    "add_any": "({0} + {1})",
    "sub": "({0} - {1})",
    "mul": "({0} * {1})",
    "div": "({0} / {1})",
    "pow": "dx_pow({0}, {1})",
    "atan2": "std::atan2({0}, {1})",
    "rem": "std::fmod({0}, {1})",
    "max": "dx_max({0}, {1})",
    "min": "dx_min({0}, {1})",
    "lt": "({0} < {1})",
    "le": "({0} <= {1})",
    "gt": "({0} > {1})",
    "ge": "({0} >= {1})",
    "eq": "({0} == {1})",
    "ne": "({0} != {1})",
    "and": "({0} & {1})",
    "or": "({0} | {1})",
}

MAX_ARRAY = 256
"""The most elements of an array in generated code (a .mod file's array read at a computed
index: a spike buffer of 100 compiles in about 20 s, one of 800 did not within 2 minutes
and 12 GB)."""

_INLINED = ("pjit", "jit", "closed_call", "core_call", "custom_jvp_call", "custom_vjp_call")


class Unsupported(Exception):
    """The function uses something the native code generator cannot translate."""


def c_type(dtype) -> str:
    try:
        return _C_TYPES[np.dtype(dtype)]
    except KeyError:
        raise Unsupported(f"values of dtype {np.dtype(dtype)}") from None


def literal(value, dtype) -> str:
    """An exact C++ literal of `value` with `dtype`."""
    value = np.asarray(value).astype(dtype).item()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{c_type(dtype)}({value})"
    if np.isnan(value):
        return f"std::numeric_limits<{c_type(dtype)}>::quiet_NaN()"
    if np.isinf(value):
        sign = "-" if value < 0 else ""
        return f"{sign}std::numeric_limits<{c_type(dtype)}>::infinity()"
    return f"{c_type(dtype)}({float(value).hex()})"


class _Emitter:
    def __init__(self):
        self.lines: list[str] = []
        self.names: dict = {}
        self.constants: dict = {}  # constvars' values
        self.count = 0

    def fresh(self, var) -> str:
        name = f"t{self.count}"
        self.count += 1
        self.names[var] = name
        return name

    def ref(self, atom) -> str:
        if isinstance(atom, Literal):
            if np.ndim(atom.val) != 0:
                raise Unsupported("a non-scalar constant")
            return literal(atom.val, atom.aval.dtype)
        return self.names[atom]

    def constant(self, atom):
        """The value of `atom` if it is a constant (a literal or a captured constant)."""
        if isinstance(atom, Literal):
            return atom.val
        return self.constants.get(atom)

    def _by_constant(self, eqn) -> bool:
        """Whether `eqn` (a div) divides a variable float by a constant."""
        numerator, divisor = eqn.invars
        return (
            np.issubdtype(eqn.outvars[0].aval.dtype, np.floating)
            and self.constant(divisor) is not None
            and self.constant(numerator) is None
        )

    def emit(self, jaxpr, consts: Sequence, inputs: Sequence[str]) -> list[str]:
        """Statements of `jaxpr` applied to the C++ expressions `inputs`; its outputs."""
        for var, value in zip(jaxpr.constvars, consts, strict=True):
            if np.ndim(value) > 1:
                raise Unsupported("a constant of more than one dimension")
            if np.ndim(value) == 1:  # such as the indices of an array's elements
                name, dtype = self.fresh(var), var.aval.dtype
                items = ", ".join(literal(x, dtype) for x in np.asarray(value))
                self.lines.append(f"const {c_type(dtype)} {name}[{len(value)}] = {{{items}}};")
                continue
            self.names[var] = literal(value, var.aval.dtype)
            self.constants[var] = value
        for var, expression in zip(jaxpr.invars, inputs, strict=True):
            self.names[var] = expression
        for eqn in jaxpr.eqns:
            self._equation(eqn)
        return [self.ref(v) for v in jaxpr.outvars]

    def temporary(self) -> str:
        """A fresh C++ name that no variable of the jaxpr takes."""
        self.count += 1
        return f"t{self.count - 1}"

    def _equation(self, eqn) -> None:
        name = eqn.primitive.name
        args = [self.ref(v) for v in eqn.invars]
        if name == "scan":
            self._scan(eqn, args)
            return
        if name not in _INLINED and any(_shape(v) != () for v in (*eqn.invars, *eqn.outvars)):
            self._array_equation(eqn, args)
            return
        if name in _INLINED:
            closed = eqn.params.get(
                "jaxpr", eqn.params.get("call_jaxpr", eqn.params.get("fun_jaxpr"))
            )
            if closed is None:
                raise Unsupported(f"primitive {name!r} without a jaxpr")
            inner = getattr(closed, "jaxpr", closed)
            consts = getattr(closed, "consts", ())
            for var, atom in zip(inner.invars, eqn.invars, strict=True):
                if self.constant(atom) is not None:
                    self.constants[var] = self.constant(atom)
            outs = _Emitter.emit(self, inner, consts, args)
            for var, out in zip(eqn.outvars, outs, strict=True):
                self.names[var] = out
            return
        dtype = eqn.outvars[0].aval.dtype
        out_type = c_type(dtype)
        if name == "div" and self._by_constant(eqn):
            reciprocal = literal(_reciprocal(self.constant(eqn.invars[1]), dtype), dtype)
            expression = f"({args[0]} * {reciprocal})"
        else:
            expression = _statement(name, args, eqn, out_type)
        target = self.fresh(eqn.outvars[0])
        self.lines.append(f"const {out_type} {target} = {expression};")

    def _array_equation(self, eqn, args: list[str]) -> None:
        """An equation on small one-dimensional arrays (a .mod file's array read at a
        computed index): each a C++ array, computed by a loop over its elements."""
        name = eqn.primitive.name
        for var in (*eqn.invars, *eqn.outvars):
            if len(_shape(var)) > 1:
                raise Unsupported(f"an array of shape {_shape(var)} (primitive {name!r})")
            if _shape(var) and _shape(var)[0] > MAX_ARRAY:
                raise Unsupported(
                    f"an array of {_shape(var)[0]} elements (more than {MAX_ARRAY}: the C++ "
                    "compiler takes minutes and gigabytes on such code)"
                )
        if name == "unstack":
            for k, var in enumerate(eqn.outvars):
                self.names[var] = f"{args[0]}[{k}]"
            return
        out = eqn.outvars[0]
        out_type = c_type(out.aval.dtype)
        if name in ("reduce_sum", "reduce_max", "reduce_min"):
            size = _shape(eqn.invars[0])[0]
            combine = {"reduce_sum": "({0} + {1})", "reduce_max": "dx_max({0}, {1})"}
            combine["reduce_min"] = "dx_min({0}, {1})"
            target = self.fresh(out)
            self.lines.append(f"{out_type} {target} = {args[0]}[0];")
            step = combine[name].format(target, f"{args[0]}[q]")
            self.lines.append(f"for (int q = 1; q < {size}; ++q) {target} = {step};")
            return
        size = (_shape(out) or (1,))[0]
        target = self.fresh(out)
        if name == "stack":
            self.lines.append(f"const {out_type} {target}[{size}] = {{{', '.join(args)}}};")
            return
        if out.aval.shape == ():  # one element of an array: (1,) -> ()
            if name not in ("reshape", "squeeze"):
                raise Unsupported(f"primitive {name!r} to a scalar from an array")
            self.lines.append(f"const {out_type} {target} = {args[0]}[0];")
            return
        if name in ("dynamic_slice", "dynamic_update_slice"):
            self._dynamic_slice(eqn, args, target, out_type)
            return
        if name == "iota":
            element = f"static_cast<{out_type}>(q)"
        elif name in ("broadcast_in_dim", "reshape", "squeeze", "copy", "copy_p"):
            element = _element(eqn.invars[0], args[0])
        else:
            elements = [_element(v, a) for v, a in zip(eqn.invars, args, strict=True)]
            element = _statement(name, elements, eqn, out_type)
        self.lines.append(f"{out_type} {target}[{size}];")
        self.lines.append(f"for (int q = 0; q < {size}; ++q) {target}[q] = {element};")

    def _dynamic_slice(self, eqn, args: list[str], target: str, out_type: str) -> None:
        """`dynamic_slice` (elements from a start index) or `dynamic_update_slice` (an
        array with elements replaced from a start index), the start clamped as XLA's."""
        size = _shape(eqn.invars[0])[0]
        if eqn.primitive.name == "dynamic_slice":
            (width,) = eqn.params["slice_sizes"]
            start = f"std::min<int64_t>(std::max<int64_t>({args[1]}, 0), {size - width})"
            self.lines.append(f"{out_type} {target}[{width}];")
            self.lines.append(
                f"for (int q = 0; q < {width}; ++q) {target}[q] = {args[0]}[{start} + q];"
            )
            return
        width = (_shape(eqn.invars[1]) or (1,))[0]
        start = f"std::min<int64_t>(std::max<int64_t>({args[2]}, 0), {size - width})"
        update = _element(eqn.invars[1], args[1])
        self.lines.append(f"{out_type} {target}[{size}];")
        self.lines.append(f"for (int q = 0; q < {size}; ++q) {target}[q] = {args[0]}[q];")
        self.lines.append(f"for (int q = 0; q < {width}; ++q) {target}[{start} + q] = {update};")

    def _scan(self, eqn, args: list[str]) -> None:
        """`scan` (a loop of a fixed number of iterations: `lax.fori_loop`, and its
        transpose in a vector-Jacobian product) as a C++ loop whose body is the scan's
        jaxpr, emitted once: its carried values (scalars, small arrays) are variables of
        the loop, its inputs and outputs per iteration arrays of one value per iteration."""
        params = eqn.params
        length, n_consts, n_carry = params["length"], params["num_consts"], params["num_carry"]
        if length > MAX_ARRAY:
            raise Unsupported(f"a loop of {length} iterations (more than {MAX_ARRAY})")
        for var in (*eqn.invars[n_consts + n_carry :], *eqn.outvars[n_carry:]):
            if _shape(var) != (length,):
                raise Unsupported(f"a loop's values per iteration of shape {_shape(var)}")
        for var in eqn.invars[n_consts : n_consts + n_carry]:
            if len(_shape(var)) > 1 or (_shape(var) and _shape(var)[0] > MAX_ARRAY):
                raise Unsupported(f"a loop carrying an array of shape {_shape(var)}")
        carried = [self.fresh(var) for var in eqn.outvars[:n_carry]]
        for name, var, initial in zip(
            carried, eqn.invars[n_consts:], args[n_consts : n_consts + n_carry], strict=False
        ):
            self._declare(name, var, initial)
        stacked = [self.fresh(var) for var in eqn.outvars[n_carry:]]
        for name, var in zip(stacked, eqn.outvars[n_carry:], strict=True):
            self.lines.append(f"{c_type(var.aval.dtype)} {name}[{length}];")
        k = self.temporary()
        if params["reverse"]:
            self.lines.append(f"for (int {k} = {length - 1}; {k} >= 0; --{k}) {{")
        else:
            self.lines.append(f"for (int {k} = 0; {k} < {length}; ++{k}) {{")
        each = [f"{x}[{k}]" for x in args[n_consts + n_carry :]]
        closed = params["jaxpr"]
        outputs = self.emit(closed.jaxpr, closed.consts, [*args[:n_consts], *carried, *each])
        # the new carried values all computed before any is replaced
        new = [self.temporary() for _ in carried]
        for name, var, value in zip(new, eqn.outvars, outputs, strict=False):
            self._declare(name, var, value)
        for name, var, value in zip(carried, eqn.outvars, new, strict=False):
            self._copy(name, var, value)
        for name, value in zip(stacked, outputs[n_carry:], strict=True):
            self.lines.append(f"{name}[{k}] = {value};")
        self.lines.append("}")

    def _declare(self, name: str, var, value: str) -> None:
        """A C++ variable `name` of the type of `var` (a scalar or 1-D array), set to `value`."""
        shape, out_type = _shape(var), c_type(var.aval.dtype)
        if not shape:
            self.lines.append(f"{out_type} {name} = {value};")
            return
        self.lines.append(f"{out_type} {name}[{shape[0]}];")
        self._copy(name, var, value)

    def _copy(self, name: str, var, value: str) -> None:
        """`name` = `value` (C++ variables of the type of `var`: a scalar or 1-D array)."""
        if not _shape(var):
            self.lines.append(f"{name} = {value};")
            return
        self.lines.append(f"for (int q = 0; q < {_shape(var)[0]}; ++q) {name}[q] = {value}[q];")


def _shape(atom) -> tuple:
    return tuple(atom.aval.shape)


def _element(atom, expression: str) -> str:
    """Element q of `atom` (C++ `expression`) in a loop over an array's elements: a scalar
    is broadcast, an array of one element repeated."""
    shape = _shape(atom)
    if shape == ():
        return expression
    return f"{expression}[0]" if shape == (1,) else f"{expression}[q]"


def _statement(name: str, args: list[str], eqn, out_type: str) -> str:
    if name in _UNARY and len(args) == 1:
        return _UNARY[name].format(*args, t=out_type)
    if name in _BINARY and len(args) == 2:
        return _BINARY[name].format(*args, t=out_type)
    if name == "select_n":
        # select_n(which, *cases): cases[which]; with two cases, a ternary.
        if len(args) != 3:
            raise Unsupported("select_n with more than two cases")
        return f"({args[0]} ? {args[2]} : {args[1]})"
    if name == "convert_element_type":
        return f"static_cast<{out_type}>({args[0]})"
    if name == "integer_pow":
        return _integer_pow(args[0], eqn.params["y"], out_type)
    if name == "clamp":
        return f"dx_min(dx_max({args[1]}, {args[0]}), {args[2]})"
    if name in ("broadcast_in_dim", "reshape", "squeeze", "reduce_precision"):
        return args[0]
    raise Unsupported(f"primitive {name!r}")


def _reciprocal(value, dtype):
    """1 / value, rounded to `dtype` (XLA's rewrite of a division by a constant)."""
    one = np.ones((), dtype)
    with np.errstate(divide="ignore", over="ignore"):
        return one / np.asarray(value, dtype)


def _integer_pow(x: str, y: int, out_type: str) -> str:
    """x**y by the same sequence of products as JAX's lowering (square and multiply)."""
    if y == 0:
        return f"{out_type}(1)"
    power, accumulated, exponent = x, None, abs(y)
    while exponent > 0:
        if exponent & 1:
            accumulated = power if accumulated is None else f"({accumulated} * {power})"
        exponent >>= 1
        if exponent > 0:
            power = f"({power} * {power})"
    return f"({out_type}(1) / {accumulated})" if y < 0 else accumulated


def scalar_function(
    name: str, fn: Callable, n_inputs: int, n_outputs: int, dtype, zeros: set | None = None
) -> str:
    """A C++ function `name(in0, ..., out0&, ...)` computing `fn` on scalars of `dtype`.

    `fn` takes `n_inputs` scalars and returns a tuple of `n_outputs` scalars. `zeros`, where
    given, gains the indices of the outputs that are the constant 0 (cotangents of inputs
    that a function does not depend on: their accumulations can be left out).
    """
    scalar = jnp.zeros((), dtype)
    try:
        closed = jax.make_jaxpr(fn)(*[scalar] * n_inputs)
    except Exception as error:  # any tracing failure means: no native code for this mechanism
        raise Unsupported(f"tracing failed ({type(error).__name__}: {error})") from error
    emitter = _Emitter()
    inputs = [f"in{k}" for k in range(n_inputs)]
    outputs = emitter.emit(closed.jaxpr, closed.consts, inputs)
    if len(outputs) != n_outputs:
        raise Unsupported(f"{name} returned {len(outputs)} values, expected {n_outputs}")
    t = c_type(dtype)
    if zeros is not None:
        zeros.update(k for k, o in enumerate(outputs) if o == literal(0, dtype))
    signature = ", ".join(
        [f"const {t} {i}" for i in inputs] + [f"{t}& out{k}" for k in range(n_outputs)]
    )
    body = emitter.lines + [f"out{k} = static_cast<{t}>({o});" for k, o in enumerate(outputs)]
    return "\n".join(
        [
            # Inlined however large the kernel grows (GCC stops inlining into very large
            # functions): a call in a loop over sites keeps the loop from vectorising.
            f"static inline __attribute__((always_inline)) void {name}({signature}) {{",
            *(f"  {line}" for line in body),
            "}",
        ]
    )
