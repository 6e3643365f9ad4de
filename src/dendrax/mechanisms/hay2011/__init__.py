"""The channels and calcium dynamics of the layer-5 pyramidal cell model of Hay et al.

Hay, E., Hill, S., Schürmann, F., Markram, H. & Segev, I. (2011). Models of neocortical
layer 5b pyramidal cells capturing a wide range of dendritic and perisomatic active
properties. PLoS Comput. Biol. 7, e1002107 (ModelDB 139653). Class names are the .mod
files' SUFFIXes and parameter names their PARAMETER names.

The published files fix the temperature factor of the channels with a q10 at 34 °C
(`qt = 2.3^((34-21)/10)`, the temperature of Hay et al.'s simulations), whatever NEURON's
`celsius`; so do these channels (`temperature.HAY_RATE_FACTOR`), so that a model runs as
in NEURON at any `celsius`.
"""

from dendrax.mechanisms.hay2011.ca_hva import Ca_HVA
from dendrax.mechanisms.hay2011.ca_lvast import Ca_LVAst
from dendrax.mechanisms.hay2011.cadynamics_e2 import CaDynamics_E2
from dendrax.mechanisms.hay2011.ih import Ih
from dendrax.mechanisms.hay2011.im import Im
from dendrax.mechanisms.hay2011.k_pst import K_Pst
from dendrax.mechanisms.hay2011.k_tst import K_Tst
from dendrax.mechanisms.hay2011.nap_et2 import Nap_Et2
from dendrax.mechanisms.hay2011.nata_t import NaTa_t
from dendrax.mechanisms.hay2011.nats2_t import NaTs2_t
from dendrax.mechanisms.hay2011.sk_e2 import SK_E2
from dendrax.mechanisms.hay2011.skv3_1 import SKv3_1

__all__ = [
    "SK_E2",
    "CaDynamics_E2",
    "Ca_HVA",
    "Ca_LVAst",
    "Ih",
    "Im",
    "K_Pst",
    "K_Tst",
    "NaTa_t",
    "NaTs2_t",
    "Nap_Et2",
    "SKv3_1",
]
