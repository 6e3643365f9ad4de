"""NMODL import: .mod files loaded by dx.load_mod against the same files compiled by
NEURON (live), on the native kernel and pure JAX, with gradients; and the errors of files
the importer cannot read."""

import os
import pathlib
import re
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import dendrax as dx
from dendrax.nmodl import ModError, load_mod, load_mods

MODS = pathlib.Path(__file__).parent / "mod"
HAY = MODS / "hay2011"
"""The published files of Hay et al. (2011), as distributed with the model."""
POSPISCHIL = MODS / "pospischil2008"
"""The published files of Pospischil et al. (2008), as distributed with the model."""
NEURON_MODS = MODS / "neuron"
"""NEURON's own hh.mod, passive.mod, expsyn.mod and exp2syn.mod, as distributed."""
CHANNELS = [
    "NaTa_t", "NaTs2_t", "Nap_Et2", "K_Pst", "K_Tst", "SKv3_1", "Im", "Ih", "Ca_HVA",
    "Ca_LVAst", "CaGHK", "PospischilNa", "PospischilKd", "PospischilM", "PospischilCaL",
    "PospischilCaT", "HH_traub", "IM_cortex", "IL_gutnick", "IT_huguenard",
    "kinetic_k", "euler_k", "user_ion", "arrays", "linear_init",
    "linear_step", "initial_parameter",
]  # fmt: skip
"""Files of tests/mod, tests/mod/hay2011 and tests/mod/pospischil2008 (file stems) that are
channels: each is run with a leak."""


def imported(stem):
    folders = (HAY, POSPISCHIL, NEURON_MODS)
    folder = next((f for f in folders if (f / f"{stem}.mod").is_file()), MODS)
    return load_mod(folder / f"{stem}.mod")


def test_every_channel_file_matches_neuron(tmp_path_factory):
    """Each file, compiled by nrnivmodl for NEURON and imported by dendrax, in a current
    step and a voltage clamp: voltages within 1e-6 mV, currents within 1e-6 relative
    (measured: 5e-11 mV at most)."""
    pytest.importorskip("neuron", reason="the parity tests run NEURON")
    from neuron_mechanisms import channel_cases, load_test_mechanisms, relative_error, run_both

    load_test_mechanisms(tmp_path_factory)
    pospischil_calcium = imported("cadecay_destexhe")
    calcium = {"Ca_": imported("CaDynamics_E2")}
    calcium |= {"IL_": pospischil_calcium, "IT_": pospischil_calcium}
    cases, labels = [], []
    for stem in CHANNELS:
        mechanism = imported(stem)()
        current = (mechanism.writes + tuple(_nonspecific(mechanism)))[0]
        for protocol, case in channel_cases(mechanism, current, {}, 0.2).items():
            if (POSPISCHIL / f"{stem}.mod").is_file():
                # the file's current is not RANGE: NEURON's side records the ion's total
                records = [("v", "v"), (f"{mechanism.name}.{current}", current)]
                case = {**case, "records": records}
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


NEURON_DENSITY = {
    # file: (mechanism, parameters, step nA, records: (dendrax name, NEURON name))
    "hh": ("hh", {}, 0.2, [("ina", "ina"), ("ik", "ik"), ("hh.il", "il_hh")]),
    "passive": ("pas", {"g": 2e-4, "e": -65.0}, 0.2, [("pas.i", "i_pas")]),
}


@pytest.mark.parametrize("backend", ["native", "jax"])
def test_neurons_own_density_files_match_its_builtins(backend):
    """NEURON's hh.mod and passive.mod (tests/mod/neuron: the files NEURON 9.0.2 builds its
    hh and pas from), imported, against those built-in mechanisms in a current step and
    under the clamp, at 6.3 °C (the squid axon's temperature; at 34 °C hh does not
    fire): voltages within 1e-6 mV, currents within 1e-6 relative
    (measured: 4e-11 mV in the step, hh firing, 5e-8 mV under the clamp, 1e-9 relative). NEURON's hh
    runs without its rate table (usetable_hh = 0, as tests/neuron_reference.py runs it):
    with it NEURON interpolates the rates linearly in 1 mV steps (m at rest 9e-5 off),
    where dendrax computes them exactly."""
    pytest.importorskip("neuron", reason="the parity tests run NEURON")
    from neuron_mechanisms import relative_error, run_both

    cases = []
    for stem, (name, values, stimulus, records) in NEURON_DENSITY.items():
        base = {"inserts": [(imported(stem)(), name, values)], "records": [("v", "v"), *records]}
        cases += [{**base, "stimulus": stimulus}, {**base, "clamp": True}]
    results = run_both(cases, 40.0, celsius=6.3, backend=backend)
    for index, (ours, theirs) in enumerate(results):
        label = f"{list(NEURON_DENSITY)[index // 2]} ({('step', 'clamp')[index % 2]})"
        if index == 0:
            assert np.max(theirs[0]) > 0.0, "hh should fire"
        if index % 2 == 0:
            assert np.ptp(theirs[0]) > 5.0, label
        assert np.max(np.abs(ours[0] - theirs[0])) < 1e-6, label
        for row in range(1, len(ours)):
            assert relative_error(ours[row], theirs[row]) < 1e-6, label


def hay_epsp(backend):
    """One compartment with a leak and the epsp point process of Hay et al. (2011), its
    current (a difference of exponentials in t, from a file-level LOCAL array) from 5 ms."""
    cell = dx.Cell.from_parents([-1], ncomp=1, length=20.0, radius=10.0)
    cell.insert(dx.channels.Leak(gLeak=1e-4, eLeak=-70.0))
    cell.branch(0).comp(0).insert(imported("epsp")(onset=5.0, imax=0.05, tau0=0.5, tau1=5.0))
    cell.record("v").record("epsp.i")
    return dx.build(cell, dt=0.025, v_init=-70.0, celsius=34.0, backend=backend)


def test_hay_epsp_matches_neuron(tmp_path_factory):
    """epsp.mod as distributed with Hay et al. (2011), against NEURON compiling it: within
    1e-9 mV and 1e-9 relative in its current, natively and in pure JAX."""
    pytest.importorskip("neuron", reason="the parity tests run NEURON")
    from neuron import h
    from neuron_mechanisms import load_test_mechanisms, relative_error

    load_test_mechanisms(tmp_path_factory)
    section = h.Section()
    section.L, section.diam, section.nseg = 20.0, 20.0, 1
    section.insert("pas")
    section(0.5).pas.g, section(0.5).pas.e = 1e-4, -70.0
    epsp = h.epsp(section(0.5))
    epsp.onset, epsp.imax, epsp.tau0, epsp.tau1 = 5.0, 0.05, 0.5, 5.0
    records = [h.Vector().record(section(0.5)._ref_v), h.Vector().record(epsp._ref_i)]
    h.dt, h.secondorder, h.celsius = 0.025, 0, 34.0
    h.finitialize(-70.0)
    for _ in range(round(30.0 / 0.025)):
        h.fadvance()
    theirs = np.array([np.array(r) for r in records])
    assert np.ptp(theirs[0]) > 5.0
    for backend in ("native", "jax"):
        sim = hay_epsp(backend)
        ours = np.asarray(sim.run(t_max=30.0))
        assert np.max(np.abs(ours[0] - theirs[0])) < 1e-9, backend
        assert relative_error(ours[1], theirs[1]) < 1e-9, backend


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
        (tmp_path / f"{stem}.mod").write_text((HAY / f"{stem}.mod").read_text())
    assert sorted(load_mods(tmp_path)) == ["CaDynamics_E2", "NaTa_t"]
    assert {"GradedSyn", "HalfGap", "PospischilCaT"} <= set(load_mods(MODS))
    assert sorted(load_mods(POSPISCHIL)) == ["cad", "hh2", "ical", "im", "it"]
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


ANNOTATED = """
DEFINE NSTEP 3
NEURON {
    SUFFIX annotated REPRESENTS NCIT:C17145
    USEION na READ ena WRITE ina REPRESENTS CHEBI:29101
    RANGE g
}
PARAMETER { g[NSTEP] = 0.001 (S/cm2) }
ASSIGNED { v (mV) ena (mV) ina (mA/cm2) }
LOCAL w[2], total
BREAKPOINT {
    w[0] = g[0]
    w[1] = g[NSTEP - 1]
    total = w[0] + w[1]
    ina = total*(v - ena)
}
"""


SOLVED_PROCEDURE = """
NEURON { SUFFIX relax NONSPECIFIC_CURRENT i }
PARAMETER { g = 0.001 (S/cm2) tau = 2 (ms) }
ASSIGNED { v (mV) i (mA/cm2) k }
STATE { x }
INITIAL { x = 1 k = 0.5 }
BREAKPOINT { SOLVE step i = g*x*(v + 70) }
PROCEDURE step() {
    x = 2*k*x*exp(-dt/tau)
    VERBATIM
    return 0;
    ENDVERBATIM
}
"""


def test_a_solved_procedure_sets_the_states_once_a_step():
    """SOLVE of a PROCEDURE without METHOD (as Destexhe's HH_traub.mod advances its gates):
    NEURON calls it once a step in the state update, its assignments to the STATEs are the
    step; an ASSIGNED value set in INITIAL is kept for it; a VERBATIM `return 0;` ending
    the PROCEDURE is read (NEURON's generated C returns 0 there anyway)."""
    cls = load_mod(SOLVED_PROCEDURE)
    assert set(cls.states) == {"x", "k"}
    cell = dx.Cell.from_parents([-1], ncomp=1, length=10.0, radius=5.0)
    cell.insert(cls()).record("relax.x")
    x = np.asarray(dx.build(cell, dt=0.025, v_init=-70.0).run(t_max=1.0))[0]
    np.testing.assert_allclose(x[1:] / x[:-1], np.exp(-0.025 / 2.0), rtol=1e-12)


def test_annotations_defines_and_file_level_local_arrays():
    """REPRESENTS (ontology annotations, NEURON 9's own hh.mod has them) is skipped; DEFINE
    names a whole number (an array's size, a value in an index); a file-level LOCAL may be
    an array (Hay et al.'s epsp.mod), each element a variable of its own."""
    cls = load_mod(ANNOTATED)
    assert cls.reads == ("ena",) and cls.writes == ("ina",)
    assert cls().defaults == {f"g[{k}]": 0.001 for k in range(3)}
    assert not cls.states
    cell = dx.Cell.from_parents([-1], ncomp=1, length=10.0, radius=5.0)
    cell.insert(cls()).record("annotated.ina")
    cell.set("ena", 50.0)
    ina = np.asarray(dx.build(cell, v_init=-65.0).run(t_max=0.1))[0]
    np.testing.assert_allclose(ina[0], 0.002 * (-65.0 - 50.0))


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
        (GOOD.replace("i = g", "e = 1\ni = g"), "line 5: BREAKPOINT assigns the PARAMETER e"),
        (
            GOOD.replace("i = g*(v - e)", "k = v\nSOLVE s METHOD cnexp\ni = g*(v - e)*x").replace(
                "i (mA/cm2) }", "i (mA/cm2) k }\nSTATE { x }"
            )
            + "DERIVATIVE s { x' = k - x }",
            "line 7: SOLVE s: it reads k, which BREAKPOINT sets from v outside the SOLVE",
        ),
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
            "no DERIVATIVE, KINETIC, LINEAR or PROCEDURE s",
        ),
        (GOOD.replace("i = g", "SOLVE s METHOD runge i = g") + "DERIVATIVE s { }", "runge is"),
        (
            GOOD.replace("SUFFIX leaky", "SUFFIX leaky USEION hcn READ ehcn"),
            "USEION hcn needs a whole",
        ),
        (GOOD.replace("e = -70", "e = -70 $"), "unexpected character"),
        (
            GOOD.replace("i = g", "VERBATIM\n#include <math.h>\nENDVERBATIM\ni = g"),
            "line 5: VERBATIM C code is not supported",
        ),
        ("DEFINE N 2.5\n" + GOOD, "line 1: DEFINE N: the value must be a whole number"),
        (
            GOOD + "FUNCTION f() {\nVERBATIM\nreturn 0;\nENDVERBATIM\n}",
            "line 7: VERBATIM C code is not supported .* the last statement of a PROCEDURE",
        ),
        (
            GOOD + "PROCEDURE p() {\nVERBATIM\nreturn 0;\nENDVERBATIM\ng = 1\n}",
            "line 7: VERBATIM C code is not supported",
        ),
        (
            GOOD.replace("i = g", "SOLVE p METHOD cnexp\ni = g") + "PROCEDURE p() { }",
            "line 5: SOLVE p: METHOD cnexp of a PROCEDURE is not supported",
        ),
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


TRAINS = [[2.0, 2.6, 9.3, 15.1], [4.2, 4.9, 5.3, 20.7], [1.1, 12.345]]
"""Spike trains (ms) of three connections; the second renews PulseSyn's pulse (0.8 ms)."""
DELAYS = [0.5, 1.3, 2.05]
SYNAPSES = {
    "depressing_syn": ("DepressingSyn", {}, [0.004, 0.002, 0.006]),
    "pulse_syn": ("PulseSyn", {"dur": 0.8}, [0.4, 0.2, 0.6]),
    "buffer_syn": ("BufferSyn", {}, [4.0, 2.0, 6.0]),
    "long_buffer_syn": ("LongBufferSyn", {}, [4.0, 2.0, 6.0]),
    "expsyn": ("ExpSyn", {"tau": 2.0}, [0.002, 0.001, 0.003]),
    "exp2syn": ("Exp2Syn", {"tau1": 0.5, "tau2": 4.0}, [0.002, 0.001, 0.003]),
}
"""Per file: its mechanism, parameters and the weights of the three connections."""


def synapse_cell(stem, backend="auto", events="step", t_max=30.0):
    """One compartment with a leak and three connections from spike trains to sites of
    the file's synapse, each with its own weight and delay."""
    _, params, weights = SYNAPSES[stem]
    cell = dx.Cell.from_parents([-1], ncomp=1, length=20.0, radius=10.0)
    cell.insert(dx.channels.Leak(gLeak=1e-4, eLeak=-70.0))
    synapse = imported(stem)(**params)
    soma = cell.branch(0).loc(0.5)
    dx.connect(dx.spike_source(TRAINS), soma, synapse, weight=weights, delay=DELAYS)
    cell.record("v")
    return dx.build(cell, dt=0.025, v_init=-70.0, backend=backend, events=events), t_max


def neuron_synapse_voltage(stem, together: bool) -> np.ndarray:
    """The same in NEURON: the trains' events sent by NetCon.event at spike + delay (as a
    VecStim's would arrive), to one point process for all connections (`together`) or one
    each."""
    from neuron import h

    name, params, weights = SYNAPSES[stem]
    section = h.Section()
    section.L, section.diam, section.nseg = 20.0, 20.0, 1
    section.insert("pas")
    section(0.5).pas.g, section(0.5).pas.e = 1e-4, -70.0
    synapses, connections = [], []
    for weight in weights:
        if not synapses or not together:
            synapses.append(getattr(h, name)(section(0.5)))
            for key, value in params.items():
                setattr(synapses[-1], key, value)
        connections.append(h.NetCon(None, synapses[-1]))
        connections[-1].weight[0] = weight
    v = h.Vector().record(section(0.5)._ref_v)
    h.dt, h.secondorder, h.celsius = 0.025, 0, 6.3
    h.finitialize(-70.0)
    for connection, train, delay in zip(connections, TRAINS, DELAYS, strict=True):
        for spike in train:
            connection.event(spike + delay)
    for _ in range(round(30.0 / 0.025)):
        h.fadvance()
    return np.array(v)


@pytest.mark.parametrize(
    ("stem", "together"),
    [
        ("depressing_syn", True),
        ("pulse_syn", False),
        ("buffer_syn", False),
        ("expsyn", True),
        ("exp2syn", False),
    ],
)
def test_synapses_with_connection_state_and_own_events_match_neuron(
    tmp_path_factory, stem, together
):
    """NET_RECEIVE arguments per connection with an INITIAL block, t at the event
    (depressing_syn: one NEURON point process takes the three NetCons, as its conductance
    sums them), and net_send with flags (pulse_syn: one point process per NetCon, its
    transmitter being its own): natively and in pure JAX within 1e-8 mV of NEURON
    (measured: 8e-13 mV), twins within 1e-10 mV. NEURON's own expsyn.mod and exp2syn.mod
    (tests/mod/neuron), imported, against its built-in ExpSyn and Exp2Syn alike."""
    pytest.importorskip("neuron", reason="the parity tests run NEURON")
    from neuron_mechanisms import load_test_mechanisms

    load_test_mechanisms(tmp_path_factory)
    theirs = neuron_synapse_voltage(stem, together)
    runs = {}
    for backend in ("native", "jax"):
        sim, t_max = synapse_cell(stem, backend)
        assert sim.spec.backend == backend
        runs[backend] = np.asarray(sim.run(t_max=t_max))[0]
        np.testing.assert_allclose(runs[backend], theirs, atol=1e-8, rtol=0)
    assert np.ptp(theirs) > 5.0
    np.testing.assert_allclose(runs["native"], runs["jax"], atol=1e-10, rtol=0)


def test_large_buffers_are_states_held_whole_and_match_neuron(tmp_path_factory, caplog):
    """Ring buffers of 500 elements (long_buffer_syn.mod) are one state each, of shape
    (sites, 500), filled in INITIAL by one loop of 500 iterations and written and read
    at computed indices; the native kernel does not hold them (the model runs in pure
    JAX, saying why), within 1e-8 mV of NEURON (measured: 6e-13 mV)."""
    pytest.importorskip("neuron", reason="the parity tests run NEURON")
    from neuron_mechanisms import load_test_mechanisms

    cls = imported("long_buffer_syn")
    assert cls.states["times"].shape == (500,) and cls.states["amounts"].shape == (500,)
    assert not any("[" in name for name in cls.states)
    load_test_mechanisms(tmp_path_factory)
    theirs = neuron_synapse_voltage("long_buffer_syn", together=False)
    with caplog.at_level("WARNING", logger="dendrax"):
        sim, t_max = synapse_cell("long_buffer_syn", backend="native")
    assert sim.spec.backend == "jax"
    assert "LongBufferSyn.amounts is an array of shape (500,) at each site" in caplog.text
    ours = np.asarray(sim.run(t_max=t_max))[0]
    assert np.ptp(theirs) > 5.0
    np.testing.assert_allclose(ours, theirs, atol=1e-8, rtol=0)


def test_gradients_through_large_buffers_match_finite_differences():
    """Through buffers held whole and the INITIAL loop run as one loop (pure JAX;
    measured: 4e-10 relative)."""
    sim, t_max = synapse_cell("long_buffer_syn")

    def loss(scale):
        values = {**sim.params["LongBufferSyn"]}
        values["tau"] = values["tau"] * scale
        return jnp.mean(sim.run({**sim.params, "LongBufferSyn": values}, t_max=t_max)[0])

    analytic = float(jax.grad(loss)(1.0))
    eps = 1e-6
    numeric = float(loss(1.0 + eps) - loss(1.0 - eps)) / (2 * eps)
    assert abs(analytic) > 1e-3
    assert abs(analytic - numeric) / abs(numeric) < 1e-6


def test_connection_states_and_own_events_are_per_site():
    """Each connection keeps its arguments (a counter of its own events) and its pending
    event: recorded per site, the count is the train's length and none is left due."""
    cls = imported("pulse_syn")
    assert cls.self_events == "net_send_time" and {"count", "net_send_flag"} <= set(cls.states)
    cell = dx.Cell.from_parents([-1], ncomp=1, length=20.0, radius=10.0)
    dx.connect(dx.spike_source(TRAINS), cell.branch(0).loc(0.5), cls(dur=0.8), delay=DELAYS)
    cell.record("PulseSyn.count").record("PulseSyn.net_send_time").record("PulseSyn.tr")
    count, due, transmitter = np.asarray(dx.build(cell, dt=0.025).run(t_max=30.0)).reshape(3, 3, -1)
    np.testing.assert_array_equal(count[:, -1], [len(train) for train in TRAINS])
    assert np.all(due[:, -1] > 1e29) and np.all(transmitter[:, -1] == 0.0)


@pytest.mark.parametrize(
    ("stem", "mechanism", "parameter"),
    [
        ("depressing_syn", "DepressingSyn", "use"),
        ("pulse_syn", "PulseSyn", "alpha"),
        ("buffer_syn", "BufferSyn", "tau"),
    ],
)
def test_gradients_through_connection_state_match_finite_differences(stem, mechanism, parameter):
    """Through per-connection state, own events and spike buffers read at computed indices
    in a loop, natively (measured: 1e-9 relative)."""
    sim, t_max = synapse_cell(stem)
    assert sim.spec.backend == "native"

    def loss(scale):
        values = {**sim.params[mechanism]}
        values[parameter] = values[parameter] * scale
        return jnp.mean(sim.run({**sim.params, mechanism: values}, t_max=t_max)[0])

    analytic = float(jax.grad(loss)(1.0))
    eps = 1e-6
    numeric = float(loss(1.0 + eps) - loss(1.0 - eps)) / (2 * eps)
    assert abs(analytic) > 1e-3
    assert abs(analytic - numeric) / abs(numeric) < 1e-6


def test_event_times_give_gradients_through_spike_times_natively_as_in_jax():
    """With events="interpolated", NET_RECEIVE's t is the interpolated spike time plus
    the delay: the gradient through it (a presynaptic conductance moves the spike) is the
    same on the native adjoint as in pure JAX, and matches central differences."""
    grads = {}
    for backend in ("native", "jax"):
        cells = [dx.Cell.from_parents([-1], ncomp=1, length=20.0, radius=10.0) for _ in range(2)]
        for cell in cells:
            cell.insert(dx.channels.HH())
        dx.connect(
            cells[0].branch(0).loc(0.5),
            cells[1].branch(0).loc(0.5),
            imported("depressing_syn")(),
            weight=0.01,
            delay=1.0,
            threshold=0.0,
        )
        drive = dx.step_current(1.0, 12.0, 0.3, 0.025, 25.0)
        cells[0].branch(0).loc(0.5).stimulate(drive)
        cells[1].record("v")
        sim = dx.build(dx.Network(cells), dt=0.025, events="interpolated", backend=backend)
        assert sim.spec.backend == backend
        where = sim.sites("HH")["cell"] == 0

        def loss(gna, sim=sim, where=where):
            return jnp.sum(sim.run(sim.set_param(sim.params, "HH.gNa", gna, where=where))[0])

        grads[backend] = float(jax.grad(loss)(0.12))
    eps = 1e-6
    numeric = float(loss(0.12 + eps) - loss(0.12 - eps)) / (2 * eps)
    assert abs(grads["jax"]) > 1.0
    assert abs(grads["native"] - grads["jax"]) / abs(grads["jax"]) < 1e-8
    assert abs(grads["jax"] - numeric) / abs(numeric) < 1e-4


LOGGER = """
NEURON { POINT_PROCESS logger NONSPECIFIC_CURRENT i }
ASSIGNED { v (mV) i (nA) times[50] count }
STATE { g }
INITIAL { g = 0 count = 0 }
BREAKPOINT { i = g*v }
NET_RECEIVE (w) {
    LOCAL k
    k = fmod(count, 50)
    times[k] = t
    count = count + 1
    g = g + w
}
"""


def test_arrays_that_nothing_reads_are_not_kept():
    """A log of spike times written at a computed index (from fmod) and never read is no state;
    reading one element keeps that element alone, reading at a computed index all."""
    assert set(load_mod(LOGGER).states) == {"g", "count"}
    one = LOGGER.replace("i = g*v", "i = g*v + 0*times[3]")
    assert set(load_mod(one).states) == {"g", "count", "times[3]"}
    every = LOGGER.replace("i = g*v", "i = g*v + 0*times[count]")
    assert len(load_mod(every).states) == 52


REJECTED = {
    "call_in_index": r"call_in_index\.mod, line 7: the index of times\[\.\.\.\] contains a "
    r"function call, fmod\(\.\.\.\), which NEURON's nrnivmodl rejects too",
    "call_in_loop_bound": r"call_in_loop_bound\.mod, line 8: FROM k's TO bound contains a "
    r"function call, fmin\(\.\.\.\)",
    "constant_ion": r"constant_ion\.mod, line 4: cao is a variable of USEION ca and cannot be",
    "function_and_range": r"function_and_range\.mod, line 3: alfa is both a variable \(RANGE\)",
}
"""Files of tests/mod/rejected that NEURON's nrnivmodl rejects, and dendrax's error."""


@pytest.mark.parametrize("stem", sorted(REJECTED))
def test_files_neuron_rejects_are_rejected_with_file_line_and_reason(stem, tmp_path):
    path = MODS / "rejected" / f"{stem}.mod"
    with pytest.raises(ModError, match=REJECTED[stem]):
        load_mod(path)
    pytest.importorskip("neuron", reason="nrnivmodl comes with NEURON")
    from neuron_mechanisms import nrnivmodl_rejects

    assert nrnivmodl_rejects(path, tmp_path)


INDEXED = """
NEURON { SUFFIX indexed NONSPECIFIC_CURRENT i }
ASSIGNED { v (mV) i (mA/cm2) x[10] y[10] n }
FUNCTION f(a) { f = a }
BREAKPOINT {
    LOCAL k
    FROM k = (n - 3)/2 TO (n + 1)/2 BY 2 { x[k] = 1 }
    x[n + 1] = 1
    i = x[2*n - 1] + x[(n)] + x[n/2] + f(x[n + 1]) + x[INT(t/dt)]
}
"""
"""What NEURON's nrnivmodl 9 compiles (checked): arithmetic on names in indices and
bounds, INT(...), an array's element as a call's argument; the parts it rejects, replacing
`x[n/2]` (each checked live: "Illegal integer expression"; `x[1.0]` too)."""


@pytest.mark.parametrize(
    "index, outside",
    [
        ("nint(t/dt)", r"a function call, nint"),
        ("2*f(n)", r"a function call, f"),
        ("y[1]", r"an array's element, y"),
        ("-n + 3", r"a unary -"),
        ("n^2", r"the operator \^"),
        ("1.0", r"the real number 1"),
        ("n + 2e0", r"the real number 2"),
    ],
)
def test_an_index_is_an_integer_expression_as_in_neuron(index, outside):
    load_mod(INDEXED)
    with pytest.raises(ModError, match=rf"line 9: the index of x\[\.\.\.\] contains {outside}"):
        load_mod(INDEXED.replace("x[n/2]", f"x[{index}]"))


LOOPS = """
NEURON { SUFFIX loops NONSPECIFIC_CURRENT i }
ASSIGNED { v (mV) i (mA/cm2) n }
FUNCTION imax(a, b) { if (a > b) { imax = a } else { imax = b } }
BREAKPOINT {
    LOCAL first, second, last, k
    first = imax(n - 100, 0)
    second = fmax(n - 5, 2)
    last = fmin(n, 7)
    FROM k = first TO n { }
    FROM k = second TO n + 1 { }
    FROM k = n - 3 TO last BY 2 { }
    i = 0
}
"""


def test_loops_with_bounds_that_vary_run_their_most_iterations():
    """The bound on the iterations follows from the bounds by algebra, plus one for their
    truncation to integers."""
    from dendrax.nmodl.bounds import loop_trips
    from dendrax.nmodl.parser import parse

    assert sorted(loop_trips(parse(LOOPS, "<text>")).values()) == [3, 8, 102]
    with pytest.raises(ModError, match=r"line 12: FROM k: bounds that vary .* has none"):
        load_mod(LOOPS.replace("last = fmin(n, 7)", "last = fmax(n, 7)"))


def test_an_array_too_large_for_native_code_runs_in_pure_jax():
    """Arrays read at computed indices become arrays of the generated code up to 256
    elements; a larger one is held whole, one state of shape (sites, size), which the
    native kernel does not hold: the model falls back to pure JAX."""
    text = LOGGER.replace("times[50]", "times[300]").replace("count, 50)", "count, 300)")
    cls = load_mod(text.replace("i = g*v", "i = g*v + 0*times[count]"))
    assert set(cls.states) == {"g", "count", "times"} and cls.states["times"].shape == (300,)
    cell = dx.Cell.from_parents([-1], ncomp=1, length=20.0, radius=10.0)
    dx.connect(dx.spike_source([[1.0]]), cell.branch(0).loc(0.5), cls(), weight=0.001)
    cell.record("v")
    assert dx.build(cell, backend="auto").spec.backend == "jax"


COUNTS = """
NEURON { POINT_PROCESS counts NONSPECIFIC_CURRENT i }
ASSIGNED { v (mV) i (nA) }
STATE { hits[300] }
INITIAL { FROM k = 0 TO 299 { hits[k] = k } }
BREAKPOINT { i = 1e-3*(hits[0] + hits[299]) }
NET_RECEIVE (w) { hits[0] = hits[0] + w  hits[299] = hits[299] + 2*w }
"""


def test_a_large_state_array_is_one_state():
    """A STATE array of more than 256 elements is one state of shape (sites, size), set in
    INITIAL by one loop of 300 iterations and at indices known when traced; its
    derivative is refused with the line."""
    cls = load_mod(COUNTS)
    assert set(cls.states) == {"hits"} and cls.states["hits"].shape == (300,)
    cell = dx.Cell.from_parents([-1], ncomp=1, length=20.0, radius=10.0)
    dx.connect(dx.spike_source([[1.0], [2.0]]), cell.branch(0).loc(0.5), cls(), weight=[1, 3])
    cell.record("counts.i")
    total = 1e3 * np.asarray(dx.build(cell, dt=0.025).run(t_max=4.0))  # hits[0] + hits[299]
    np.testing.assert_allclose(total[:, [0, -1]], [[299, 302], [299, 308]], rtol=1e-12)
    derivative = COUNTS.replace("BREAKPOINT {", "DERIVATIVE d { hits' = 1 }\nBREAKPOINT {")
    with pytest.raises(ModError, match=r"line 6: hits': an array of more than 256 elements"):
        load_mod(derivative)


ORDER = """
NEURON { SUFFIX order NONSPECIFIC_CURRENT i }
ASSIGNED { v (mV) i (mA/cm2) a b c d }
BREAKPOINT {
    if (v > 0) { a = 1 b = 2 c = 3 d = 4 } else { d = 5 c = 6 }
    i = (a + 2*b + 3*c + 4*d)*1e-6
}
"""

TRACED = f"""
import jax
from dendrax.nmodl import load_mod
mechanism = load_mod({ORDER!r})()
print(jax.make_jaxpr(lambda v: mechanism.current({{}}, v, {{}}, 6.3, 0.0))(0.0))
"""


def test_the_traced_code_is_the_same_in_every_process():
    """The branches of an `if` are merged in a fixed order (not a set's, which varies with
    the process's hash seed), so that the generated native code, and the key of its
    compiled library in the cache, are the same in every process."""
    traced = [
        subprocess.run(
            [sys.executable, "-c", TRACED],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2", "3")
    ]
    assert "select_n" in traced[0] and traced[1] == traced[0] and traced[2] == traced[0]


def test_source_shows_the_jax_code_of_each_function():
    """`source()` lists what a file became: the JAX code of each function on one site,
    its inputs and results named after the file's variables."""
    synapse = imported("depressing_syn").source()
    for function in ("steady_state", "current", "update", "receive"):
        assert f"\ndef {function}(" in synapse
    assert "def receive(" in synapse and "weight" in synapse.split("def receive(")[1]
    assert "return dict(i=" in synapse.split("def current(")[1]
    channel = imported("kinetic_k").source()
    assert "def receive(" not in channel
    assert re.search(r"def update\([^)]*\bgbar\b", channel)
    assert re.search(r"return dict\(C1=t\d+, C2=t\d+, I=t\d+, O=t\d+\)", channel)


BRANCHED_RATE = """
NEURON { SUFFIX branchy NONSPECIFIC_CURRENT i }
PARAMETER { g = 0 (S/cm2) }
ASSIGNED { v (mV) i (mA/cm2) }
STATE { m }
INITIAL { m = 0.5 }
BREAKPOINT { SOLVE states METHOD cnexp  i = g*m*(v + 70) }
DERIVATIVE states { if (v > -50) { m' = (1 - m)/2 } else { m' = -m/(2 + 3) } }
"""


@pytest.mark.parametrize("backend", ["jax", "native"])
@pytest.mark.parametrize("v_init", [-40.0, -65.0])
def test_cnexp_of_a_rate_chosen_by_if_is_exact(v_init, backend):
    """A derivative written in both arms of an `if`, each (A - x)/B: the arm the voltage
    chooses, solved exactly (v stays at v_init: no current flows)."""
    cell = dx.Cell.from_parents([-1], ncomp=1, length=10.0, radius=5.0)
    cell.insert(load_mod(BRANCHED_RATE)()).record("branchy.m")
    sim = dx.build(cell, dt=0.025, v_init=v_init, backend=backend)
    if sim.spec.backend != backend:
        pytest.skip(f"the {backend} backend is not available here")
    t = 0.025 * np.arange(41)
    steady, tau = (1.0, 2.0) if v_init > -50 else (0.0, 5.0)
    expected = steady + (0.5 - steady) * np.exp(-t / tau)
    np.testing.assert_allclose(np.asarray(sim.run(t_max=1.0))[0], expected, rtol=1e-12)
