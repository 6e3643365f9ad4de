"""A dendrax `Mechanism` class from a parsed .mod file."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from dendrax.mechanisms.base import (
    SELF_EVENT,
    SELF_EVENT_NONE,
    Mechanism,
    Parameter,
    State,
    implicit_euler,
)
from dendrax.mechanisms.ions import STANDARD_IONS, Ion
from dendrax.nmodl import syntax as s
from dendrax.nmodl.bounds import loop_trips
from dendrax.nmodl.carried import breakpoint_values, run_parameters
from dendrax.nmodl.interpreter import SEND_FLAG, SEND_TIME, Interpreter
from dendrax.nmodl.kinetic import Linear, Scheme
from dendrax.nmodl.lexer import ModError
from dendrax.nmodl.listing import listing

ENGINE_VARIABLES = ("v", "celsius", "dt", "t", "area", "diam")
"""Names a .mod file may declare that dendrax provides (not parameters)."""


def mechanism_class(mod: s.ModFile) -> type[Mechanism]:
    """The class of a mechanism that computes what `mod` declares (NEURON's semantics)."""
    new_ions = _new_ions(mod)
    reads = tuple(v for ion in mod.ions for v in ion.read if v not in _all_written(mod))
    writes = _all_written(mod)
    ion_variables = set(reads) | set(writes)
    _check_events(mod)
    interpreter = Interpreter(mod, loop_trips(mod))
    whole = interpreter.whole
    schemes = {name: Scheme(mod, name, interpreter) for name in mod.kinetics}
    linears = {name: Linear(mod, name, interpreter) for name in mod.linears}
    for solve in s.solves(mod.initial):
        if not solve.steady and solve.block not in linears:
            raise ModError(mod.source, solve.line, "a SOLVE in INITIAL needs STEADYSTATE")
    for solve in s.solves(mod.breakpoint) + s.solves(mod.initial):
        _check_solve(mod, solve, schemes, linears)
    parameters = {
        p.name: Parameter(
            0.0 if p.default is None else p.default,
            p.unit or "1",
            nonnegative=p.lower is not None and p.lower >= 0 and (p.default or 0) >= 0,
        )
        for p in mod.parameters
        if p.name not in ENGINE_VARIABLES and p.name not in ion_variables
    }
    peer = _peer(mod)
    weight = _weight(mod, parameters)
    states = _declared_states(mod, whole)
    for name in _written_concentrations(mod):  # an ASSIGNED cai set from a STATE
        states.setdefault(name, State("mM", "a concentration the file writes"))
    currents = tuple(w for w in writes if w not in states) + tuple(mod.nonspecific)
    currents += tuple(mod.electrode)
    provided = {*parameters, *ion_variables, *currents, *mod.pointers}
    for name, unit in _persistent(mod, provided, whole).items():
        states[name] = State(
            unit or "1",
            "an ASSIGNED value kept from one block to the next",
            shape=(whole[name],) if name in whole else (),
        )
    recomputed = breakpoint_values(mod, _whole_names(_solved_reads(mod), whole))
    routine = mod.net_receive
    connection = _connection_states(mod, {*states, *provided})
    states.update(connection)
    changed = run_parameters(mod, set(parameters) - {"weight"})
    for state, name in changed.items():
        states[state] = State(parameters[name].unit, f"{name} as the file's statements set it")
    breakpoint_body = s.outside_solves(mod.breakpoint)
    sends = weight and "net_send" in _called(mod, routine.body)
    if sends:
        states[SEND_TIME] = State("ms", "when the event sent by net_send is due")
        states[SEND_FLAG] = State("1", "the flag of the event sent by net_send")

    def values_of(params, v, celsius, **more):
        values = dict(params)
        values.update(v=v, celsius=celsius, **more)
        if peer is not None:
            values[peer] = values.pop("v_peer")
        return values

    def loaded(values: dict, state_values: dict) -> dict:
        """`values` with the states, each changed PARAMETER taking its state's value."""
        values.update(state_values)
        values.update((name, values[state]) for state, name in changed.items())
        return values

    def stored(values: dict, shape) -> dict:
        """The states in `values` (a changed PARAMETER's from the parameter's name), with
        the sites' `shape`."""
        return {
            x: jnp.broadcast_to(values[changed.get(x, x)], (*shape, *states[x].shape))
            for x in states
        }

    def steady_state(self, v, params, celsius):
        values = values_of(params, v, celsius, t=0.0)
        for state in states:  # NEURON starts a state at 0, a concentration at its ion's
            if state not in (SEND_TIME, SEND_FLAG):
                values.setdefault(state, jnp.broadcast_to(0.0, states[state].shape))
        for statement in mod.initial:
            if isinstance(statement, s.Solve) and statement.block in linears:
                values = linears[statement.block].step(values)
            elif isinstance(statement, s.Solve):
                values = schemes[statement.block].step(values, None, steady=True)
            else:
                interpreter.run((statement,), values)
        if weight and routine.initial:  # once per connection (each is a site)
            local = {routine.args[0]: values["weight"], **dict.fromkeys(connection, 0.0)}
            interpreter.run(routine.initial, values, local)
            values.update((name, local[name]) for name in connection)
        if sends:
            values[SEND_TIME], values[SEND_FLAG] = SELF_EVENT_NONE, 0.0
        return stored(values, jnp.shape(v))

    def update(self, state_values, v, params, dt, celsius, t):
        values = loaded(values_of(params, v, celsius, dt=dt, t=t), state_values)
        if recomputed:  # as the current evaluation at the step's midpoint left them
            evaluated = interpreter.run(breakpoint_body, {**values, "t": t - 0.5 * dt})
            values.update((name, evaluated[name]) for name in recomputed)
        for solve in s.solves(mod.breakpoint):
            if solve.block in linears:
                values = linears[solve.block].step(values)
                continue
            if solve.block in schemes:
                values = schemes[solve.block].step(values, dt)
                continue
            if solve.block in mod.procedures:  # it sets the states itself, once a step
                interpreter.run(_solved_body(mod, solve), values)
                continue
            derivatives: dict = {}
            interpreter.run(mod.derivatives[solve.block], values, derivatives=derivatives)
            for state, rate in derivatives.items():
                values[state] = STEPPERS[solve.method](rate, values[state], dt)
        # NET_RECEIVE's arguments change with events only (a file's variable of the same
        # name, which the solved blocks may set, is another)
        values.update((name, state_values[name]) for name in connection)
        return stored(values, jnp.shape(v))

    def current(self, state_values, v, params, celsius, t):
        values = loaded(values_of(params, v, celsius, t=t), state_values)
        interpreter.run(mod.breakpoint, values)
        missing = [c for c in currents if c not in values]
        if missing:
            raise ModError(mod.source, 1, f"BREAKPOINT does not compute {missing[0]}")
        sign = {c: -1.0 if c in mod.electrode else 1.0 for c in currents}  # outward
        return {c: sign[c] * jnp.broadcast_to(values[c], jnp.shape(v)) for c in currents}

    def receive(self, state_values, params, time):
        """NET_RECEIVE for an event at `time` (ms; `SELF_EVENT` for one it sent itself, at
        the time and with the flag that net_send stored)."""
        values = loaded(dict(params), state_values)
        values["t"], flag = time, 0.0
        if sends:
            own = jnp.asarray(time) <= SELF_EVENT
            values["t"] = jnp.where(own, values[SEND_TIME], time)
            flag = jnp.where(own, values[SEND_FLAG], 0.0)
            values[SEND_TIME] = jnp.where(own, SELF_EVENT_NONE, values[SEND_TIME])
        local = {routine.args[0]: params["weight"], "flag": flag}
        local.update((name, values[name]) for name in connection)
        interpreter.run(routine.body, values, local)
        values.update((name, local[name]) for name in connection)
        return stored(values, jnp.shape(params["weight"]))

    namespace = {
        "__doc__": f"Imported from {mod.source} (NMODL, {mod.suffix}).",
        "__module__": "dendrax.nmodl.imported",
        "kind": "junction" if peer else "point" if mod.point_process else "density",
        "parameters": parameters,
        "states": states,
        "reads": reads,
        "writes": writes,
        "new_ions": new_ions,
        "slope_by_difference": True,
        "steady_state": steady_state,
        "update": update,
        "current": current,
        "source_file": mod.source,
        "source": classmethod(lambda cls: listing(cls())),
    }
    if weight:
        namespace.update(receive=receive, event_time=True, self_events=SEND_TIME if sends else None)
    return type(mod.suffix, (Mechanism,), namespace)


def _new_ions(mod: s.ModFile) -> tuple[Ion, ...]:
    """The species of USEION other than na, k and ca, with NEURON's defaults for them
    (concentrations 1 mM, reversal potential 0 mV) and their VALENCE."""
    found = []
    for ion in mod.ions:
        if ion.ion in STANDARD_IONS:
            continue
        if ion.valence is None or ion.valence != int(ion.valence) or ion.valence == 0:
            raise ModError(mod.source, 1, f"USEION {ion.ion} needs a whole, nonzero VALENCE")
        found.append(Ion(ion.ion, int(ion.valence), internal=1.0, external=1.0, reversal=0.0))
    return tuple(found)


def _cnexp(rate, x, dt):
    """NEURON's cnexp for dx/dt = a + b x (b from the rate's derivative): exact. For a rate
    written (A - x)/B, x + (1 - exp(-dt/B)) (A - x): the same value with one division
    where the general form takes three (and A where B is 0, where NEURON's gives NaN)."""
    if rate.relaxation is not None:
        steady, time_constant = rate.relaxation()
        return x + (1.0 - jnp.exp(-dt / time_constant)) * (steady - x)
    x = jnp.asarray(x, float)
    value, slope = jax.jvp(rate, (x,), (jnp.ones_like(x),))
    safe = jnp.where(slope == 0.0, 1.0, slope)
    stepped = x - (1.0 - jnp.exp(dt * safe)) * value / safe
    return jnp.where(slope == 0.0, x + dt * value, stepped)


def _derivimplicit(rate, x, dt):
    """NEURON's derivimplicit for one state: backward Euler by Newton's method."""
    return implicit_euler(rate, jnp.asarray(x, float), dt)


def _euler(rate, x, dt):
    """NEURON's euler: forward Euler, every rate taken from the values before the step."""
    return x + dt * rate(jnp.asarray(x, float))


STEPPERS = {"cnexp": _cnexp, "derivimplicit": _derivimplicit, "euler": _euler}
"""How each SOLVE method advances a state by dt, given its rate as a function of it."""


def _peer(mod: s.ModFile) -> str | None:
    """The POINTER of a point process, read as the voltage at a peer location (a
    junction: a gap junction's other side, a graded synapse's presynaptic voltage)."""
    if not mod.pointers:
        return None
    if len(mod.pointers) > 1 or not mod.point_process:
        raise ModError(
            mod.source,
            1,
            f"POINTER {', '.join(mod.pointers)}: only one POINTER of a POINT_PROCESS, read as "
            f"a peer location's voltage, is supported",
        )
    return mod.pointers[0]


def _weight(mod: s.ModFile, parameters: dict) -> bool:
    """Declare the weight of NET_RECEIVE's events as the parameter "weight" (what a
    NetCon's weight is to NEURON); whether the file receives events."""
    routine = mod.net_receive
    if routine is None:
        return False
    if not mod.point_process or not routine.args:
        raise ModError(
            mod.source, 1, "NET_RECEIVE is supported in a POINT_PROCESS, with the weight first"
        )
    if "weight" in parameters and routine.args[0] != "weight":
        raise ModError(mod.source, 1, "a PARAMETER named weight and a NET_RECEIVE weight")
    parameters["weight"] = Parameter(0.0, routine.units[0] or "1", "the weight of each event")
    return True


def _connection_states(mod: s.ModFile, taken: set) -> dict[str, State]:
    """NET_RECEIVE's arguments after the weight: NEURON keeps a copy per NetCon, and a
    connection is one site here, so each is a state named by the argument."""
    routine = mod.net_receive
    if routine is None:
        return {}
    found = {}
    for name, unit in zip(routine.args[1:], routine.units[1:], strict=True):
        if name in taken or name in (SEND_TIME, SEND_FLAG, "flag"):
            raise ModError(
                mod.source, 1, f"NET_RECEIVE argument {name} has the name of another variable"
            )
        found[name] = State(unit or "1", "a value of each connection (a NET_RECEIVE argument)")
    return found


def _called(mod: s.ModFile, body) -> set[str]:
    """The names of the functions that `body` calls, directly or through its routines."""
    routines = {**mod.procedures, **mod.functions}
    return {x.name for x in s.nodes(body, routines) if isinstance(x, s.Call)}


def _check_events(mod: s.ModFile) -> None:
    """A ModError for NET_RECEIVE's functions other than net_send(delay, flag) in its
    body (net_event, net_move, and net_send elsewhere)."""
    routines = {**mod.procedures, **mod.functions}
    receive = () if mod.net_receive is None else mod.net_receive.body
    elsewhere = [mod.initial, mod.breakpoint, *mod.derivatives.values(), *mod.kinetics.values()]
    if mod.net_receive is not None:
        elsewhere.append(mod.net_receive.initial)
    for body, sending in ((receive, True), *((b, False) for b in elsewhere)):
        for call in (x for x in s.nodes(body, routines) if isinstance(x, s.Call)):
            if call.name in ("net_event", "net_move"):
                raise ModError(mod.source, call.line, f"{call.name}() is not supported")
            if call.name == "net_send" and not sending:
                raise ModError(
                    mod.source, call.line, "net_send() is supported in NET_RECEIVE's body only"
                )
            if call.name == "net_send" and len(call.args) != 2:
                raise ModError(mod.source, call.line, "net_send() takes (delay, flag)")


def _solved_reads(mod: s.ModFile) -> set[str]:
    """The names that BREAKPOINT's solved blocks read before they set them."""
    routines = {**mod.procedures, **mod.functions}
    return {
        name
        for solve in s.solves(mod.breakpoint)
        for name in s.read_before_set(_solved_body(mod, solve), routines, mod.arrays)
    }


def _solved_body(mod: s.ModFile, solve: s.Solve) -> tuple:
    """The statements that `solve` runs: its DERIVATIVE, KINETIC or LINEAR block, or a call
    of its PROCEDURE (NEURON calls a SOLVEd PROCEDURE once a step, in the state update)."""
    if solve.block in mod.procedures:
        return (s.Call(solve.block, (), solve.line),)
    blocks = {**mod.derivatives, **mod.kinetics, **mod.linears}
    return blocks.get(solve.block, ())


def _declared_states(mod: s.ModFile, whole: dict) -> dict[str, State]:
    """The STATEs of `mod`, an array held whole (`whole`: name -> size) as one state."""
    found = {}
    for x in mod.states:
        name = x.name.split("[")[0]
        shape = (whole[name],) if name in whole else ()
        found[name if shape else x.name] = State(x.unit or "1", shape=shape)
    return found


def _whole_names(names: set, whole: dict) -> set:
    """`names`, each element of an array held whole (`whole`) named by its array."""
    return {x.split("[")[0] if x.split("[")[0] in whole else x for x in names}


def _persistent(mod: s.ModFile, provided: set, whole: dict) -> dict[str, str]:
    """ASSIGNED variables that BREAKPOINT, NET_RECEIVE or a DERIVATIVE block reads before
    it sets them (computed by the state update or INITIAL, as a rate held over a step, a
    factor set once, or a total of events): NEURON keeps their values from one block to
    the next, so they become states here; an array held whole (`whole`) as one. Name ->
    unit."""
    routines = {**mod.procedures, **mod.functions}
    body = s.outside_solves(mod.breakpoint)
    if mod.net_receive is not None:  # its arguments and flag are its own
        names = (*mod.net_receive.args, "flag")
        body += [s.Local(names), *mod.net_receive.body]
    kept = set()
    blocks = (*mod.derivatives.values(), *mod.kinetics.values(), *mod.linears.values())
    solved = s.solves(mod.breakpoint)
    blocks += tuple(_solved_body(mod, x) for x in solved if x.block in mod.procedures)
    for part in (body, *blocks):
        kept |= s.read_before_set(part, routines, mod.arrays)
    assigned = {a.name: a.unit for a in mod.assigned}
    kept &= set(assigned)
    # Array elements that no statement reads (a log of spike times nothing uses, set at a
    # computed index) need no state: an element is kept if it is read at its own index
    # or at one computed at run time.
    used = set()
    for x in (x for part in (body, *blocks) for x in s.nodes(part, routines)):
        if isinstance(x, s.Index):
            at = s.static_value(x.index, {})
            size = range(mod.arrays.get(x.name, 0)) if at is None else [int(at)]
            used.update(s.element(x.name, k) for k in size)
    kept = {x for x in kept if "[" not in x or x in used}
    assigned.update((x, assigned[s.element(x, 0)]) for x in whole if s.element(x, 0) in assigned)
    kept = _whole_names(kept, whole)
    return {name: assigned[name] for name in sorted(kept - provided - set(ENGINE_VARIABLES))}


def _written_concentrations(mod: s.ModFile) -> list[str]:
    return [w for ion in mod.ions for w in ion.write if w in (f"{ion.ion}i", f"{ion.ion}o")]


def _all_written(mod: s.ModFile) -> tuple[str, ...]:
    return tuple(v for ion in mod.ions for v in ion.write)


def _check_solve(mod: s.ModFile, solve: s.Solve, schemes: dict, linears: dict) -> None:
    """A ModError for a SOLVE this import does not do: DERIVATIVE blocks by cnexp,
    derivimplicit or euler; KINETIC blocks by sparse, and to a steady state (in INITIAL)
    when their reactions are first order; LINEAR blocks (solved exactly); a PROCEDURE
    without arguments and without METHOD (called once a step)."""

    def error(message):
        return ModError(mod.source, solve.line, f"SOLVE {solve.block}: {message}")

    if solve.block in linears:
        return
    if solve.block in schemes:
        if solve.method != "sparse":
            raise error(f"METHOD {solve.method} of a KINETIC block is not supported yet")
        if solve.steady and not schemes[solve.block].linear:
            raise error("STEADYSTATE of a KINETIC scheme with second-order reactions")
    elif solve.block in mod.derivatives:
        if solve.method not in STEPPERS or solve.steady:
            what = "STEADYSTATE" if solve.steady else "METHOD"
            raise error(f"{what} {solve.method} is not supported yet")
    elif solve.block in mod.procedures:
        if solve.given:
            raise error(f"METHOD {solve.method} of a PROCEDURE is not supported")
        if mod.procedures[solve.block].args:
            raise error("a SOLVEd PROCEDURE takes no arguments")
    else:
        raise error(f"no DERIVATIVE, KINETIC, LINEAR or PROCEDURE {solve.block}")
