"""Transforms between the unconstrained space an optimiser works in and a parameter's
allowed values: `forward(u)` gives the value, `inverse(x)` the unconstrained number.

Bounds are transforms, not clipping: a `Sigmoid(0.0, 0.5)` conductance can approach its
bounds but never leave them, and its gradient never vanishes abruptly.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np


class Transform:
    """A bijection from the real line onto a parameter's allowed values."""

    def forward(self, u):
        """The parameter value for the unconstrained `u`."""
        raise NotImplementedError

    def inverse(self, x):
        """The unconstrained number whose value is `x`."""
        raise NotImplementedError

    def inside(self, x) -> np.ndarray:
        """Whether each of `x` (host-side) is a value `forward` can reach."""
        raise NotImplementedError


def _number(value, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.floating | np.integer):
        raise TypeError(f"{what} must be a number, got {value!r}")
    if not np.isfinite(value):
        raise ValueError(f"{what} must be finite, got {value}")
    return float(value)


@dataclass(frozen=True)
class Sigmoid(Transform):
    """Values in the open interval (lower, upper): x = lower + (upper - lower) σ(u)."""

    lower: float
    upper: float

    def __post_init__(self):
        lower = _number(self.lower, "Sigmoid lower bound")
        upper = _number(self.upper, "Sigmoid upper bound")
        if not lower < upper:
            raise ValueError(f"bounds need lower < upper, got ({lower}, {upper})")
        object.__setattr__(self, "lower", lower)
        object.__setattr__(self, "upper", upper)

    def forward(self, u):
        return self.lower + (self.upper - self.lower) * jax.nn.sigmoid(u)

    def inverse(self, x):
        fraction = (x - self.lower) / (self.upper - self.lower)
        return jnp.log(fraction) - jnp.log1p(-fraction)

    def inside(self, x) -> np.ndarray:
        return (np.asarray(x) > self.lower) & (np.asarray(x) < self.upper)


@dataclass(frozen=True)
class Softplus(Transform):
    """Values above `lower`: x = lower + log(1 + exp(u))."""

    lower: float = 0.0

    def __post_init__(self):
        object.__setattr__(self, "lower", _number(self.lower, "Softplus lower bound"))

    def forward(self, u):
        return self.lower + jax.nn.softplus(u)

    def inverse(self, x):
        excess = x - self.lower
        return excess + jnp.log(-jnp.expm1(-excess))  # log(exp(excess) - 1), stable

    def inside(self, x) -> np.ndarray:
        return np.asarray(x) > self.lower


@dataclass(frozen=True)
class Log(Transform):
    """Positive values on a log scale: x = exp(u) (for values spanning decades)."""

    def forward(self, u):
        return jnp.exp(u)

    def inverse(self, x):
        return jnp.log(x)

    def inside(self, x) -> np.ndarray:
        return np.asarray(x) > 0


@dataclass(frozen=True)
class Affine(Transform):
    """x = scale u + shift (scale != 0): rescales a parameter so that steps of the
    optimiser have a sensible size (Affine(1, 0) is the identity)."""

    scale: float = 1.0
    shift: float = 0.0

    def __post_init__(self):
        scale = _number(self.scale, "Affine scale")
        if scale == 0:
            raise ValueError("Affine scale must not be 0")
        object.__setattr__(self, "scale", scale)
        object.__setattr__(self, "shift", _number(self.shift, "Affine shift"))

    def forward(self, u):
        return self.scale * u + self.shift

    def inverse(self, x):
        return (x - self.shift) / self.scale

    def inside(self, x) -> np.ndarray:
        return np.isfinite(np.asarray(x, float))


@dataclass(frozen=True, init=False)
class Chain(Transform):
    """Transforms applied in order, first to last: `Chain(Sigmoid(0, 1), Affine(0.3))`
    is 0.3 σ(u)."""

    transforms: tuple[Transform, ...]

    def __init__(self, *transforms: Transform):
        for t in transforms:
            if not isinstance(t, Transform):
                raise TypeError(f"Chain takes transforms, got {t!r}")
        if not transforms:
            raise ValueError("Chain needs at least one transform")
        object.__setattr__(self, "transforms", tuple(transforms))

    def forward(self, u):
        for t in self.transforms:
            u = t.forward(u)
        return u

    def inverse(self, x):
        for t in reversed(self.transforms):
            x = t.inverse(x)
        return x

    def inside(self, x) -> np.ndarray:
        ok = np.ones(np.shape(x), bool)
        x = np.asarray(x, float)
        for t in reversed(self.transforms):
            ok &= t.inside(x)
            x = np.asarray(t.inverse(np.where(ok, x, np.nan)))
        return ok


IDENTITY = Affine(1.0, 0.0)
"""The transform of a parameter trained without bounds."""


def from_bounds(bounds) -> Transform:
    """The transform for `bounds`: None (unbounded), a `Transform`, or (lower, upper)
    with either None: (lo, hi) is `Sigmoid`, (lo, None) `Softplus(lo)`, (None, hi) the
    mirror image hi - softplus(u)."""
    if bounds is None:
        return IDENTITY
    if isinstance(bounds, Transform):
        return bounds
    if not isinstance(bounds, tuple | list) or len(bounds) != 2:
        raise TypeError(f"bounds must be (lower, upper), a Transform or None, got {bounds!r}")
    lower, upper = bounds
    if lower is not None and upper is not None:
        return Sigmoid(lower, upper)
    if lower is not None:
        return Softplus(lower)
    if upper is not None:
        return Chain(Softplus(0.0), Affine(-1.0, upper))
    return IDENTITY
