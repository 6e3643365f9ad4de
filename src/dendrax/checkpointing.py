"""`Checkpointing`: how the gradient of a simulation bounds its memory."""

import os
from dataclasses import dataclass


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

    A reverse-mode gradient needs every step's state. Where a run's states fit in
    `memory_bytes`, the forward pass keeps them all; else it keeps the state at the start
    of every segment of about sqrt(n_steps) steps, and the backward pass recomputes one
    segment at a time from there (Griewank 1992): one more forward pass, memory for about
    2 sqrt(n_steps) states.

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
