"""NMODL import: .mod files loaded by dx.load_mod against the same files compiled by
NEURON (live), on the native kernel and pure JAX, with gradients; and the errors of files
the importer cannot read."""

import pathlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import dendrax as dx
from dendrax.nmodl import ModError, load_mod, load_mods

MODS = pathlib.Path(__file__).parent / "mod"
CHANNELS = [
    "NaTa_t", "NaTs2_t", "Nap_Et2", "K_Pst", "K_Tst", "SKv3_1", "Im", "Ih", "Ca_HVA",
    "Ca_LVAst", "CaGHK", "PospischilNa", "PospischilKd", "PospischilM", "PospischilCaL",
    "PospischilCaT", "pospischil_hh2", "pospischil_im", "pospischil_ical", "pospischil_it",
]  # fmt: skip
"""Files of tests/mod (file stems) that are channels: each is run with a leak."""


def imported(stem):
    return load_mod(MODS / f"{stem}.mod")


def test_every_channel_file_matches_neuron(tmp_path_factory):
    """Each file, compiled by nrnivmodl for NEURON and imported by dendrax, in a current
    step and a voltage clamp: voltages within 1e-6 mV, currents within 1e-6 relative
    (measured: 5e-11 mV at most)."""
    pytest.importorskip("neuron", reason="the parity tests run NEURON")
    from neuron_mechanisms import channel_cases, load_test_mechanisms, relative_error, run_both

    load_test_mechanisms(tmp_path_factory)
    calcium = imported("CaDynamics_E2")
    cases, labels = [], []
    for stem in CHANNELS:
        mechanism = imported(stem)()
        current = (mechanism.writes + tuple(_nonspecific(mechanism)))[0]
        for protocol, case in channel_cases(mechanism, current, {}, 0.2).items():
            if "ca" in "".join(mechanism.writes) and stem.startswith(("Ca_", "CaGHK")):
                case = {**case, "inserts": [*case["inserts"], (calcium(), "CaDynamics_E2", {})]}
            cases.append(case)
            labels.append(f"{stem} ({protocol})")
    results = run_both(cases, 40.0)
    for label, (ours, theirs) in zip(labels, results, strict=True):
        assert np.max(np.abs(ours[0] - theirs[0])) < 1e-6, label
        assert relative_error(ours[1], theirs[1]) < 1e-6, label


def _nonspecific(mechanism):
    from dendrax.mechanisms import membrane

    return [c for c in membrane.current_names(mechanism) if c not in mechanism.writes]


def hay_like_cell(backend):
    cell = dx.Cell.from_parents([-1, 0], ncomp=3, length=20.0, radius=[8.0, 1.0])
    cell.insert(dx.channels.Leak())
    for stem in ("NaTa_t", "SKv3_1", "Ca_HVA", "CaDynamics_E2", "SK_E2", "Ih"):
        cell.insert(imported(stem)())
    cell.set("NaTa_t.gNaTa_tbar", 2.0).set("SKv3_1.gSKv3_1bar", 0.5)
    cell.set("Ca_HVA.gCa_HVAbar", 0.001).set("SK_E2.gSK_E2bar", 0.001)
    cell.branch(0).comp(1).stimulate(dx.step_current(2.0, 10.0, 3.0, 0.025, 20.0))
    cell.branch(1).comp(2).record("v").record("cai")
    return dx.build(cell, dt=0.025, celsius=34.0, backend=backend)


def test_imported_mechanisms_run_on_the_native_kernel_as_its_pure_jax_twin():
    native, pure = hay_like_cell("native"), hay_like_cell("jax")
    if native.spec.backend != "native":
        pytest.skip("the native kernel is not available here")
    ours, twin = np.asarray(native.run()), np.asarray(pure.run())
    assert ours[0].max() > 0.0, "the cell should spike"
    np.testing.assert_allclose(ours, twin, atol=1e-8, rtol=0)


def test_gradients_through_imported_mechanisms_match_finite_differences():
    sim = hay_like_cell("auto")

    def loss(scale):
        params = {
            **sim.params,
            "NaTa_t": {"gNaTa_tbar": sim.params["NaTa_t"]["gNaTa_tbar"] * scale},
        }
        return jnp.mean(sim.run(params)[0])

    analytic = float(jax.grad(loss)(1.0))
    eps = 1e-6
    numeric = float(loss(1.0 + eps) - loss(1.0 - eps)) / (2 * eps)
    assert abs(analytic - numeric) / abs(numeric) < 1e-5


def test_load_mods_reads_a_folder_and_a_file_twice_is_one_class(tmp_path):
    for stem in ("NaTa_t", "CaDynamics_E2"):
        (tmp_path / f"{stem}.mod").write_text((MODS / f"{stem}.mod").read_text())
    assert sorted(load_mods(tmp_path)) == ["CaDynamics_E2", "NaTa_t"]
    with pytest.raises(ModError, match=r"graded_syn\.mod, line 7: POINTER"):
        load_mods(MODS)  # a file it cannot read is an error, not skipped
    assert imported("NaTa_t") is imported("NaTa_t")
    mechanism = imported("NaTa_t")(gNaTa_tbar=0.5)
    assert mechanism.defaults == {"gNaTa_tbar": 0.5}
    assert mechanism.reads == ("ena",) and mechanism.writes == ("ina",)


GOOD = """
NEURON { SUFFIX leaky NONSPECIFIC_CURRENT i RANGE g }
PARAMETER { g = 0.001 (S/cm2) e = -70 (mV) }
ASSIGNED { v (mV) i (mA/cm2) }
BREAKPOINT { i = g*(v - e) }
"""


@pytest.mark.parametrize(
    ("text", "match"),
    [
        (GOOD.replace("BREAKPOINT", "VERBATIM\nENDVERBATIM\nBREAKPOINT"), "line 5: VERBATIM"),
        (GOOD + "KINETIC scheme { ~ a <-> b (1, 2) }", "KINETIC schemes"),
        (GOOD + "NET_RECEIVE (w) { }", "NET_RECEIVE"),
        (GOOD.replace("SUFFIX leaky", ""), "no SUFFIX"),
        (GOOD.replace("g*(v - e)", "g*(v - erev)"), "line 5: erev is not defined"),
        (GOOD.replace("g*(v - e)", "g*(v - e"), "expected"),
        (GOOD + "BLOCK { }", "unknown block 'BLOCK'"),
        (GOOD.replace("i = g", "SOLVE s METHOD sparse\ni = g"), "METHOD sparse"),
        (GOOD.replace("SUFFIX leaky", "SUFFIX leaky USEION hcn READ ehcn"), "USEION hcn"),
        (GOOD.replace("e = -70", "e = -70 $"), "unexpected character"),
    ],
)
def test_files_that_cannot_be_read_say_where_and_why(text, match):
    with pytest.raises(ModError, match=match) as error:
        cls = load_mod(text)
        cell = dx.Cell.from_parents([-1], ncomp=1, length=10.0, radius=5.0)
        cell.insert(cls())
        dx.build(cell)
    assert "<text>, line" in str(error.value)
