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
from dendrax.nmodl import load_mod, load_mods
from dendrax.simulation import Simulation
from dendrax.stimuli import Waveform, step_current
from dendrax.training import losses, transforms
from dendrax.training.features import efel_features, feature_table
from dendrax.training.fit import FitResult, NonFiniteError, fit
from dendrax.training.nwb import Sweeps, read_nwb_sweeps
from dendrax.training.saving import SavedParams, load_params, save_params

__version__ = "0.1.0"

__all__ = [
    "Cell",
    "CellGroup",
    "Checkpointing",
    "FitResult",
    "Ion",
    "Mechanism",
    "Morphology",
    "Network",
    "NonFiniteError",
    "Parameter",
    "SavedParams",
    "Selection",
    "Simulation",
    "SpikeTrains",
    "State",
    "Sweeps",
    "Waveform",
    "build",
    "channels",
    "connect",
    "connect_edges",
    "connect_matrix",
    "diagnose",
    "efel_features",
    "feature_table",
    "fit",
    "fully_connect",
    "gap_junction",
    "load_mod",
    "load_mods",
    "load_params",
    "losses",
    "plot",
    "read_asc",
    "read_nwb_sweeps",
    "read_swc",
    "save_params",
    "sparse_connect",
    "spike_source",
    "step_current",
    "synapses",
    "transforms",
]
