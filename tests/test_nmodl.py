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
    "kinetic_k", "euler_k", "user_ion", "arrays", "linear_init",
    "linear_step",
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
    calcium = {"Ca_": imported("CaDynamics_E2"), "pospischil_i": imported("pospischil_cad")}
    cases, labels = [], []
    for stem in CHANNELS:
        mechanism = imported(stem)()
        current = (mechanism.writes + tuple(_nonspecific(mechanism)))[0]
        for protocol, case in channel_cases(mechanism, current, {}, 0.2).items():
            for prefix, accumulation in calcium.items():
                if stem.startswith(prefix) and "ica" in mechanism.writes:
                    added = (accumulation(), accumulation.__name__, {})
                    case = {**case, "inserts": [*case["inserts"], added]}
            cases.append(case)
            labels.append(f"{stem} ({protocol})")
    results = run_both(cases, 40.0)
    for label, (ours, theirs) in zip(labels, results, strict=True):
        assert np.max(np.abs(ours[0] - theirs[0])) < 1e-6, label
        assert relative_error(ours[1], theirs[1]) < 1e-6, label


def kinetic_buffer_case(clamp: bool) -> dict:
    """A leak, Ca_HVA and the calcium buffer of kinetic_buffer.mod (a second-order
    reaction, a flux, COMPARTMENT and CONSERVE), recording v, cai and the bound buffer."""
    calcium = (imported("Ca_HVA")(), "Ca_HVA", {"gCa_HVAbar": 0.002})
    return {
        "inserts": [
            (dx.channels.Leak(), "pas", {}),
            calcium,
            (imported("kinetic_buffer")(), "kinetic_buffer", {}),
        ],
        "records": [
            ("v", "v"),
            ("kinetic_buffer.cai", "cai"),
            ("kinetic_buffer.CaB", "CaB_kinetic_buffer"),
            ("kinetic_buffer.ib", "ib_kinetic_buffer"),
        ],
        "clamp": clamp,
        "stimulus": 0.3,
    }


def test_a_nonlinear_kinetic_scheme_matches_neuron(tmp_path_factory):
    """kinetic_buffer.mod (Newton iterations of NEURON's sparse method) under a voltage
    clamp and a current step: within 1e-6 mV and 1e-9 relative in calcium, the bound
    buffer and the binding flux (measured: 7e-13 mV in the step, 5e-8 mV under the clamp,
    4e-11 relative)."""
    pytest.importorskip("neuron", reason="the parity tests run NEURON")
    from neuron_mechanisms import load_test_mechanisms, relative_error, run_both

    load_test_mechanisms(tmp_path_factory)
    for ours, theirs in run_both([kinetic_buffer_case(True), kinetic_buffer_case(False)], 40.0):
        assert np.max(np.abs(ours[0] - theirs[0])) < 1e-6
        assert np.ptp(theirs[2]) > 1e-4, "the buffer should bind calcium (mM)"
        for row in (1, 2, 3):  # cai, the bound buffer, the binding flux (f_flux - b_flux)
            assert relative_error(ours[row], theirs[row]) < 1e-9


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


def arrays_cell(backend, mechanism="arrays"):
    cell = dx.Cell.from_parents([-1], ncomp=1, length=20.0, radius=10.0)
    cell.insert(dx.channels.Leak()).insert(imported(mechanism)())
    cell.branch(0).comp(0).stimulate(dx.step_current(2.0, 10.0, 0.3, 0.025, 20.0))
    cell.record("v")
    for k in range(4):
        cell.record(f"arrays.spent[{k}]")
    return dx.build(cell, dt=0.025, celsius=34.0, backend=backend)


def test_array_elements_are_states_of_their_own_and_run_natively():
    """arrays.mod: spent[level] (a computed index) is kept from step to step as four
    states, one per element, adding up to the time run; inf[k] and tau[k] (set by a FROM
    loop before each use) are not states. The native kernel runs it as pure JAX does."""
    assert set(imported("arrays").states) == {"m", "h", *(f"spent[{k}]" for k in range(4))}
    native, pure = arrays_cell("native"), arrays_cell("jax")
    ours, twin = np.asarray(native.run()), np.asarray(pure.run())
    np.testing.assert_allclose(ours[1:].sum(axis=0), 0.025 * np.arange(ours.shape[1]))
    assert (ours[1:3, -1] > 1.0).all(), "the voltage should visit bands 0 and 1"
    if native.spec.backend != "native":
        pytest.skip("the native kernel is not available here")
    np.testing.assert_allclose(ours, twin, atol=1e-10, rtol=0)


def kinetic_cell(backend):
    cell = dx.Cell.from_parents([-1], ncomp=1, length=20.0, radius=10.0)
    for mechanism, _, values in kinetic_buffer_case(False)["inserts"]:
        cell.insert(mechanism)
        for name, value in values.items():
            cell.set(f"{mechanism.name}.{name}", value)
    cell.insert(imported("kinetic_k")())
    cell.branch(0).comp(0).stimulate(dx.step_current(2.0, 10.0, 0.5, 0.025, 20.0))
    cell.record("v").record("cai").record("kinetic_k.O")
    return dx.build(cell, dt=0.025, celsius=34.0, backend=backend)


def test_kinetic_schemes_run_on_the_native_kernel_as_their_pure_jax_twin():
    native, pure = kinetic_cell("native"), kinetic_cell("jax")
    if native.spec.backend != "native":
        pytest.skip("the native kernel is not available here")
    ours, twin = np.asarray(native.run()), np.asarray(pure.run())
    assert np.ptp(ours[0]) > 10.0 and np.ptp(ours[2]) > 0.01
    np.testing.assert_allclose(ours, twin, atol=1e-8, rtol=0)


@pytest.mark.parametrize(
    ("make", "mechanism", "parameter"),
    [("hay_like_cell", "NaTa_t", "gNaTa_tbar"), ("kinetic_cell", "kinetic_k", "gbar")],
)
def test_gradients_through_imported_mechanisms_match_finite_differences(make, mechanism, parameter):
    """Through cnexp channels and calcium, and through KINETIC schemes (measured: 1e-9
    relative for the kinetic cell)."""
    sim = globals()[make]("auto")

    def loss(scale):
        values = {**sim.params[mechanism]}
        values[parameter] = values[parameter] * scale
        return jnp.mean(sim.run({**sim.params, mechanism: values})[0])

    analytic = float(jax.grad(loss)(1.0))
    eps = 1e-6
    numeric = float(loss(1.0 + eps) - loss(1.0 - eps)) / (2 * eps)
    assert abs(analytic - numeric) / abs(numeric) < 1e-5


def test_load_mods_reads_a_folder_and_a_file_twice_is_one_class(tmp_path):
    for stem in ("NaTa_t", "CaDynamics_E2"):
        (tmp_path / f"{stem}.mod").write_text((MODS / f"{stem}.mod").read_text())
    assert sorted(load_mods(tmp_path)) == ["CaDynamics_E2", "NaTa_t"]
    assert {"GradedSyn", "HalfGap", "ExpSynFile", "it"} <= set(load_mods(MODS))
    (tmp_path / "bad.mod").write_text(GOOD + "NONLINEAR scheme { }")
    with pytest.raises(ModError, match=r"bad\.mod, line 6: NONLINEAR"):
        load_mods(tmp_path)  # a file it cannot read is an error, not skipped
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


SYNAPSE = """
NEURON { POINT_PROCESS syn NONSPECIFIC_CURRENT i }
ASSIGNED { v (mV) i (nA) }
STATE { g (uS) }
BREAKPOINT { i = g*v }
INITIAL { g = 0 }
NET_RECEIVE (w, n) {
    g = g + w
}
"""


KINETIC = """
NEURON { SUFFIX scheme NONSPECIFIC_CURRENT i }
BREAKPOINT { SOLVE scheme METHOD sparse i = 0.001*(v + 70)*b }
ASSIGNED { v (mV) i (mA/cm2) }
STATE { a b }
KINETIC scheme {
    ~ a <-> b (1, 2)
}
"""
STEADY = "INITIAL { SOLVE scheme STEADYSTATE sparse }"


@pytest.mark.parametrize(
    ("text", "match"),
    [
        (GOOD.replace("BREAKPOINT", "VERBATIM\nENDVERBATIM\nBREAKPOINT"), "line 5: VERBATIM"),
        (KINETIC.replace("sparse", "cnexp"), "line 3: SOLVE scheme: METHOD cnexp of a KINETIC"),
        (KINETIC.replace("~ a", "~ 2 a") + STEADY, "STEADYSTATE of a KINETIC scheme with second"),
        (KINETIC + "INITIAL { SOLVE scheme }", "a SOLVE in INITIAL needs STEADYSTATE"),
        (KINETIC.replace("<->", "->"), "line 7: expected '<->' or '<<' in a reaction"),
        (KINETIC.replace("~ a <-> b (1, 2)", "if (v > 0) { ~ a <-> b (1, 2) }"), "inside if"),
        (KINETIC.replace("~ a <->", "~ a[0] <->"), "line 7: array a"),
        (GOOD.replace("e = -70", "e[2.5]"), r"line 3: array e\[2\.5\]: the size must be"),
        (GOOD.replace("g*(v - e)", "g*(v - e[0])"), r"line 5: e\[\.\.\.\]: e is not an array"),
        (GOOD.replace("e = -70", "e[2]").replace("- e)", "- e[2])"), r"e\[2\]: out of e\[2\]"),
        (
            GOOD.replace("i = g", "FROM k = 0 TO g { }\ni = g"),
            "line 5: FROM k: bounds that vary at run time",
        ),
        (KINETIC + "LINEAR lin { ~ a = 1 ~ a = 2 }", "line 9: LINEAR lin: 2 equations in 1"),
        (
            KINETIC.replace("{ a b }", "{ a b c }") + "LINEAR lin { ~ a = 1 ~ 2*a = 2 ~ b+c = 0 }",
            "line 9: LINEAR lin: the equations are singular",
        ),
        (KINETIC.replace("(1, 2)", "(1, 2) CONSERVE a + v = 1"), "line 7: v is not a STATE"),
        (KINETIC.replace("(1, 2)", "(1, 2) ~ b << (1) CONSERVE a + b = 1"), "b is conserved"),
        (GOOD + "NET_RECEIVE (w) { }", "NET_RECEIVE is supported in a POINT_PROCESS"),
        (SYNAPSE.replace("g = g + w", "INITIAL { }\nINITIAL { }"), "line 9: INITIAL is a block"),
        (SYNAPSE.replace("n)", "g)"), "NET_RECEIVE argument g has the name of another"),
        (SYNAPSE.replace("g = 0", "net_send(1, 1)"), "line 6: net_send.. is supported in NET_"),
        (SYNAPSE.replace("g = g + w", "net_move(t + 1)"), r"line 8: net_move\(\) is not supp"),
        (SYNAPSE.replace("g = g + w", "net_send(1)"), r"line 8: net_send\(\) takes \(delay"),
        (
            SYNAPSE.replace("g = g + w", "FROM k = 0 TO n { g = g + w }"),
            "line 8: FROM k: bounds that vary at run time",
        ),
        (GOOD.replace("RANGE g", "RANGE g POINTER a, b"), "only one POINTER"),
        (GOOD.replace("SUFFIX leaky", ""), "no SUFFIX"),
        (GOOD.replace("g*(v - e)", "g*(v - erev)"), "line 5: erev is not defined"),
        (GOOD.replace("g*(v - e)", "g*(v - e"), "expected"),
        (GOOD + "BLOCK { }", "unknown block 'BLOCK'"),
        (
            GOOD.replace("i = g", "SOLVE s METHOD sparse\ni = g"),
            "no DERIVATIVE, KINETIC or LINEAR s",
        ),
        (GOOD.replace("i = g", "SOLVE s METHOD runge i = g") + "DERIVATIVE s { }", "runge is"),
        (
            GOOD.replace("SUFFIX leaky", "SUFFIX leaky USEION hcn READ ehcn"),
            "USEION hcn needs a whole",
        ),
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


QUIRKS = """
NEURON { SUFFIX quirky NONSPECIFIC_CURRENT i RANGE g ELECTRODE_CURRENT ie }
UNITS { FARADAY = 96520 (coul) PI = (pi) (1) }
PARAMETER { g = 0.001 (S/cm2) <0, 1e9> e = -70 (mV) }
ASSIGNED { v (mV) celsius (degC) i (mA/cm2) ie (mA/cm2) q total }
STATE { s (1) <1e-4> }
LOCAL scratch
INITIAL { q = 3^((celsius - 20 (degC))/10 (degC)) s = 0 total = 0 }
BREAKPOINT {
    SOLVE states METHOD cnexp
    printf("s = %g\\n", s)
    i = g*(v - e)*(1 + s*q*0)
    ie = 0.0001*FARADAY/FARADAY*PI/PI
}
DERIVATIVE states { total = total + 1 s' = (q - s)/10 }
"""


def test_constructs_of_published_files():
    """Units after numbers, a constant's value in UNITS, a STATE's tolerance, printf, a
    file-level LOCAL, an ELECTRODE_CURRENT (inward), values kept from INITIAL (q) and
    across steps (total)."""
    mechanism = load_mod(QUIRKS)
    assert {"q", "total"} <= set(mechanism.states)
    cell = dx.Cell.from_parents([-1], ncomp=1, length=10.0, radius=5.0)
    cell.insert(mechanism()).record("quirky.total").record("quirky.s").record("quirky.ie")
    traces = np.asarray(dx.build(cell, celsius=30.0).run(t_max=1.0))
    np.testing.assert_allclose(traces[0], np.arange(41))  # one per step
    q = 3 ** ((30 - 20) / 10)
    np.testing.assert_allclose(traces[1], q * (1 - np.exp(-np.arange(41) * 0.025 / 10)), rtol=1e-9)
    np.testing.assert_allclose(traces[2], -0.0001)  # recorded outward
