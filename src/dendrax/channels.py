"""The channel library: `dx.channels.HH()`, `dx.channels.Leak()`."""

from dendrax.mechanisms.hh import HH
from dendrax.mechanisms.leak import Leak

__all__ = ["HH", "Leak"]
