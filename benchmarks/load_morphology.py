"""Time to load and build a reconstruction of 2,000+ branches, against NEURON's Import3d.

No public file here has that many sections (the largest, L5PC, has 324), so the script
writes one: copies of the CA1 n120, Allen 485574832 and L5PC reconstructions, renumbered,
their trees grafted onto the soma of the first copy, each copy shifted in space. Run:

    python benchmarks/load_morphology.py [--copies N]
"""

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

import dendrax as dx

ROOT = Path(__file__).resolve().parents[1]
FILES = [
    ROOT / "tests" / "data" / "ca1_n120.swc",
    ROOT / "tests" / "data" / "allen_485574832.swc",
    ROOT / "benchmarks" / "data" / "l5pc_with_axon.swc",
]
"""The reconstructions copied (origins and licences: tests/data/README.md and
benchmarks/data/README.md)."""


def _samples(path: Path) -> np.ndarray:
    rows = [line.split()[:7] for line in path.read_text().splitlines()]
    return np.array([r for r in rows if r and not r[0].startswith("#")], dtype=float)


def write_joined(path: Path, copies: int) -> None:
    """Graft the non-soma samples of `copies` reconstructions onto the first one's soma."""
    sources = FILES
    base = _samples(sources[0])
    rows = [base]
    next_id = base[:, 0].max() + 1
    for k in range(1, copies):
        sample = _samples(sources[k % len(sources)])
        sample = sample[sample[:, 1] != 1]  # drop its soma; its trees join the first soma
        ids = {old: next_id + i for i, old in enumerate(sample[:, 0])}
        new = sample.copy()
        new[:, 0] = [ids[i] for i in sample[:, 0]]
        new[:, 6] = [ids.get(p, 1.0) for p in sample[:, 6]]
        new[:, 2:5] += 500.0 * k
        rows.append(new)
        next_id += sample.shape[0]
    table = np.concatenate(rows)
    lines = [
        f"{int(r[0])} {int(r[1])} {r[2]:.4f} {r[3]:.4f} {r[4]:.4f} {r[5]:.4f} {int(r[6])}"
        for r in table
    ]
    path.write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=14)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "joined.swc"
        write_joined(path, args.copies)
        warm_up = dx.Cell.from_parents([-1], ncomp=1)
        warm_up.insert(dx.channels.HH())
        dx.build(warm_up)  # JAX's start-up, not part of the figure
        start = time.perf_counter()
        cell = dx.Cell.from_swc(path, d_lambda=0.1)
        loaded = time.perf_counter() - start
        start = time.perf_counter()
        cell.insert(dx.channels.HH())
        dx.build(cell)
        built = time.perf_counter() - start
        print(f"{cell.n_branches} branches, {cell.n_compartments} compartments (d_lambda 0.1)")
        print(
            f"dendrax: read + discretise {loaded:.3f} s, insert HH + build {built:.3f} s, "
            f"total {loaded + built:.3f} s"
        )
        from neuron import h

        h.load_file("import3d.hoc")
        start = time.perf_counter()
        reader = h.Import3d_SWC_read()
        reader.quiet = 1
        reader.input(str(path))
        h.Import3d_GUI(reader, False).instantiate(None)
        neuron_time = time.perf_counter() - start
        print(
            f"NEURON Import3d read + instantiate: {neuron_time:.3f} s "
            f"({neuron_time / (loaded + built):.1f}x dendrax's load + build)"
        )


if __name__ == "__main__":
    main()
