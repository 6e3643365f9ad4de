"""NaTs2_t: fast inactivating somatic sodium current."""

from dendrax.mechanisms import gates
from dendrax.mechanisms.base import Parameter, State
from dendrax.mechanisms.hay2011.nata_t import sodium_rates


class NaTs2_t(gates.GatedChannel):
    """Somatic transient Na current, ina = gNaTs2_tbar m³ h (v - ena): NaTa_t's kinetics
    shifted 6 mV in depolarising direction.

    Colbert, C. M. & Pan, E. (2002). Nat. Neurosci. 5, 533–538; shifted as in Hay et al.
    (2011), q10 = 2.3 from 21 °C, fixed at 34 °C as in the published file.
    """

    parameters = {
        "gNaTs2_tbar": Parameter(0.00001, "S/cm2", "maximal conductance", nonnegative=True)
    }
    states = {"m": State("1", "activation"), "h": State("1", "inactivation")}
    reads = ("ena",)
    writes = ("ina",)

    def gate_rates(self, v, params, celsius):
        return sodium_rates(v, -32.0, -60.0)

    def current(self, states, v, params, celsius, t):
        m, h = states["m"], states["h"]
        return {"ina": params["gNaTs2_tbar"] * m * m * m * h * (v - params["ena"])}
