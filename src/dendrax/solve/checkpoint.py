"""The time loop with bounded gradient memory.

Under reverse-mode differentiation every step is recomputed from its stored state
(`jax.checkpoint` per step), so memory holds one state per step, not every intermediate.
Runs whose states do not fit in the budget are cut into chunks (Griewank's checkpointing):
only the state at each chunk's start is kept, and a chunk's states exist only while its
gradient is being taken, at the price of one more forward pass; where a chunk's states do
not fit either, each chunk is cut into chunks in turn (nested scans, one more forward pass
a level), as many levels as the budget needs (`scan_schedule`).

Griewank, A. (1992). Achieving logarithmic growth of temporal and spatial complexity in
reverse automatic differentiation. Optimization Methods and Software 1, 35–54.
"""

import math

import jax
import jax.numpy as jnp

from dendrax.checkpointing import Schedule


def state_bytes(carry) -> int:
    """Bytes of one state of the loop."""
    return sum(leaf.size * leaf.dtype.itemsize for leaf in jax.tree_util.tree_leaves(carry))


def scan_schedule(n_steps: int, state_size: int, memory_bytes: int) -> Schedule:
    """The chunks of `checkpointed_scan` for states of `state_size` bytes: the fewest levels
    whose states fit in `memory_bytes`, each level cutting every chunk of the level above
    into the same number c of chunks, the smallest c with c ** (levels + 1) >= n_steps.
    It keeps levels x c + (steps of an innermost chunk) states: the start of each chunk of
    one chunk a level, and every step's of one innermost chunk. Each level costs one more
    forward pass (scan keeps none of a chunk's states), and the run is padded to the
    chunks' c ** levels x (innermost length) steps. Raises ValueError where no level fits."""
    fewest = None
    for levels in range(max(n_steps - 1, 0).bit_length() + 1):
        shape = _shape(n_steps, levels)
        stored = sum(shape) * state_size
        if stored <= memory_bytes:
            lengths = tuple(math.prod(shape[level:]) for level in range(1, levels + 1))
            return Schedule(n_steps, lengths, stored, levels * math.prod(shape))
        fewest = stored if fewest is None else min(fewest, stored)
    raise ValueError(
        f"Checkpointing(memory_bytes={memory_bytes}) is too small for a gradient of "
        f"{n_steps} steps whose states take {state_size} bytes a step (per simulation, in "
        f"pure JAX): the fewest that any schedule keeps take {fewest} bytes; give "
        f"memory_bytes >= {fewest}"
    )


def _root(n: int, k: int) -> int:
    """The smallest integer c >= 2 with c ** k >= n."""
    c = max(2, round(n ** (1 / k)))
    while c > 2 and (c - 1) ** k >= n:
        c -= 1
    while c**k < n:
        c += 1
    return c


def _shape(n_steps: int, levels: int) -> tuple[int, ...]:
    """Per level its chunks in one chunk of the level above (in the run, for the first),
    then the steps of an innermost chunk."""
    if not levels:
        return (n_steps,)
    count = _root(n_steps, levels + 1)
    innermost = math.ceil(n_steps / count**levels)
    first = math.ceil(n_steps / (innermost * count ** (levels - 1)))
    return (first, *[count] * (levels - 1), innermost)


def checkpointed_scan(step, carry, inputs, n_steps: int, memory_bytes: int):
    """`jax.lax.scan(step, carry, inputs)` over `n_steps` with gradient memory within
    `memory_bytes`: one state per step where they fit, else nested chunks of
    `scan_schedule`'s lengths (the steps past n_steps that fill the last chunks leave the
    state as it is). Where no schedule fits, the run still runs, and its derivative raises
    the ValueError of `scan_schedule`."""
    try:
        levels = scan_schedule(n_steps, state_bytes(carry), memory_bytes).levels
    except ValueError as error:  # the run fits, its gradient does not: that raises the error
        return _not_differentiable(str(error))(jax.lax.scan(step, carry, inputs, length=n_steps))
    step = jax.checkpoint(step)
    if not levels:
        return jax.lax.scan(step, carry, inputs, length=n_steps)
    shape = _shape(n_steps, levels)
    padded = math.prod(shape)
    if padded > n_steps:
        valid = jnp.arange(padded) < n_steps
        inputs = (jax.tree_util.tree_map(lambda x: _padded(x, padded), inputs), valid)
        step = _masked(step)
    inputs = jax.tree_util.tree_map(lambda x: x.reshape(*shape, *x.shape[1:]), inputs)
    carry, outputs = _nested_scan(step, carry, inputs, shape)
    outputs = jax.tree_util.tree_map(
        lambda y: y.reshape(padded, *y.shape[len(shape) :])[:n_steps], outputs
    )
    return carry, outputs


def _nested_scan(step, carry, inputs, shape: tuple[int, ...]):
    """The scan of `step` over inputs of leading dimensions `shape`, each but the last a
    level of checkpointed chunks."""
    if len(shape) == 1:
        return jax.lax.scan(step, carry, inputs, length=shape[0])

    @jax.checkpoint
    def chunk(state, chunk_inputs):
        return _nested_scan(step, state, chunk_inputs, shape[1:])

    return jax.lax.scan(chunk, carry, inputs, length=shape[0])


def _padded(x, length: int):
    """`x` (a step per row) continued to `length` rows by repeating its last row."""
    return jnp.concatenate([x, jnp.repeat(x[-1:], length - x.shape[0], axis=0)])


def _masked(step):
    """`step` on (inputs, valid): a step that leaves the state as it is where not valid."""

    def masked(carry, inputs_valid):
        inputs, valid = inputs_valid
        new, outputs = step(carry, inputs)
        return jax.tree_util.tree_map(lambda a, b: jnp.where(valid, a, b), new, carry), outputs

    return masked


def _not_differentiable(message: str):
    """The identity, whose derivative (forward or reverse) raises ValueError(message)."""

    @jax.custom_jvp
    def identity(x):
        return x

    @identity.defjvp
    def refused(primals, tangents):
        raise ValueError(message)

    return identity
