"""`python -m dendrax`: the common jobs from a shell.

- `summary FILE`: a reconstruction's sections, compartments, area and regions, and with
  `--picture out.png` a drawing of it;
- `simulate FILE`: the cell with Hodgkin–Huxley channels everywhere (or a passive leak),
  a current step into the soma, the soma's voltage: spikes counted, and with
  `--picture out.png` the trace drawn;
- `benchmark FILE`: the same simulation timed (first call with compilation, then warm
  runs) and its gradient with respect to every parameter, on this machine.

FILE is an SWC (`.swc`) or Neurolucida (`.asc`) file.
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from dendrax.build import build
from dendrax.channels import HH, Leak
from dendrax.model.cell import Cell
from dendrax.stimuli import step_current


def main(argv=None) -> int:
    """Run the command line; returns the exit status."""
    arguments = _parser().parse_args(argv)
    try:
        return arguments.job(arguments)
    except (OSError, ValueError, TypeError) as error:
        print(f"dendrax: {error}", file=sys.stderr)
        return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m dendrax", description=__doc__.split("\n")[0])
    jobs = parser.add_subparsers(required=True, metavar="JOB")
    summary = jobs.add_parser("summary", help="describe a reconstruction (and draw it)")
    _cell_arguments(summary)
    summary.add_argument("--picture", type=Path, help="save a drawing of the cell (png, pdf, svg)")
    summary.set_defaults(job=_summary)
    for name, job, text in (
        ("simulate", _simulate, "a current step into the soma; the soma's voltage"),
        ("benchmark", _benchmark, "time a simulation and its gradient on this machine"),
    ):
        command = jobs.add_parser(name, help=text)
        _cell_arguments(command)
        command.add_argument("--channels", choices=("hh", "passive"), default="hh")
        command.add_argument("--amplitude", type=float, default=0.5, help="nA (default 0.5)")
        command.add_argument("--start", type=float, default=10.0, help="ms (default 10)")
        command.add_argument("--duration", type=float, default=50.0, help="ms (default 50)")
        command.add_argument("--t-max", type=float, default=80.0, help="ms (default 80)")
        command.add_argument("--dt", type=float, default=0.025, help="ms (default 0.025)")
        if name == "simulate":
            command.add_argument("--picture", type=Path, help="save the trace (png, pdf, svg)")
        command.set_defaults(job=job)
    return parser


def _cell_arguments(command) -> None:
    command.add_argument("file", type=Path, help="an SWC (.swc) or Neurolucida (.asc) file")
    command.add_argument("--d-lambda", type=float, default=0.1, help="NEURON's rule (0.1)")
    command.add_argument("--scale", type=float, default=1.0, help="SWC units to µm (1e-3: nm)")


def _cell(arguments) -> Cell:
    path = arguments.file
    if path.suffix.lower() == ".asc":
        return Cell.from_asc(path, d_lambda=arguments.d_lambda)
    return Cell.from_swc(path, d_lambda=arguments.d_lambda, scale=arguments.scale)


def _summary(arguments) -> int:
    cell = _cell(arguments)
    print(cell.summary())
    if arguments.picture is not None:
        _save(arguments.picture, lambda ax: _draw_cell(cell, ax))
    return 0


def _draw_cell(cell, ax) -> None:
    from dendrax.plot import morphology

    morphology(cell, ax=ax)


def _simulation(arguments):
    cell = _cell(arguments)
    cell.insert(HH() if arguments.channels == "hh" else Leak())
    soma = cell.branch(0).loc(0.5)
    current = step_current(
        arguments.start, arguments.duration, arguments.amplitude, arguments.dt, arguments.t_max
    )
    soma.stimulate(current)
    soma.record("v")
    return build(cell, dt=arguments.dt)


def _simulate(arguments) -> int:
    sim = _simulation(arguments)
    v = np.asarray(sim.run())[0]
    spikes = int(np.count_nonzero((v[1:] >= 0.0) & (v[:-1] < 0.0)))
    print(
        f"{sim.recording_names[0]}: {v.min():.2f} to {v.max():.2f} mV, {spikes} spikes "
        f"(crossings of 0 mV) in {arguments.t_max:g} ms; backend {sim.spec.backend}"
    )
    if arguments.picture is not None:
        _save(arguments.picture, lambda ax: _draw_trace(sim, v, ax))
    return 0


def _draw_trace(sim, v, ax) -> None:
    from dendrax.plot import traces

    traces(v, dt=sim.dt, names=sim.recording_names, units=sim.recording_units, ax=ax)


def _benchmark(arguments) -> int:
    import jax
    import jax.numpy as jnp

    started = time.perf_counter()
    sim = _simulation(arguments)
    built = time.perf_counter() - started
    forward = jax.jit(lambda params: sim.run(params))
    gradient = jax.jit(jax.grad(lambda params: jnp.mean(sim.run(params)[0])))
    print(f"build (with the native kernel where used): {built:.2f} s; backend {sim.spec.backend}")
    for name, function in (("forward", forward), ("gradient", gradient)):
        started = time.perf_counter()
        jax.block_until_ready(function(sim.params))
        first = time.perf_counter() - started
        runs = []
        for _ in range(3):
            started = time.perf_counter()
            jax.block_until_ready(function(sim.params))
            runs.append(time.perf_counter() - started)
        print(f"{name}: first call {first:.2f} s (compiling), then {1e3 * min(runs):.1f} ms")
    return 0


def _save(path: Path, draw) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, ax = plt.subplots(figsize=(7, 5))
    draw(ax)
    figure.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(figure)
    print(f"saved {path}")
