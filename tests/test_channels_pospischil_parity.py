"""Every Pospischil et al. (2008) channel against the same NMODL mechanism in NEURON.

As for the Hay et al. set (tests/test_channels_hay_parity.py): one compartment with a
passive leak and the channel, here at 36 °C, under a current step and a voltage clamp.
"""

import pytest
from neuron_mechanisms import (
    assert_channel_matches,
    channel_cases,
    load_test_mechanisms,
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
