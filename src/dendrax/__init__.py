"""dendrax: differentiable simulation of biophysically detailed neurons in JAX."""

from dendrax import channels, diagnose, plot
from dendrax.build import build
from dendrax.checkpointing import Checkpointing
from dendrax.mechanisms import Ion, Mechanism, Parameter, State
from dendrax.model import Cell, Selection
from dendrax.morphology.asc import read_asc
from dendrax.morphology.morphology import Morphology
from dendrax.morphology.swc import read_swc
from dendrax.simulation import Simulation
from dendrax.stimuli import Waveform, step_current

__version__ = "0.1.0"

__all__ = [
    "Cell",
    "Checkpointing",
    "Ion",
    "Mechanism",
    "Morphology",
    "Parameter",
    "Selection",
    "Simulation",
    "State",
    "Waveform",
    "build",
    "channels",
    "diagnose",
    "plot",
    "read_asc",
    "read_swc",
    "step_current",
]
