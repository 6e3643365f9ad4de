"""The forward and backward passes of a differentiated native simulation.

Where `dendrax.native.adjoint_source` supports the model, the forward pass is adjoint.cc's,
which stores the steps in the library under a ticket (a residual), and one call of its
adjoint returns the cotangents of the kernel's `operands.Values`, which the vector-Jacobian
product of `operands.operands` maps to the parameters, stimuli and clamps. Elsewhere (a
mechanism the code generator cannot translate, see `source.check_supported`; no compiler) the
simulation is recomputed with the pure-JAX twin and differentiated there; the choice is made
when the gradient is traced.
"""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from dendrax.checkpointing import Schedule, schedule
from dendrax.native import library
from dendrax.native.adjoint_source import adjoint_source
from dendrax.native.codegen import Unsupported
from dendrax.native.library import TARGET, BuildError, load, say_once, usable_cores
from dendrax.native.operands import Values, index_dtype, operands
from dendrax.native.source import ion_rows, recorded_densities
from dendrax.solve import stepping


def stored_bytes(spec: stepping.StaticSpec) -> np.int64:
    """Bytes of stored steps (per step: v, every state, the ion rows and the tree solve's
    eliminated diagonal) that the library holds for backward passes, and as much again
    kept for reuse (fresh memory costs a page fault per page): the budget of
    `spec.checkpointing`, shared evenly by the groups of a batch. A gradient's forward pass
    stores its steps, or the checkpoints of `checkpoint_schedule`, under a ticket; a
    backward pass whose ticket's were dropped (for newer ones) stores them itself first:
    one more forward pass."""
    return np.int64(spec.checkpointing.budget)


def step_values(spec: stepping.StaticSpec, arrays: dict) -> tuple[int, int]:
    """Values of one simulation that the native adjoint keeps of a step for the backward
    sweep (v, the states, the ion rows, the recorded current densities, the detectors'
    spike rows, then the tree solve's eliminated diagonal; the voltage change it takes from
    the next step's v) and of a checkpoint (the same without the diagonal)."""
    n_nodes = arrays["parent"].shape[0]
    n_values = n_nodes * (1 + len(ion_rows(spec).names))
    for mechanism in spec.mechanisms:
        n_sites = arrays["sites"][mechanism.name]["comp"].shape[0]
        n_values += n_sites * (len(mechanism.states) + len(recorded_densities(mechanism, spec)))
    if spec.events is not None:
        n_values += arrays["events"]["detector_node"].shape[0]
    return n_values + n_nodes, n_values


def checkpoint_schedule(
    spec: stepping.StaticSpec, arrays: dict, n_steps: int, dtype=np.float64, lanes=1, groups=1
) -> Schedule:
    """The checkpoints of the native adjoint for a gradient of `n_steps` steps (and the
    settling steps before them) of a batch run in `groups` groups of `lanes` simulations
    (one simulation per group, unless a batch fills a SIMD lane group per usable core),
    each group's share of the budget its own (`dendrax.checkpointing.schedule`, which the
    library mirrors). Raises ValueError where even the fewest states would not fit."""
    row, checkpoint = step_values(spec, arrays)
    scale = lanes * np.dtype(dtype).itemsize
    share = int(stored_bytes(spec)) // groups
    return schedule(spec.settle_steps + n_steps, row * scale, checkpoint * scale, share)


def _what(spec: stepping.StaticSpec) -> str:
    names = ", ".join(m.name for m in spec.mechanisms) or "no mechanisms"
    return f"the native adjoint of {names}"


def _entry(spec: stepping.StaticSpec, dtype, symbol: str) -> str:
    """The entry point `symbol` of the native adjoint's library for `spec` and `dtype`;
    raises `Unsupported` or `BuildError` where there is none. A compile under way (see
    `prepare`) goes on while XLA compiles the gradient, whose first call waits for it."""
    source = adjoint_source(spec, dtype, index_dtype())
    return load(source, symbol, "adjoint", _what(spec), wait=False)


def prepare(spec: stepping.StaticSpec, dtype) -> None:
    """Start compiling the native adjoint of `spec` in the background, where the process has a
    core to spare and the adjoint supports it, so that a first gradient finds it ready or
    under way (its compile takes two to three times the kernel's)."""
    if usable_cores() < 2:
        return
    try:
        source = adjoint_source(spec, dtype, index_dtype())
    except Unsupported:
        return  # gradients take the pure-JAX twin: nothing to compile
    library.prepare(source, "adjoint", _what(spec))


def forward(spec: stepping.StaticSpec, n_steps: int, params, stimuli, clamps, arrays):
    """The recordings of `simulate._forward` and the residuals of `backward`."""
    from dendrax.native.simulate import _forward  # here: simulate imports this module

    dtype = params["radius"].dtype
    try:
        entry = _entry(spec, dtype, "dendrax_forward")
    except (Unsupported, BuildError) as error:
        say_once(
            f"dendrax: the native adjoint does not differentiate this model ({error}); "
            "gradients recompute the simulation in pure JAX"
        )
        out = _forward(spec, arrays, params, stimuli, clamps, n_steps)
        return out, (params, stimuli, clamps, arrays, None)
    values, indices = operands(spec, arrays, params, stimuli, clamps)
    settle = spec.settle_steps
    n_records = arrays["record_order"].shape[0]
    call = jax.ffi.ffi_call(
        TARGET,
        (
            jax.ShapeDtypeStruct((n_records, settle + n_steps + 1), dtype),
            jax.ShapeDtypeStruct((), index_dtype()),
        ),
        vmap_method="broadcast_all",
    )
    out, ticket = call(
        *values,
        *indices,
        entry=entry,
        threads=np.int64(usable_cores()),
        stored_bytes=stored_bytes(spec),
    )
    return out[:, settle:], (params, stimuli, clamps, arrays, ticket)


def backward(spec: stepping.StaticSpec, n_steps: int, residuals, cotangent):
    """Cotangents of (params, stimuli, clamps) for the recordings' `cotangent`."""
    params, stimuli, clamps, arrays, ticket = residuals
    if ticket is None:
        return _recomputed(spec, n_steps, params, stimuli, clamps, arrays, cotangent)
    dtype = params["radius"].dtype
    entry = _entry(spec, dtype, "dendrax_adjoint")

    def differentiable(params, stimuli, clamps):
        return operands(spec, arrays, params, stimuli, clamps)

    values, pullback, indices = jax.vjp(differentiable, params, stimuli, clamps, has_aux=True)
    cotangent = jnp.asarray(cotangent, dtype)
    settle = jnp.zeros((cotangent.shape[0], spec.settle_steps), dtype)
    call = jax.ffi.ffi_call(
        TARGET,
        [jax.ShapeDtypeStruct(x.shape, dtype) for x in values],
        vmap_method="broadcast_all",
    )
    bars = call(
        *values,
        *indices,
        jnp.concatenate([settle, cotangent], 1),
        ticket,
        entry=entry,
        threads=np.int64(usable_cores()),
        stored_bytes=stored_bytes(spec),
    )
    return pullback(Values(*bars))


def _recomputed(spec, n_steps, params, stimuli, clamps, arrays, cotangent):
    """The pure-JAX twin's vector-Jacobian product (the simulation recomputed)."""
    twin = dataclasses.replace(spec, backend="jax")

    def pure_jax(params, stimuli, clamps):
        return stepping.simulate(twin, arrays, params, stimuli, clamps, n_steps)

    _, vjp = jax.vjp(pure_jax, params, stimuli, clamps)
    return vjp(cotangent)
