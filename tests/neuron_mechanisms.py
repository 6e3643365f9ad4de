"""Compile the NMODL files of tests/mod once per test process and load them into NEURON.

The .mod files are written for these tests from the published equations of each channel.
Under pytest-xdist every worker is its own process and compiles its own copy in its own
temporary folder.
"""

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
_loaded: list[Path] = []


def load_test_mechanisms(tmp_path_factory) -> Path:
    """Compile tests/mod/*.mod with nrnivmodl (once per process) and load the library."""
    if _loaded:
        return _loaded[0]
    folder = tmp_path_factory.mktemp("nrnmech")
    for mod in sorted(MOD_FOLDER.glob("*.mod")):
        shutil.copy(mod, folder)
    nrnivmodl = Path(sys.executable).parent / "nrnivmodl"
    result = subprocess.run([str(nrnivmodl), "."], cwd=folder, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"nrnivmodl failed in {folder}:\n{result.stdout}\n{result.stderr}")
    library = next(folder.glob("*/libnrnmech.so"))
    h.nrn_load_dll(str(library))
    _loaded.append(library)
    return library


def clamp_command(t_max: float) -> np.ndarray:
    """The protocol's command at the middle of each step (NEURON's SEClamp reads it there)."""
    middle = (np.arange(round(t_max / DT)) + 0.5) * DT
    edges = np.cumsum([d for d, _ in CLAMP_STEPS])
    values = np.array([v for _, v in CLAMP_STEPS])
    return values[np.minimum(np.searchsorted(edges, middle, side="right"), len(values) - 1)]


def run_both(inserts, records, t_max, stimulus=None, clamp=False, v_init=-70.0, celsius=CELSIUS):
    """Simulate one compartment in dendrax and NEURON.

    inserts: (dendrax mechanism, NEURON suffix, {parameter: value}); records: pairs of
    (dendrax name, NEURON range variable name). Returns (ours, theirs), one row per record.
    """
    cell = dx.Cell.from_parents(**GEOMETRY)
    neuron = NeuronModel(**GEOMETRY)
    for mechanism, suffix, values in inserts:
        cell.insert(mechanism)
        for name, value in values.items():
            cell.set(f"{mechanism.name}.{name}", value)
        neuron.insert(suffix, **values)
    if stimulus is not None:
        cell.branch(0).comp(0).stimulate(dx.step_current(5.0, 20.0, stimulus, DT, t_max))
        neuron.iclamp(0, 0, 5.0, 20.0, stimulus)
    if clamp:
        cell.branch(0).comp(0).clamp("v", clamp_command(t_max))
        seclamp = h.SEClamp(neuron.segment(0, 0))
        seclamp.rs = 1e-9
        (seclamp.dur1, seclamp.amp1), (seclamp.dur2, seclamp.amp2) = CLAMP_STEPS[:2]
        seclamp.dur3, seclamp.amp3 = 1e3, CLAMP_STEPS[2][1]
        neuron.point_processes.append(seclamp)
    for ours_name, their_name in records:
        cell.branch(0).comp(0).record(ours_name)
        neuron.record(0, 0, their_name)
    sim = dx.build(cell, dt=DT, v_init=v_init, celsius=celsius)
    ours = np.asarray(sim.run(t_max=t_max))
    theirs = neuron.run(t_max, DT, v_init=v_init, celsius=celsius)
    return ours, theirs


def relative_error(ours, theirs) -> float:
    return float(np.max(np.abs(ours - theirs)) / np.max(np.abs(theirs)))


def channel_errors(mechanism, current: str, values: dict, protocol: str, **options):
    """One channel with a passive leak in dendrax and NEURON (suffix = class name).

    protocol: "current step" (options: stimulus nA) or "voltage clamp". Returns the max
    |ΔV| (mV), the current's error relative to its peak, NEURON's peak |current| (mA/cm²)
    and NEURON's voltage range (mV).
    """
    name = mechanism.name
    inserts = [(dx.channels.Leak(), "pas", {}), (mechanism, name, values)]
    records = [("v", "v"), (f"{name}.{current}", f"{current}_{name}")]
    if protocol == "current step":
        ours, theirs = run_both(inserts, records, 40.0, **options)
    else:
        ours, theirs = run_both(inserts, records, 35.0, clamp=True, **options)
    dv = float(np.max(np.abs(ours[0] - theirs[0])))
    return dv, relative_error(ours[1], theirs[1]), np.max(np.abs(theirs[1])), np.ptp(theirs[0])
