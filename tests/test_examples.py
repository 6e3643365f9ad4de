"""The training examples run at a tiny size: their losses fall and nothing is NaN."""

import importlib.util
import pathlib

import numpy as np
import pytest

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"


def _example(name: str):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_l5pc_fit_tiny(tmp_path, capsys):
    for package in ("cma", "bluepyopt", "efel", "optax", "matplotlib"):
        pytest.importorskip(package)
    out = tmp_path / "fit.png"
    args = ["--seeds", "1", "--t-max", "10", "--budget", "8", "--threshold", "1e-9"]
    result = _example("l5pc_fit").main([*args, "--out", str(out)])
    printed = capsys.readouterr().out
    assert out.stat().st_size > 0 and "sims/success" in printed and "spike_count" in printed
    for method, runs in result["results"].items():
        success, sims, seconds = runs[0]
        assert not success and sims == 8 and seconds > 0, method
        losses = np.asarray(result["losses"][method])
        assert losses.size == 8 and np.all(np.isfinite(losses)), method
    gd = np.asarray(result["losses"]["GD"])
    assert gd.min() < gd[0]


def test_xor_cell_tiny(tmp_path, capsys):
    for package in ("optax", "matplotlib"):
        pytest.importorskip(package)
    out = tmp_path / "xor.png"
    result = _example("xor_cell").main(["--steps", "4", "--out", str(out)])
    assert out.stat().st_size > 0 and "A B  XOR" in capsys.readouterr().out
    assert np.isfinite(result["after"]) and result["after"] < result["before"]
    assert result["peaks"].shape == (4,) and np.all(np.isfinite(result["peaks"]))


def test_l5pc_many_tiny(tmp_path, capsys, monkeypatch):
    for package in ("bluepyopt", "optax", "matplotlib"):
        pytest.importorskip(package)
    monkeypatch.syspath_prepend(str(EXAMPLES))  # it takes the cell from l5pc_fit.py
    out = tmp_path / "many.png"
    args = ["--steps", "3", "--ibea", "50", "--t-max", "2", "--threshold", "1e-9"]
    result = _example("l5pc_many").main([*args, "--out", str(out)])
    assert out.stat().st_size > 0 and "1418 parameters" in capsys.readouterr().out
    gd, ibea = result["gd"], result["ibea"]
    assert gd.size == 3 and np.all(np.isfinite(gd)) and gd[-1] < gd[0]
    assert ibea.size == 50 and np.all(np.isfinite(ibea)) and ibea[-1] <= ibea[0]


def test_steps_fit_tiny(tmp_path, capsys, monkeypatch):
    for package in ("cma", "bluepyopt", "efel", "optax", "matplotlib"):
        pytest.importorskip(package)
    monkeypatch.syspath_prepend(str(EXAMPLES))  # it takes the cell from l5pc_fit.py
    out = tmp_path / "steps.png"
    args = [
        "--t-max",
        "30",
        "--amplitudes",
        "2.0",
        "3.0",
        "--budget",
        "4",
        "--threshold",
        "0",
        "--check",
        "3",
    ]
    result = _example("steps_fit").main([*args, "--out", str(out)])
    assert out.stat().st_size > 0 and "22 conductances" in capsys.readouterr().out
    for method, runs in result["results"].items():
        success, n_runs, seconds, best = runs[0]
        assert not success and n_runs == 4 and seconds > 0 and np.isfinite(best), method
    assert set(result["curves"]) == {"GD", "GD x4", "CMA-ES", "IBEA"}
