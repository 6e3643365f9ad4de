"""Applying the inserted mechanisms to their sites: ions, currents, slopes, state updates.

The time stepper calls these pure functions once per step. Per compartment they keep
NEURON's ion bookkeeping: concentrations are parameters unless a mechanism writes them (its
state then holds them), reversal potentials are parameters or Nernst potentials (see
`dendrax.mechanisms.ions`), and the current of each ion is summed over the channels of a
compartment and handed to the mechanisms that read it (calcium accumulation) in their update.
Mechanisms that write a concentration update first, so that the others (a Ca-activated K
channel) see the new concentration, as in NEURON when the accumulation mechanism is loaded
first.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np

from dendrax import units
from dendrax.mechanisms.base import Mechanism, ion_species
from dendrax.mechanisms.ions import ion_of, nernst

CONCENTRATIONS = ("internal", "external")

NEURON_VOLTAGE_INCREMENT = 0.001
"""mV; NEURON's step for the difference quotient di/dv."""


def used_ions(mechanisms) -> dict:
    """The ion species that some mechanism reads or writes, by name, in sorted order."""
    species = ion_species(mechanisms)
    names = sorted({ion for m in mechanisms for ion in m.ions})
    return {name: species[name] for name in names}


def writes_concentration(mechanism: Mechanism) -> bool:
    species = ion_species((mechanism,))
    return any(ion_of(v, species)[1] in ("internal", "external") for v in mechanism.writes)


def _on_compartments(site_values, site: dict):
    """Per-site values placed on every compartment (0 where the mechanism is absent)."""
    padded = jnp.concatenate([site_values, jnp.zeros(1, site_values.dtype)])
    return padded[site["comp_site"]]


def _present(site: dict):
    return site["comp_site"] < site["comp"].shape[0]


def concentrations(mechanisms, arrays: dict, params: dict, states: dict) -> dict:
    """Per-compartment concentrations (mM): the parameter, or the writing mechanism's state."""
    values = {}
    for ion in used_ions(mechanisms).values():
        for kind in ("internal", "external"):
            variable = ion.variables[kind]
            value = params[variable]
            for mechanism in mechanisms:
                if variable in mechanism.writes and mechanism.name in states:
                    site = arrays["sites"][mechanism.name]
                    written = _on_compartments(states[mechanism.name][variable], site)
                    value = jnp.where(_present(site), written, value)
            values[variable] = value
    return values


def compartment_ions(mechanisms, arrays: dict, params: dict, states: dict, celsius: float):
    """Per-compartment reversal potentials (mV) and concentrations (mM) of the used ions."""
    values = concentrations(mechanisms, arrays, params, states)
    species = ion_species(mechanisms)
    for ion in used_ions(mechanisms).values():
        names = ion.variables
        if not any(
            ion_of(variable, species)[0] == ion and ion_of(variable, species)[1] in CONCENTRATIONS
            for mechanism in mechanisms
            for variable in mechanism.reads + mechanism.writes
        ):
            values[names["reversal"]] = params[names["reversal"]]  # a parameter everywhere
            continue
        from_concentrations = nernst(
            values[names["internal"]], values[names["external"]], ion.charge, celsius
        )
        values[names["reversal"]] = jnp.where(
            arrays["ion_nernst"][ion.name], from_concentrations, params[names["reversal"]]
        )
    return values


def site_params(
    mechanism: Mechanism, arrays: dict, params: dict, ions: dict, currents=None, v=None
):
    """The mechanism's parameters at its sites, with the ion variables it reads or writes
    and, for a junction, the voltage `v` (per node) at each site's peer as "v_peer"."""
    site = arrays["sites"][mechanism.name]
    comps = site["comp"]
    values = dict(params[mechanism.name])
    if mechanism.kind == "junction":
        values["v_peer"] = v[site["peer_node"]]
    species = ion_species((mechanism,))
    for variable in mechanism.reads + mechanism.writes:
        if ion_of(variable, species)[1] != "current":
            values[variable] = ions[variable][comps]
        elif currents is not None and variable in mechanism.reads:
            values[variable] = currents[variable][comps]
    return values


def as_densities(mechanism: Mechanism, out) -> dict:
    """`current`'s result as a dict of named densities (a bare array is "i")."""
    if isinstance(out, dict):
        return out
    return {"i": out}


def site_scale(mechanism: Mechanism, site: dict, area):
    """Per site, the factor from the mechanism's current to nA: the membrane area of its
    compartment (µm², `area` per compartment) in cm² times 1e6 nA/mA for densities
    (mA/cm²), 1 for point and junction currents (nA)."""
    if mechanism.kind == "density":
        return area[site["comp"]] * units.DENSITY_TO_CURRENT
    return jnp.ones(site["comp"].shape[0], area.dtype)


def site_current(mechanism: Mechanism, states: dict, v, params: dict, celsius, t):
    """Total outward current (mA/cm² or nA by the mechanism's kind), its slope di/dv
    (S/cm² or µS) and the named currents."""
    return site_current_and_slopes(mechanism, states, v, params, celsius, t)[:3]


def site_current_and_slopes(mechanism: Mechanism, states: dict, v, params: dict, celsius, t):
    """As `site_current`, with the slope of each named current as a fourth element."""

    def total(x):
        densities = as_densities(mechanism, mechanism.current(states, x, params, celsius, t))
        summed = jnp.zeros_like(x)
        for density in densities.values():
            summed = summed + density
        return summed, densities

    if mechanism.slope_by_difference:
        shifted, shifted_densities = total(v + NEURON_VOLTAGE_INCREMENT)
        current, densities = total(v)
        slopes = {
            name: (shifted_densities[name] - density) / NEURON_VOLTAGE_INCREMENT
            for name, density in densities.items()
        }
        return current, (shifted - current) / NEURON_VOLTAGE_INCREMENT, densities, slopes
    (current, densities), (slope, slopes) = jax.jvp(total, (v,), (jnp.ones_like(v),))
    return current, slope, densities, slopes


def ion_currents(mechanisms, arrays: dict, densities: dict, n_comp: int, dtype) -> dict:
    """Per-compartment total current (mA/cm²) of each used ion, summed over its channels."""
    totals = {
        ion.variables["current"]: jnp.zeros(n_comp, dtype) for ion in used_ions(mechanisms).values()
    }
    for mechanism in mechanisms:
        site = arrays["sites"][mechanism.name]
        for name, density in densities[mechanism.name].items():
            if name in totals and name in mechanism.writes:
                totals[name] = totals[name] + _on_compartments(density, site)
    return totals


def evaluate(mechanisms, arrays: dict, params: dict, v, states: dict, celsius, t):
    """Ions, each mechanism's (current, slope, densities), the ion currents and their slopes,
    at time `t` (ms).

    Returns per-compartment ion values (mV, mM); per mechanism the total outward current
    (mA/cm² or nA by its kind), its slope (S/cm² or µS) and its named currents at its
    sites; per-compartment ion currents (mA/cm²) and their slopes di/dv (S/cm²).
    """
    ions = compartment_ions(mechanisms, arrays, params, states, celsius)
    evaluated, slopes = {}, {}
    for mechanism in mechanisms:
        name = mechanism.name
        site_v = v[arrays["sites"][name]["node"]]
        values = site_params(mechanism, arrays, params, ions, v=v)
        *evaluated[name], slopes[name] = site_current_and_slopes(
            mechanism, states[name], site_v, values, celsius, t
        )
    radius = params["radius"]
    densities = {name: out[2] for name, out in evaluated.items()}
    currents = ion_currents(mechanisms, arrays, densities, radius.shape[0], radius.dtype)
    ion_slopes = ion_currents(mechanisms, arrays, slopes, radius.shape[0], radius.dtype)
    return ions, evaluated, currents, ion_slopes


def second_order_currents(currents: dict, ion_slopes: dict, delta) -> dict:
    """Ion currents moved to the middle of a Crank–Nicolson step, i + (di/dv) Δ, with Δ
    (mV, per compartment) half the step's voltage change: what NEURON's secondorder = 2
    hands to concentration mechanisms."""
    return {name: current + ion_slopes[name] * delta for name, current in currents.items()}


def recordables(mechanisms, arrays, params, states, ions, evaluated, currents) -> dict:
    """Recordable quantities besides v and states: "Mech.ina" (mA/cm², per site), and per
    compartment the ion currents "ica" (mA/cm²), reversal potentials of the step (mV) and
    concentrations after it (mM)."""
    values = {**ions, **concentrations(mechanisms, arrays, params, states), **currents}
    for name, (_, _, densities) in evaluated.items():
        values.update({f"{name}.{key}": density for key, density in densities.items()})
    return values


def initial_states(mechanisms, arrays: dict, params: dict, v, celsius: float) -> dict:
    """Every mechanism's states at rest at voltage `v` (per node), or at the values their
    `State(initial=...)` declares; writers of concentrations first (NEURON's finitialize)."""
    states = {}
    ordered = sorted(mechanisms, key=lambda m: not writes_concentration(m))
    for mechanism in ordered:
        ions = compartment_ions(mechanisms, arrays, params, states, celsius)
        site_v = v[arrays["sites"][mechanism.name]["node"]]
        values = site_params(mechanism, arrays, params, ions, v=v)
        steady = mechanism.steady_state(site_v, values, celsius)
        states[mechanism.name] = {
            name: steady[name]
            if declared.initial is None
            else jnp.full((*site_v.shape, *declared.shape), declared.initial, site_v.dtype)
            for name, declared in mechanism.states.items()
        }
    return {m.name: states[m.name] for m in mechanisms}


def checked_states(mechanism: Mechanism, method: str, states) -> dict:
    """`states` as returned by `mechanism.method`, if they are its declared states (those
    with a declared initial value may be left out by `steady_state`)."""
    declared = set(mechanism.states)
    needed = declared
    if method == "steady_state":
        needed = {name for name, s in mechanism.states.items() if s.initial is None}
    if not isinstance(states, dict):
        raise TypeError(
            f"{mechanism.name}.{method} returned {type(states).__name__}; it must return a "
            f"dict of its states {sorted(declared)}"
        )
    for problem, names in (("lacks", needed - set(states)), ("has", set(states) - declared)):
        if names:
            raise ValueError(
                f"{mechanism.name}.{method} returned states {sorted(states)}: it {problem} "
                f"{sorted(names)}; its declared states are {sorted(declared)}"
            )
    return states


def advance_states(
    mechanisms, arrays, params, v, states, ions, currents, dt: float, celsius, t
) -> dict:
    """States after one step ending at time `t` (ms) at the new voltage `v` (per node);
    writers of concentrations first, then the others with the concentrations they wrote."""
    new_states = {}
    writers = [m for m in mechanisms if writes_concentration(m)]
    for group in (writers, [m for m in mechanisms if not writes_concentration(m)]):
        for mechanism in group:
            name = mechanism.name
            site_v = v[arrays["sites"][name]["node"]]
            values = site_params(mechanism, arrays, params, ions, currents, v=v)
            new_states[name] = mechanism.update(states[name], site_v, values, dt, celsius, t)
        if writers:
            written = {**states, **new_states}
            ions = {**ions, **concentrations(mechanisms, arrays, params, written)}
    return {m.name: new_states[m.name] for m in mechanisms}


def input_names(mechanism: Mechanism) -> tuple[str, ...]:
    """The keys of the `params` its methods receive: its parameters, the ion variables it
    reads or writes, and a junction's "v_peer"."""
    peer = ("v_peer",) if mechanism.kind == "junction" else ()
    return (*mechanism.parameters, *mechanism.reads, *mechanism.writes, *peer)


@functools.lru_cache(maxsize=1024)
def current_names(mechanism: Mechanism) -> tuple[str, ...]:
    """Names of the densities that `mechanism.current` returns (traced once per mechanism,
    abstractly)."""
    one = jax.ShapeDtypeStruct((1,), jnp.zeros(0).dtype)
    states = {
        name: jax.ShapeDtypeStruct((1, *declared.shape), one.dtype)
        for name, declared in mechanism.states.items()
    }
    params = {name: one for name in input_names(mechanism)}
    out = jax.eval_shape(lambda s, v, p: mechanism.current(s, v, p, 6.3, 0.0), states, one, params)
    return tuple(as_densities(mechanism, out))


def recordable(mechanism: Mechanism) -> tuple[str, ...]:
    """What `.record("Mech.x")` accepts for this mechanism: its states (but those that are
    arrays at each site, `array_states`) and its currents."""
    arrays = array_states(mechanism)
    return (*(x for x in mechanism.states if x not in arrays), *current_names(mechanism))


def array_states(mechanism: Mechanism) -> tuple[str, ...]:
    """The states of `mechanism` that are arrays at each site (declared with a `shape`)."""
    return tuple(name for name, declared in mechanism.states.items() if declared.shape)


def per_site(mask, value):
    """`mask` (one entry per site) with the trailing dimensions of `value` (a state's
    `shape`) added, so that `jnp.where(per_site(mask, value), new, value)` keeps or
    replaces each site's whole array."""
    mask = jnp.asarray(mask)
    extra = jnp.ndim(value) - mask.ndim
    return jnp.reshape(mask, mask.shape + (1,) * extra) if extra > 0 else mask


def ion_defaults(mechanisms) -> dict[str, float]:
    """Default per-compartment values of "ex", "xi", "xo" for every ion the mechanisms use."""
    return {
        variable: value
        for ion in used_ions(mechanisms).values()
        for variable, value in ion.defaults.items()
    }


def ion_currents_of(mechanisms) -> tuple[str, ...]:
    """Names of the total ion currents ("ica") of the ions the mechanisms use."""
    return tuple(ion.variables["current"] for ion in used_ions(mechanisms).values())


def ion_variable_kind(variable: str, mechanisms) -> str:
    """ "reversal", "internal", "external" or "current" for an ion variable in use."""
    return ion_of(variable, ion_species(mechanisms))[1]


def reversal_from_concentrations(inserted: dict, n_comp: int) -> dict:
    """Per ion, the compartments whose reversal potential is a Nernst potential: those
    where an inserted mechanism reads or writes one of the ion's concentrations.

    `inserted` maps each mechanism to the boolean mask of compartments where it is
    inserted. Raises if two mechanisms write the same concentration in one compartment.
    """
    mechanisms = list(inserted)
    species = ion_species(mechanisms)
    masks = {name: np.zeros(n_comp, dtype=bool) for name in used_ions(mechanisms)}
    writer = {}
    for mechanism, where in inserted.items():
        for variable in mechanism.reads + mechanism.writes:
            ion, kind = ion_of(variable, species)
            if kind in ("internal", "external"):
                masks[ion.name] |= where
            if kind in ("internal", "external") and variable in mechanism.writes:
                previous = writer.get(variable)
                if previous is not None and np.any(previous[1] & where):
                    raise ValueError(
                        f"{previous[0].name} and {mechanism.name} both write {variable} in "
                        f"compartment {int(np.flatnonzero(previous[1] & where)[0])}"
                    )
                writer[variable] = (mechanism, where)
    return masks


def check_outputs(mechanism: Mechanism, dt: float, celsius: float) -> None:
    """Raise if `mechanism`'s methods, traced once on abstract values, return other states
    than it declares or an ion current it does not declare in `writes`, or branch in
    Python on a value (the error then says how to write the branch)."""
    one = jax.ShapeDtypeStruct((1,), jnp.zeros(0).dtype)
    params = {name: one for name in input_names(mechanism)}
    calls = {
        "steady_state": lambda v, p: mechanism.steady_state(v, p, celsius),
        "update": lambda v, p: mechanism.update(states_of(v), v, p, dt, celsius, 0.0),
        "current": lambda v, p: mechanism.current(states_of(v), v, p, celsius, 0.0),
    }

    def states_of(v):
        return {
            name: jnp.ones((*v.shape, *declared.shape), v.dtype)
            for name, declared in mechanism.states.items()
        }

    species = ion_species((mechanism,))
    for method, call in calls.items():
        try:
            out = jax.eval_shape(call, one, params)
        except (jax.errors.TracerBoolConversionError, jax.errors.ConcretizationTypeError):
            raise TypeError(
                f"{mechanism.name}.{method} branches in Python (`if`, `and`, `bool`) on a "
                f"value, which is traced by JAX; write the branch as "
                f"jnp.where(condition, value_if_true, value_if_false)"
            ) from None
        if method != "current":
            checked_states(mechanism, method, out)
            continue
        for name in as_densities(mechanism, out):
            found = ion_of(name, species)
            if found is not None and found[1] == "current" and name not in mechanism.writes:
                raise ValueError(
                    f"{mechanism.name}.current returns {name!r}, an ion current, without "
                    f"declaring it: add it to writes (writes = ({name!r},)), or rename it "
                    f"for a non-specific current"
                )
