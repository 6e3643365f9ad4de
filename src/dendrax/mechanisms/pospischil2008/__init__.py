"""The cortical channel set of Pospischil et al. (2008).

Pospischil, M., Toledo-Rodriguez, M., Monier, C., et al. (2008). Minimal Hodgkin–Huxley
type models for different classes of cortical and thalamic neurons. Biol. Cybern. 99,
427–441.

- `hh2`, `im`, `ical`, `it`, `cad`: the published NEURON files (ModelDB 123623), under
  their SUFFIX and PARAMETER names and with their defaults, temperature factors and
  initial states, so that a NEURON model of these files ports one to one.
- `PospischilNa`, `PospischilKd`, `PospischilM`, `PospischilCaL`, `PospischilCaT`: the
  paper's equations one current per class, with the paper's values as defaults, states
  starting at steady state and no temperature factor (the kinetics hold at the paper's
  36 °C; `celsius` does not change them).
"""

from dendrax.mechanisms.pospischil2008.cad import cad
from dendrax.mechanisms.pospischil2008.cal import PospischilCaL
from dendrax.mechanisms.pospischil2008.cat import PospischilCaT
from dendrax.mechanisms.pospischil2008.hh2 import hh2
from dendrax.mechanisms.pospischil2008.ical import ical
from dendrax.mechanisms.pospischil2008.im import im
from dendrax.mechanisms.pospischil2008.it import it
from dendrax.mechanisms.pospischil2008.kd import PospischilKd
from dendrax.mechanisms.pospischil2008.m import PospischilM
from dendrax.mechanisms.pospischil2008.na import PospischilNa

__all__ = [
    "PospischilCaL",
    "PospischilCaT",
    "PospischilKd",
    "PospischilM",
    "PospischilNa",
    "cad",
    "hh2",
    "ical",
    "im",
    "it",
]
