"""`StaticSpec`: everything about a built simulation that is fixed at compile time."""

from dataclasses import dataclass, field

from dendrax.checkpointing import Checkpointing
from dendrax.mechanisms.base import Mechanism
from dendrax.solve.events import EventSpec


@dataclass(frozen=True)
class StaticSpec:
    """The compile-time settings of a simulation (hashable): a change recompiles."""

    mechanisms: tuple[Mechanism, ...]
    dt: float
    solver: str
    v_init: float
    record_groups: tuple[str, ...]
    has_clamps: bool
    settle_steps: int = 0
    """Steps run before t = 0 without stimuli, clamps at their first command (`build`'s
    `settle`), so that t = 0 starts from rest."""
    backend: str = "jax"
    """"jax" or "native" (the C++ kernel of `dendrax.native`), chosen by `build`."""
    checkpointing: Checkpointing = field(default_factory=Checkpointing)
    """How gradients bound their memory (`build`'s `checkpointing`)."""
    precision: str = "float64"
    """The floating-point type the model was built in (JAX's `jax_enable_x64` then)."""
    events: EventSpec | None = None
    """The shape of the model's spike events (None: a model without event synapses or
    spike recordings)."""
