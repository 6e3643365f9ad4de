"""A passive leak conductance, NEURON's `pas`."""

from dendrax.mechanisms.base import Mechanism, Parameter


class Leak(Mechanism):
    """Passive membrane leak, i = gLeak (v - eLeak), with NEURON's `pas` defaults."""

    parameters = {
        "gLeak": Parameter(0.001, "S/cm2", "leak conductance", nonnegative=True),
        "eLeak": Parameter(-70.0, "mV", "leak reversal potential"),
    }

    def steady_state(self, v, params, celsius):
        return {}

    def update(self, states, v, params, dt, celsius, t):
        return {}

    def current(self, states, v, params, celsius, t):
        return params["gLeak"] * (v - params["eLeak"])
