"""Recorded sweeps from NWB files: a file written with pynwb from a simulation, read back onto
the simulation's grid (units converted, resampled), drives the model to its own voltage."""

import datetime

import numpy as np
import pytest

import dendrax as dx
from dendrax.mechanisms import HH

pynwb = pytest.importorskip("pynwb", reason="reading NWB files needs pynwb")
from pynwb.icephys import CurrentClampSeries, CurrentClampStimulusSeries  # noqa: E402

DT = 0.025
RATE = 1e3 / DT  # Hz: one sample per step


def cell() -> dx.Cell:
    c = dx.Cell.from_parents([-1, 0], ncomp=2, length=[20.0, 100.0], radius=[8.0, 1.0])
    c.insert(HH())
    c.branch(0).loc(0.5).stimulate(dx.step_current(2.0, 10.0, 0.4, DT, 20.0))
    c.branch(0).loc(0.5).record()
    return c


def write(path, voltages, currents):
    """Sweeps 0, 1, ... : voltages (mV) stored in mV units (conversion 1e-3 to volts),
    currents (nA) stored in pA (conversion 1e-12 to amperes)."""
    nwbfile = pynwb.NWBFile(
        "dendrax test", "sweeps", datetime.datetime(2026, 12, 6, tzinfo=datetime.UTC)
    )
    device = nwbfile.create_device(name="amplifier")
    electrode = nwbfile.create_icephys_electrode(
        name="electrode", description="soma", device=device
    )
    for k, (v, i) in enumerate(zip(voltages, currents, strict=True)):
        common = dict(electrode=electrode, gain=1.0, rate=RATE, sweep_number=np.uint32(k))
        nwbfile.add_stimulus(
            CurrentClampStimulusSeries(
                name=f"stimulus_{k}", data=np.asarray(i) * 1e3, conversion=1e-12, **common
            )
        )
        response = CurrentClampSeries(
            name=f"response_{k}", data=np.asarray(v), conversion=1e-3, **common
        )
        nwbfile.add_acquisition(response)
    with pynwb.NWBHDF5IO(str(path), "w") as io:
        io.write(nwbfile)


def test_sweeps_read_back_drive_the_model_to_its_recorded_voltage(tmp_path):
    sim = dx.build(cell(), dt=DT)
    stimuli = np.asarray(sim.stimuli[0]) * np.array([[1.0], [1.5]])
    recorded = np.stack([np.asarray(sim.run(stimuli=s[None]))[0] for s in stimuli])
    path = tmp_path / "cell.nwb"
    # the stimulus's last sample stands for the last step's end, as the voltage's
    write(path, recorded, np.concatenate([stimuli, stimuli[:, -1:]], axis=1))
    sweeps = dx.read_nwb_sweeps(path, dt=DT)
    assert sweeps.sweep_numbers == (0, 1) and sweeps.names == ("response_0", "response_1")
    np.testing.assert_allclose(sweeps.voltage, recorded, rtol=0, atol=1e-9)
    np.testing.assert_allclose(sweeps.stimulus, stimuli, rtol=1e-12, atol=1e-12)
    rerun = [np.asarray(sim.run(stimuli=s[None]))[0] for s in sweeps.stimulus]
    np.testing.assert_allclose(rerun, sweeps.voltage, rtol=0, atol=1e-9)
    # a coarser grid takes every other sample; a shorter one the beginning
    coarse = dx.read_nwb_sweeps(path, dt=2 * DT, t_max=10.0, sweeps=[1])
    np.testing.assert_allclose(coarse.voltage[0], recorded[1, :401:2], rtol=0, atol=1e-9)
    assert coarse.stimulus.shape == (1, 200)


def test_bad_nwb_requests_are_named(tmp_path):
    path = tmp_path / "cell.nwb"
    write(path, [np.zeros(81)], [np.zeros(81)])
    with pytest.raises(FileNotFoundError, match=r"missing\.nwb"):
        dx.read_nwb_sweeps(tmp_path / "missing.nwb", dt=DT)
    with pytest.raises(ValueError, match=r"no current-clamp sweep 3; it has \[0\]"):
        dx.read_nwb_sweeps(path, dt=DT, sweeps=[3])
    with pytest.raises(ValueError, match=r"t_max = 5.0 ms is longer than sweep 0"):
        dx.read_nwb_sweeps(path, dt=DT, t_max=5.0)
    with pytest.raises(ValueError, match="dt must be > 0"):
        dx.read_nwb_sweeps(path, dt=0.0)
