"""NEURON .mod files as dendrax mechanisms: `load_mod` and `load_mods`.

The importer parses NMODL and runs its statements on JAX arrays with NEURON's meaning, so
that an imported mechanism is inserted, simulated (on the native kernel too: it is
generated from the same jnp code), differentiated and vectorised like a written one.
Supported so far: density mechanisms and point processes (POINTER, NET_RECEIVE with
per-connection arguments, net_send and flag),
DERIVATIVE blocks (cnexp, derivimplicit, euler) and KINETIC schemes (sparse); see
docs/mechanisms.md for the list and what raises an error.
"""

from __future__ import annotations

import functools
import pathlib

from dendrax.mechanisms.base import Mechanism
from dendrax.nmodl.lexer import ModError
from dendrax.nmodl.mechanism import mechanism_class
from dendrax.nmodl.parser import parse

__all__ = ["ModError", "load_mod", "load_mods"]


def load_mod(path_or_text) -> type[Mechanism]:
    """The mechanism class of a .mod file (a path, or the file's text), named by its
    SUFFIX or POINT_PROCESS: `NaTa_t = dx.load_mod("NaTa_t.mod"); cell.insert(NaTa_t())`."""
    return _imported(*_read(path_or_text))


@functools.lru_cache(maxsize=512)
def _imported(text: str, source: str) -> type[Mechanism]:
    """One class per file and text: loading a file twice gives the same mechanism."""
    return mechanism_class(parse(text, source))


def load_mods(folder) -> dict[str, type[Mechanism]]:
    """Every .mod file of `folder` (what nrnivmodl compiles), by mechanism name."""
    folder = pathlib.Path(folder)
    if not folder.is_dir():
        raise NotADirectoryError(f"load_mods expects a folder of .mod files, got {folder}")
    classes = [load_mod(path) for path in sorted(folder.glob("*.mod"))]
    return {cls.__name__: cls for cls in classes}


def _read(path_or_text) -> tuple[str, str]:
    if isinstance(path_or_text, pathlib.Path) or (
        isinstance(path_or_text, str) and "\n" not in path_or_text
    ):
        path = pathlib.Path(path_or_text)
        if not path.is_file():
            raise FileNotFoundError(f"no .mod file at {path}")
        return path.read_text(), str(path)
    return str(path_or_text), "<text>"
