"""Pictures: a cell's morphology coloured by region or by values, recorded traces,
networks, and the loss of a fit.

Needs matplotlib (`pip install dendrax[plot]`); it is imported when a function is called.
"""

from dendrax.plot.loss import loss_curve
from dendrax.plot.morphology import morphology
from dendrax.plot.network import network
from dendrax.plot.traces import traces

__all__ = ["loss_curve", "morphology", "network", "traces"]
