"""Ohmic gap junctions between two locations (NEURON's half-gap scheme)."""

from dendrax.mechanisms.base import Mechanism, Parameter


class GapJunction(Mechanism):
    """One side of an electrical synapse: i = g (v - v_peer) (nA), with the peer's voltage
    of the previous step and the own side implicit, as NEURON's POINTER-based half gap.
    `dendrax.gap_junction(a, b, g)` places the two sides."""

    kind = "junction"
    parameters = {"g": Parameter(0.001, "uS", "junction conductance", nonnegative=True)}

    def steady_state(self, v, params, celsius):
        return {}

    def update(self, states, v, params, dt, celsius, t):
        return {}

    def current(self, states, v, params, celsius, t):
        return params["g"] * (v - params["v_peer"])
