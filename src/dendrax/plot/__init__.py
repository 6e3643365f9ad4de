"""Pictures: a cell's morphology coloured by region or by values, and recorded traces.

Needs matplotlib (`pip install dendrax[plot]`); it is imported when a function is called.
"""

from dendrax.plot.morphology import morphology
from dendrax.plot.traces import traces

__all__ = ["morphology", "traces"]
