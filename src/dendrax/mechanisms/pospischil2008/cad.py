"""cad: submembrane calcium with first-order removal, as in Pospischil et al. (2008),
under the SUFFIX and PARAMETER names of cadecay_destexhe.mod."""

import jax.numpy as jnp

from dendrax.mechanisms.base import Mechanism, Parameter, State

FARADAY_CAD = 96489.0
"""C/mol: the file's own constant (not NEURON's 96485.33)."""


class cad(Mechanism):
    """Internal calcium "cai" (mM) of a shell of `depth` under the membrane, driven inward by
    the compartment's total calcium current "ica" and relaxing to `cainf` with `taur`:
    dcai/dt = max(-1e4 ica / (2 F depth), 0) + (cainf - cai)/taur (an outward current does
    not pump calcium out).

    Destexhe, A., Babloyantz, A. & Sejnowski, T. J. (1993). Ionic mechanisms for intrinsic
    slow oscillations in thalamic relay neurons. Biophys. J. 65, 1538–1552; as used by
    Pospischil, M. et al. (2008). Biol. Cybern. 99, 427–441 (cadecay_destexhe.mod,
    A. Destexhe, ModelDB 123623; the templates use depth = 1 um, taur = 5 ms, cainf =
    2.4e-4 mM). As in the file: cai starts at cainf, each step is backward Euler
    (NEURON's derivimplicit, exact for this linear equation), F = 96489 C/mol, and kt, kd
    are accepted but unused (kept for compatibility with the pump model "cad").
    "eca" follows cai by the Nernst equation where it is inserted.
    """

    parameters = {
        "depth": Parameter(0.1, "um", "depth of the submembrane shell", nonnegative=True),
        "taur": Parameter(5.0, "ms", "time constant of calcium removal", nonnegative=True),
        "cainf": Parameter(2e-4, "mM", "resting internal calcium", nonnegative=True),
        "kt": Parameter(0.0, "mM/ms", "unused (pump rate of the pump model)"),
        "kd": Parameter(0.0, "mM", "unused (pump affinity of the pump model)"),
    }
    states = {"cai": State("mM", "internal calcium concentration")}
    reads = ("ica",)
    writes = ("cai",)

    def steady_state(self, v, params, celsius):
        return {"cai": params["cainf"] + jnp.zeros_like(v)}

    def update(self, states, v, params, dt, celsius, t):
        drive = -1e4 * params["ica"] / (2.0 * FARADAY_CAD * params["depth"])
        drive = jnp.maximum(drive, 0.0)
        taur = params["taur"]
        return {"cai": (states["cai"] + dt * (drive + params["cainf"] / taur)) / (1.0 + dt / taur)}

    def current(self, states, v, params, celsius, t):
        return {}
