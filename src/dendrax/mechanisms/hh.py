"""Hodgkin–Huxley squid-axon channels with NEURON's `hh.mod` rate functions."""

import math

import jax.numpy as jnp

from dendrax.mechanisms.base import Mechanism, Parameter, State, exponential_euler_rate


def _vtrap(x, y, exp_ratio):
    """x / (exp(x/y) - 1), given exp_ratio = exp(x/y), continued by its Taylor expansion
    near x = 0 as in hh.mod."""
    ratio = x / y
    small = jnp.abs(ratio) < 1e-6
    safe_x = jnp.where(small, y, x)
    safe_denominator = jnp.where(small, 1.0, exp_ratio - 1.0)
    return jnp.where(small, y * (1.0 - 0.5 * ratio), safe_x / safe_denominator)


def _rates(v, celsius):
    """Steady state and rate 1/tau (1/ms) of m, h, n at voltage v (mV).

    The same quantities as hh.mod, with constant divisors written as products, the rate
    kept instead of tau = 1/rate, and the three exponentials of scale 10 mV computed as one
    (exp(-(v+40)/10) = exp(-(v+55)/10)·exp(1.5)): fewer divisions and exponentials, equal
    to rounding.
    """
    q10 = 3.0 ** ((celsius - 6.3) / 10.0)
    exp_n = jnp.exp(-(v + 55.0) * 0.1)
    alpha_m = 0.1 * _vtrap(-(v + 40.0), 10.0, exp_n * math.exp(1.5))
    beta_m = 4.0 * jnp.exp(-(v + 65.0) * (1.0 / 18.0))
    alpha_h = 0.07 * jnp.exp(-(v + 65.0) * (1.0 / 20.0))
    beta_h = 1.0 / (exp_n * math.exp(2.0) + 1.0)
    alpha_n = 0.01 * _vtrap(-(v + 55.0), 10.0, exp_n)
    beta_n = 0.125 * jnp.exp(-(v + 65.0) * (1.0 / 80.0))
    rates = {}
    for gate, alpha, beta in (
        ("m", alpha_m, beta_m),
        ("h", alpha_h, beta_h),
        ("n", alpha_n, beta_n),
    ):
        total = alpha + beta
        rates[gate] = (alpha / total, q10 * total)
    return rates


class HH(Mechanism):
    """Hodgkin–Huxley sodium, potassium and leak currents of the squid giant axon.

    Hodgkin, A. L. & Huxley, A. F. (1952). A quantitative description of membrane current
    and its application to conduction and excitation in nerve. J. Physiol. 117, 500–544.
    Rate functions, temperature factor (q10 = 3 from 6.3 °C) and defaults follow NEURON's
    `hh.mod`; unlike `hh.mod`, the reversal potentials are this channel's own parameters.
    """

    parameters = {
        "gNa": Parameter(0.12, "S/cm2", "maximal sodium conductance", nonnegative=True),
        "gK": Parameter(0.036, "S/cm2", "maximal potassium conductance", nonnegative=True),
        "gLeak": Parameter(0.0003, "S/cm2", "leak conductance", nonnegative=True),
        "eNa": Parameter(50.0, "mV", "sodium reversal potential"),
        "eK": Parameter(-77.0, "mV", "potassium reversal potential"),
        "eLeak": Parameter(-54.3, "mV", "leak reversal potential"),
    }
    states = {
        "m": State("1", "sodium activation"),
        "h": State("1", "sodium inactivation"),
        "n": State("1", "potassium activation"),
    }

    def steady_state(self, v, params, celsius):
        return {gate: steady for gate, (steady, _) in _rates(v, celsius).items()}

    def update(self, states, v, params, dt, celsius, t):
        return {
            gate: exponential_euler_rate(states[gate], steady, rate, dt)
            for gate, (steady, rate) in _rates(v, celsius).items()
        }

    def current(self, states, v, params, celsius, t):
        m, h, n = states["m"], states["h"], states["n"]
        sodium = params["gNa"] * m * m * m * h * (v - params["eNa"])
        potassium = params["gK"] * n * n * n * n * (v - params["eK"])
        leak = params["gLeak"] * (v - params["eLeak"])
        return sodium + potassium + leak
