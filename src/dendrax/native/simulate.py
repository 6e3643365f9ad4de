"""A simulation through the native kernel, differentiable.

The forward pass packs the model into flat arrays and makes one FFI call that runs every
step in C++. Under `vmap` the batch reaches the kernel as leading dimensions of every
operand (`vmap_method="broadcast_all"`), and the kernel loops over it, on up to as many
threads as the process may use. `jax.grad` goes through a `custom_vjp` whose backward pass
are `dendrax.native.gradient.forward` and `backward`.
"""

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from dendrax.native import gradient, library
from dendrax.native.codegen import Unsupported
from dendrax.native.library import TARGET, usable_cores
from dendrax.native.operands import index_dtype, operands
from dendrax.native.source import kernel_source
from dendrax.solve import stepping


def _what(spec: stepping.StaticSpec) -> str:
    names = ", ".join(m.name for m in spec.mechanisms) or "no mechanisms"
    return f"the native kernel of {names}"


def prepare(spec: stepping.StaticSpec, dtype) -> None:
    """Start compiling the kernel for `spec` and `dtype` in the background where it is not
    cached and the kernel supports the model (`target` waits for it)."""
    try:
        source = kernel_source(spec, dtype, index_dtype())
    except Unsupported:
        return  # `target` says why
    library.prepare(source, "kernel", _what(spec))


def target(spec: stepping.StaticSpec, dtype) -> str:
    """The entry point of the kernel for `spec` and `dtype` (built on first use)."""
    source = kernel_source(spec, dtype, index_dtype())
    return library.load(source, "dendrax_simulate", "kernel", _what(spec))


def _forward(spec: stepping.StaticSpec, arrays: dict, params: dict, stimuli, clamps, n_steps):
    dtype = params["radius"].dtype
    values, indices = operands(spec, arrays, params, stimuli, clamps)
    n_records = arrays["record_order"].shape[0]
    settle = spec.settle_steps
    call = jax.ffi.ffi_call(
        TARGET,
        jax.ShapeDtypeStruct((n_records, settle + n_steps + 1), dtype),
        vmap_method="broadcast_all",
    )
    out = call(
        *values,
        *indices,
        entry=target(spec, dtype),
        threads=np.int64(usable_cores()),
        stored_bytes=np.int64(0),
    )
    return out[:, settle:]


def simulate(spec: stepping.StaticSpec, arrays: dict, params: dict, stimuli, clamps, n_steps):
    """As `dendrax.solve.stepping.simulate`, computed by the native kernel."""
    dtype = params["radius"].dtype
    stimuli, clamps = jnp.asarray(stimuli, dtype), jnp.asarray(clamps, dtype)
    return _differentiable(spec, n_steps, params, stimuli, clamps, arrays)


@partial(jax.custom_vjp, nondiff_argnums=(0, 1))
def _differentiable(spec, n_steps, params, stimuli, clamps, arrays):
    return _forward(spec, arrays, params, stimuli, clamps, n_steps)


def _differentiable_fwd(spec, n_steps, params, stimuli, clamps, arrays):
    return gradient.forward(spec, n_steps, params, stimuli, clamps, arrays)


def _differentiable_bwd(spec, n_steps, residuals, cotangent):
    return (*gradient.backward(spec, n_steps, residuals, cotangent), None)


_differentiable.defvjp(_differentiable_fwd, _differentiable_bwd)
