"""The backward pass of a native simulation (the vector-Jacobian product of its recordings).

Where `dendrax.native.adjoint_source` supports the model, one call of the generated C++
adjoint (adjoint.cc) returns the cotangents of the kernel's operands (`simulate._packed`),
which the vector-Jacobian product of `_packed` maps to the parameters. Elsewhere (voltage
clamps, mechanisms that write concentrations or read ion currents, a mechanism the code
generator cannot translate, no compiler) the simulation is recomputed with the pure-JAX
twin and differentiated there; the choice is made when the gradient is traced.
"""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from dendrax.native.adjoint_source import adjoint_source
from dendrax.native.codegen import Unsupported
from dendrax.native.library import BuildError, load
from dendrax.solve import stepping

STORED_BYTES = 2**28
"""Bytes one simulation's backward pass may store for its steps (per step: v, every state,
the voltage change and the tree solve's eliminated diagonal). Runs that fit store every
step; longer ones keep a checkpoint every sqrt(n_steps) steps and recompute each segment
before its backward sweep (one more forward pass). Up to this much is kept for the next
gradient."""


def adjoint_target(spec: stepping.StaticSpec, dtype) -> str:
    """The FFI target of the native adjoint for `spec` and `dtype` (built on first use);
    raises `Unsupported` or `BuildError` where there is none."""
    from dendrax.native.simulate import index_dtype  # here: simulate imports this module

    return load(adjoint_source(spec, dtype, index_dtype()), "DendraxAdjoint")


def backward(spec: stepping.StaticSpec, n_steps: int, params, stimuli, clamps, arrays, cotangent):
    """Cotangents of (params, stimuli, clamps) for the recordings' `cotangent`."""
    try:
        target = adjoint_target(spec, params["radius"].dtype)
    except (Unsupported, BuildError):
        return _recomputed(spec, n_steps, params, stimuli, clamps, arrays, cotangent)
    return _native(target, spec, n_steps, params, stimuli, clamps, arrays, cotangent)


def _native(target: str, spec, n_steps, params, stimuli, clamps, arrays, cotangent):
    from dendrax.native.simulate import _packed, _usable_cores  # here: as above

    dtype = params["radius"].dtype

    def operands(params):
        packed = _packed(spec, arrays, params)
        return packed[:5], packed[5:]

    floats, pullback, indices = jax.vjp(operands, params, has_aux=True)
    if len(indices) != 8:  # operands the adjoint does not know (ion rows)
        return _recomputed(spec, n_steps, params, stimuli, clamps, arrays, cotangent)
    settle = spec.settle_steps
    stimuli = jnp.concatenate([jnp.zeros((stimuli.shape[0], settle), dtype), stimuli], 1)
    cotangent = jnp.asarray(cotangent, dtype)
    cotangent = jnp.concatenate([jnp.zeros((cotangent.shape[0], settle), dtype), cotangent], 1)
    call = jax.ffi.ffi_call(
        target,
        [jax.ShapeDtypeStruct(x.shape, dtype) for x in (*floats, stimuli)],
        vmap_method="broadcast_all",
    )
    *bars, bar_stimuli = call(
        *floats,
        stimuli,
        cotangent,
        *indices[:6],
        threads=np.int64(_usable_cores()),
        stored_bytes=np.int64(STORED_BYTES),
    )
    (params_bar,) = pullback(tuple(bars))
    return params_bar, bar_stimuli[:, settle:], jnp.zeros_like(clamps)


def _recomputed(spec, n_steps, params, stimuli, clamps, arrays, cotangent):
    """The pure-JAX twin's vector-Jacobian product (the simulation recomputed)."""
    twin = dataclasses.replace(spec, backend="jax")

    def pure_jax(params, stimuli, clamps):
        return stepping.simulate(twin, arrays, params, stimuli, clamps, n_steps)

    _, vjp = jax.vjp(pure_jax, params, stimuli, clamps)
    return vjp(cotangent)
