"""Every Pospischil et al. (2008) channel against the same NMODL mechanism in NEURON.

As for the Hay et al. set (tests/test_channels_hay_parity.py): one compartment with a
passive leak and the channel under a current step and a voltage clamp; the paper's
per-current classes at 36 °C (against tests/mod/Pospischil*.mod, written for the tests from
the paper's equations), the library's classes of the published files' mechanisms (hh2, im,
ical, it, cad) at 33 °C against NEURON compiling those files as distributed
(tests/mod/pospischil2008, ModelDB 123623).
"""

import numpy as np
import pytest

pytest.importorskip(
    "neuron", reason="NEURON (pip install neuron) is the reference these tests compare against"
)

from neuron_mechanisms import (
    CURRENT_TOLERANCE,
    VOLTAGE_TOLERANCE,
    assert_channel_matches,
    channel_cases,
    load_test_mechanisms,
    relative_error,
    run_both,
)

import dendrax as dx

CHANNELS = {
    # name: (class, current, parameter values, step current nA)
    "PospischilNa": (dx.channels.PospischilNa, "ina", {"gNabar": 0.01}, 0.3),
    "PospischilKd": (dx.channels.PospischilKd, "ik", {"gKdbar": 0.01}, 0.5),
    "PospischilM": (dx.channels.PospischilM, "ik", {"gMbar": 0.002, "tau_max": 100.0}, 0.5),
    "PospischilCaL": (dx.channels.PospischilCaL, "ica", {"gCaLbar": 0.002}, 0.3),
    "PospischilCaT": (dx.channels.PospischilCaT, "ica", {"gCaTbar": 0.002}, -0.2),
}


PROTOCOLS = ("current step", "voltage clamp")


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """Every channel under both protocols in one simulation."""
    load_test_mechanisms(tmp_path_factory)
    cases, keys = [], []
    for name, (cls, current, values, stimulus) in CHANNELS.items():
        for protocol, case in channel_cases(cls(), current, values, stimulus).items():
            cases.append(case)
            keys.append((name, protocol))
    return dict(zip(keys, run_both(cases, 40.0, celsius=36.0), strict=True))


@pytest.mark.parametrize("name", list(CHANNELS))
@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_channel_matches_neuron(results, name, protocol):
    assert_channel_matches(*results[name, protocol], protocol)


PUBLISHED_CELSIUS = 33.0
"""Off the files' 36 °C, so that their temperature factors (hh2, im, it) take part."""

PUBLISHED = {
    # name: (mechanisms with their parameter values, step current nA, records). The files
    # declare the currents they write RANGE nowhere, so NEURON's side records the ion's
    # total current (the mechanism's alone here, no other writes it).
    "hh2": (
        [(dx.channels.hh2(), {"gnabar": 0.05, "gkbar": 0.005, "vtraub": -55.0})],
        0.3,
        [("v", "v"), ("hh2.ina", "ina"), ("hh2.ik", "ik")],
    ),
    "im": (  # taumax is GLOBAL in IM_cortex.mod: its default, 1000 ms
        [(dx.channels.im(), {"gkbar": 0.002})],
        0.5,
        [("v", "v"), ("im.ik", "ik")],
    ),
    "ical": (
        [(dx.channels.ical(), {"gcabar": 0.002})],
        0.3,
        [("v", "v"), ("ical.ica", "ica"), ("ical.carev", "carev_ical")],
    ),
    "it": (
        [(dx.channels.it(), {"gcabar": 0.002, "shift": 1.0})],
        -0.2,
        [("v", "v"), ("it.ica", "ica")],  # carev is not RANGE in IT_huguenard.mod
    ),
    "cad with ical": (
        [(dx.channels.ical(), {"gcabar": 0.002}), (dx.channels.cad(), {"depth": 1.0})],
        0.3,
        [("v", "v"), ("ical.ica", "ica"), ("cai", "cai")],
    ),
    "cad with it": (
        [(dx.channels.it(), {"gcabar": 0.002}), (dx.channels.cad(), {"taur": 20.0})],
        -0.2,
        [("v", "v"), ("it.ica", "ica"), ("cai", "cai")],
    ),
}


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """The channels under the published files' names, both protocols in one simulation."""
    load_test_mechanisms(tmp_path_factory)
    cases, keys = [], []
    for name, (mechanisms, stimulus, records) in PUBLISHED.items():
        inserts = [(dx.channels.Leak(), "pas", {})]
        inserts += [(mechanism, mechanism.name, values) for mechanism, values in mechanisms]
        base = {"inserts": inserts, "records": records}
        cases += [{**base, "stimulus": stimulus}, {**base, "clamp": True}]
        keys += [(name, protocol) for protocol in PROTOCOLS]
    traces = run_both(cases, 40.0, celsius=PUBLISHED_CELSIUS)
    return dict(zip(keys, traces, strict=True))


@pytest.mark.parametrize("name", list(PUBLISHED))
@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_published_mechanism_matches_neuron(published, name, protocol):
    """Voltage within VOLTAGE_TOLERANCE, each current (and cai, carev) within
    CURRENT_TOLERANCE of its peak; every current flows and a current step moves v."""
    ours, theirs = published[name, protocol]
    if protocol == "current step":
        assert np.ptp(theirs[0]) > 5.0, "the step should move the voltage (mV)"
    assert np.max(np.abs(ours[0] - theirs[0])) < VOLTAGE_TOLERANCE
    records = [record for record, _ in PUBLISHED[name][2]]
    for record, mine, reference in zip(records[1:], ours[1:], theirs[1:], strict=True):
        assert np.max(np.abs(reference)) > 1e-6, record
        assert relative_error(mine, reference) < CURRENT_TOLERANCE, record
