"""The forward and backward passes of a differentiated native simulation.

Where `dendrax.native.adjoint_source` supports the model, the forward pass is adjoint.cc's,
which stores the steps in the library under a ticket (a residual), and one call of its
adjoint returns the cotangents of the kernel's operands (`simulate._packed`), which the
vector-Jacobian product of `_packed` maps to the parameters. Elsewhere (voltage
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
"""Bytes of stored steps (per step: v, every state, the voltage change and the tree solve's
eliminated diagonal) that the library holds for backward passes, and as much again kept
for reuse. A gradient's forward pass stores its steps where they fit; a backward pass whose
steps were not stored (or were dropped for newer ones) recomputes them, all at once if they
fit, else from a checkpoint every sqrt(n_steps) steps, one segment at a time."""


def adjoint_target(spec: stepping.StaticSpec, dtype) -> str:
    """The FFI target of the native adjoint for `spec` and `dtype` (built on first use);
    raises `Unsupported` or `BuildError` where there is none."""
    from dendrax.native.simulate import index_dtype  # here: simulate imports this module

    return load(adjoint_source(spec, dtype, index_dtype()), "DendraxAdjoint")


def forward(spec: stepping.StaticSpec, n_steps: int, params, stimuli, clamps, arrays):
    """The recordings of `simulate._forward` and the residuals of `backward`."""
    from dendrax.native.simulate import _forward, _packed, _usable_cores, index_dtype

    dtype = params["radius"].dtype
    try:
        source = adjoint_source(spec, dtype, index_dtype())
        target = load(source, "DendraxForward")
    except (Unsupported, BuildError):
        target = None
    packed = _packed(spec, arrays, params)
    if target is None or len(packed) != 13:
        out = _forward(spec, arrays, params, stimuli, clamps, n_steps)
        return out, (params, stimuli, clamps, arrays, None)
    settle = spec.settle_steps
    padded = stepping.with_settle_steps(spec, stimuli, clamps)[0]
    n_records = arrays["record_order"].shape[0]
    call = jax.ffi.ffi_call(
        target,
        (
            jax.ShapeDtypeStruct((n_records, settle + n_steps + 1), dtype),
            jax.ShapeDtypeStruct((), index_dtype()),
        ),
        vmap_method="broadcast_all",
    )
    out, ticket = call(
        *packed[:5],
        padded,
        *packed[5:11],
        threads=np.int64(_usable_cores()),
        stored_bytes=np.int64(STORED_BYTES),
    )
    return out[:, settle:], (params, stimuli, clamps, arrays, ticket)


def backward(spec: stepping.StaticSpec, n_steps: int, residuals, cotangent):
    """Cotangents of (params, stimuli, clamps) for the recordings' `cotangent`."""
    params, stimuli, clamps, arrays, ticket = residuals
    if ticket is None:
        return _recomputed(spec, n_steps, params, stimuli, clamps, arrays, cotangent)
    target = adjoint_target(spec, params["radius"].dtype)
    return _native(target, spec, n_steps, params, stimuli, clamps, arrays, cotangent, ticket)


def _native(target: str, spec, n_steps, params, stimuli, clamps, arrays, cotangent, ticket):
    from dendrax.native.simulate import _packed, _usable_cores  # here: as above

    dtype = params["radius"].dtype

    def operands(params):
        packed = _packed(spec, arrays, params)
        return packed[:5], packed[5:]

    floats, pullback, indices = jax.vjp(operands, params, has_aux=True)
    settle = spec.settle_steps
    stimuli = stepping.with_settle_steps(spec, stimuli, clamps)[0]
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
        ticket,
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
