"""The forward and backward passes of a differentiated native simulation.

Where `dendrax.native.adjoint_source` supports the model, the forward pass is adjoint.cc's,
which stores the steps in the library under a ticket (a residual), and one call of its
adjoint returns the cotangents of the kernel's operands (`simulate._packed`), which the
vector-Jacobian product of `_packed` maps to the parameters. Elsewhere (a mechanism the
code generator cannot translate, see `adjoint_source.check_supported`; no compiler) the
simulation is recomputed with the pure-JAX twin and differentiated there; the choice is made
when the gradient is traced.
"""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from dendrax.native.adjoint_source import adjoint_source
from dendrax.native.codegen import Unsupported
from dendrax.native.library import BuildError, load
from dendrax.solve import stepping


def stored_bytes(spec: stepping.StaticSpec) -> np.int64:
    """Bytes of stored steps (per step: v, every state, the ion rows, the voltage change and
    the tree solve's eliminated diagonal) that the library holds for backward passes, and
    as much again kept for reuse (fresh memory costs a page fault per page): the budget of
    `spec.checkpointing`. A gradient's forward pass stores its steps where they fit; a
    backward pass whose steps were not stored (or were dropped for newer ones) recomputes
    them, all at once if they fit, else from a checkpoint every sqrt(n_steps) steps, one
    segment at a time: one more forward pass."""
    return np.int64(spec.checkpointing.budget)


def adjoint_target(spec: stepping.StaticSpec, dtype) -> str:
    """The FFI target of the native adjoint for `spec` and `dtype` (built on first use);
    raises `Unsupported` or `BuildError` where there is none."""
    from dendrax.native.simulate import index_dtype  # here: simulate imports this module

    return load(adjoint_source(spec, dtype, index_dtype()), "DendraxAdjoint")


def forward(spec: stepping.StaticSpec, n_steps: int, params, stimuli, clamps, arrays):
    """The recordings of `simulate._forward` and the residuals of `backward`."""
    from dendrax.native.simulate import _forward, _usable_cores, index_dtype

    dtype = params["radius"].dtype
    try:
        source = adjoint_source(spec, dtype, index_dtype())
        target = load(source, "DendraxForward")
    except (Unsupported, BuildError):
        target = None
    if target is None:
        out = _forward(spec, arrays, params, stimuli, clamps, n_steps)
        return out, (params, stimuli, clamps, arrays, None)
    floats, indices = _operands(spec, arrays, params)
    settle = spec.settle_steps
    padded_stimuli, padded_commands = stepping.with_settle_steps(spec, stimuli, clamps)
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
        *floats[:5],
        padded_stimuli,
        floats[5],
        padded_commands,
        *indices,
        threads=np.int64(_usable_cores()),
        stored_bytes=stored_bytes(spec),
    )
    return out[:, settle:], (params, stimuli, clamps, arrays, ticket)


def backward(spec: stepping.StaticSpec, n_steps: int, residuals, cotangent):
    """Cotangents of (params, stimuli, clamps) for the recordings' `cotangent`."""
    params, stimuli, clamps, arrays, ticket = residuals
    if ticket is None:
        return _recomputed(spec, n_steps, params, stimuli, clamps, arrays, cotangent)
    target = adjoint_target(spec, params["radius"].dtype)
    return _native(target, spec, n_steps, params, stimuli, clamps, arrays, cotangent, ticket)


def _operands(spec: stepping.StaticSpec, arrays, params) -> tuple[tuple, tuple]:
    """The adjoint kernel's floating-point operands that depend on the parameters (the
    forward kernel's, ion values last) and its index operands."""
    from dendrax.native.simulate import _packed  # here: simulate imports this module

    packed = _packed(spec, arrays, params)
    ion_values = packed[13] if len(packed) > 13 else jnp.zeros(0, params["radius"].dtype)
    return (*packed[:5], ion_values), packed[5:13]


def _native(target: str, spec, n_steps, params, stimuli, clamps, arrays, cotangent, ticket):
    from dendrax.native.simulate import _usable_cores  # here: simulate imports this module

    dtype = params["radius"].dtype

    def operands(params):
        return _operands(spec, arrays, params)

    floats, pullback, indices = jax.vjp(operands, params, has_aux=True)
    settle = spec.settle_steps

    def padded(stimuli, clamps):
        return stepping.with_settle_steps(spec, stimuli, clamps)

    (stimuli, commands), unpad = jax.vjp(padded, stimuli, clamps)
    cotangent = jnp.asarray(cotangent, dtype)
    cotangent = jnp.concatenate([jnp.zeros((cotangent.shape[0], settle), dtype), cotangent], 1)
    results = (*floats[:5], stimuli, floats[5], commands)
    call = jax.ffi.ffi_call(
        target,
        [jax.ShapeDtypeStruct(x.shape, dtype) for x in results],
        vmap_method="broadcast_all",
    )
    *bars, bar_stimuli, bar_ions, bar_commands = call(
        *floats[:5],
        stimuli,
        floats[5],
        commands,
        cotangent,
        *indices,
        ticket,
        threads=np.int64(_usable_cores()),
        stored_bytes=stored_bytes(spec),
    )
    (params_bar,) = pullback((*bars, bar_ions))
    return (params_bar, *unpad((bar_stimuli, bar_commands)))


def _recomputed(spec, n_steps, params, stimuli, clamps, arrays, cotangent):
    """The pure-JAX twin's vector-Jacobian product (the simulation recomputed)."""
    twin = dataclasses.replace(spec, backend="jax")

    def pure_jax(params, stimuli, clamps):
        return stepping.simulate(twin, arrays, params, stimuli, clamps, n_steps)

    _, vjp = jax.vjp(pure_jax, params, stimuli, clamps)
    return vjp(cotangent)
