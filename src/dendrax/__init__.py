"""dendrax: differentiable simulation of biophysically detailed neurons in JAX."""

from dendrax import channels, diagnose, plot, synapses
from dendrax.build import build
from dendrax.checkpointing import Checkpointing
from dendrax.mechanisms import Ion, Mechanism, Parameter, State
from dendrax.model import Cell, Selection
from dendrax.model.spike_trains import SpikeTrains, spike_source
from dendrax.morphology.asc import read_asc
from dendrax.morphology.morphology import Morphology
from dendrax.morphology.swc import read_swc
from dendrax.network import (
    CellGroup,
    Network,
    connect,
    connect_edges,
    connect_matrix,
    fully_connect,
    gap_junction,
    sparse_connect,
)
from dendrax.simulation import Simulation
from dendrax.stimuli import Waveform, step_current

__version__ = "0.1.0"

__all__ = [
    "Cell",
    "CellGroup",
    "Checkpointing",
    "Ion",
    "Mechanism",
    "Morphology",
    "Network",
    "Parameter",
    "Selection",
    "Simulation",
    "SpikeTrains",
    "State",
    "Waveform",
    "build",
    "channels",
    "connect",
    "connect_edges",
    "connect_matrix",
    "diagnose",
    "fully_connect",
    "gap_junction",
    "plot",
    "read_asc",
    "read_swc",
    "sparse_connect",
    "spike_source",
    "step_current",
    "synapses",
]
