"""The backward pass of a native simulation (the vector-Jacobian product of its recordings)."""

import dataclasses

import jax

from dendrax.solve import stepping


def backward(spec: stepping.StaticSpec, n_steps: int, params, stimuli, clamps, arrays, cotangent):
    """Cotangents of (params, stimuli, clamps) for the recordings' `cotangent`.

    Recomputes the simulation with the pure-JAX twin and takes its vector-Jacobian product.
    """
    twin = dataclasses.replace(spec, backend="jax")

    def pure_jax(params, stimuli, clamps):
        return stepping.simulate(twin, arrays, params, stimuli, clamps, n_steps)

    _, vjp = jax.vjp(pure_jax, params, stimuli, clamps)
    return vjp(cotangent)
