"""`Checkpointing`: how the gradient of a simulation bounds its memory, and `schedule`: the
checkpoints that a budget allows."""

import os
from dataclasses import dataclass

_LARGEST = 2**63 - 1
"""Byte counts saturate here, as in the native code's 64-bit integers (checkpoint_schedule.h)."""


def default_memory_bytes() -> int:
    """An eighth of the machine's memory, at most 2 GiB (256 MiB where unknown)."""
    try:
        physical = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return 2**28
    return int(min(2**31, physical // 8))


@dataclass(frozen=True)
class Checkpointing:
    """The memory a gradient's backward pass may keep, given to `dendrax.build`.

    A reverse-mode gradient needs every step's state, in reverse. Where a run's states fit
    in `memory_bytes`, the forward pass keeps them all. Where they do not, it keeps
    checkpoints (the state at the start of segments of the run) and the backward pass
    recomputes one segment at a time from them (Griewank 1992). The native adjoint chooses
    with `schedule`:

    - one level of checkpoints where they and one segment's states fit: the segments as long
      as the budget allows (the last one's states are kept by the forward pass, so the
      backward pass recomputes all but it: less than one more forward pass);
    - else more levels, each segment checkpointed again within (recursive checkpointing):
      about one more forward pass per level, the fewest levels that fit;
    - where even the fewest states that any schedule keeps (about log2(n_steps) checkpoints
      and two states) exceed the budget, the gradient raises an error that names the budget,
      the bytes a step stores and the budget that would do (the simulation still runs).

    The pure-JAX path nests `jax.checkpoint`ed scans alike, the fewest levels that fit
    (`dendrax.solve.checkpoint.scan_schedule`), one more forward pass each.

    Measured (benchmarks/checkpoint_memory.py; docs/performance.md, "Gradient memory"): the
    native gradient of a network of 12,000 compartments and 100,205 synapses over 2,000
    steps (1.35 MiB stored a step) grew the process by 2,737 MiB with every step stored
    (2.8-3.2 times the forward pass's CPU time), by 549 MiB within 512 MiB (one level: 3.4
    times), 108 MiB within 64 MiB (two levels: 4.6 times) and 57 MiB within 16 MiB (ten
    levels: 8.4 times); the rest, about 40 MiB, is the cotangents and the sweep's buffers.

    Griewank, A. (1992). Achieving logarithmic growth of temporal and spatial complexity
    in reverse automatic differentiation. Optimization Methods and Software 1, 35–54.

    Attributes:
        memory_bytes: bytes of stored states (per simulation of a batch, on the pure-JAX
            path; for all simulations together on the native path, which also keeps as
            much again for reuse). Default: an eighth of the machine's memory, at most
            2 GiB.
    """

    memory_bytes: int | None = None

    def __post_init__(self):
        if self.memory_bytes is not None and (
            isinstance(self.memory_bytes, bool)
            or not isinstance(self.memory_bytes, int)
            or self.memory_bytes < 0
        ):
            raise ValueError(
                f"Checkpointing.memory_bytes must be an integer >= 0, got {self.memory_bytes!r}"
            )

    @property
    def budget(self) -> int:
        """`memory_bytes`, or its default on this machine."""
        return default_memory_bytes() if self.memory_bytes is None else self.memory_bytes


@dataclass(frozen=True)
class Schedule:
    """How a gradient's backward pass gets a run's states back (see `schedule`)."""

    n_steps: int
    lengths: tuple[int, ...]
    """Per level of checkpoints, outermost first, the steps of its segments; empty where
    every step is stored. A level's segments divide each segment of the level above (the
    whole run, for the first), the last one full and the first one shorter."""
    stored_bytes: int
    """The most bytes stored at once: per level the checkpoints of one segment of the level
    above (all but its last segment's), and the states of one innermost segment."""
    recomputed_steps: int
    """Steps the backward pass runs again, given the forward pass's checkpoints (and the
    states of the run's last innermost segment)."""

    @property
    def levels(self) -> int:
        """Levels of checkpoints: 0 where every step is stored."""
        return len(self.lengths)

    @property
    def forward_passes(self) -> float:
        """The steps recomputed, in forward passes of the run (0 to about `levels`)."""
        return self.recomputed_steps / self.n_steps if self.n_steps else 0.0


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def _stored_bytes(n_steps, lengths, step_bytes, checkpoint_bytes) -> int:
    total, parent = 0, n_steps
    for k in lengths:
        total += (_ceil_div(parent, k) - 1) * checkpoint_bytes
        parent = k
    return min(total + (parent + 1) * step_bytes, _LARGEST)


def _recomputed_steps(n_steps: int, lengths: tuple[int, ...]) -> int:
    """Steps the backward pass recomputes (`Schedule.recomputed_steps`)."""
    known: dict[tuple[int, int], int] = {}

    def swept(level: int, length: int) -> int:  # a segment of `level` whose tail is stored
        if level == len(lengths) or length == 0:
            return 0
        if (level, length) not in known:
            k = lengths[level]
            m = _ceil_div(length, k)
            first = length - (m - 1) * k
            total = swept(level + 1, min(k, length))
            if m > 1:
                total += first + swept(level + 1, first)
                total += (m - 2) * (k + swept(level + 1, k))
            known[level, length] = total
        return known[level, length]

    return swept(0, n_steps)


def minimum_bytes(n_steps: int, step_bytes: int, checkpoint_bytes: int) -> int:
    """The budget that `schedule` surely fits: ceil(log2(n_steps)) levels of two segments,
    one checkpoint each, and the states of one step (and of the step after it)."""
    levels = max(n_steps - 1, 0).bit_length()
    lengths = tuple(_ceil_div(n_steps, 2**level) for level in range(1, levels + 1))
    return _stored_bytes(n_steps, lengths, step_bytes, checkpoint_bytes)


def schedule(n_steps: int, step_bytes: int, checkpoint_bytes: int, budget: int) -> Schedule:
    """The checkpoints of a gradient of `n_steps` steps whose states take `step_bytes` each
    where stored for the backward sweep and `checkpoint_bytes` as a checkpoint, within
    `budget` bytes: the native adjoint's choice, which dendrax/native/checkpoint_schedule.h
    mirrors exactly.

    Every step stored where they fit (n_steps + 1 states); else the fewest levels of
    checkpoints that fit, each dividing the segments of the level above into b or b + 1
    (from the top) with the smallest such counts that fit, then the innermost segments made
    as long as the budget allows (the fewest steps recomputed). Raises ValueError where
    nothing fits."""
    if n_steps <= 0:
        return Schedule(max(n_steps, 0), (), 0, 0)
    every_step = _stored_bytes(n_steps, (), step_bytes, checkpoint_bytes)
    if every_step <= budget:
        return Schedule(n_steps, (), every_step, 0)
    for levels in range(1, max(n_steps - 1, 0).bit_length() + 1):
        lengths = _levels(n_steps, step_bytes, checkpoint_bytes, budget, levels)
        if lengths is not None:
            stored = _stored_bytes(n_steps, lengths, step_bytes, checkpoint_bytes)
            return Schedule(n_steps, lengths, stored, _recomputed_steps(n_steps, lengths))
    least = minimum_bytes(n_steps, step_bytes, checkpoint_bytes)
    raise ValueError(
        f"Checkpointing(memory_bytes={budget}) is too small for a gradient of {n_steps} steps "
        f"whose states take {step_bytes} bytes a step ({checkpoint_bytes} as a checkpoint): "
        f"the fewest that any schedule stores take {least} bytes; give memory_bytes >= {least}"
    )


def _levels(n_steps, step_bytes, checkpoint_bytes, budget, levels):
    """`levels` segment lengths that fit (`schedule`), or None."""
    if 2 * step_bytes > budget:
        return None
    base = 2
    while True:
        for wider in range(levels):
            lengths, parent = [], n_steps
            for level in range(levels):
                parent = _ceil_div(parent, base + 1 if level < wider else base)
                lengths.append(parent)
            if _stored_bytes(n_steps, lengths, step_bytes, checkpoint_bytes) <= budget:
                return _stretched(n_steps, lengths, step_bytes, checkpoint_bytes, budget)
            if lengths[-1] == 1:
                return None
        # Later counts (all > base) keep more than levels x (base / 2 - 1) checkpoints.
        if min(levels * (base - 1) * checkpoint_bytes, _LARGEST) // 2 > budget - 2 * step_bytes:
            return None
        base += 1


def _stretched(n_steps, lengths, step_bytes, checkpoint_bytes, budget):
    """`lengths` with the innermost segments as long as `budget` allows."""
    parent = lengths[-2] if len(lengths) > 1 else n_steps
    above = _stored_bytes(n_steps, lengths[:-1], 0, checkpoint_bytes)
    for count in range(2, _ceil_div(parent, lengths[-1]) + 1):  # segments per parent
        low, high = _ceil_div(parent, count), _ceil_div(parent, count - 1) - 1
        room = budget - above - (count - 1) * checkpoint_bytes
        longest = min(high, room // step_bytes - 1) if step_bytes else high
        if low <= high and longest >= low:
            return (*lengths[:-1], longest)
    return tuple(lengths)
