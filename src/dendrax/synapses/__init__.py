"""Synapses and gap junctions: point and junction mechanisms for networks.

Spike-event synapses (`ExpSyn`, `Exp2Syn`) receive events from presynaptic threshold
crossings or spike trains (`dendrax.connect`, `dendrax.spike_source`); graded synapses
(`Ionotropic`, `TanhRate`) and gap junctions (`GapJunction`, `dendrax.gap_junction`)
follow the presynaptic voltage continuously. All are mechanisms like channels, so a
user-defined synapse is written the same way (see docs/networks.md).
"""

from dendrax.synapses.exponential import Exp2Syn, ExpSyn
from dendrax.synapses.gap import GapJunction
from dendrax.synapses.graded import Ionotropic, TanhRate

__all__ = ["Exp2Syn", "ExpSyn", "GapJunction", "Ionotropic", "TanhRate"]
