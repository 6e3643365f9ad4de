"""A public collection of .mod files through dendrax's NMODL import, against NEURON.

Downloads `dbbs-mod-collection` (the cerebellar models of the DBBS group, PyPI) with pip
(or takes a folder of .mod files), and for every file: does dx.load_mod read it (else the
reason), does NEURON's nrnivmodl compile it, and for density mechanisms that both take, a
one-compartment cell with a leak and the mechanism under a current step (40 ms, 32 °C,
NEURON's tables off so that both compute the rates exactly), and for synapses (point
processes with NET_RECEIVE) three spike trains through connections with their own delays:
the largest voltage difference and dendrax's backend. Prints a table and a summary.

    python benchmarks/nmodl_collection.py [--folder DIR] [--version 2.2.3]

Measured (2.2.3, NEURON 9.0): 35 of 42 files read (36 before files that NEURON rejects
were rejected; 34 before arrays, FROM loops and LINEAR blocks were read; 23 before
KINETIC, euler and ions of a file's own); NEURON compiles the same 35. The 7 that
NEURON 9's nrnivmodl rejects are rejected with the line and NEURON's reason: the four
cdp5 files (cao, a USEION variable, declared again in CONSTANT), the granule-cell Na
files and HCN1__golgi (a FUNCTION, alfa or r, also declared RANGE). The 26 density
mechanisms run on the native kernel within 5.1e-8 mV of NEURON (24 within 5e-13 mV;
Cav2_3's arrays and FROM loop and Nav1_1's LINEAR block 3e-13 mV). Of the 7 synapses, 6
run natively: GABA__biexp within 8.5e-14 mV (of a 1.4 mV response); the AMPA, GABA and NMDA
ones, whose transmitter sums diffusion waves over the recent spikes in a FROM loop with
bounds that vary at run time over 100-element spike buffers: AMPA__granule 1.8e-13 mV
(of 4.6 mV), GABA__0, GABA__granule and NMDA__stellate 1.4e-14 mV, NMDA__granule 0 (of
0.14 to 0.69 mV). AMPA__0, whose 800-element buffers are held whole (21 states; 1,619
as a state per element, whose pure-JAX step did not compile within 10 minutes), runs in
pure JAX (the native kernel holds no array states) within 1.6e-13 mV (of 2.8 mV).
"""

import argparse
import collections
import pathlib
import shutil
import subprocess
import sys
import tempfile

import jax
import numpy as np

jax.config.update("jax_enable_x64", True)

import dendrax as dx  # noqa: E402
from dendrax.nmodl import ModError, load_mod  # noqa: E402

DT = 0.025
T_MAX = 40.0
CELSIUS = 32.0


def download(version: str) -> pathlib.Path:
    target = pathlib.Path(tempfile.mkdtemp(prefix="modcollection"))
    package = f"dbbs-mod-collection=={version}"
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", str(target), package],
        check=True,
    )
    wheel = next(target.glob("*.whl"))
    shutil.unpack_archive(wheel, target, "zip")
    return target


def compiled_by_neuron(files, folder: pathlib.Path) -> set[str]:
    """The files nrnivmodl compiles (one at a time finds the rejected ones), then all of
    those compiled together into `folder`."""
    nrnivmodl = pathlib.Path(sys.executable).parent / "nrnivmodl"
    accepted = set()
    for path in files:
        alone = pathlib.Path(tempfile.mkdtemp(prefix="nrnivmodl"))
        shutil.copy(path, alone)
        result = subprocess.run([str(nrnivmodl), "."], cwd=alone, capture_output=True)
        if result.returncode == 0:
            accepted.add(path.name)
    for path in files:
        if path.name in accepted:
            shutil.copy(path, folder)
    subprocess.run([str(nrnivmodl), "."], cwd=folder, capture_output=True, check=True)
    return accepted


def voltage_gap(name: str, cls, h) -> tuple[float, str]:
    cell = dx.Cell.from_parents([-1], ncomp=1, length=20.0, radius=10.0)
    cell.insert(dx.channels.Leak()).insert(cls())
    cell.branch(0).comp(0).stimulate(dx.step_current(5.0, 20.0, 0.1, DT, T_MAX))
    cell.record("v")
    sim = dx.build(cell, dt=DT, celsius=CELSIUS, v_init=-65.0)
    ours = np.asarray(sim.run())[0]
    section = h.Section()
    section.L, section.diam, section.nseg = 20.0, 20.0, 1
    section.insert("pas")
    section.insert(name)
    stim = h.IClamp(section(0.5))
    stim.delay, stim.dur, stim.amp = 5.0, 20.0, 0.1
    trace = h.Vector().record(section(0.5)._ref_v)
    if hasattr(h, f"usetable_{name}"):
        setattr(h, f"usetable_{name}", 0)
    h.dt, h.celsius = DT, CELSIUS
    h.finitialize(-65.0)
    for _ in range(round(T_MAX / DT)):
        h.fadvance()
    gap = float(np.max(np.abs(ours - np.asarray(trace))))
    h.delete_section(sec=section)
    return gap, sim.spec.backend


TRAINS = ([2.0, 2.6, 9.3, 15.1, 22.0], [4.2, 4.9, 5.3, 20.7], [1.1, 12.345, 30.5])
"""Spike times (ms) of the three connections to a synapse; delays below."""
DELAYS = (0.5, 1.3, 2.05)


def synapse_gap(name: str, cls, h) -> tuple[float, float, str]:
    """A synapse (a point process with NET_RECEIVE) on a one-compartment cell with a leak,
    three connections from spike trains with their own delays (weight 1), each its own
    point process in NEURON (a connection is one site in dendrax), from rest (-70 mV): the
    largest voltage difference, the largest depolarisation (mV) and dendrax's backend."""
    cell = dx.Cell.from_parents([-1], ncomp=1, length=20.0, radius=10.0)
    cell.insert(dx.channels.Leak())
    dx.connect(dx.spike_source(TRAINS), cell.branch(0).loc(0.5), cls(), weight=1.0, delay=DELAYS)
    cell.record("v")
    sim = dx.build(cell, dt=DT, celsius=CELSIUS, v_init=-70.0)
    ours = np.asarray(sim.run(t_max=T_MAX))[0]
    section = h.Section()
    section.L, section.diam, section.nseg = 20.0, 20.0, 1
    section.insert("pas")
    keep = []
    for _ in TRAINS:
        synapse = getattr(h, name)(section(0.5))
        keep += [synapse, h.NetCon(None, synapse)]
        keep[-1].weight[0] = 1.0
    trace = h.Vector().record(section(0.5)._ref_v)
    if hasattr(h, f"usetable_{name}"):
        setattr(h, f"usetable_{name}", 0)
    h.dt, h.celsius = DT, CELSIUS
    h.finitialize(-70.0)
    for connection, train, delay in zip(keep[1::2], TRAINS, DELAYS, strict=True):
        for spike in train:
            connection.event(spike + delay)
    for _ in range(round(T_MAX / DT)):
        h.fadvance()
    gap = float(np.max(np.abs(ours - np.asarray(trace))))
    h.delete_section(sec=section)
    return gap, float(np.max(np.abs(ours + 70.0))), sim.spec.backend


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=pathlib.Path)
    parser.add_argument("--version", default="2.2.3")
    args = parser.parse_args()
    folder = args.folder or download(args.version)
    files = sorted(folder.rglob("*.mod"))
    compiled = pathlib.Path(tempfile.mkdtemp(prefix="nrnmech"))
    accepted = compiled_by_neuron(files, compiled)
    from neuron import h

    h.nrn_load_dll(str(next(compiled.glob("*/libnrnmech.so"))))
    reasons = collections.Counter()
    rows = []
    for path in files:
        try:
            cls = load_mod(path)
        except ModError as error:
            reason = str(error).split(": ", 1)[1]
            reasons[reason.split(" is not supported")[0][:50]] += 1
            rows.append((path.name, "not read", reason))
            continue
        if path.name not in accepted:
            rows.append((path.name, "read", "but nrnivmodl rejects it"))
            continue
        if cls.kind == "point" and cls().receives_events:
            gap, response, backend = synapse_gap(cls.__name__, cls, h)
            text = f"synapse: max |dV| {gap:.1e} mV of a {response:.2g} mV response ({backend})"
            rows.append((path.name, "read", text))
            continue
        if cls.kind != "density":
            rows.append((path.name, "read", f"a {cls.kind} mechanism (not run here)"))
            continue
        gap, backend = voltage_gap(cls.__name__, cls, h)
        rows.append((path.name, "read", f"max |dV| {gap:.1e} mV ({backend})"))
    for row in rows:
        print(" | ".join(row))
    read = sum(row[1] == "read" for row in rows)
    print(f"\n{len(files)} files: {read} read by dendrax, {len(accepted)} compiled by NEURON")
    for reason, count in reasons.most_common():
        print(f"  not read, {count}: {reason}")


if __name__ == "__main__":
    main()
