"""A dendrax `Mechanism` class from a parsed .mod file."""

from __future__ import annotations

import jax.numpy as jnp

from dendrax.mechanisms.base import Mechanism, Parameter, State
from dendrax.mechanisms.ions import STANDARD_IONS
from dendrax.nmodl import syntax as s
from dendrax.nmodl.interpreter import Interpreter
from dendrax.nmodl.lexer import ModError

ENGINE_VARIABLES = ("v", "celsius", "dt", "t", "area", "diam")
"""Names a .mod file may declare that dendrax provides (not parameters)."""

METHODS = ("cnexp",)
"""SOLVE methods supported so far."""


def mechanism_class(mod: s.ModFile) -> type[Mechanism]:
    """The class of a mechanism that computes what `mod` declares (NEURON's semantics)."""
    for ion in mod.ions:
        if ion.ion not in STANDARD_IONS:
            raise ModError(mod.source, 1, f"USEION {ion.ion}: only na, k and ca are supported yet")
    reads = tuple(v for ion in mod.ions for v in ion.read if v not in _all_written(mod))
    writes = _all_written(mod)
    ion_variables = set(reads) | set(writes)
    for solve in _solves(mod):
        if solve.method not in METHODS:
            raise ModError(
                mod.source, solve.line, f"SOLVE ... METHOD {solve.method} is not supported yet"
            )
        if solve.block not in mod.derivatives:
            raise ModError(
                mod.source, solve.line, f"SOLVE {solve.block}: no DERIVATIVE {solve.block}"
            )
    parameters = {
        p.name: Parameter(
            0.0 if p.default is None else p.default,
            p.unit or "1",
            nonnegative=p.lower is not None and p.lower >= 0 and (p.default or 0) >= 0,
        )
        for p in mod.parameters
        if p.name not in ENGINE_VARIABLES and p.name not in ion_variables
    }
    states = {x.name: State(x.unit or "1") for x in mod.states}
    currents = tuple(w for w in writes if w not in states) + tuple(mod.nonspecific)
    for name, unit in _persistent(mod, {*parameters, *ion_variables, *currents}).items():
        states[name] = State(unit or "1", "an ASSIGNED value kept from one block to the next")
    interpreter = Interpreter(mod)

    def values_of(params, v, celsius, **more):
        values = dict(params)
        values.update(v=v, celsius=celsius, **more)
        return values

    def steady_state(self, v, params, celsius):
        values = values_of(params, v, celsius, t=0.0)
        for state in states:
            values.setdefault(
                state, 0.0
            )  # NEURON starts a state at 0, a concentration at its ion's
        interpreter.run(mod.initial, values)
        return {state: jnp.broadcast_to(values[state], jnp.shape(v)) for state in states}

    def update(self, state_values, v, params, dt, celsius, t):
        values = values_of(params, v, celsius, dt=dt, t=t)
        values.update(state_values)
        for solve in _solves(mod):
            derivatives: dict = {}
            interpreter.run(mod.derivatives[solve.block], values, derivatives=derivatives)
            for state, (rate, slope) in derivatives.items():
                x = values[state]
                safe = jnp.where(slope == 0.0, 1.0, slope)
                stepped = x - (1.0 - jnp.exp(dt * safe)) * rate / safe
                values[state] = jnp.where(slope == 0.0, x + dt * rate, stepped)
        return {state: jnp.broadcast_to(values[state], jnp.shape(v)) for state in states}

    def current(self, state_values, v, params, celsius, t):
        values = values_of(params, v, celsius, t=t)
        values.update(state_values)
        interpreter.run(mod.breakpoint, values)
        missing = [c for c in currents if c not in values]
        if missing:
            raise ModError(mod.source, 1, f"BREAKPOINT does not compute {missing[0]}")
        return {c: jnp.broadcast_to(values[c], jnp.shape(v)) for c in currents}

    namespace = {
        "__doc__": f"Imported from {mod.source} (NMODL, {mod.suffix}).",
        "__module__": "dendrax.nmodl.imported",
        "kind": "point" if mod.point_process else "density",
        "parameters": parameters,
        "states": states,
        "reads": reads,
        "writes": writes,
        "slope_by_difference": True,
        "steady_state": steady_state,
        "update": update,
        "current": current,
        "source_file": mod.source,
    }
    return type(mod.suffix, (Mechanism,), namespace)


def _persistent(mod: s.ModFile, provided: set) -> dict[str, str]:
    """ASSIGNED variables that BREAKPOINT reads but does not compute (computed by the
    state update or INITIAL, as a rate held over a step): NEURON keeps their values from
    one block to the next, so they become states here. Name -> unit."""
    routines = {**mod.procedures, **mod.functions}
    body = [x for x in mod.breakpoint if not isinstance(x, s.Solve)]
    read, written = s.names_used(body, routines)
    assigned = {a.name: a.unit for a in mod.assigned}
    kept = (read - written) & set(assigned)
    return {name: assigned[name] for name in sorted(kept - provided - set(ENGINE_VARIABLES))}


def _all_written(mod: s.ModFile) -> tuple[str, ...]:
    return tuple(v for ion in mod.ions for v in ion.write)


def _solves(mod: s.ModFile) -> list[s.Solve]:
    return [statement for statement in mod.breakpoint if isinstance(statement, s.Solve)]
