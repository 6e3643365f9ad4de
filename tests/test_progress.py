"""Progress bars of long runs: the native kernel counts its steps as it runs, and `run` shows
them in a tqdm bar (always, never, or once a run has lasted 2 s)."""

import time

import jax
import numpy as np
import pytest

import dendrax as dx
from dendrax.mechanisms import HH
from dendrax.native.library import steps_done

pytest.importorskip("tqdm")


def small_sim(backend: str) -> dx.Simulation:
    cell = dx.Cell.from_parents([-1, 0], ncomp=2, length=[20.0, 100.0], radius=[8.0, 1.0])
    cell.insert(HH())
    cell.branch(0).loc(0.5).stimulate(dx.step_current(1.0, 5.0, 0.5, 0.025, 10.0))
    cell.branch(0).loc(0.5).record()
    return dx.build(cell, backend=backend, settle=1.0)


def test_native_runs_count_their_steps_into_a_bar(capsys):
    sim = small_sim("native")
    assert sim.spec.backend == "native"
    quiet = np.asarray(sim.run(progress=False))
    before = steps_done()
    shown = np.asarray(sim.run(progress=True))
    assert steps_done() - before == 40 + 400  # settle steps, then the run's
    assert "440/440" in capsys.readouterr().err
    np.testing.assert_array_equal(shown, quiet)
    sim.run()  # progress=None: a short run shows nothing
    assert capsys.readouterr().err == ""
    batch = jax.vmap(lambda g: sim.run({**sim.params, "HH": {**sim.params["HH"], "gNa": g}}))
    before = steps_done()
    jax.block_until_ready(batch(sim.params["HH"]["gNa"][None] * np.array([[1.0], [1.1]])))
    assert steps_done() - before == 2 * 440  # every simulation of a batch counts
    assert capsys.readouterr().err == ""  # no bar under vmap


def test_pure_jax_runs_fill_the_bar_at_the_end(capsys):
    small_sim("jax").run(progress=True)
    assert "440/440" in capsys.readouterr().err


def test_a_cold_compile_says_what_it_compiles(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DENDRAX_CACHE", str(tmp_path))
    monkeypatch.setattr(dx.progress, "AUTO_DELAY_S", 0.0)  # however fast the compiler

    def build():  # a dt no other test uses: a kernel not loaded in this process yet
        cell = dx.Cell.from_parents([-1], ncomp=1, length=20.0, radius=8.0)
        cell.insert(HH())
        cell.branch(0).loc(0.5).record()
        return dx.build(cell, dt=0.0375, backend="native")

    assert build().spec.backend == "native"
    assert "compiling the native kernel of HH (cached afterwards)" in capsys.readouterr().err
    build()  # loaded: nothing to say
    assert capsys.readouterr().err == ""


def test_a_bar_written_to_a_log_is_redrawn_seldom(capsys):
    with dx.progress.shown(10, True, None, description="work"):
        time.sleep(1.0)  # POLL_S would redraw it five times
    err = capsys.readouterr().err  # captured: not a terminal
    assert "10/10" in err
    assert err.count("work") <= 3  # its first drawing, at most one more, its last
