"""`python -m dendrax`: summary, simulate and benchmark of a reconstruction."""

import subprocess
import sys
from pathlib import Path

from dendrax.cli import main

CA1 = Path(__file__).parent / "data" / "ca1_n120.swc"


def test_summary_describes_and_draws_the_cell(tmp_path, capsys):
    picture = tmp_path / "cell.png"
    assert main(["summary", str(CA1), "--picture", str(picture)]) == 0
    out = capsys.readouterr().out
    assert "156 branches" in out and "apical" in out
    assert picture.stat().st_size > 1000


def test_simulate_counts_the_spikes(tmp_path, capsys):
    picture = tmp_path / "v.png"
    arguments = ["simulate", str(CA1), "--t-max", "40", "--duration", "20"]
    assert main([*arguments, "--picture", str(picture)]) == 0
    out = capsys.readouterr().out
    assert "1 spikes" in out and picture.exists()
    assert main(["simulate", str(CA1), "--channels", "passive", "--t-max", "20"]) == 0
    assert "0 spikes" in capsys.readouterr().out


def test_benchmark_times_forward_and_gradient(capsys):
    assert main(["benchmark", str(CA1), "--t-max", "2", "--start", "0.5"]) == 0
    out = capsys.readouterr().out
    assert "forward: first call" in out and "gradient: first call" in out


def test_errors_are_one_line_and_a_status(tmp_path, capsys):
    assert main(["summary", str(tmp_path / "missing.swc")]) == 1
    assert capsys.readouterr().err.startswith("dendrax: ")


def test_module_runs_from_the_shell():
    done = subprocess.run(
        [sys.executable, "-m", "dendrax", "--help"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0 and "summary" in done.stdout
