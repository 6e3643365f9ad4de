"""Which path runs a simulation: the native kernel or pure JAX, and falling back between them.

"auto" takes the native kernel on CPU when it supports the model and builds; "native" asks
for it; "jax" never uses it. Where the native kernel is asked for but cannot run (a GPU, a
mechanism or feature it does not support, no compiler, a failed build or load), dendrax
takes the pure-JAX path and says why once, on the "dendrax" logger.
"""

import dataclasses

import jax

from dendrax.native import gradient
from dendrax.native.codegen import Unsupported
from dendrax.native.library import BuildError, say_once
from dendrax.native.simulate import prepare as native_prepare
from dendrax.native.simulate import simulate as native_simulate
from dendrax.native.simulate import target
from dendrax.solve import stepping

BACKENDS = ("auto", "jax", "native")

PREPARE_ADJOINT = True
"""Whether building a model for the native kernel starts compiling its adjoint in the
background (`dendrax.native.gradient.prepare`), after its kernel's compile has started."""


def unavailable(spec: stepping.StaticSpec, dtype) -> str | None:
    """Why the native kernel cannot run `spec` with `dtype` here, or None if it can."""
    if jax.default_backend() != "cpu":
        return f"it runs on CPU only, and JAX's default backend is {jax.default_backend()}"
    try:
        target(spec, dtype)
    except (Unsupported, BuildError) as error:
        return str(error)
    return None


def choose(requested: str, spec: stepping.StaticSpec, dtype) -> str:
    """The backend ("jax" or "native") that runs `spec` for a request of `requested`."""
    if requested not in BACKENDS:
        raise ValueError(f"unknown backend {requested!r}; choose one of {list(BACKENDS)}")
    if requested == "jax":
        return "jax"
    # As the model will be if native is chosen, so that its sources, generated here once per
    # spec, are not generated again for its first run and gradient.
    spec = dataclasses.replace(spec, backend="native")
    if PREPARE_ADJOINT and jax.default_backend() == "cpu":
        # The kernel first (a first forward run waits for it), the adjoint beside it.
        native_prepare(spec, dtype)
        gradient.prepare(spec, dtype)
    reason = unavailable(spec, dtype)
    if reason is None:
        return "native"
    if requested == "native" or jax.default_backend() == "cpu":
        say_once(f"dendrax: native backend not used ({reason}); running pure JAX")
    return "jax"


def simulate(spec: stepping.StaticSpec, arrays: dict, params: dict, stimuli, clamps, n_steps):
    """Run `spec` on the backend it was built with (pure JAX if native cannot run now)."""
    if spec.backend == "native":
        reason = unavailable(spec, params["radius"].dtype)
        if reason is None:
            return native_simulate(spec, arrays, params, stimuli, clamps, n_steps)
        say_once(f"dendrax: native backend not used ({reason}); running pure JAX")
    return stepping.simulate(spec, arrays, params, stimuli, clamps, n_steps)
