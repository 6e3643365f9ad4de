"""The channel library: `dx.channels.HH()`, `dx.channels.NaTa_t()`, ...

- `HH`, `Leak`: Hodgkin–Huxley (NEURON's `hh`) and a passive leak (NEURON's `pas`).
- Hay et al. (2011), names as in the published .mod files: `NaTa_t`, `NaTs2_t`, `Nap_Et2`,
  `K_Pst`, `K_Tst`, `SKv3_1`, `SK_E2`, `Ca_HVA`, `Ca_LVAst`, `Im`, `Ih`, `CaDynamics_E2`.
- Pospischil et al. (2008), names as in the published .mod files: `hh2` (Na and K),
  `im` (slow K; not Hay's `Im`), `ical` (L-type Ca), `it` (T-type Ca) and `cad` (Ca
  decay); and the paper's equations per current: `PospischilNa`, `PospischilKd`,
  `PospischilM` (slow K), `PospischilCaL` (L-type) and `PospischilCaT` (T-type).
"""

from dendrax.mechanisms.hay2011 import (
    SK_E2,
    Ca_HVA,
    Ca_LVAst,
    CaDynamics_E2,
    Ih,
    Im,
    K_Pst,
    K_Tst,
    Nap_Et2,
    NaTa_t,
    NaTs2_t,
    SKv3_1,
)
from dendrax.mechanisms.hh import HH
from dendrax.mechanisms.leak import Leak
from dendrax.mechanisms.pospischil2008 import (
    PospischilCaL,
    PospischilCaT,
    PospischilKd,
    PospischilM,
    PospischilNa,
    cad,
    hh2,
    ical,
    im,
    it,
)

__all__ = [
    "HH",
    "SK_E2",
    "CaDynamics_E2",
    "Ca_HVA",
    "Ca_LVAst",
    "Ih",
    "Im",
    "K_Pst",
    "K_Tst",
    "Leak",
    "NaTa_t",
    "NaTs2_t",
    "Nap_Et2",
    "PospischilCaL",
    "PospischilCaT",
    "PospischilKd",
    "PospischilM",
    "PospischilNa",
    "SKv3_1",
    "cad",
    "hh2",
    "ical",
    "im",
    "it",
]
