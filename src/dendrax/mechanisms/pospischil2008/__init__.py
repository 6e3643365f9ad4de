"""The cortical channel set of Pospischil et al. (2008).

Pospischil, M., Toledo-Rodriguez, M., Monier, C., et al. (2008). Minimal Hodgkin–Huxley
type models for different classes of cortical and thalamic neurons. Biol. Cybern. 99,
427–441. The rate functions are the paper's, without a temperature factor (the paper's
kinetics hold at its 36 °C; `celsius` does not change them).
"""

from dendrax.mechanisms.pospischil2008.cal import PospischilCaL
from dendrax.mechanisms.pospischil2008.cat import PospischilCaT
from dendrax.mechanisms.pospischil2008.kd import PospischilKd
from dendrax.mechanisms.pospischil2008.m import PospischilM
from dendrax.mechanisms.pospischil2008.na import PospischilNa

__all__ = ["PospischilCaL", "PospischilCaT", "PospischilKd", "PospischilM", "PospischilNa"]
