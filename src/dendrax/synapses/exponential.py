"""NEURON's built-in event synapses ExpSyn and Exp2Syn, same parameters and numerics.

A spike event adds its weight (µS) to the conductance, which decays exponentially
(one time constant for ExpSyn, the difference of two for Exp2Syn); the current is
g (v - e) in nA. States advance by exponential Euler (exact for these linear decays), as
NEURON's `cnexp` does.
"""

import jax.numpy as jnp

from dendrax.mechanisms.base import Mechanism, Parameter, State

_TAU = "ms"


class ExpSyn(Mechanism):
    """A synaptic conductance raised by each event's weight and decaying with `tau`:
    dg/dt = -g / tau, i = g (v - e) (NEURON's ExpSyn)."""

    kind = "point"
    parameters = {
        "tau": Parameter(0.1, _TAU, "decay time constant", nonnegative=True),
        "e": Parameter(0.0, "mV", "reversal potential"),
        "weight": Parameter(0.0, "uS", "conductance an event adds (the NetCon weight)"),
    }
    states = {"g": State("uS", "conductance", initial=0.0)}

    def steady_state(self, v, params, celsius):
        return {}

    def update(self, states, v, params, dt, celsius, t):
        return {"g": states["g"] * jnp.exp(-dt / params["tau"])}

    def current(self, states, v, params, celsius, t):
        return states["g"] * (v - params["e"])

    def receive(self, states, params, lag):
        return {"g": states["g"] + params["weight"] * jnp.exp(-lag / params["tau"])}


class Exp2Syn(Mechanism):
    """A conductance g = B - A with rise time `tau1` and decay time `tau2` (NEURON's
    Exp2Syn): dA/dt = -A / tau1, dB/dt = -B / tau2, each event adds weight x factor to
    both, the factor normalising the peak of g to the weight; i = g (v - e).

    As in NEURON, tau1 is taken as 0.9999 tau2 where it is larger, and as 1e-9 tau2
    where it is smaller than that."""

    kind = "point"
    parameters = {
        "tau1": Parameter(0.1, _TAU, "rise time constant", nonnegative=True),
        "tau2": Parameter(10.0, _TAU, "decay time constant", nonnegative=True),
        "e": Parameter(0.0, "mV", "reversal potential"),
        "weight": Parameter(0.0, "uS", "peak conductance an event adds (the NetCon weight)"),
    }
    states = {
        "A": State("uS", "rising component", initial=0.0),
        "B": State("uS", "decaying component", initial=0.0),
    }

    def steady_state(self, v, params, celsius):
        return {}

    def update(self, states, v, params, dt, celsius, t):
        tau1, tau2 = _time_constants(params)
        return {"A": states["A"] * jnp.exp(-dt / tau1), "B": states["B"] * jnp.exp(-dt / tau2)}

    def current(self, states, v, params, celsius, t):
        return (states["B"] - states["A"]) * (v - params["e"])

    def receive(self, states, params, lag):
        tau1, tau2 = _time_constants(params)
        peak_time = tau1 * tau2 / (tau2 - tau1) * jnp.log(tau2 / tau1)
        factor = 1.0 / (jnp.exp(-peak_time / tau2) - jnp.exp(-peak_time / tau1))
        added = params["weight"] * factor
        return {
            "A": states["A"] + added * jnp.exp(-lag / tau1),
            "B": states["B"] + added * jnp.exp(-lag / tau2),
        }


def _time_constants(params):
    """(tau1, tau2) with tau1 kept in [1e-9, 0.9999] x tau2, as NEURON's INITIAL does."""
    tau2 = params["tau2"]
    return jnp.clip(params["tau1"], 1e-9 * tau2, 0.9999 * tau2), tau2
