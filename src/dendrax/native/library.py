"""Compile, cache and load native code, and reach it through XLA's FFI.

Shared libraries are built with the machine's C++ compiler (`$DENDRAX_CXX`, else `$CXX`,
else `g++`) and cached under `$DENDRAX_CACHE` (default `~/.cache/dendrax`) by a hash of the
source, the flags, the compiler, jaxlib's version and the CPU, so that a later process loads
them without compiling:

- a model's library (kernel.cc or adjoint.cc filled in) in two parts, each a shared library
  with plain entry points (call.h): the single part (`DENDRAX_PART` 0: single simulations,
  and batches one simulation at a time), compiled when it is first needed, and the lanes part
  (1: batches in SIMD lane groups, see step.h), compiled the first time a batch asks for it
  (`DendraxCall.companion`), linked against the single part whose stored steps it shares;
  the adjoint's parts each in two compile units (`UNITS`) compiled at the same time where
  the machine has cores to spare;
- the binding (binding.cc), one for every model: the only code that reads XLA's FFI call
  frames. It is registered as the FFI target `TARGET`, and each call names the entry point
  it runs in its attribute "entry" (see `load`); an entry point not registered yet is asked
  of `_resolve` (through a callback), which compiles, loads and registers it.

Each compile runs in a thread of its own (one compiler process), so that a part can be
compiled ahead (`prepare`) while the caller goes on; whoever needs it waits for it then.
"""

import atexit
import ctypes
import functools
import hashlib
import logging
import os
import pathlib
import shutil
import subprocess
import tempfile
import threading
import time
from concurrent.futures import Future

import jax
import jaxlib

from dendrax.native.source import template_text
from dendrax.progress import shown

FLAGS = (
    "-std=c++17",
    "-shared",
    "-fPIC",
    "-march=native",
    "-ffp-contract=off",
    "-fno-math-errno",
    "-fno-trapping-math",
    "-w",
)
"""A model's library, besides its optimisation (`flags`): keep IEEE arithmetic (no fused
multiply-add, no reassociation), so that the kernel computes what the pure-JAX path
computes."""

GCC_OPTIMISATION = ("-O2", "-fvect-cost-model=dynamic")
"""GCC: -O2 with -O3's vectoriser. The mechanisms' loops over sites run as fast as with -O3
(they are what is vectorised; plain -O2 runs them 3x slower), and a model's adjoint
compiles in about 35 % less time (docs/performance.md)."""

OTHER_OPTIMISATION = ("-O3",)
"""Other compilers (Clang): -O3."""


BINDING_FLAGS = ("-O1", "-std=c++17", "-shared", "-fPIC", "-w")
"""The binding only reads a call's frame: its compile is parsing, not optimising."""

PARTS = {"single": "-DDENDRAX_PART=0", "lanes": "-DDENDRAX_PART=1"}
"""The parts of a model's library (see the module's docstring and step.h)."""

UNITS = {"adjoint": ("-DDENDRAX_UNIT=0", "-DDENDRAX_UNIT=1")}
"""The compile units of a kind of library, each compiled by a compiler process of its own at
the same time (adjoint.cc: its sweeps, and its vector-Jacobian products' loops), where the
machine has `SPLIT_CORES` cores or more; else as one (adjoint.cc: `WHOLE`)."""

WHOLE = {"adjoint": "-DDENDRAX_UNIT=2"}

SPLIT_CORES = 4
"""Cores from which a library is compiled in `UNITS`. Splitting costs compile time (each
unit parses the whole source: Hay's adjoint 5.6 s of g++ whole, 3.8 + 2.7 s in units) and
saves waiting only where the units get cores of their own: on 2 cores, beside the kernel's
compile and the first run, it made the first gradient later."""

TARGET = "dendrax_native"
"""The FFI target of the binding, registered once per process."""

COMPILE_NOTICE_S = 1.0
"""Compiles longer than this are logged (INFO, logger "dendrax")."""

logger = logging.getLogger("dendrax")

_lock = threading.Lock()
"""Guards the module's registries below."""

_libraries: dict[str, "_Library"] = {}
"""The model libraries this process has asked for, by key."""

_registered: dict[str, int] = {}
"""The address of each entry point registered with the binding, by name."""

_binding_lock = threading.Lock()
_binding: list[ctypes.CDLL] = []
"""The binding loaded in this process (at most one: XLA keeps the first handler it gets)."""

_compiling: dict[subprocess.Popen, pathlib.Path] = {}
"""The compiler processes running, with their scratch folders (stopped at exit)."""

_said: set[str] = set()
"""The warnings `say_once` has given."""


def say_once(message: str) -> None:
    """Warn with `message` on the "dendrax" logger, once per process (why a path is not
    native, for instance)."""
    if message not in _said:
        _said.add(message)
        logger.warning(message)


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


def flags() -> tuple[str, ...]:
    """The flags of a model's library for `compiler()`."""
    return (*(GCC_OPTIMISATION if _is_gcc(compiler()) else OTHER_OPTIMISATION), *FLAGS)


@functools.cache
def _is_gcc(exe: str) -> bool:
    """Whether the compiler `exe` is GCC (by its --version, which names the Free Software
    Foundation; Clang's, also where installed as g++, does not)."""
    try:
        version = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout
    except OSError:
        return False
    return "free software foundation" in version.lower()


def _key(source: str, options: tuple[str, ...]) -> str:
    text = "\n".join([source, " ".join(options), compiler(), jaxlib.__version__, _cpu()])
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def _cpu() -> str:
    """The CPU's model and flags (the library is built with -march=native)."""
    try:
        lines = pathlib.Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return os.uname().machine
    return "\n".join(sorted({line for line in lines if line.startswith(("model name", "flags"))}))


def _compile(
    source: str,
    target: pathlib.Path,
    options: tuple[str, ...],
    linked: tuple[str, ...] = (),
    units: tuple[str, ...] = (),
) -> None:
    """Compile `source` into the shared library `target` (linked against `linked`); with
    two `units` or more (flags such as "-DDENDRAX_UNIT=0"), once per unit, the compiles in
    parallel, then linked together; with one, in one step with its flag."""
    exe = shutil.which(compiler())
    if exe is None:
        raise BuildError(f"no C++ compiler {compiler()!r} on PATH")
    try:
        scratch = pathlib.Path(tempfile.mkdtemp(dir=target.parent))
    except OSError as error:
        raise BuildError(f"cannot build {target}: {error}") from error
    try:
        src, out = scratch / "source.cc", scratch / target.name
        src.write_text(source)
        include = f"-I{jax.ffi.include_dir()}"
        if len(units) <= 1:
            _run([[exe, *options, *units, include, str(src), *linked, "-o", str(out)]], scratch)
        else:
            objects = [str(scratch / f"unit{k}.o") for k in range(len(units))]
            _run(
                [
                    [exe, *options, unit, include, "-c", str(src), "-o", obj]
                    for unit, obj in zip(units, objects, strict=True)
                ],
                scratch,
            )
            _run([[exe, *options, *objects, *linked, "-o", str(out)]], scratch)
        os.replace(out, target)  # atomic: a concurrent process sees all of it or nothing
    except OSError as error:
        raise BuildError(f"cannot build {target}: {error}") from error
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _run(commands: list[list[str]], scratch: pathlib.Path) -> None:
    """Run the compiler `commands` side by side; BuildError with the first one's error
    where one fails."""
    processes = []
    try:
        with _lock:
            for command in commands:
                process = subprocess.Popen(
                    command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
                )
                processes.append(process)
                _compiling[process] = scratch
        errors = [process.communicate()[1] for process in processes]
        for process, error in zip(processes, errors, strict=True):
            if process.returncode != 0:
                raise BuildError(f"{compiler()} failed: {error.strip()[:2000]}")
    finally:
        with _lock:
            for process in processes:
                _compiling.pop(process, None)


@atexit.register
def _stop_compiling() -> None:
    """Stop the compiles still running at exit (parts compiled ahead and never needed)."""
    with _lock:
        running = dict(_compiling)
    for process, scratch in running.items():
        process.kill()
        shutil.rmtree(scratch, ignore_errors=True)


def _in_background(work, *args) -> Future:
    """`work(*args)` in a thread of its own; its result or error in the future returned."""
    future = Future()

    def run():
        try:
            future.set_result(work(*args))
        except BaseException as error:  # handed to whoever waits for the result
            future.set_exception(error)

    threading.Thread(target=run, daemon=True, name="dendrax-compile").start()
    return future


def _logged_compile(
    what: str, source: str, target: pathlib.Path, options, linked=(), units=()
) -> None:
    start = time.perf_counter()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise BuildError(f"cannot build {target}: {error}") from error
    _compile(source, target, options, linked, units)
    seconds = time.perf_counter() - start
    if seconds > COMPILE_NOTICE_S:
        logger.info("dendrax: compiled %s in %.1f s, cached in %s", what, seconds, target)


class _Library:
    """A model's library: its source and the compiles of its parts, each started once."""

    def __init__(self, key: str, kind: str, source: str, what: str, units: tuple[str, ...]):
        self.key, self.kind, self.source, self.what = key, kind, source, what
        self.units = units
        self.folder = cache_dir()
        self._parts: dict[str, Future] = {}
        self._part_lock = threading.Lock()

    def path(self, part: str) -> pathlib.Path:
        return self.folder / f"{self.kind}-{self.key}-{part}.so"

    def what_of(self, part: str) -> str:
        return self.what if part == "single" else f"{self.what} for batches"

    def part(self, part: str) -> Future:
        """The loaded library of `part` (a future: compiled first where not cached)."""
        with self._part_lock:
            if part not in self._parts:
                self._parts[part] = _in_background(self._built, part)
            return self._parts[part]

    def _built(self, part: str) -> ctypes.CDLL:
        path = self.path(part)
        if not path.exists():
            # The lanes part shares the single part's stored steps: linked against it.
            linked = (str(self.path("single")),) if part == "lanes" else ()
            if linked:
                self.part("single").result()
            options = (*flags(), PARTS[part])
            _logged_compile(self.what_of(part), self.source, path, options, linked, self.units)
        return _open(path)


def _waited(future: Future, what: str):
    """The result of `future`, with a bar while it takes long (a compile, the first time)."""
    if future.done():
        return future.result()
    description = f"dendrax: compiling {what} (cached afterwards)"
    # A bar once compiling has lasted 2 s (a model's first build can take tens of seconds).
    with shown(1, None, lambda: int(future.done()), "library", description):
        return future.result()


def _open(path: pathlib.Path) -> ctypes.CDLL:
    try:
        return ctypes.CDLL(str(path))
    except OSError as error:
        raise BuildError(f"cannot load {path}: {error}") from error


def _binding_library() -> ctypes.CDLL:
    """The binding, compiled where it is not cached, registered with XLA once per process."""
    with _binding_lock:
        if _binding:
            return _binding[0]
        source = template_text("binding.cc").replace("@CALL@", template_text("call.h"))
        path = cache_dir() / f"binding-{_key(source, BINDING_FLAGS)}.so"
        if not path.exists():
            _logged_compile("the FFI binding shared by every model", source, path, BINDING_FLAGS)
        library = _open(path)
        try:
            handler = jax.ffi.pycapsule(library.DendraxHandler)
            library.dendrax_register.argtypes = (ctypes.c_char_p, ctypes.c_void_p)
            library.dendrax_steps_done.restype = ctypes.c_int64
            library.dendrax_set_resolver.argtypes = (_RESOLVER,)
        except AttributeError as error:
            raise BuildError(f"cannot load {path}: {error}") from error
        library.dendrax_set_resolver(_resolver)
        jax.ffi.register_ffi_target(TARGET, handler, platform="cpu")
        _binding.append(library)
        return library


def steps_done() -> int:
    """The simulated steps the native kernels have run in this process so far (times the
    simulations of their batches), counted as they go: for progress bars. 0 before any
    native kernel was loaded."""
    return int(_binding[0].dendrax_steps_done()) if _binding else 0


def compile_units(kind: str) -> tuple[str, ...]:
    """The flags of each compile unit of a library of `kind` on this machine: its `UNITS`
    where it has `SPLIT_CORES` cores or more, else one unit (`WHOLE`, or no flag)."""
    if kind in UNITS and usable_cores() >= SPLIT_CORES:
        return UNITS[kind]
    return (WHOLE[kind],) if kind in WHOLE else ()


def _library(source: str, kind: str, what: str) -> "_Library":
    units = compile_units(kind)
    key = _key(source, (*flags(), *units))
    with _lock:
        if key not in _libraries:
            _libraries[key] = _Library(key, kind, source, what, units)
        return _libraries[key]


def prepare(source: str, kind: str, what: str) -> None:
    """Start compiling the single part of the library built from `source` (see `load`) in
    the background, where it is not cached; whoever loads it later waits for the compile."""
    _library(source, kind, what).part("single")


def load(source: str, symbol: str, kind: str, what: str, wait: bool = True) -> str:
    """The name of the entry point `symbol` (see call.h) of the library built from `source`,
    to pass as the attribute "entry" of an FFI call of `TARGET`; compiles what is not cached
    (`kind`, "kernel" or "adjoint", names its file; `what` says what it is, in the log).
    With `wait=False`, a compile under way goes on while the caller does (traces and
    compiles its XLA program): the first call of the entry point waits for it, and fails
    there if it does (`BuildError` here only where it has failed already)."""
    library = _library(source, kind, what)
    single = library.part("single")  # its compile starts before the binding's
    _binding_library()
    name = f"{library.key}:{symbol}"
    if wait or single.done():
        _resolve(name)
    return name


def _resolve(name: str) -> int:
    """The address of the entry point `name` ("key:symbol"), compiled, loaded and registered
    with the binding where it is not yet; `BuildError` where it cannot be."""
    with _lock:
        if name in _registered:
            return _registered[name]
        key, symbol = name.rsplit(":", 1)
        library = _libraries.get(key)
    if library is None:
        raise BuildError(f"no native library {key} in this process")
    part = "lanes" if symbol.endswith("_lanes") else "single"
    loaded = _waited(library.part(part), library.what_of(part))
    try:
        address = ctypes.cast(getattr(loaded, symbol), ctypes.c_void_p).value
    except AttributeError as error:
        raise BuildError(f"cannot load {library.path(part)}: {error}") from error
    with _lock:
        _registered[name] = address
    _binding[0].dendrax_register(name.encode(), address)
    return address


_RESOLVER = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_char_p)


@_RESOLVER
def _resolver(name: bytes) -> int | None:
    """`_resolve` for the binding, asked from a running call: an entry point whose compile
    was under way when the call was traced, or the lanes part of a library the first time a
    batch needs it. None where it fails, after saying why (a batch then runs one simulation
    at a time; another call fails, naming the entry point)."""
    try:
        return _resolve(name.decode())
    except Exception as error:  # a callback from C must not raise
        lanes = name.decode().endswith("_lanes")
        reason = str(error) or type(error).__name__  # an exception without a message
        logger.warning("dendrax: %s%s", reason, "; batches run one simulation at a time" * lanes)
        return None
