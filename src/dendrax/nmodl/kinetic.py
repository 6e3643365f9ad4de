"""KINETIC schemes advanced as NEURON's `sparse` method does; LINEAR blocks solved.

One step is backward Euler, d(volume x)/dt = fluxes at t + dt, by Newton's method: each
iteration runs the block at the current guess, assembles NEURON's matrix (volume/dt on the
diagonal less the reactions' derivatives with respect to the states, their rate constants
held fixed; a `<<` flux explicit) and solves for the change. A scheme whose reactions are
first order (NEURON's "linear" scheme) takes one iteration from the old state: one exact
linear solve. Otherwise iterations go on, states clipped at zero, until the changes sum to
at most 1e-6 (20 at most), per site. Each CONSERVE replaces the equation of its last state
not yet taken by the conservation sum. The solve is Gaussian elimination unrolled over the
fixed states in plain jnp arithmetic (elementwise, so it runs on the native kernel and
differentiates); conserved rows come last, where no pivoting is needed.
"""

from __future__ import annotations

import jax.numpy as jnp

from dendrax.nmodl import syntax as s
from dendrax.nmodl.lexer import ModError

CONVERGE = 1e-6
"""NEURON's bound on the summed changes of a Newton iteration."""
MAX_STEPS = 20
STEADY_DT = 1e9
"""The step NEURON's STEADYSTATE sparse takes to reach the steady state."""


class Scheme:
    """A KINETIC block of `mod`: its states, conserved rows and linearity."""

    def __init__(self, mod: s.ModFile, name: str, interpreter):
        self.body = mod.kinetics[name]
        self.interpreter = interpreter
        declared = {x.name for x in mod.states}
        statements = [x for x in self.body if isinstance(x, s.Reaction | s.Conserve)]
        named = [n for x in statements for n, _ in _species(x)]
        self.states = list(dict.fromkeys(n for n in named if n in declared))
        self.linear = all(
            sum(count for _, count in side) <= 1
            for x in statements
            if isinstance(x, s.Reaction) and x.right is not None
            for side in (x.left, x.right)
        )
        self.conserved: list[str] = []  # the state whose row each CONSERVE takes, in order
        for conserve in reversed([x for x in statements if isinstance(x, s.Conserve)]):
            free = [n for n, _ in conserve.terms if n in declared and n not in self.conserved]
            if not free:
                raise ModError(mod.source, conserve.line, "CONSERVE has no state left to take")
            self.conserved.append(free[-1])
        self.conserved.reverse()
        self.order = [x for x in self.states if x not in self.conserved] + self.conserved
        for x in statements:
            self._check(mod, x, declared)

    def _check(self, mod: s.ModFile, statement, declared: set) -> None:
        """NEURON's rules: CONSERVE sums STATEs; a flux changes a STATE not conserved."""
        flux = isinstance(statement, s.Reaction) and statement.right is None
        names = [statement.left[0][0]] if flux else []
        if isinstance(statement, s.Conserve):
            names = [n for n, _ in statement.terms]
        for name in names:
            if name not in declared:
                raise ModError(mod.source, statement.line, f"{name} is not a STATE")
            if flux and name in self.conserved:
                raise ModError(mod.source, statement.line, f"{name} is conserved and has a flux")

    def step(self, values: dict, dt, steady: bool = False) -> dict:
        """`values` (states and all) after one backward-Euler step of dt, or at the steady
        state (NEURON's STEADYSTATE sparse: the same solve with dt = 1e9, iterated)."""
        if steady:
            dt = STEADY_DT
        old = {x: jnp.asarray(values[x], float) for x in self.states}
        if self.linear and not steady:
            iterations, clip = 1, False
        else:
            iterations, clip = (2 if self.linear else MAX_STEPS), True
        guess, done = dict(old), None
        for _ in range(iterations):
            rows, rhs, _ = self.system(values, guess, old, dt)
            delta = dict(zip(self.order, _solve(rows, rhs), strict=True))
            stepped = {x: guess[x] + delta[x] for x in self.states}
            if clip:
                stepped = {x: jnp.maximum(value, 0.0) for x, value in stepped.items()}
            converged = sum(jnp.abs(delta[x]) for x in self.states) <= CONVERGE
            if done is None:
                guess, done = stepped, converged
            else:
                guess = {x: jnp.where(done, guess[x], stepped[x]) for x in self.states}
                done = done | converged
        final = self.system(values, guess, old, dt)[2]  # the block's values at the end
        final.pop("dt")
        if "dt" in values:
            final["dt"] = values["dt"]
        return final

    def system(self, values: dict, guess: dict, old: dict, dt):
        """NEURON's Newton system at `guess`: rows (dicts column -> value, in `order`), the
        right-hand side, and the values the block computes there."""
        trial = {**values, **guess, "dt": dt}
        found: list = []
        self.interpreter.run(self.body, trial, kinetic=found)
        volume = dict.fromkeys(self.states, 1.0)
        for kind, *rest in found:
            if kind == "compartment":
                volume.update(dict.fromkeys((x for x in rest[0] if x in volume), rest[1]))
        index = {x: i for i, x in enumerate(self.order)}
        rows: list[dict] = [{} for _ in self.order]
        rhs: list = [0.0] * len(self.order)
        free = set(self.states) - set(self.conserved)
        for x in free:
            rows[index[x]][index[x]] = volume[x] / dt
            rhs[index[x]] = -volume[x] * (guess[x] - old[x]) / dt
        conserves = iter(self.conserved)
        for kind, statement, *rates in found:
            if kind == "reaction":
                self._reaction(statement, rates, trial, rows, rhs, index, free)
            elif kind == "conserve":
                row = index[next(conserves)]
                rhs[row] = rates[0]
                for name, count in statement.terms:
                    weight = count * volume.get(name, 1.0)
                    rows[row][index[name]] = rows[row].get(index[name], 0.0) + weight
                    rhs[row] = rhs[row] - weight * trial[name]
        return rows, rhs, trial

    def _reaction(self, statement, rates, trial, rows, rhs, index, free) -> None:
        """Add one reaction's fluxes to `rhs` and its derivatives to `rows`."""
        forward, backward = rates
        if statement.right is None:  # ~ x << (flux)
            name = statement.left[0][0]
            if name in free:
                rhs[index[name]] = rhs[index[name]] + forward
            return
        product = self.interpreter.product
        sides = ((statement.left, forward), (statement.right, backward))
        flux = forward * product(statement.left, trial, {}) - backward * product(
            statement.right, trial, {}
        )
        for sign, (side, _) in zip((-1.0, 1.0), sides, strict=True):
            for name, count in side:
                if name in free:
                    rhs[index[name]] = rhs[index[name]] + sign * count * flux
        for j, (side, rate) in enumerate(sides):
            for name, count in side:
                if name not in index:
                    continue
                term = rate * count * product(side, trial, {}, without=name)
                for j1, (side1, _) in enumerate(sides):
                    for name1, count1 in side1:
                        if name1 in free:
                            row = rows[index[name1]]
                            change = (1.0 if j == j1 else -1.0) * count1 * term
                            row[index[name]] = row.get(index[name], 0.0) + change


class Linear:
    """A LINEAR block of `mod`: its `~ left = right` equations, linear in the STATEs they
    name, solved exactly each time the block is SOLVEd (as NEURON does), by the elimination
    KINETIC steps use; equation k's pivot is the first STATE (as they appear) left in it
    after the earlier pivots' elimination."""

    def __init__(self, mod: s.ModFile, name: str, interpreter):
        self.body = mod.linears[name]
        self.interpreter = interpreter
        declared = {x.name for x in mod.states}
        equations = [x for x in self.body if isinstance(x, s.Equation)]
        self.named = [
            [n for n in dict.fromkeys(_names(x.left) + _names(x.right)) if n in declared]
            for x in equations
        ]
        unknowns = list(dict.fromkeys(n for names in self.named for n in names))
        line = equations[0].line if equations else 1
        if len(equations) != len(unknowns):
            raise ModError(
                mod.source,
                line,
                f"LINEAR {name}: {len(equations)} equations in {len(unknowns)} STATEs",
            )
        self.states = _pivots(self.named, unknowns)
        if self.states is None:
            raise ModError(mod.source, line, f"LINEAR {name}: the equations are singular")

    def residuals(self, values: dict) -> tuple[list, dict]:
        """left - right of each equation at `values`, and the values the block computes."""
        trial = dict(values)
        found: list = []
        self.interpreter.run(self.body, trial, kinetic=found)
        return [value for kind, _, value in found if kind == "equation"], trial

    def step(self, values: dict) -> dict:
        """`values` with the STATEs that solve the equations (and what the block sets)."""
        zero = {**values, **dict.fromkeys(self.states, 0.0)}
        base = self.residuals(zero)[0]
        rows: list[dict] = [{} for _ in self.states]
        for j, x in enumerate(self.states):
            unit = self.residuals({**zero, x: 1.0})[0]
            for i, names in enumerate(self.named):
                if x in names:
                    rows[i][j] = unit[i] - base[i]
        solution = _solve(rows, [-b for b in base])
        return self.residuals({**values, **dict(zip(self.states, solution, strict=True))})[1]


def _names(node) -> list[str]:
    """The names expression `node` reads (not through calls)."""
    if isinstance(node, s.Name):
        return [node.name]
    if isinstance(node, s.Unary):
        return _names(node.operand)
    if isinstance(node, s.Binary):
        return _names(node.left) + _names(node.right)
    if isinstance(node, s.Call):
        return [n for arg in node.args for n in _names(arg)]
    return []


def _pivots(named: list[list], unknowns: list) -> list | None:
    """The pivot of each row of a system whose row i names the unknowns `named[i]`: the
    first of `unknowns` left in the row once the earlier pivots are eliminated from it
    (their rows' other unknowns filling in); None where a row has none left."""
    pivots: list = []
    rests: list[set] = []
    for names in named:
        row = set(names)
        for pivot, rest in zip(pivots, rests, strict=True):
            if pivot in row:
                row = (row | rest) - {pivot}
        left = [x for x in unknowns if x in row]
        if not left:
            return None
        pivots.append(left[0])
        rests.append(row - {left[0]})
    return pivots


def _species(statement) -> list:
    if isinstance(statement, s.Conserve):
        return list(statement.terms)
    return list(statement.left) + list(statement.right or ())


def _solve(rows: list[dict], rhs: list) -> list:
    """x with sum_j rows[i][j] x[j] = rhs[i], by Gaussian elimination without pivoting,
    skipping structural zeros (entries not in a row's dict)."""
    n = len(rhs)
    rows = [dict(row) for row in rows]
    rhs = list(rhs)
    for k in range(n):
        for i in range(k + 1, n):
            if k not in rows[i]:
                continue
            factor = rows[i].pop(k) / rows[k][k]
            for j, value in rows[k].items():
                if j > k:
                    rows[i][j] = rows[i].get(j, 0.0) - factor * value
            rhs[i] = rhs[i] - factor * rhs[k]
    x: list = [0.0] * n
    for i in reversed(range(n)):
        total = rhs[i]
        for j, value in rows[i].items():
            if j > i:
                total = total - value * x[j]
        x[i] = total / rows[i][i]
    return x
