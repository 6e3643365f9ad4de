"""Pictures: a cell's morphology coloured by region or by values, recorded traces, and
networks.

Needs matplotlib (`pip install dendrax[plot]`); it is imported when a function is called.
"""

from dendrax.plot.morphology import morphology
from dendrax.plot.network import network
from dendrax.plot.traces import traces

__all__ = ["morphology", "network", "traces"]
