"""Helpers for channels built of independent gates with a steady state and time constant."""

import abc

import jax.numpy as jnp

from dendrax.mechanisms.base import Mechanism, exponential_euler, exponential_euler_rate


class Kinetics(tuple):
    """A gate's (steady state, tau in ms), as `gate_rates` gives it, that also keeps the
    rate 1/tau (1/ms) it was computed from: `advance` then takes exp(-dt·rate) instead of
    exp(-dt/tau), two divisions fewer per gate and step."""

    rate: object

    def __new__(cls, steady, rate):
        kinetics = super().__new__(cls, (steady, 1.0 / rate))
        kinetics.rate = rate
        return kinetics


def steady(rates: dict) -> dict:
    """Each gate at its steady state; `rates` maps gate -> (steady state, tau in ms)."""
    return {gate: inf for gate, (inf, _) in rates.items()}


def advance(states: dict, rates: dict, dt: float) -> dict:
    """Each gate after one exponential-Euler step of `dt` (ms) (NEURON's `cnexp`)."""
    return {gate: _relaxed(states[gate], kinetics, dt) for gate, kinetics in rates.items()}


def _relaxed(state, kinetics, dt: float):
    steady_state, tau = kinetics
    if isinstance(kinetics, Kinetics):
        return exponential_euler_rate(state, steady_state, kinetics.rate, dt)
    return exponential_euler(state, steady_state, tau, dt)


def from_alpha_beta(alpha, beta, q10_factor=1.0):
    """(steady state, tau in ms) of a gate with opening/closing rates alpha, beta (1/ms), as
    `Kinetics` that keep the rate (alpha + beta)·q10_factor."""
    total = alpha + beta
    return Kinetics(alpha / total, total * q10_factor)


def linoid_pair(x, k: float):
    """x / (1 - exp(-x/k)) and -x / (1 - exp(x/k)) (x in mV, k > 0 in mV) from one
    exponential: the second is the first times exp(-x/k). The opening and closing rates of
    many gates are these two functions of one shifted voltage, up to constant factors;
    `away_from` keeps x off the removable 0/0 at x = 0."""
    e = jnp.exp(-x * (1.0 / k))
    forward = x / (1.0 - e)
    return forward, forward * e


def temperature_factor(q10: float, celsius: float, reference: float) -> float:
    """q10^((celsius - reference) / 10): how much faster the kinetics run at `celsius` (°C)."""
    return q10 ** ((celsius - reference) / 10.0)


def away_from(v, singular: float, shift: float = 1e-4):
    """`v` moved by `shift` (mV) where it equals `singular`, a removable 0/0 of a rate
    function; the published .mod files of Hay et al. (2011) use this guard."""
    return jnp.where(v == singular, v + shift, v)


class GatedChannel(Mechanism):
    """A channel whose states are independent gates, each relaxing to a voltage-dependent
    steady state with a time constant; subclasses give `gate_rates` and `current`, and
    may give `instantaneous`.

    Gates start at their steady state (or at `State(initial=...)`) and advance by
    exponential Euler (NEURON's `cnexp`). Subclasses customise through these hooks, not
    by overriding `steady_state` or `update`.
    """

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        for method in ("steady_state", "update"):
            if method in vars(cls):
                raise TypeError(
                    f"{cls.__name__} overrides GatedChannel.{method}: give gate_rates, "
                    f"instantaneous and State(initial=...) instead"
                )

    @abc.abstractmethod
    def gate_rates(self, v, params: dict, celsius: float) -> dict:
        """gate -> (steady state, tau in ms) at voltage `v` (mV)."""

    def instantaneous(self, v, params: dict, celsius: float) -> dict:
        """States that are functions of the present voltage and parameters (not gates),
        computed at rest and after every update; none by default."""
        return {}

    def steady_state(self, v, params, celsius):
        return steady(self.gate_rates(v, params, celsius)) | self.instantaneous(v, params, celsius)

    def update(self, states, v, params, dt, celsius, t):
        gated = advance(states, self.gate_rates(v, params, celsius), dt)
        return gated | self.instantaneous(v, params, celsius)
