"""A recursive-descent parser of NMODL (NEURON's model description language).

It reads what channel and concentration models use: NEURON (SUFFIX, POINT_PROCESS,
USEION, RANGE, GLOBAL, NONSPECIFIC_CURRENT; REPRESENTS annotations are skipped), UNITS,
PARAMETER, CONSTANT, DEFINE, ASSIGNED, STATE, INITIAL, BREAKPOINT with SOLVE, DERIVATIVE,
KINETIC (reactions, fluxes, COMPARTMENT, CONSERVE), LINEAR, PROCEDURE, FUNCTION, LOCAL,
if/else, FROM loops, array variables (`name[size]`, each element a variable `name[k]`, in
a declaring block or a file-level LOCAL; an index and a FROM loop's bounds are integer
expressions, as NEURON's grammar has them), TABLE (ignored: dendrax computes what a table
would hold exactly) and, of VERBATIM C code, only `return 0;` ending a PROCEDURE (what
older files put in a SOLVEd PROCEDURE, as Destexhe's HH_traub.mod does). Any other
construct raises a `ModError` naming the file, line and construct.
"""

from __future__ import annotations

import dataclasses
import math

from dendrax.mechanisms.ions import FARADAY, GAS_CONSTANT
from dendrax.nmodl import syntax as s
from dendrax.nmodl.lexer import ModError, Token, tokens

NAMED_UNITS = {"faraday": FARADAY, "k-mole": GAS_CONSTANT, "R": GAS_CONSTANT, "pi": math.pi}
"""Values of the physical constants a UNITS block may name (NEURON 9's, SI 2019)."""

_PREFIXES = {"kilo": 1e3, "milli": 1e-3, "micro": 1e-6}
"""Prefixes of the unit a UNITS constant is given in: FARADAY = (faraday) (kilocoulombs)."""
_SKIPPED = {"UNITSOFF", "UNITSON", "THREADSAFE"}
_UNSUPPORTED = {
    "VERBATIM": "VERBATIM C code",
    "FUNCTION_TABLE": "FUNCTION_TABLE",
    "NONLINEAR": "NONLINEAR blocks",
    "DISCRETE": "DISCRETE blocks",
    "PARTIAL": "PARTIAL blocks",
    "BEFORE": "BEFORE blocks",
    "AFTER": "AFTER blocks",
    "WATCH": "WATCH statements",
}
_PRECEDENCE = [("||",), ("&&",), ("==", "!=", "<", ">", "<=", ">="), ("+", "-"), ("*", "/")]


def parse(text: str, source: str = "<mod>") -> s.ModFile:
    """The `ModFile` that `text` (the contents of a .mod file) declares."""
    return _Parser(tokens(text, source), source).file()


class _Parser:
    def __init__(self, toks: list[Token], source: str):
        self.toks = toks
        self.at = 0
        self.source = source
        self.in_linear = False
        """Whether the block being read is LINEAR (its `~` lines are equations)."""
        self.in_net_receive = False
        self.net_initial = None
        """NET_RECEIVE's INITIAL block, once read (None before)."""
        self.defines: dict[str, int] = {}
        """Names of DEFINE and their values (an array's size may be one)."""
        self.variables: dict[str, tuple[str, int]] = {}
        """Names of RANGE, GLOBAL and CONSTANT: where they are declared, and how."""

    # -- tokens ---------------------------------------------------------------------------

    @property
    def peek(self) -> Token:
        return self.toks[self.at]

    def take(self) -> Token:
        token = self.toks[self.at]
        self.at += 1
        return token

    def error(self, message: str, token: Token | None = None):
        return ModError(self.source, (token or self.peek).line, message)

    def expect(self, text: str) -> Token:
        token = self.take()
        if token.text != text:
            raise self.error(f"expected {text!r}, found {token.text or 'the end'!r}", token)
        return token

    def name(self) -> Token:
        token = self.take()
        if token.kind == "verbatim":
            raise self.verbatim(token)
        if token.kind != "name":
            raise self.error(f"expected a name, found {token.text or 'the end'!r}", token)
        return token

    def accept(self, text: str) -> bool:
        if self.peek.text == text:
            self.at += 1
            return True
        return False

    def verbatim(self, token: Token):
        return self.error(
            "VERBATIM C code is not supported by dendrax's NMODL import (a VERBATIM "
            "`return 0;` is read as the last statement of a PROCEDURE only)",
            token,
        )

    def unsupported(self, token: Token):
        what = _UNSUPPORTED.get(token.text, token.text)
        return self.error(f"{what} is not supported by dendrax's NMODL import", token)

    # -- the file -------------------------------------------------------------------------

    def file(self) -> s.ModFile:
        mod = s.ModFile(self.source)
        while self.peek.kind != "end":
            token = self.name()
            keyword = token.text
            if keyword in _UNSUPPORTED:
                raise self.unsupported(token)
            if keyword == "NEURON":
                self.neuron(mod)
            elif keyword == "UNITS":
                self.units(mod)
            elif keyword in ("PARAMETER", "ASSIGNED", "STATE"):
                target = {"PARAMETER": mod.parameters, "ASSIGNED": mod.assigned}
                target.get(keyword, mod.states).extend(self.declarations(mod.arrays))
            elif keyword == "CONSTANT":
                for entry in self.declarations({}):
                    mod.constants[entry.name] = entry.default
                    self.variables[entry.name] = ("CONSTANT", entry.line)
            elif keyword == "LOCAL":  # variables of the whole file, arrays among them
                mod.assigned.extend(self.file_locals(mod.arrays))
            elif keyword == "DEFINE":  # a named whole number: `DEFINE NSTEP 3`
                name = self.name()
                value = self.signed_number()
                if value != int(value):
                    raise self.error(f"DEFINE {name.text}: the value must be a whole number", name)
                mod.constants[name.text] = value
                self.defines[name.text] = int(value)
                self.variables[name.text] = ("DEFINE", name.line)
            elif keyword == "INDEPENDENT":
                self.skip_braces()
            elif keyword == "INITIAL":
                mod.initial = self.block()
            elif keyword == "BREAKPOINT":
                mod.breakpoint = self.block()
            elif keyword in ("DERIVATIVE", "KINETIC", "LINEAR"):
                name = self.name().text
                tables = {"DERIVATIVE": mod.derivatives, "KINETIC": mod.kinetics}
                self.in_linear = keyword == "LINEAR"
                tables.get(keyword, mod.linears)[name] = self.block()
                self.in_linear = False
            elif keyword == "NET_RECEIVE":
                self.at -= 1
                self.in_net_receive, self.net_initial = True, None
                routine = self.routine(False)
                self.in_net_receive = False
                mod.net_receive = dataclasses.replace(routine, initial=self.net_initial or ())
            elif keyword in ("PROCEDURE", "FUNCTION"):
                routine = self.routine(keyword == "FUNCTION")
                table = mod.functions if keyword == "FUNCTION" else mod.procedures
                table[routine.name] = routine
            elif keyword in _SKIPPED:
                continue
            else:
                raise self.error(f"unknown block {keyword!r}", token)
        if not mod.suffix:
            raise ModError(self.source, 1, "the NEURON block names no SUFFIX or POINT_PROCESS")
        self.check_names(mod)
        return mod

    def check_names(self, mod: s.ModFile) -> None:
        """A ModError for what NEURON's nrnivmodl rejects among the names: a variable of
        USEION declared again in CONSTANT, and a FUNCTION or PROCEDURE with the name of a
        variable (RANGE, GLOBAL, CONSTANT, PARAMETER, ASSIGNED or STATE)."""
        declared = dict(self.variables)
        for entry in (*mod.parameters, *mod.assigned, *mod.states):
            declared.setdefault(entry.name, ("declared", entry.line))
        for ion in mod.ions:
            for name in (*ion.read, *ion.write):
                kind, line = declared.get(name, (None, 0))
                if kind == "CONSTANT":
                    raise ModError(
                        self.source,
                        line,
                        f"{name} is a variable of USEION {ion.ion} and cannot be declared again "
                        "in CONSTANT (NEURON's nrnivmodl rejects it too)",
                    )
        for routine in (*mod.functions.values(), *mod.procedures.values()):
            if routine.name in declared:
                kind, line = declared[routine.name]
                raise ModError(
                    self.source,
                    line,
                    f"{routine.name} is both a variable ({kind}) and a FUNCTION or PROCEDURE; "
                    "a name is one or the other (NEURON's nrnivmodl rejects it too)",
                )

    def enclosed(self, opening: str, closing: str, unclosed: str) -> list[str]:
        """The texts of the tokens between `opening` (next) and its matching `closing`;
        `unclosed` is the error when the file ends first."""
        self.expect(opening)
        inside = []
        depth = 1
        while True:
            token = self.take()
            if token.kind == "end":
                raise self.error(unclosed, token)
            depth += {opening: 1, closing: -1}.get(token.text, 0)
            if depth == 0:
                return inside
            inside.append(token.text)

    def skip_parentheses(self) -> None:
        """Skip a call's arguments (printf's, which has no effect on the model)."""
        self.enclosed("(", ")", "'(' is not closed")

    def skip_braces(self) -> None:
        self.enclosed("{", "}", "a block is not closed with '}'")

    def neuron(self, mod: s.ModFile) -> None:
        self.expect("{")
        while not self.accept("}"):
            token = self.name()
            if token.text in ("SUFFIX", "POINT_PROCESS"):
                mod.suffix = self.name().text
                mod.point_process = token.text == "POINT_PROCESS"
            elif token.text == "USEION":
                mod.ions.append(self.useion())
            elif token.text == "NONSPECIFIC_CURRENT":
                mod.nonspecific.extend(self.names())
            elif token.text == "ELECTRODE_CURRENT":
                mod.electrode.extend(self.names())
            elif token.text == "POINTER":
                mod.pointers.extend(self.names())
            elif token.text in ("RANGE", "GLOBAL"):
                line = self.peek.line
                self.variables.update((x, (token.text, line)) for x in self.names())
            elif token.text == "THREADSAFE":
                continue
            elif token.text == "REPRESENTS":
                self.ontology()
            else:
                raise self.error(f"{token.text} in the NEURON block is not supported", token)

    def ontology(self) -> None:
        """Skip the term after REPRESENTS (an annotation: `REPRESENTS NCIT:C17145`, its
        `:C17145` read as a comment, or `[NCIT:C17145]`)."""
        bracket = self.accept("[")
        self.name()
        if bracket:
            self.accept("]")

    def file_locals(self, arrays: dict) -> list[s.Declared]:
        """The names of a file-level LOCAL, an array `name[size]` as its elements (its
        size recorded in `arrays`)."""
        found = []
        while True:
            token = self.name()
            size = self.size(token) if self.peek.text == "[" else None
            found.extend(_declared(token, size, arrays))
            if not self.accept(","):
                return found

    def names(self) -> list[str]:
        names = [self.name().text]
        while self.accept(","):
            names.append(self.name().text)
        return names

    def useion(self) -> s.UseIon:
        ion = self.name().text
        read, write, valence = [], [], None
        while self.peek.text in ("READ", "WRITE", "VALENCE"):
            keyword = self.take().text
            if keyword == "VALENCE":
                negative = self.accept("-")
                valence = float(self.take().text) * (-1 if negative else 1)
            else:
                (read if keyword == "READ" else write).extend(self.names())
        if self.accept("REPRESENTS"):
            self.ontology()
        return s.UseIon(ion, tuple(read), tuple(write), valence)

    def units(self, mod: s.ModFile) -> None:
        self.expect("{")
        while not self.accept("}"):
            if self.peek.text == "(":
                self.unit()
                self.expect("=")
                self.unit()
                continue
            name = self.name().text
            self.expect("=")
            if self.peek.kind == "number" or self.peek.text == "-":
                mod.constants[name] = self.signed_number()  # a value given in the file
                if self.peek.text == "(":
                    self.unit()
                continue
            physical = self.unit()
            target = self.unit() if self.peek.text == "(" else ""
            if physical not in NAMED_UNITS:
                raise self.error(f"unknown physical constant ({physical}) for {name}")
            prefix = next((p for p in _PREFIXES if target.startswith(p)), "")
            mod.constants[name] = NAMED_UNITS[physical] / _PREFIXES.get(prefix, 1.0)

    def unit(self) -> str:
        """A unit in parentheses, as text."""
        return "".join(self.enclosed("(", ")", "a unit is not closed with ')'"))

    def declarations(self, arrays: dict) -> list[s.Declared]:
        """The entries of a declaring block, an array `name[size]` as its elements (its
        size recorded in `arrays`)."""
        self.expect("{")
        found = []
        while not self.accept("}"):
            token = self.name()
            size = self.size(token) if self.peek.text == "[" else None
            default = None
            if self.accept("="):
                default = self.signed_number()
            unit = self.unit() if self.peek.text == "(" else ""
            lower = None
            if self.accept("<"):  # <lower, upper> limits, or a STATE's <tolerance>
                first = self.signed_number()
                if self.accept(","):
                    lower = first
                    self.signed_number()
                self.expect(">")
            if self.accept("FROM"):  # a STATE's range, as NEURON ignores it
                self.signed_number()
                self.expect("TO")
                self.signed_number()
            found.extend(_declared(token, size, arrays, default, unit, lower))
        return found

    def size(self, name: Token) -> int:
        """An array's `[size]`: a whole, positive number."""
        self.expect("[")
        token = self.take()
        self.expect("]")
        size = float(token.text) if token.kind == "number" else self.defines.get(token.text, 0.0)
        if size != int(size) or size < 1:
            raise self.error(
                f"array {name.text}[{token.text}]: the size must be a whole number", token
            )
        return int(size)

    def signed_number(self) -> float:
        negative = self.accept("-")
        token = self.take()
        if token.kind != "number":
            raise self.error(f"expected a number, found {token.text or 'the end'!r}", token)
        return -float(token.text) if negative else float(token.text)

    def routine(self, is_function: bool) -> s.Routine:
        name = self.name().text
        self.expect("(")
        args, units = [], []
        while not self.accept(")"):
            args.append(self.name().text)
            units.append(self.unit() if self.peek.text == "(" else "")
            self.accept(",")
        if is_function and self.peek.text == "(":
            self.unit()
        return s.Routine(name, tuple(args), self.block(returns=not is_function), tuple(units))

    # -- statements -----------------------------------------------------------------------

    def block(self, returns: bool = False) -> tuple:
        """The statements of a { } block; `returns`: a PROCEDURE's body, which may end with
        VERBATIM `return 0;` (what it returns anyway)."""
        self.expect("{")
        body = []
        while not self.accept("}"):
            if returns and self.peek.kind == "verbatim" and self.toks[self.at + 1].text == "}":
                self.take()
                continue
            statement = self.statement()
            if statement is not None:
                body.append(statement)
        return tuple(body)

    def statement(self):
        token = self.peek
        if token.kind == "end":
            raise self.error("a block is not closed with '}'", token)
        if token.kind == "verbatim":
            raise self.verbatim(token)
        if token.text in _UNSUPPORTED:
            raise self.unsupported(token)
        if token.text in _SKIPPED:
            self.take()
            return None
        if token.kind == "prime":
            self.take()
            self.expect("=")
            return s.Derivative(token.text[:-1], self.expression(), token.line)
        if token.text == "LOCAL":
            self.take()
            return s.Local(tuple(self.names()))
        if token.text == "if":
            return self.if_statement()
        if token.text == "FROM":
            return self.from_loop()
        if token.text == "INITIAL":
            if self.net_initial is not None or not self.in_net_receive:
                raise self.error("INITIAL is a block of its own, or once in NET_RECEIVE", token)
            self.take()
            self.net_initial = self.block()
            return None
        if token.text == "SOLVE":
            self.take()
            block = self.name().text
            method, steady = "cnexp", self.peek.text == "STEADYSTATE"
            given = self.peek.text in ("METHOD", "STEADYSTATE")
            if self.accept("METHOD") or self.accept("STEADYSTATE"):
                method = self.name().text
            return s.Solve(block, method, token.line, steady, given)
        if token.text == "TABLE":
            self.table()
            return None
        if token.text == "~":
            return self.equation() if self.in_linear else self.reaction()
        if token.text == "CONSERVE":
            self.take()
            terms = self.species()
            self.expect("=")
            return s.Conserve(terms, self.expression(), token.line)
        if token.text == "COMPARTMENT":
            self.take()
            volume = self.expression()
            self.expect("{")
            names = []
            while not self.accept("}"):
                names.append(self.name().text)
            return s.Compartment(volume, tuple(names))
        name = self.name()
        if name.text == "printf":
            self.skip_parentheses()
            return None
        index = self.index(name.text) if self.peek.text == "[" else None
        if self.accept("="):
            return s.Assign(name.text, self.expression(), name.line, index)
        if self.peek.text == "(" and index is None:
            return self.call(name)
        raise self.error(f"cannot read the statement starting with {name.text!r}", name)

    def index(self, array: str):
        """`[expression]` after an array's name."""
        self.expect("[")
        index = self.integer(f"the index of {array}[...]")
        self.expect("]")
        return index

    def from_loop(self) -> s.From:
        """`FROM i = start TO stop [BY step] { body }`."""
        line = self.expect("FROM").line
        variable = self.name().text
        self.expect("=")
        start = self.integer(f"FROM {variable}'s start")
        self.expect("TO")
        stop = self.integer(f"FROM {variable}'s TO bound")
        step = self.integer(f"FROM {variable}'s BY step") if self.accept("BY") else s.Number(1.0)
        return s.From(variable, start, stop, step, self.block(), line)

    def integer(self, what: str):
        """An expression where NEURON's grammar wants an integer expression (an array's
        index, a FROM loop's bounds); a ModError for a part that NEURON rejects there."""
        token = self.peek
        expression = self.expression()
        outside = _outside_integer(expression)
        if outside is not None:
            raise self.error(
                f"{what} contains {outside}, which NEURON's nrnivmodl rejects too ('Illegal "
                "integer expression': names, whole numbers, + - * /, parentheses and INT() only); "
                "compute the value into a LOCAL variable first",
                token,
            )
        return expression

    def equation(self) -> s.Equation:
        """`~ left = right` in a LINEAR block."""
        line = self.expect("~").line
        left = self.expression()
        self.expect("=")
        return s.Equation(left, self.expression(), line)

    def reaction(self) -> s.Reaction:
        """`~ A + 2 B <-> C (kf, kb)` or a flux `~ A << (flux)`."""
        line = self.expect("~").line
        left = self.species()
        if self.accept("<<"):
            self.expect("(")
            flux = self.expression()
            self.expect(")")
            return s.Reaction(left, None, flux, None, line)
        if not self.accept("<->"):
            raise self.error(f"expected '<->' or '<<' in a reaction, found {self.peek.text!r}")
        right = self.species()
        self.expect("(")
        forward = self.expression()
        self.expect(",")
        backward = self.expression()
        self.expect(")")
        return s.Reaction(left, right, forward, backward, line)

    def species(self) -> tuple:
        """`A + 2 B`: (name, stoichiometry) pairs."""
        terms = []
        while True:
            count = int(self.take().text) if self.peek.kind == "number" else 1
            name = self.name()
            if self.peek.text == "[":
                raise self.error(f"array {name.text}[...] is not supported", name)
            terms.append((name.text, count))
            if not self.accept("+"):
                return tuple(terms)

    def if_statement(self) -> s.If:
        self.expect("if")
        self.expect("(")
        condition = self.expression()
        self.expect(")")
        then = self.block()
        otherwise = ()
        if self.accept("else"):
            otherwise = (self.if_statement(),) if self.peek.text == "if" else self.block()
        return s.If(condition, then, otherwise)

    def table(self) -> None:
        """Skip a TABLE statement (names, DEPEND names, FROM a TO b WITH n)."""
        self.expect("TABLE")
        while self.peek.text != "WITH":
            if self.peek.kind == "end":
                raise self.error("a TABLE statement without WITH")
            self.take()
        self.take()
        self.take()

    # -- expressions ----------------------------------------------------------------------

    def expression(self, level: int = 0):
        if level == len(_PRECEDENCE):
            return self.unary()
        left = self.expression(level + 1)
        while self.peek.kind == "op" and self.peek.text in _PRECEDENCE[level]:
            op = self.take().text
            left = s.Binary(op, left, self.expression(level + 1))
        return left

    def unary(self):
        if self.peek.text in ("-", "!", "+"):
            op = self.take().text
            operand = self.unary()
            return operand if op == "+" else s.Unary(op, operand)
        return self.power()

    def power(self):
        base = self.atom()
        if self.accept("^"):
            return s.Binary("^", base, self.unary())
        return base

    def atom(self):
        token = self.take()
        if token.kind == "number":
            if self.peek.text == "(":
                self.unit()  # a unit attached to a number, as in 37 (degC)
            return s.Number(float(token.text), real=any(c in token.text for c in ".eE"))
        if token.text == "(":
            inner = self.expression()
            self.expect(")")
            return inner
        if token.kind == "name":
            if self.peek.text == "(":
                return self.call(token)
            if self.peek.text == "[":
                return s.Index(token.text, self.index(token.text), token.line)
            return s.Name(token.text, token.line)
        raise self.error(f"expected a value, found {token.text or 'the end'!r}", token)

    def call(self, name: Token) -> s.Call:
        self.expect("(")
        args = []
        while not self.accept(")"):
            args.append(self.expression())
            self.accept(",")
        return s.Call(name.text, tuple(args), name.line)


def _declared(token, size, arrays: dict, default=None, unit="", lower=None) -> list:
    """The declared name of `token`, or where `size` is given the elements of the array
    `name[size]` (its size recorded in `arrays`)."""
    if size is None:
        return [s.Declared(token.text, default, unit, lower, token.line)]
    arrays[token.text] = size
    return [
        s.Declared(s.element(token.text, k), default, unit, lower, token.line) for k in range(size)
    ]


def _outside_integer(node) -> str | None:
    """The first part of expression `node` that NEURON's integer expressions exclude, in
    words (None where there is none): a real number, a function call other than INT, an
    array's element, a unary operator, or an operator other than + - * /."""
    if isinstance(node, s.Binary) and node.op in ("+", "-", "*", "/"):
        return _outside_integer(node.left) or _outside_integer(node.right)
    if isinstance(node, s.Number) and node.real:
        return f"the real number {node.value:g}"
    if isinstance(node, s.Name | s.Number) or (isinstance(node, s.Call) and node.name == "INT"):
        return None
    if isinstance(node, s.Call):
        return f"a function call, {node.name}(...)"
    if isinstance(node, s.Index):
        return f"an array's element, {node.name}[...]"
    if isinstance(node, s.Unary):
        return f"a unary {node.op}"
    return f"the operator {node.op}"
