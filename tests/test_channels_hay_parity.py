"""Every Hay et al. (2011) channel against the same NMODL mechanism in NEURON, run live.

One compartment (L = 20 µm, diam = 20 µm) with a passive leak and the channel, at 34 °C,
under a current step and under a voltage-clamp protocol. NEURON runs the published files
as distributed with the model (tests/mod/hay2011, ModelDB 139653), compiled with nrnivmodl
once per test process.
Currents are compared relative to their peak: max |I - I_NEURON| / max |I_NEURON|.
The issue asks for 0.05 mV and 0.1 %; the same arithmetic as NEURON gives ~1e-12 mV under
a current step and ~5e-8 mV under the clamp (NEURON's SEClamp has rs = 1e-9 MΩ), so the
tests hold it to 1e-6 mV and 1e-6.
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
    # name: (class, current, conductance parameter, value S/cm2, step current nA)
    "NaTa_t": (dx.channels.NaTa_t, "ina", "gNaTa_tbar", 0.01, 0.3),
    "NaTs2_t": (dx.channels.NaTs2_t, "ina", "gNaTs2_tbar", 0.01, 0.3),
    "Nap_Et2": (dx.channels.Nap_Et2, "ina", "gNap_Et2bar", 0.002, 0.2),
    "K_Pst": (dx.channels.K_Pst, "ik", "gK_Pstbar", 0.01, 0.5),
    "K_Tst": (dx.channels.K_Tst, "ik", "gK_Tstbar", 0.01, 0.5),
    "SKv3_1": (dx.channels.SKv3_1, "ik", "gSKv3_1bar", 0.01, 0.5),
    "Im": (dx.channels.Im, "ik", "gImbar", 0.005, 0.5),
    "Ih": (dx.channels.Ih, "ihcn", "gIhbar", 0.002, -0.5),
    "Ca_HVA": (dx.channels.Ca_HVA, "ica", "gCa_HVAbar", 0.002, 0.3),
    "Ca_LVAst": (dx.channels.Ca_LVAst, "ica", "gCa_LVAstbar", 0.002, 0.2),
}


T_MAX = 40.0
PROTOCOLS = ("current step", "voltage clamp")


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """Every channel under both protocols, and the calcium cells, in one simulation each."""
    load_test_mechanisms(tmp_path_factory)
    cases, keys = [], []
    for name, (cls, current, conductance, value, stimulus) in CHANNELS.items():
        for protocol, case in channel_cases(cls(), current, {conductance: value}, stimulus).items():
            cases.append(case)
            keys.append((name, protocol))
    for protocol in PROTOCOLS:
        case = {"inserts": CALCIUM, "records": CALCIUM_RECORDS}
        cases.append(
            {**case, "stimulus": 0.4} if protocol == "current step" else {**case, "clamp": True}
        )
        keys.append(("calcium", protocol))
    return dict(zip(keys, run_both(cases, T_MAX), strict=True))


@pytest.mark.parametrize("name", list(CHANNELS))
@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_channel_matches_neuron(results, name, protocol):
    assert_channel_matches(*results[name, protocol], protocol)


CALCIUM = [
    (dx.channels.Leak(), "pas", {}),
    (dx.channels.Ca_HVA(), "Ca_HVA", {"gCa_HVAbar": 0.002}),
    (dx.channels.Ca_LVAst(), "Ca_LVAst", {"gCa_LVAstbar": 0.004}),
    (dx.channels.CaDynamics_E2(), "CaDynamics_E2", {"gamma": 0.05, "decay": 80.0}),
    (dx.channels.SK_E2(), "SK_E2", {"gSK_E2bar": 0.002}),
]
CALCIUM_RECORDS = [
    ("v", "v"),
    ("cai", "cai"),
    ("eca", "eca"),
    ("ica", "ica"),
    ("Ca_HVA.ica", "ica_Ca_HVA"),
    ("Ca_LVAst.ica", "ica_Ca_LVAst"),
    ("SK_E2.ik", "ik_SK_E2"),
]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_calcium_dynamics_match_neuron(results, protocol):
    ours, theirs = results["calcium", protocol]
    v, cai, eca = 0, 1, 2
    assert np.max(np.abs(ours[v] - theirs[v])) < VOLTAGE_TOLERANCE
    assert np.max(theirs[cai]) > 2 * theirs[cai][0], "calcium should accumulate"
    assert relative_error(ours[cai], theirs[cai]) < CURRENT_TOLERANCE
    assert np.max(np.abs(ours[eca] - theirs[eca])) < VOLTAGE_TOLERANCE
    for row in range(3, len(CALCIUM_RECORDS)):
        assert relative_error(ours[row], theirs[row]) < CURRENT_TOLERANCE, CALCIUM_RECORDS[row]


FIXED_TEMPERATURE = ["NaTa_t", "NaTs2_t", "Nap_Et2", "K_Pst", "K_Tst", "Im", "Ca_LVAst"]


def test_rate_factor_stays_at_34_degrees(tmp_path_factory):
    """The published files fix qt at 34 °C whatever celsius: at 37 °C both still agree."""
    load_test_mechanisms(tmp_path_factory)
    cases = []
    for name in FIXED_TEMPERATURE:
        cls, current, conductance, value, stimulus = CHANNELS[name]
        cases.append(channel_cases(cls(), current, {conductance: value}, stimulus)["current step"])
    for ours, theirs in run_both(cases, T_MAX, celsius=37.0):
        assert_channel_matches(ours, theirs, "current step")


GUARDED = {
    # v_init (mV): channels whose published rates move v off a removable 0/0 there
    -38.0: ["NaTa_t", "Nap_Et2"],
    -32.0: ["NaTs2_t"],
    -17.0: ["Nap_Et2"],
    -64.4: ["Nap_Et2"],
}


def test_rates_at_the_guarded_voltages_match_neuron(tmp_path_factory):
    """The published files move v itself off each 0/0 of their rates (`if (v == -38) { v =
    v + 0.0001 }`), so the rates computed after the guard see the moved v: at exactly
    -38 mV NaTa_t's h and Nap_Et2's h (and hInf) are those of -37.9999 mV. Started there
    (NEURON's finitialize sets v exactly), the channels match NEURON within 1e-6 mV and 1e-6
    relative (measured, with the guards applied one after the other as in the files: 7e-13
    mV; applied each to the unmoved v, 2.4e-4 mV and 1.7e-5)."""
    load_test_mechanisms(tmp_path_factory)
    for v_init, names in GUARDED.items():
        cases = []
        for name in names:
            cls, current, conductance, value, stimulus = CHANNELS[name]
            cases.append(
                channel_cases(cls(), current, {conductance: value}, stimulus)["current step"]
            )
        for name, (ours, theirs) in zip(names, run_both(cases, 10.0, v_init=v_init), strict=True):
            assert np.max(np.abs(ours[0] - theirs[0])) < VOLTAGE_TOLERANCE, (name, v_init)
            assert relative_error(ours[1], theirs[1]) < CURRENT_TOLERANCE, (name, v_init)
