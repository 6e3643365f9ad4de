"""Gradients through every library channel against central finite differences (float64).

Every channel sits in its own single-compartment cell (with a leak) of one simulation of
several independent cells, driven by a current step; the loss weighs each cell's mean
voltage differently, so that every parameter of every channel (and the ion parameters)
has a gradient of its own.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import dendrax as dx

DT = 0.025
T_MAX = 8.0
CELLS = [
    # (mechanisms, step current nA)
    ([dx.channels.NaTa_t(gNaTa_tbar=0.01)], 0.3),
    ([dx.channels.NaTs2_t(gNaTs2_tbar=0.01)], 0.3),
    ([dx.channels.Nap_Et2(gNap_Et2bar=0.001)], 0.2),
    ([dx.channels.K_Pst(gK_Pstbar=0.01)], 0.5),
    ([dx.channels.K_Tst(gK_Tstbar=0.01)], 0.5),
    ([dx.channels.SKv3_1(gSKv3_1bar=0.01)], 0.5),
    ([dx.channels.Im(gImbar=0.005)], 0.5),
    ([dx.channels.Ih(gIhbar=0.002)], -0.5),
    (
        [
            dx.channels.Ca_HVA(gCa_HVAbar=0.002),
            dx.channels.CaDynamics_E2(),
            dx.channels.SK_E2(gSK_E2bar=0.002),
        ],
        0.4,
    ),
    ([dx.channels.Ca_LVAst(gCa_LVAstbar=0.004)], 0.2),
    ([dx.channels.PospischilNa(gNabar=0.01)], 0.3),
    ([dx.channels.PospischilKd(gKdbar=0.01)], 0.5),
    ([dx.channels.PospischilM(gMbar=0.002, tau_max=100.0)], 0.5),
    ([dx.channels.PospischilCaL(gCaLbar=0.002)], 0.3),
    ([dx.channels.PospischilCaT(gCaTbar=0.002)], -0.2),
    ([dx.channels.hh2(gnabar=0.05, vtraub=-55.0)], 0.3),
    ([dx.channels.im(gkbar=0.002, taumax=100.0)], 0.5),
    ([dx.channels.ical(gcabar=0.002), dx.channels.it(gcabar=0.01), dx.channels.cad()], 0.3),
]

UNUSED = {("cad", "kt"), ("cad", "kd")}
"""Parameters that the published file declares but never uses: their gradient is zero."""


@pytest.fixture(scope="module")
def model():
    cell = dx.Cell.from_parents([-1] * len(CELLS), ncomp=1, length=20.0, radius=10.0)
    cell.insert(dx.channels.Leak())
    for i, (mechanisms, amplitude) in enumerate(CELLS):
        for mechanism in mechanisms:
            cell.branch(i).insert(mechanism)
        cell.branch(i).stimulate(dx.step_current(1.0, 10.0, amplitude, DT, T_MAX))
        cell.branch(i).record("v")
    sim = dx.build(cell, dt=DT, v_init=-70.0, celsius=34.0)
    weights = jnp.linspace(1.0, 2.0, len(CELLS))

    def loss(params):
        return jnp.sum(weights * jnp.mean(sim.run(params), axis=1))

    return sim, jax.jit(loss)


def _leaves():
    """(path, name) of every channel parameter and ion parameter in the params pytree."""
    names = []
    for mechanisms, _ in CELLS:
        for mechanism in mechanisms:
            names.extend((mechanism.name, p) for p in mechanism.parameters)
    names.extend((variable,) for variable in ("ena", "ek", "eca", "cao"))
    return names


def _get(params, path):
    return params[path[0]] if len(path) == 1 else params[path[0]][path[1]]


def _with(params, path, value):
    if len(path) == 1:
        return {**params, path[0]: value}
    return {**params, path[0]: {**params[path[0]], path[1]: value}}


def test_every_channel_parameter_gradient_matches_finite_differences(model):
    sim, loss = model
    gradient = jax.grad(loss)(sim.params)
    checked = 0
    for path in _leaves():
        value = _get(sim.params, path)
        grad = np.asarray(_get(gradient, path))
        site = int(np.argmax(np.abs(grad)))  # ion parameters exist in every compartment
        eps = 1e-6 * max(abs(float(value[site])), 1e-2)
        step = jnp.zeros_like(value).at[site].set(eps)
        finite = (
            loss(_with(sim.params, path, value + step))
            - loss(_with(sim.params, path, value - step))
        ) / (2 * eps)
        # Central differences carry rounding of about 1e-16 |loss| / eps: allow 100x that.
        rounding = 1e-14 * abs(float(loss(sim.params))) / eps
        assert abs(grad[site] - finite) <= 1e-5 * abs(finite) + rounding, (path, grad[site], finite)
        if path in UNUSED:
            assert not np.any(grad), path
            continue
        checked += abs(grad[site]) > 1e-6
    assert checked >= len(_leaves()) - len(UNUSED) - 2, "nearly every parameter should matter"
