"""The time loop with bounded gradient memory.

Under reverse-mode differentiation every step is recomputed from its stored state
(`jax.checkpoint` per step), so memory holds one state per step, not every intermediate.
Long runs go one level further (Griewank's two-level checkpointing): the loop is cut into
about sqrt(n) chunks, only the state at each chunk's start is kept, and a chunk's per-step
states exist only while its gradient is being taken, so memory grows as sqrt(n) states at
the price of one more forward pass.

Griewank, A. (1992). Achieving logarithmic growth of temporal and spatial complexity in
reverse automatic differentiation. Optimization Methods and Software 1, 35–54.
"""

import math

import jax
import jax.numpy as jnp


def state_bytes(carry) -> int:
    """Bytes of one state of the loop."""
    return sum(leaf.size * leaf.dtype.itemsize for leaf in jax.tree_util.tree_leaves(carry))


def checkpointed_scan(step, carry, inputs, n_steps: int, memory_bytes: int):
    """`jax.lax.scan(step, carry, inputs)` over `n_steps` with bounded gradient memory:
    one state per step where `n_steps` states fit in `memory_bytes`, else sqrt(n) chunks."""
    step = jax.checkpoint(step)
    if n_steps * state_bytes(carry) <= memory_bytes:
        return jax.lax.scan(step, carry, inputs, length=n_steps)
    chunk = math.isqrt(n_steps)
    n_chunks, rest = divmod(n_steps, chunk)
    head = jax.tree_util.tree_map(
        lambda x: x[: n_chunks * chunk].reshape(n_chunks, chunk, *x.shape[1:]), inputs
    )

    @jax.checkpoint
    def run_chunk(state, chunk_inputs):
        return jax.lax.scan(step, state, chunk_inputs, length=chunk)

    carry, outputs = jax.lax.scan(run_chunk, carry, head, length=n_chunks)
    outputs = jax.tree_util.tree_map(lambda y: y.reshape(n_chunks * chunk, *y.shape[2:]), outputs)
    if rest:
        tail = jax.tree_util.tree_map(lambda x: x[n_chunks * chunk :], inputs)
        carry, tail_outputs = jax.lax.scan(step, carry, tail, length=rest)
        outputs = jax.tree_util.tree_map(
            lambda a, b: jnp.concatenate([a, b]), outputs, tail_outputs
        )
    return carry, outputs
