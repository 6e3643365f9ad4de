"""Compile, cache and load a native kernel, and register it with XLA's FFI.

The shared library is built with the machine's C++ compiler (`$DENDRAX_CXX`, else `$CXX`,
else `g++`) against the FFI headers that jaxlib ships, and cached under
`$DENDRAX_CACHE` (default `~/.cache/dendrax`) by a hash of the source, the flags, the
compiler and jaxlib's version; a later process loads it without compiling.
"""

import ctypes
import hashlib
import itertools
import os
import pathlib
import shutil
import subprocess
import tempfile

import jax
import jaxlib

FLAGS = (
    "-O3",
    "-std=c++17",
    "-shared",
    "-fPIC",
    "-march=native",
    "-ffp-contract=off",
    "-fno-math-errno",
    "-fno-trapping-math",
    "-w",
)
"""Optimise and vectorise, but keep IEEE arithmetic: no fused multiply-add, no reassociation,
so that the kernel computes what the pure-JAX path computes."""

_registered: dict[tuple[str, str], str] = {}
"""FFI target name of each handler (by kernel key and symbol) loaded in this process."""

_loads = itertools.count()


class BuildError(Exception):
    """The native kernel could not be compiled or loaded."""


def compiler() -> str:
    return os.environ.get("DENDRAX_CXX") or os.environ.get("CXX") or "g++"


def cache_dir() -> pathlib.Path:
    default = pathlib.Path.home() / ".cache" / "dendrax"
    return pathlib.Path(os.environ.get("DENDRAX_CACHE", default)) / "native"


def _key(source: str) -> str:
    text = "\n".join([source, " ".join(FLAGS), compiler(), jaxlib.__version__, _cpu()])
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def _cpu() -> str:
    """The CPU's model and flags (the library is built with -march=native)."""
    try:
        lines = pathlib.Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return os.uname().machine
    return "\n".join(sorted({line for line in lines if line.startswith(("model name", "flags"))}))


def _compile(source: str, target: pathlib.Path) -> None:
    exe = shutil.which(compiler())
    if exe is None:
        raise BuildError(f"no C++ compiler {compiler()!r} on PATH")
    with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
        src = pathlib.Path(scratch) / "kernel.cc"
        src.write_text(source)
        out = pathlib.Path(scratch) / target.name
        command = [exe, *FLAGS, f"-I{jax.ffi.include_dir()}", str(src), "-o", str(out)]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise BuildError(f"{compiler()} failed: {result.stderr.strip()[:2000]}")
        os.replace(out, target)  # atomic: a concurrent process sees all of it or nothing


def load(source: str, symbol: str = "DendraxSimulate") -> str:
    """The FFI target name of the handler `symbol` in the kernel built from `source`;
    compiles it if not cached."""
    key = _key(source)
    if (key, symbol) in _registered:
        return _registered[key, symbol]
    path = cache_dir() / f"kernel-{key}.so"
    if not path.exists():
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            _compile(source, path)
        except OSError as error:
            raise BuildError(f"cannot build {path}: {error}") from error
    try:
        library = ctypes.CDLL(str(path))
        handler = jax.ffi.pycapsule(getattr(library, symbol))
    except (OSError, AttributeError) as error:
        raise BuildError(f"cannot load {path}: {error}") from error
    # XLA refuses a second library under a name it knows, so each load gets its own name.
    name = f"dendrax_{symbol.lower()}_{key}_{next(_loads)}"
    jax.ffi.register_ffi_target(name, handler, platform="cpu")
    _registered[key, symbol] = name
    return name
