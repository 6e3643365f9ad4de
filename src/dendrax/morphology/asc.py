"""Neurolucida ASC reader for the contours-plus-trees subset, with NEURON's Import3d rules.

An ASC file is a list of parenthesised items: a soma contour `("CellBody" (CellBody) (x y z d)
...)`, trees `((Dendrite) (x y z d) ... ( branch | branch ))` with `(Apical)` or `(Axon)` in
place of `(Dendrite)`, and markers, spines `<(...)>`, text and other contours, which are
skipped (and listed in `Morphology.notes`). As NEURON's `Import3d_Neurolucida3`:

- the soma contour becomes a centroid line along its principal axis (21 points) whose
  diameters are the contour's widths across that axis;
- each tree's root section attaches at soma(0.5) "by a wire" (it starts at its own first
  point); each branch of a split starts with a copy of its parent's last point, with the
  branch's own first diameter, and attaches at 1;
- sections with one point, or two points at one place, are dropped as for SWC.

Only single soma contours are supported (not stacks of contours at several depths).
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import numpy as np

from dendrax.morphology.checks import check_size
from dendrax.morphology.files import read_text
from dendrax.morphology.morphology import Morphology
from dendrax.morphology.swc import degenerate_sections, reattach, single_precision

TREE_TYPES = {"Dendrite": 3, "Apical": 4, "Axon": 2}
"""Neurolucida tree kinds and the SWC type of their sections."""

_TOKEN = re.compile(r'"[^"]*"|;[^\n]*|[()|<>]|[^\s()|<>";,]+')


def read_asc(path) -> Morphology:
    """Read the soma contour and trees of a Neurolucida ASC file into NEURON's sections.

    Raises:
        FileNotFoundError: no such file. IsADirectoryError: a folder.
        ValueError: a binary file, unbalanced parentheses, a malformed point, a negative
            diameter, no soma contour or several (SWC text is named as such); the message
            names the file and line.
    """
    path, text = read_text(path, "ASC", ".asc")
    items = _parse(path, text)
    notes: list[str] = []
    somas, trees = [], []
    for item, line in items:
        kind = _classify(item)
        if kind == "soma":
            somas.append((item, line))
        elif kind in TREE_TYPES:
            trees.append((item, line, TREE_TYPES[kind]))
        else:
            notes.append(f"line {line}: skipped {kind}")
    if not somas and _looks_like_swc(text):
        raise ValueError(
            f"{path}: expected one soma contour (CellBody), found none; the file looks like "
            "SWC (lines of 7 numbers, no parentheses): read it with dx.read_swc or "
            "dx.Cell.from_swc"
        )
    if len(somas) != 1:
        lines = ", ".join(str(line) for _, line in somas) or "none"
        raise ValueError(
            f"{path}: expected one soma contour (CellBody), found {len(somas)} (lines {lines})"
        )
    soma_points, _ = _points(path, somas[0][0], somas[0][1])
    if soma_points.shape[0] < 3:
        raise ValueError(f"{path}, line {somas[0][1]}: a soma contour needs 3 points or more")
    try:
        centroid = _contour_centroid(single_precision(soma_points))
    except ValueError as error:
        raise ValueError(f"{path}, line {somas[0][1]}: {error}") from None
    sections = [(centroid, 1, -1, 1.0, np.full(centroid.shape[0], somas[0][1]))]
    for item, line, swc_type in trees:
        _tree_sections(path, item, line, swc_type, sections)
    morphology = _assemble(path, sections, notes)
    check_size(morphology)
    return morphology


def _looks_like_swc(text: str) -> bool:
    """Whether the first line that is not blank or a comment is 7 or more numbers."""
    for line in text.splitlines():
        fields = line.split("#")[0].split()
        if fields:
            return len(fields) >= 7 and all(_is_number(f) for f in fields[:7])
    return False


class _Item(list):
    """A parenthesised list of elements, with the line it starts on."""

    line = 0


def _parse(path: Path, text: str) -> list[tuple[list, int]]:
    """Top-level parenthesised items with the line each starts on; spines are dropped."""
    stack: list[list] = [[]]
    starts: list[int] = []
    line = 1
    position = 0
    in_spine = False
    for match in _TOKEN.finditer(text):
        line += text.count("\n", position, match.start())
        position = match.start()
        token = match.group()
        if token in ("<", ">"):
            in_spine = token == "<"
            continue
        if token.startswith(";") or in_spine:
            continue
        if token == "(":
            item = _Item()
            item.line = line
            stack.append(item)
            starts.append(line)
        elif token == ")":
            if len(stack) == 1:
                raise ValueError(f"{path}, line {line}: ')' without a matching '('")
            done = stack.pop()
            start = starts.pop()
            stack[-1].append((done, start) if len(stack) == 1 else done)
        else:
            stack[-1].append(token)
    if len(stack) != 1:
        raise ValueError(f"{path}, line {starts[-1]}: '(' is never closed")
    return [item for item in stack[0] if isinstance(item, tuple)]


def _is_number(token) -> bool:
    return isinstance(token, str) and re.fullmatch(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?", token)


def _classify(item: list) -> str:
    """ "soma", a tree kind ("Dendrite", ...), or a description of what else it is."""
    words = [e[0] for e in item if isinstance(e, list) and e and isinstance(e[0], str)]
    if "CellBody" in words:
        return "soma"
    for kind in TREE_TYPES:
        if kind in words:
            return kind
    head = item[0] if item and isinstance(item[0], str) else "item"
    return f"{head.strip(chr(34))} (not a soma contour or a tree)"


def _points(path: Path, elements: list, line: int) -> tuple[np.ndarray, np.ndarray]:
    """The (x, y, z, d) points among `elements` (lists starting with a number), (n, 4),
    and the line of each."""
    points, lines = [], []
    for element in elements:
        if isinstance(element, list) and element and _is_number(element[0]):
            where = getattr(element, "line", line)
            numbers = [float(e) for e in element if _is_number(e)]
            if len(numbers) < 4:
                raise ValueError(f"{path}, line {where}: a point needs x y z d, got {element!r}")
            if numbers[3] < 0:
                raise ValueError(f"{path}, line {where}: negative diameter {numbers[3]:g}")
            points.append(numbers[:4])
            lines.append(where)
    return np.array(points).reshape(-1, 4), np.array(lines, dtype=np.int64)


def _tree_sections(path, elements, line, swc_type, sections, parent=0, parent_point=None):
    """Append the sections of one tree (or branch of a split) in file order."""
    points, lines = _points(path, elements, line)
    splits = [e for e in elements if isinstance(e, list) and e and isinstance(e[0], list)]
    if not points.size:
        raise ValueError(f"{path}, line {line}: a tree branch without points")
    if parent_point is not None:
        # The copy of the parent's last point takes the branch's own first diameter.
        points = np.vstack([[*parent_point[:3], points[0, 3]], points])
        lines = np.concatenate([lines[:1], lines])
    parent_x = 0.5 if parent == 0 else 1.0
    index = len(sections)
    sections.append((single_precision(points), swc_type, parent, parent_x, lines))
    for split in splits:
        for branch in _alternatives(split):
            _tree_sections(path, branch, line, swc_type, sections, index, points[-1])


def _alternatives(split: list) -> list[list]:
    """The branches of a split `( ... | ... )`, each a list of elements."""
    branches: list[list] = [[]]
    for element in split:
        if element == "|":
            branches.append([])
        else:
            branches[-1].append(element)
    return [b for b in branches if b]


def _contour_centroid(contour: np.ndarray) -> np.ndarray:
    """NEURON's centroid line of a soma contour: (21, 4) points with diameters.

    The contour is resampled to 101 points evenly spaced along its perimeter; the line runs
    along the principal axis of those points through their mean, and each diameter is the
    width of the contour across the axis (in the xy plane), from both sides interpolated.
    """
    xyz = contour[:, :3]
    step = np.linalg.norm(np.diff(np.vstack([xyz, xyz[:1]]), axis=0), axis=1)
    perimeter = np.concatenate([[0.0], np.cumsum(step[:-1])])
    uniform = np.arange(101) * (perimeter[-1] / 100)
    resampled = np.stack([np.interp(uniform, perimeter, xyz[:, k]) for k in range(3)], axis=1)
    mean = resampled.mean(axis=0)
    centred = resampled - mean
    values, vectors = np.linalg.eigh(centred.T @ centred)
    biggest, smallest = int(np.argmax(values)), int(np.argmin(values))
    major = vectors[:, biggest]
    if major[np.argmax(np.abs(major))] < 0:
        major = -major
    minor = vectors[:, 3 - biggest - smallest].copy()
    minor[2] = 0.0
    if np.linalg.norm(minor) / (np.linalg.norm(major) + 1e-100) < 1e-6:
        raise ValueError("cannot compute the soma centroid from a contour along z")
    minor /= np.linalg.norm(minor)
    along = centred @ major
    across = centred @ minor
    first = int(np.argmax(along))
    along, across = np.roll(along, -first), np.roll(across, -first)
    lowest = int(np.argmin(along))
    side_a, width_a = _increasing(along[:lowest][::-1], across[:lowest][::-1])
    side_b, width_b = _increasing(along[lowest:], across[lowest:])
    both = np.sort(np.concatenate([side_a, side_b]))
    low, high = both[1], both[-2]
    grid = low + np.arange(21) * ((high - low) / 20)
    diameter = np.abs(np.interp(grid, side_a, width_a) - np.interp(grid, side_b, width_b))
    diameter[0] = (diameter[0] + diameter[1]) / 2
    diameter[-1] = (diameter[-1] + diameter[-2]) / 2
    return np.column_stack([mean + grid[:, None] * major, diameter])


def _increasing(position: np.ndarray, value: np.ndarray):
    """Drop points that do not increase in `position`, scanning from the end (NEURON's way)."""
    position, value = list(position), list(value)
    j = len(position) - 1
    while j > 0:
        if position[j] <= position[j - 1]:
            del position[j], value[j]
            if j != len(position):
                j += 1
        j -= 1
    return np.array(position), np.array(value)


def _assemble(path: Path, sections: list, notes: list[str]) -> Morphology:
    """Morphology from (points (n, 4), type, parent, parent_x) per section, with drops."""
    counts = np.array([s[0].shape[0] for s in sections])
    points = np.concatenate([s[0] for s in sections])
    offsets = np.concatenate([[0], np.cumsum(counts)])
    parents = np.array([s[2] for s in sections])
    parent_x = np.array([s[3] for s in sections], dtype=float)
    types = np.array([s[1] for s in sections])
    removed = degenerate_sections(points[:, :3], offsets)
    parents, parent_x = reattach(parents, parent_x, removed)
    kept = ~removed
    renumber = np.cumsum(kept) - 1
    keep_points = np.repeat(kept, counts)
    parents = np.where(parents[kept] >= 0, renumber[np.maximum(parents[kept], 0)], -1)
    morphology = Morphology(
        points=single_precision(points[keep_points, :3]),
        diameters=single_precision(points[keep_points, 3]),
        offsets=np.concatenate([[0], np.cumsum(counts[kept])]),
        types=types[kept].astype(np.int64),
        parents=parents.astype(np.int64),
        parent_x=parent_x[kept],
        source=str(path),
        point_lines=np.concatenate([s[4] for s in sections])[keep_points],
    )
    return replace(morphology, notes=tuple(notes))
