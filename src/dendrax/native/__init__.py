"""Native CPU time stepping: a C++ kernel per model, generated from its mechanisms.

`backend.choose` picks the path at `build`; `backend.simulate` runs it. See
docs/performance.md ("Native kernel").
"""

from dendrax.native.backend import BACKENDS, choose, simulate

__all__ = ["BACKENDS", "choose", "simulate"]
