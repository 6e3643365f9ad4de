"""Every Pospischil et al. (2008) channel against the same NMODL mechanism in NEURON.

As for the Hay et al. set (tests/test_channels_hay_parity.py): one compartment with a
passive leak and the channel, here at 36 °C, under a current step and a voltage clamp.
"""

import pytest
from neuron_mechanisms import (
    CURRENT_TOLERANCE,
    VOLTAGE_TOLERANCE,
    channel_errors,
    load_test_mechanisms,
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


@pytest.fixture(scope="module", autouse=True)
def mechanisms(tmp_path_factory):
    return load_test_mechanisms(tmp_path_factory)


@pytest.mark.parametrize("name", list(CHANNELS))
@pytest.mark.parametrize("protocol", ["current step", "voltage clamp"])
def test_channel_matches_neuron(name, protocol):
    cls, current, values, stimulus = CHANNELS[name]
    options = {"stimulus": stimulus} if protocol == "current step" else {}
    dv, di, peak, v_range = channel_errors(
        cls(), current, values, protocol, celsius=36.0, **options
    )
    assert peak > 1e-5, "the channel should carry current (mA/cm2)"
    if protocol == "current step":
        assert v_range > 5.0, "the step should move the voltage (mV)"
    assert dv < VOLTAGE_TOLERANCE
    assert di < CURRENT_TOLERANCE
