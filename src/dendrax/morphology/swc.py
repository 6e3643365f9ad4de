"""SWC reader that makes the same sections as NEURON's Import3d (`Import3d_SWC_read`).

An SWC file lists samples `id type x y z radius parent_id`, one per line (µm). The samples
become NEURON's sections as Import3d makes them:

- a section is a run of samples without branch points and of one type; a type change
  starts a new section even without a branch;
- consecutive soma samples stay in one section unless a soma sample other than the first
  has several soma children;
- a child section starts with a copy of its parent sample (whose diameter, where a dendrite
  leaves the soma, is that of the dendrite's own first sample), except where it connects to
  the soma "by a wire" (then it starts at its own first sample);
- where children attach: a one-point soma (a sphere) and the interior of a soma section at
  0.5; the first sample of the root at 0; the proximal sample of a dendrite that itself
  leaves the soma at 0 of that dendrite; everything else at 1;
- NeuroMorpho's three-point soma (a cylinder of length = diameter around the first sample)
  and a one-point soma become a cylinder of length and diameter equal to the sphere's
  diameter along x (the area of the sphere);
- one-point sections and two-point sections of zero length are dropped, their children
  attached where they were attached.

docs/morphology.md lists where this differs from a plain reading of the file.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from dendrax.morphology.checks import check_size, check_somata, warn
from dendrax.morphology.files import read_text
from dendrax.morphology.morphology import Morphology

SOMA = 1


def read_swc(path, scale: float = 1.0, radius: float | None = None) -> Morphology:
    """Read an SWC file into NEURON's sections.

    Args:
        path: the .swc file.
        scale: factor applied to coordinates and radii (e.g. 1e-3 for a file in nm).
        radius: radius (µm) given to samples of radius 0, for files without diameters
            (a `MorphologyWarning` says how many); None leaves them at 0.

    Parents with larger ids than their children (as in FlyWire exports) are renumbered so
    that parents come first, with a `MorphologyWarning` (NEURON's Import3d refuses them).
    Implausible sizes and several somata also warn (`dendrax.morphology.checks`).

    Raises:
        FileNotFoundError: no such file. IsADirectoryError: a folder.
        ValueError: a binary file, a malformed line, a duplicate or missing id, a cycle, a
            negative radius, several roots, no diameters; the message names the file and line.
    """
    if not (np.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be a finite number > 0, got {scale}")
    if radius is not None and not (np.isfinite(radius) and radius > 0):
        raise ValueError(f"radius must be a finite number > 0 (um) or None, got {radius}")
    path, text = read_text(path, "SWC", ".swc")
    ids, types, xyz, radii, parent_ids, line_numbers = _parse(path, text)
    order = np.argsort(ids, kind="stable")
    ids, types, xyz, radii = ids[order], types[order], xyz[order], radii[order]
    parent_ids, line_numbers = parent_ids[order], line_numbers[order]
    parent = _parent_index(path, ids, parent_ids, line_numbers)
    notes = []
    if np.any(parent >= np.arange(ids.size)):
        order, parent, note = _parents_first(path, ids, parent, line_numbers)
        ids, types, xyz, radii = ids[order], types[order], xyz[order], radii[order]
        line_numbers = line_numbers[order]
        notes.append(note)
    bad = np.flatnonzero(radii < 0)
    if bad.size:
        raise ValueError(f"{path}, line {line_numbers[bad[0]]}: negative radius {radii[bad[0]]}")
    diameters = 2.0 * radii * scale
    zero = np.flatnonzero(radii == 0)
    if zero.size == radii.size and radius is None:
        raise ValueError(
            f"{path}: the file has no diameters (every sample's radius is 0, lines "
            f"{line_numbers[0]}-{line_numbers[-1]}); give one for the samples without it: "
            "dx.Cell.from_swc(path, radius=0.5) or dx.read_swc(path, radius=0.5) (um)"
        )
    if zero.size and radius is not None:
        diameters[zero] = 2.0 * radius
        notes.append(
            f"line {line_numbers[zero[0]]}: {zero.size} of {radii.size} samples without a "
            f"radius (0) were given radius={radius:g} um"
        )
    for note in notes:
        warn(f"{path}, {note}")
    morphology = _sections(path, types, xyz * scale, diameters, parent, line_numbers)
    morphology = replace(morphology, notes=(*notes, *morphology.notes))
    check_size(morphology)
    check_somata(morphology)
    return morphology


def _parse(path: Path, text: str):
    """Columns of the sample lines; comments (#) and blank lines are skipped."""
    lines = text.splitlines()
    numbers = np.array(
        [n for n, line in enumerate(lines, 1) if line.strip() and not line.lstrip().startswith("#")]
    )
    if numbers.size == 0:
        raise ValueError(f"{path}: no samples (every line is blank or a comment)")
    try:
        data = np.loadtxt(lines, comments="#", usecols=range(7), ndmin=2)
    except ValueError:
        data = None
    if data is None or data.shape[0] != numbers.size:
        _raise_malformed(path, lines)
    integral = data[:, [0, 1, 6]]
    bad = np.flatnonzero(np.any(integral != np.round(integral), axis=1) | ~np.isfinite(data).all(1))
    if bad.size:
        raise ValueError(
            f"{path}, line {numbers[bad[0]]}: id, type and parent must be integers and "
            f"coordinates finite: {lines[numbers[bad[0]] - 1].strip()!r}"
        )
    ids, types, parents = (data[:, c].astype(np.int64) for c in (0, 1, 6))
    # NEURON reads the numbers in single precision (sscanf "%f").
    values = data[:, 2:6].astype(np.float32).astype(float)
    return ids, types, values[:, :3], values[:, 3], parents, numbers


def _raise_malformed(path: Path, lines: list[str]):
    """Find the first line that is not 7 numbers and say what is wrong with it."""
    for number, line in enumerate(lines, start=1):
        fields = (line[: line.index("#")] if "#" in line else line).split()
        if not fields:
            continue
        if fields[0].startswith(("(", ";")):
            raise ValueError(
                f"{path}, line {number}: {line.strip()!r} looks like Neurolucida ASC, not "
                "SWC: read it with dx.read_asc or dx.Cell.from_asc"
            )
        if len(fields) < 7:
            raise ValueError(
                f"{path}, line {number}: expected 7 columns "
                f"(id type x y z radius parent), got {len(fields)}: {line.strip()!r}"
            )
        for field in fields[:7]:
            try:
                float(field)
            except ValueError:
                raise ValueError(
                    f"{path}, line {number}: {field!r} is not a number in {line.strip()!r}"
                ) from None
    raise ValueError(f"{path}: could not read the samples")


def _parent_index(path: Path, ids, parent_ids, line_numbers) -> np.ndarray:
    """Index of each sample's parent (-1 for the root), checking the tree."""
    duplicate = np.flatnonzero(ids[1:] == ids[:-1])
    if duplicate.size:
        i = duplicate[0]
        raise ValueError(
            f"{path}, lines {line_numbers[i]} and {line_numbers[i + 1]}: duplicate id {ids[i]}"
        )
    is_root = parent_ids < 0
    position = np.searchsorted(ids, parent_ids)
    found = (position < ids.size) & (ids[np.minimum(position, ids.size - 1)] == parent_ids)
    missing = np.flatnonzero(~is_root & ~found)
    if missing.size:
        i = missing[0]
        raise ValueError(
            f"{path}, line {line_numbers[i]}: parent id {parent_ids[i]} of sample {ids[i]} "
            "does not exist"
        )
    roots = np.flatnonzero(is_root)
    if roots.size != 1:
        lines = ", ".join(str(line_numbers[r]) for r in roots[:5])
        raise ValueError(
            f"{path}: {roots.size} root samples (lines {lines}); a cell is one tree with one root"
        )
    return np.where(is_root, -1, position)


def _parents_first(path: Path, ids, parent, line_numbers):
    """An order of the samples with every parent before its children, the parents in that
    order, and a note; raises for a cycle. Samples keep their id order where they can."""
    n = parent.size
    children = np.argsort(parent, kind="stable")
    starts = np.searchsorted(parent[children], np.arange(n + 1))
    order, ready = [], [int(np.flatnonzero(parent < 0)[0])]
    while ready:
        sample = heapq.heappop(ready)
        order.append(sample)
        for child in children[starts[sample] : starts[sample + 1]].tolist():
            heapq.heappush(ready, child)
    if len(order) < n:
        stuck = np.setdiff1d(np.arange(n), order)
        cycle = _cycle_from(parent, int(stuck[0]))
        where = ", ".join(f"{ids[j]} (line {line_numbers[j]})" for j in cycle)
        raise ValueError(f"{path}: the parents of samples {where} form a cycle")
    order = np.array(order)
    position = np.empty(n, dtype=np.int64)
    position[order] = np.arange(n)
    new_parent = np.where(parent[order] < 0, -1, position[np.maximum(parent[order], 0)])
    first = int(np.flatnonzero(parent >= np.arange(n))[0])
    note = (
        f"line {line_numbers[first]}: sample {ids[first]} has parent {ids[parent[first]]}, a "
        f"larger id ({np.count_nonzero(parent >= np.arange(n))} samples do); the samples were "
        "renumbered so that parents come first (NEURON's Import3d refuses such files)"
    )
    return order, new_parent, note


def _cycle_from(parent: np.ndarray, start: int) -> list[int]:
    """The samples of a cycle reached by following parents from `start` ([] if none)."""
    seen: dict[int, int] = {}
    node = start
    while node >= 0 and node not in seen:
        seen[node] = len(seen)
        node = int(parent[node])
    if node < 0:
        return []
    path = list(seen)
    return path[seen[node] :]


@dataclass(frozen=True)
class _Runs:
    """Samples grouped into sections: `starts[k]..ends[k]` are section k's own samples."""

    starts: np.ndarray
    ends: np.ndarray
    own: np.ndarray
    parent: np.ndarray
    soma_children: np.ndarray
    connect_proximal: np.ndarray
    three_point_soma: bool


@dataclass(frozen=True)
class _Attachments:
    """For each non-root section: its parent section, where it attaches, and whether it is
    connected by a wire (its parent sample is not copied into it)."""

    parent_section: np.ndarray
    parent_x: np.ndarray
    wire: np.ndarray
    dendrite_on_soma: np.ndarray


def _sections(path: Path, types, xyz, diam, parent, line_numbers) -> Morphology:
    """Group samples into NEURON's sections (see the module docstring)."""
    if types.size < 2:
        raise ValueError(f"{path}: a cell needs at least two samples, got {types.size}")
    runs = _runs(types, xyz, diam, parent)
    attached = _attachments(types, runs)
    points, diameters, entry_section, n_points, sample = _point_lists(xyz, diam, runs, attached)
    lines = line_numbers[sample]

    parents = np.concatenate([[-1], attached.parent_section])
    parent_x = np.concatenate([[1.0], attached.parent_x])
    removed = degenerate_sections(points, np.concatenate([[0], np.cumsum(n_points)]))
    parents, parent_x = reattach(parents, parent_x, removed)
    notes = [
        f"line {line_numbers[runs.ends[k]]}: a section of one point or of zero length was "
        "dropped; its children attach where it was attached"
        for k in np.flatnonzero(removed)
    ]
    if runs.three_point_soma:
        notes.append(
            f"lines {line_numbers[0]}-{line_numbers[2]}: three-point soma read as a sphere "
            f"of diameter {diam[0]:g} um (a cylinder of that length and diameter)"
        )
    kept = ~removed
    renumber = np.cumsum(kept) - 1
    keep_points = kept[entry_section]
    points, diameters = points[keep_points], diameters[keep_points]
    lines = lines[keep_points]
    n_points = n_points[kept]
    parents = np.where(parents[kept] >= 0, renumber[np.maximum(parents[kept], 0)], -1)
    if n_points[0] == 1:
        points, diameters, n_points = _sphere_as_cylinder(points, diameters, n_points)
        lines = np.concatenate([lines[:1], lines[:1], lines])
        if not runs.three_point_soma:
            notes.append(
                f"line {line_numbers[0]}: one-point soma read as a cylinder of length and "
                f"diameter {diam[0]:g} um (the sphere's area)"
            )
    return Morphology(
        points=single_precision(points),
        diameters=single_precision(diameters),
        offsets=np.concatenate([[0], np.cumsum(n_points)]),
        types=types[runs.starts][kept].astype(np.int64),
        parents=parents.astype(np.int64),
        parent_x=parent_x[kept],
        source=str(path),
        notes=tuple(notes),
        point_lines=lines,
    )


def _runs(types, xyz, diam, parent) -> _Runs:
    """Where sections end: branch points, type changes, leaves; soma rules for soma runs."""
    n = types.size
    index = np.arange(n)
    child = index[parent >= 0]
    p = parent[child]
    n_children = np.bincount(p, minlength=n)

    # A child joining the proximal sample of a dendrite that leaves the soma attaches at that
    # dendrite's 0 instead, and does not end the dendrite's first section there.
    noncontiguous = p != child - 1
    type_change = types[p] != types[child]
    grandparent_is_soma = types[parent[np.maximum(p, 0)]] == SOMA
    to_proximal = noncontiguous & (
        ((p > 1) & (types[p] != SOMA) & grandparent_is_soma) | ((p == 0) & (types[0] != SOMA))
    )
    connect_proximal = np.zeros(n, dtype=bool)
    connect_proximal[child[to_proximal]] = True
    changes = np.zeros(n, dtype=bool)
    changes[child] = type_change
    irregular = np.bincount(p, weights=noncontiguous | type_change, minlength=n)
    continues = (n_children == 1) & (irregular == 0)
    last_child = np.full(n, -1)
    np.maximum.at(last_child, p, child)
    last_proximal = np.full(n, -1)
    np.maximum.at(last_proximal, p[to_proximal], child[to_proximal])
    after_reset = (last_proximal == last_child) & ~changes[np.maximum(last_proximal, 0)]
    continues = np.where(last_proximal >= 0, after_reset, continues)

    soma_children = np.bincount(
        p, weights=(types[child] == SOMA) & (types[p] == SOMA), minlength=n
    ).astype(int)
    parent = parent.copy()
    three_point_soma = _is_three_point_soma(types, xyz, diam, parent, n_children)
    if three_point_soma:
        parent[2] = 1

    soma_run = (types[:-1] == SOMA) & (types[1:] == SOMA) & (parent[1:] == index[:-1])
    soma_run &= ~((index[:-1] != 0) & (soma_children[:-1] > 1))
    continues[:-1] |= soma_run

    ends = np.flatnonzero(~continues)
    starts = np.concatenate([[0], ends[:-1] + 1])
    own = ends - starts + 1
    if three_point_soma:
        own[0] = 1
    return _Runs(starts, ends, own, parent, soma_children, connect_proximal, three_point_soma)


def _attachments(types, runs: _Runs) -> _Attachments:
    """Import3d's rules for where each non-root section attaches (module docstring)."""
    starts, own, soma_children = runs.starts, runs.own, runs.soma_children
    point_section = np.repeat(np.arange(starts.size), np.diff(np.append(starts, types.size)))
    first = starts[1:]
    attach = runs.parent[first]
    psec = point_section[attach]
    n_own = own[1:]
    psec_points = np.where(psec == 0, own[0], own[psec] + 1)
    parent_soma = types[starts][psec] == SOMA
    not_soma = types[first] != SOMA
    dendrite_on_soma = parent_soma & not_soma
    parent_x = np.ones(first.size)
    wire = np.zeros(first.size, dtype=bool)
    on_sphere = (psec == 0) & dendrite_on_soma & (psec_points == 1)
    parent_x[on_sphere] = 0.5
    wire |= on_sphere & (n_own > 1)
    on_root_start = (psec == 0) & ~on_sphere & (attach == 0)
    parent_x[on_root_start] = 0.0
    wire |= on_root_start & not_soma & (soma_children[attach] > 1)
    rest = ~(on_sphere | on_root_start) & parent_soma
    offset = np.where(starts[psec] == 0, -1, -2)
    interior = rest & (attach < starts[psec] + psec_points + offset)
    parent_x[interior] = 0.5
    wire |= interior & dendrite_on_soma & (n_own > 1)
    at_end = rest & ~interior
    wire |= at_end & (n_own > 1) & (soma_children[attach] > 1) & not_soma
    parent_x[runs.connect_proximal[first]] = 0.0
    return _Attachments(psec, parent_x, wire, dendrite_on_soma)


def _point_lists(xyz, diam, runs: _Runs, attached: _Attachments):
    """3D points, diameters and section of every point, and the count per section: the
    root's own samples, then each child's copy of its parent sample (unless wired) and its
    own samples. A copy of a soma sample takes the dendrite's first diameter. Also the
    sample each point's diameter comes from."""
    n = diam.size
    starts, own = runs.starts, runs.own
    first = starts[1:]
    copy = ~attached.wire
    entries = np.insert(np.arange(n), first[copy], runs.parent[first][copy])
    is_copy = np.zeros(entries.size, dtype=bool)
    is_copy[first[copy] + np.arange(copy.sum())] = True
    diameters = diam[entries].copy()
    soma_copy = is_copy.copy()
    soma_copy[is_copy] = attached.dendrite_on_soma[copy]
    diameters[soma_copy] = diam[entries[np.flatnonzero(soma_copy) + 1]]
    n_points = own + np.concatenate([[0], copy.astype(int)])
    entry_section = np.repeat(np.arange(starts.size), np.diff(np.append(starts, n)))
    entry_section = np.insert(entry_section, first[copy], np.arange(1, starts.size)[copy])
    keep = ~((entry_section == 0) & (entries > starts[0] + own[0] - 1))
    sample = entries.copy()
    sample[soma_copy] = entries[np.flatnonzero(soma_copy) + 1]
    return xyz[entries[keep]], diameters[keep], entry_section[keep], n_points, sample[keep]


def single_precision(values: np.ndarray) -> np.ndarray:
    """Round to single precision, as NEURON stores 3D points (kept as float64)."""
    return values.astype(np.float32).astype(float)


def _is_three_point_soma(types, xyz, diam, parent, n_children) -> bool:
    """NeuroMorpho's soma of three samples: a root and two childless samples on either side
    at equal diameter, spanning one diameter in all (within 1 %)."""
    if np.count_nonzero(types == SOMA) != 3 or types.size < 3:
        return False
    if parent[1] != 0 or parent[2] != 0 or n_children[1] or n_children[2]:
        return False
    if diam[1] != diam[0] or diam[2] != diam[0] or diam[0] == 0:
        return False
    span = np.linalg.norm(xyz[1] - xyz[0]) + np.linalg.norm(xyz[2] - xyz[0])
    return abs(span / diam[0] - 1.0) < 0.01


def degenerate_sections(points, offsets) -> np.ndarray:
    """Sections other than the root with one point, or two points at one place."""
    count = np.diff(offsets)
    two = count == 2
    same = np.zeros(count.size, dtype=bool)
    start = offsets[:-1][two]
    same[two] = np.all(points[start] == points[start + 1], axis=1)
    removed = (count <= 1) | same
    removed[0] = False
    return removed


def reattach(parents, parent_x, removed):
    """Attach the children of removed sections where those were attached."""
    parents, parent_x = parents.copy(), parent_x.copy()
    for section in np.flatnonzero(removed)[::-1]:
        children = parents == section
        parents[children] = parents[section]
        parent_x[children] = parent_x[section]
    return parents, parent_x


def _sphere_as_cylinder(points, diam, n_points):
    """Replace a one-point root (a sphere) by three points along x spanning its diameter."""
    center, d = points[0], diam[0]
    offsets = np.array([[-d / 2, 0, 0], [0, 0, 0], [d / 2, 0, 0]])
    points = np.concatenate([center + offsets, points[1:]])
    diam = np.concatenate([[d, d, d], diam[1:]])
    return points, diam, np.concatenate([[3], n_points[1:]])
