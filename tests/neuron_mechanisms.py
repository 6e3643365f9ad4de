"""Compile the NMODL files of tests/mod once per test process and load them into NEURON.

tests/mod/hay2011 and tests/mod/pospischil2008 hold the published files of Hay et al.
(2011) and Pospischil et al. (2008) as distributed with the models; the files directly in
tests/mod are written for these tests (constructs, and the Pospischil et al. 2008 currents
one per file from the paper's equations). NEURON's own hh, pas, ExpSyn and Exp2Syn
(tests/mod/neuron) are built into NEURON and not compiled again.
Under pytest-xdist every worker is its own process and compiles its own copy in its own
temporary folder.
"""

import itertools
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
from neuron import h
from neuron_reference import NeuronModel

import dendrax as dx

DT = 0.025
CELSIUS = 34.0
GEOMETRY = {"parents": [-1], "ncomp": [1], "length": [20.0], "radius": [10.0]}
VOLTAGE_TOLERANCE = 1e-6  # mV
CURRENT_TOLERANCE = 1e-6  # relative to the peak current
CLAMP_STEPS = ((5.0, -70.0), (15.0, -10.0), (15.0, -100.0))
"""Voltage-clamp protocol: (duration ms, command mV), from v_init = -70 mV."""

MOD_FOLDER = Path(__file__).parent / "mod"
HAY_FOLDER = MOD_FOLDER / "hay2011"
"""Hay et al. (2011), ModelDB 139653, the files as distributed (README.md there)."""
POSPISCHIL_FOLDER = MOD_FOLDER / "pospischil2008"
"""Pospischil et al. (2008), ModelDB 123623, the files as distributed (README.md there)."""
NEURON_FOLDER = MOD_FOLDER / "neuron"
"""NEURON's own hh.mod, passive.mod, expsyn.mod and exp2syn.mod (README.md there)."""
_loaded: list[Path] = []


def load_test_mechanisms(tmp_path_factory) -> Path:
    """Compile tests/mod/*.mod, tests/mod/hay2011/*.mod and tests/mod/pospischil2008/*.mod
    with nrnivmodl (once per process) and load the library."""
    if _loaded:
        return _loaded[0]
    folder = tmp_path_factory.mktemp("nrnmech")
    folders = (MOD_FOLDER, HAY_FOLDER, POSPISCHIL_FOLDER)
    for mod in sorted(path for f in folders for path in f.glob("*.mod")):
        shutil.copy(mod, folder)
    nrnivmodl = Path(sys.executable).parent / "nrnivmodl"
    result = subprocess.run([str(nrnivmodl), "."], cwd=folder, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"nrnivmodl failed in {folder}:\n{result.stdout}\n{result.stderr}")
    library = next(folder.glob("*/libnrnmech.so"))
    h.nrn_load_dll(str(library))
    # IM_cortex.mod interpolates exp in a TABLE (10000 intervals over -25..25); dendrax
    # computes what a TABLE would hold exactly, so NEURON runs it without (as hh, whose
    # usetable_hh = 0 tests/neuron_reference.py sets): with the table the
    # regular-spiking cell's spikes drift by 0.1 mV over 200 ms.
    h.usetable_im = 0
    _loaded.append(library)
    return library


def nrnivmodl_rejects(path: Path, folder: Path) -> bool:
    """Whether NEURON's nrnivmodl fails on the .mod file at `path` (compiled in `folder`)."""
    shutil.copy(path, folder)
    nrnivmodl = Path(sys.executable).parent / "nrnivmodl"
    return subprocess.run([str(nrnivmodl), "."], cwd=folder, capture_output=True).returncode != 0


def clamp_command(t_max: float) -> np.ndarray:
    """The protocol's command at the middle of each step (NEURON's SEClamp reads it there)."""
    middle = (np.arange(round(t_max / DT)) + 0.5) * DT
    edges = np.cumsum([d for d, _ in CLAMP_STEPS])
    values = np.array([v for _, v in CLAMP_STEPS])
    return values[np.minimum(np.searchsorted(edges, middle, side="right"), len(values) - 1)]


def run_both(
    cases, t_max: float, v_init: float = -70.0, celsius: float = CELSIUS, backend: str = "auto"
):
    """Simulate independent one-compartment cells in dendrax and NEURON, one per case.

    Each case is a dict with "inserts": (dendrax mechanism, NEURON suffix, {parameter:
    value}), "records": (dendrax name, NEURON range variable) pairs, and either "stimulus"
    (nA, a step from 5 to 25 ms) or "clamp" (True: the CLAMP_STEPS protocol). All cases run
    as one simulation (one compilation) on `backend`. Returns per case (ours, theirs), a
    row per record.
    """
    n = len(cases)
    geometry = {key: value * n for key, value in GEOMETRY.items()}
    cell = dx.Cell.from_parents(**{**geometry, "parents": [-1] * n})
    neuron = NeuronModel(**{**geometry, "parents": [-1] * n})
    for i, case in enumerate(cases):
        here, section = cell.branch(i), neuron.sections[i]
        for mechanism, suffix, values in case["inserts"]:
            here.insert(mechanism)
            section.insert(suffix)
            for name, value in values.items():
                here.set(f"{mechanism.name}.{name}", value)
                setattr(section(0.5), f"{name}_{suffix}", value)
        if "stimulus" in case:
            here.stimulate(dx.step_current(5.0, 20.0, case["stimulus"], DT, t_max))
            neuron.iclamp(i, 0, 5.0, 20.0, case["stimulus"])
        if case.get("clamp"):
            here.clamp("v", clamp_command(t_max))
            seclamp = h.SEClamp(section(0.5))
            seclamp.rs = 1e-9
            (seclamp.dur1, seclamp.amp1), (seclamp.dur2, seclamp.amp2) = CLAMP_STEPS[:2]
            seclamp.dur3, seclamp.amp3 = 1e3, CLAMP_STEPS[2][1]
            neuron.point_processes.append(seclamp)
        for ours_name, their_name in case["records"]:
            here.record(ours_name)
            neuron.record(i, 0, their_name)
    sim = dx.build(cell, dt=DT, v_init=v_init, celsius=celsius, backend=backend)
    ours = np.asarray(sim.run(t_max=t_max))
    theirs = neuron.run(t_max, DT, v_init=v_init, celsius=celsius)
    rows = np.cumsum([0] + [len(case["records"]) for case in cases])
    return [(ours[a:b], theirs[a:b]) for a, b in itertools.pairwise(rows)]


def relative_error(ours, theirs) -> float:
    return float(np.max(np.abs(ours - theirs)) / np.max(np.abs(theirs)))


def channel_cases(mechanism, current: str, values: dict, stimulus: float) -> dict:
    """The two cases of one channel with a passive leak (NEURON suffix = class name):
    {"current step": case, "voltage clamp": case}, recording v and the channel's current."""
    name = mechanism.name
    base = {
        "inserts": [(dx.channels.Leak(), "pas", {}), (mechanism, name, values)],
        "records": [("v", "v"), (f"{name}.{current}", f"{current}_{name}")],
    }
    return {
        "current step": {**base, "stimulus": stimulus},
        "voltage clamp": {**base, "clamp": True},
    }


def assert_channel_matches(ours, theirs, protocol: str) -> None:
    """One channel's (v, current) rows against NEURON's: the channel carries current, a
    current step moves the voltage, and both agree within the parity tolerances."""
    assert np.max(np.abs(theirs[1])) > 1e-5, "the channel should carry current (mA/cm2)"
    if protocol == "current step":
        assert np.ptp(theirs[0]) > 5.0, "the step should move the voltage (mV)"
    assert np.max(np.abs(ours[0] - theirs[0])) < VOLTAGE_TOLERANCE
    assert relative_error(ours[1], theirs[1]) < CURRENT_TOLERANCE
