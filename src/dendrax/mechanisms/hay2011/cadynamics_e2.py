"""CaDynamics_E2: internal calcium of a submembrane shell with first-order removal."""

from dendrax.mechanisms.base import Mechanism, Parameter, State, exponential_euler
from dendrax.mechanisms.ions import FARADAY

_CM_PER_UM = 1e-4


def _steady_cai(params):
    """The concentration (mM) that the shell tends to under the present calcium current.

    dcai/dt = -ica γ / (2 F depth) - (cai - minCai)/decay, with ica in mA/cm², depth in
    µm (10⁴ µm/cm) and F in C/mol, gives mM/ms.
    """
    influx = -params["ica"] * params["gamma"] / (2.0 * FARADAY * params["depth"] * _CM_PER_UM)
    return params["minCai"] + influx * params["decay"]


class CaDynamics_E2(Mechanism):
    """Internal calcium "cai" (mM) driven by the compartment's total calcium current "ica".

    A fraction `gamma` of the calcium entering through all calcium channels stays free in a
    shell of `depth` under the membrane; it relaxes to `minCai` with time constant `decay`.
    As in NEURON, cai starts from the ion's initial value ("cai", default 5e-5 mM) and the
    calcium reversal potential "eca" follows cai by the Nernst equation where this
    mechanism is inserted. Hay et al. (2011), after Destexhe, A., Babloyantz, A. &
    Sejnowski, T. J. (1993). Biophys. J. 65, 1538–1552.
    """

    parameters = {
        "gamma": Parameter(0.05, "1", "fraction of free (unbuffered) calcium", nonnegative=True),
        "decay": Parameter(80.0, "ms", "time constant of calcium removal", nonnegative=True),
        "depth": Parameter(0.1, "um", "depth of the submembrane shell", nonnegative=True),
        "minCai": Parameter(1e-4, "mM", "resting internal calcium", nonnegative=True),
    }
    states = {"cai": State("mM", "internal calcium concentration")}
    reads = ("ica",)
    writes = ("cai",)

    def steady_state(self, v, params, celsius):
        return {"cai": params["cai"]}

    def update(self, states, v, params, dt, celsius, t):
        return {"cai": exponential_euler(states["cai"], _steady_cai(params), params["decay"], dt)}

    def current(self, states, v, params, celsius, t):
        return {}
