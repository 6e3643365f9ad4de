"""Compile, cache and load native code, and reach it through XLA's FFI.

Two kinds of shared library are built with the machine's C++ compiler (`$DENDRAX_CXX`, else
`$CXX`, else `g++`) and cached under `$DENDRAX_CACHE` (default `~/.cache/dendrax`) by a
hash of the source, the flags, the compiler, jaxlib's version and the CPU, so that a later
process loads them without compiling:

- a model's library (kernel.cc or adjoint.cc filled in) with plain entry points (call.h);
- the binding (binding.cc), one for every model: the only code that includes XLA's FFI
  headers, whose parsing and templates took most of a model's compile. It is registered as
  the FFI target `TARGET`, and each call names the entry point it runs in its attribute
  "entry" (see `load`).

Where both are missing they are compiled in parallel.
"""

import ctypes
import hashlib
import logging
import os
import pathlib
import shutil
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

import jax
import jaxlib

from dendrax.native.source import template_text
from dendrax.progress import shown

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
"""A model's library: optimise and vectorise, but keep IEEE arithmetic (no fused multiply-add,
no reassociation), so that the kernel computes what the pure-JAX path computes."""

BINDING_FLAGS = ("-O1", "-std=c++17", "-shared", "-fPIC", "-w")
"""The binding only unpacks a call's buffers: its compile is parsing, not optimising."""

TARGET = "dendrax_native"
"""The FFI target of the binding, registered once per process."""

COMPILE_NOTICE_S = 1.0
"""Compiles longer than this are logged (INFO, logger "dendrax")."""

logger = logging.getLogger("dendrax")

_registered: dict[tuple[str, str], str] = {}
"""Entry point name of each (library key, symbol) registered with the binding."""

_binding: list[ctypes.CDLL] = []
"""The binding loaded in this process (at most one: XLA keeps the first handler it gets)."""


class BuildError(Exception):
    """The native code could not be compiled or loaded."""


def usable_cores() -> int:
    """Cores this process may run on (`taskset` limits them; all cores where unknown): the
    threads a batch may use."""
    if hasattr(os, "sched_getaffinity"):  # Linux
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def compiler() -> str:
    return os.environ.get("DENDRAX_CXX") or os.environ.get("CXX") or "g++"


def cache_dir() -> pathlib.Path:
    default = pathlib.Path.home() / ".cache" / "dendrax"
    return pathlib.Path(os.environ.get("DENDRAX_CACHE", default)) / "native"


def _key(source: str, flags: tuple[str, ...]) -> str:
    text = "\n".join([source, " ".join(flags), compiler(), jaxlib.__version__, _cpu()])
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def _cpu() -> str:
    """The CPU's model and flags (the library is built with -march=native)."""
    try:
        lines = pathlib.Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return os.uname().machine
    return "\n".join(sorted({line for line in lines if line.startswith(("model name", "flags"))}))


PARTS = ("-DDENDRAX_PART=0", "-DDENDRAX_PART=1")
"""The two parts of a model's library (kernel.cc, adjoint.cc; see step.h), compiled from one
source in parallel processes and linked where the process may use more than one core:
single simulations with the entry points, and batches in lane groups."""


def _compile(source: str, target: pathlib.Path, flags: tuple[str, ...]) -> None:
    exe = shutil.which(compiler())
    if exe is None:
        raise BuildError(f"no C++ compiler {compiler()!r} on PATH")
    with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
        src = pathlib.Path(scratch) / "source.cc"
        src.write_text(source)
        out = pathlib.Path(scratch) / target.name
        include = f"-I{jax.ffi.include_dir()}"
        if "DENDRAX_PART" not in source or usable_cores() == 1:  # the binding, or one core
            _run([[exe, *flags, include, str(src), "-o", str(out)]])
        else:
            objects = [str(pathlib.Path(scratch) / f"part{k}.o") for k in range(len(PARTS))]
            _run(
                [
                    [exe, *flags, part, include, "-c", str(src), "-o", obj]
                    for part, obj in zip(PARTS, objects, strict=True)
                ]
            )
            _run([[exe, *flags, *objects, "-o", str(out)]])
        os.replace(out, target)  # atomic: a concurrent process sees all of it or nothing


def _run(commands: list[list[str]]) -> None:
    """Run the compiler commands in parallel processes; `BuildError` if one fails."""
    processes = [
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for command in commands
    ]
    errors = [process.communicate()[1] for process in processes]
    for process, error in zip(processes, errors, strict=True):
        if process.returncode != 0:
            raise BuildError(f"{compiler()} failed: {error.strip()[:2000]}")


def _built(jobs: list[tuple[str, str, pathlib.Path, tuple[str, ...]]]) -> None:
    """Compile the (what, source, path, flags) whose library is not cached, in parallel."""
    missing = [job for job in jobs if not job[2].exists()]

    def build(job):
        what, source, path, flags = job
        start = time.perf_counter()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            _compile(source, path, flags)
        except OSError as error:
            raise BuildError(f"cannot build {path}: {error}") from error
        seconds = time.perf_counter() - start
        if seconds > COMPILE_NOTICE_S:
            logger.info("dendrax: compiled %s in %.1f s, cached in %s", what, seconds, path)

    if not missing:
        return
    finished = []
    description = f"dendrax: compiling {missing[0][0]} (cached afterwards)"
    # A bar once compiling has lasted 2 s (a model's first build can take tens of seconds).
    with shown(len(missing), None, lambda: len(finished), "library", description):
        with ThreadPoolExecutor(len(missing)) as pool:
            for future in [pool.submit(build, job) for job in missing]:
                future.result()
                finished.append(future)


def _open(path: pathlib.Path) -> ctypes.CDLL:
    try:
        return ctypes.CDLL(str(path))
    except OSError as error:
        raise BuildError(f"cannot load {path}: {error}") from error


def _binding_job() -> tuple[str, str, pathlib.Path, tuple[str, ...]]:
    source = template_text("binding.cc").replace("@CALL@", template_text("call.h"))
    path = cache_dir() / f"binding-{_key(source, BINDING_FLAGS)}.so"
    return "the FFI binding shared by every model", source, path, BINDING_FLAGS


def _register_binding(path: pathlib.Path) -> ctypes.CDLL:
    library = _open(path)
    try:
        handler = jax.ffi.pycapsule(library.DendraxHandler)
        library.dendrax_register.argtypes = (ctypes.c_char_p, ctypes.c_void_p)
        library.dendrax_steps_done.restype = ctypes.c_int64
    except AttributeError as error:
        raise BuildError(f"cannot load {path}: {error}") from error
    jax.ffi.register_ffi_target(TARGET, handler, platform="cpu")
    _binding.append(library)
    return library


def steps_done() -> int:
    """The simulated steps the native kernels have run in this process so far (times the
    simulations of their batches), counted as they go: for progress bars. 0 before any
    native kernel was loaded."""
    return int(_binding[0].dendrax_steps_done()) if _binding else 0


def load(source: str, symbol: str, what: str) -> str:
    """The name of the entry point `symbol` (see call.h) of the library built from `source`,
    to pass as the attribute "entry" of an FFI call of `TARGET`; compiles what is not cached
    (`what` says what it is, in the log)."""
    key = _key(source, FLAGS)
    if (key, symbol) in _registered:
        return _registered[key, symbol]
    path = cache_dir() / f"kernel-{key}.so"
    jobs = [(what, source, path, FLAGS)]
    binding = _binding_job() if not _binding else None
    _built(jobs if binding is None else [*jobs, binding])
    registry = _binding[0] if binding is None else _register_binding(binding[2])
    library = _open(path)
    try:
        address = ctypes.cast(getattr(library, symbol), ctypes.c_void_p)
    except AttributeError as error:
        raise BuildError(f"cannot load {path}: {error}") from error
    name = f"{key}:{symbol}"
    registry.dendrax_register(name.encode(), address)
    _registered[key, symbol] = name
    return name
