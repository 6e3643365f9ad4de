"""Graded chemical synapses: transmission that follows the presynaptic voltage.

Both are junction mechanisms: the presynaptic voltage arrives as `params["v_peer"]`
(explicitly, the previous step's value, as NEURON reads a POINTER), the postsynaptic
current is implicit in the postsynaptic voltage.
"""

import jax
import jax.numpy as jnp

from dendrax.mechanisms.base import Mechanism, Parameter, State


class Ionotropic(Mechanism):
    """A first-order kinetic synapse: transmitter released as a sigmoid of the
    presynaptic voltage opens receptors, ds/dt = alpha T(v_pre) (1 - s) - beta s with
    T = 1 / (1 + exp((v_half - v_pre) / slope)), and i = gmax s (v - e) (nA).

    Destexhe, Mainen and Sejnowski (1994), Neural Computation 6:14-18 (the kinetic scheme
    and the sigmoid release, defaults their AMPA values); Abbott and Marder (1998), in
    Methods in Neuronal Modeling, for graded transmission in network models. States
    advance by exponential Euler with the presynaptic voltage after the step (NEURON's
    cnexp reading a POINTER).
    """

    kind = "junction"
    parameters = {
        "gmax": Parameter(0.001, "uS", "maximal conductance", nonnegative=True),
        "e": Parameter(0.0, "mV", "reversal potential"),
        "alpha": Parameter(1.1, "1/ms", "binding rate at full release", nonnegative=True),
        "beta": Parameter(0.19, "1/ms", "unbinding rate", nonnegative=True),
        "v_half": Parameter(2.0, "mV", "presynaptic voltage of half release"),
        "slope": Parameter(5.0, "mV", "steepness of release", nonnegative=True),
    }
    states = {"s": State("1", "open fraction of receptors")}

    def _opening(self, params):
        release = jax.nn.sigmoid((params["v_peer"] - params["v_half"]) / params["slope"])
        rate = params["alpha"] * release + params["beta"]
        return params["alpha"] * release / rate, rate

    def steady_state(self, v, params, celsius):
        return {"s": self._opening(params)[0]}

    def update(self, states, v, params, dt, celsius, t):
        steady, rate = self._opening(params)
        return {"s": steady + (states["s"] - steady) * jnp.exp(-dt * rate)}

    def current(self, states, v, params, celsius, t):
        return params["gmax"] * states["s"] * (v - params["e"])


class TanhRate(Mechanism):
    """A current set by the presynaptic voltage through a tanh, as in rate networks:
    i = -amplitude tanh((v_pre - v_half) / slope) (nA; a positive amplitude depolarises
    the postsynaptic cell when the presynaptic one is above v_half)."""

    kind = "junction"
    parameters = {
        "amplitude": Parameter(0.01, "nA", "largest current"),
        "v_half": Parameter(-60.0, "mV", "presynaptic voltage of zero current"),
        "slope": Parameter(10.0, "mV", "voltage scale of the tanh", nonnegative=True),
    }

    def steady_state(self, v, params, celsius):
        return {}

    def update(self, states, v, params, dt, celsius, t):
        return {}

    def current(self, states, v, params, celsius, t):
        drive = jnp.tanh((params["v_peer"] - params["v_half"]) / params["slope"])
        return -params["amplitude"] * drive
