"""KINETIC schemes advanced as NEURON's `sparse` method does.

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
