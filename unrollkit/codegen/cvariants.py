"""The C variants (README: Unrolling): mac, dot and gemm written in C and compiled by gcc or clang.

``c-plain`` is the plain loop with the compiler's defaults; ``c-pragma`` asks the compiler to
unroll by N (``#pragma GCC unroll N`` / ``#pragma clang loop unroll_count(N)``); ``c-manual`` is
unrolled by hand (N = 1, 2, 4, 8); ``c-macro`` expands the body N times with the ``UNROLL_N``
preprocessor macro; ``cxx-template`` expands it N times by a C++ template (a fold over
``std::index_sequence``, kernels/c/<kernel>.cpp + unroll.hpp, built by g++ or clang++). The C
sources are kernels/c/<kernel>.c (+ unroll.h), one file per kernel with the variant chosen by
``-D`` flags; the native CMake build compiles the very same files.

    >>> k = build("mac", "c-pragma", 4, "f32", compiler="gcc")
    >>> k(a, b, c)                       # c += a * b, same arguments as unrollkit.kernels.mac
    >>> k.time(a, b, c, reps=1000)       # seconds for 1000 calls, timed inside C

Each build is one shared object, compiled by running the C compiler (so the exact command line
is known and recorded; cffi's ``compile()`` would add Python's own CFLAGS) and loaded with cffi
in ABI mode (``ffi.dlopen``). Shared objects are cached under ``unrollkit.core.cache.directory()/c``,
keyed on the source text, the flags, the compiler and its version, and the host CPU (the flags
say ``-march=native``).
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import tempfile
import time
import weakref
from pathlib import Path

import cffi
import numpy as np

from unrollkit.codegen import so_cache
from unrollkit.core.errors import ArgumentError, CompileError, ToolMissingError, TransformError
from unrollkit.core.target import cpuinfo
import platform

CVARIANTS = ("c-plain", "c-pragma", "c-manual", "c-macro", "cxx-template")
C_KERNELS = ("mac", "dot", "gemm")
DTYPES = {"f32": ("float", np.dtype(np.float32)), "f64": ("double", np.dtype(np.float64))}
#: the factors kernels/c has hand-unrolled bodies for
MANUAL_FACTORS = (1, 2, 4, 8)
#: the most copies of the body the UNROLL_N macro of unroll.h can expand
MACRO_MAX_FACTOR = 127
#: what compilers() looks for on PATH, by preference
COMPILER_COMMANDS = {"gcc": ("gcc",), "clang": ("clang-22", "clang")}
#: the C++ compiler of each toolchain, for cxx-template (kernels/c/<kernel>.cpp + unroll.hpp)
CXX_COMMANDS = {"gcc": ("g++",), "clang": ("clang++-22", "clang++")}
#: the most copies of the body cxx-template expands (a fold over std::index_sequence)
TEMPLATE_MAX_FACTOR = 256

#: c-plain: the compiler decides about unrolling, as in an everyday build
OPTIMIZE_FLAGS = ("-O3", "-march=native")
#: every other variant: only the requested unrolling (at -O3 clang and gcc would unroll further
#: and, for clang, interleave vectorised loops; the pragma still applies)
NO_COMPILER_UNROLL = ("-fno-unroll-loops",)
#: how any variant becomes a loadable shared object
SHARED_OBJECT_FLAGS = ("-std=gnu11", "-fPIC", "-shared")

#: bump when the build changes in a way the cache key does not otherwise see
BUILD_VERSION = "cvariants-2-verified"


class CVariantError(TransformError, ValueError):
    """An invalid kernel, variant, factor, element type or compiler name for a C variant."""


@dataclasses.dataclass(frozen=True)
class _Signature:
    """A C kernel's arguments: arrays in the order of ``unrollkit.kernels.<kernel>``, then sizes."""
    arrays: tuple  # ((name, shape), ...); a shape entry is a size name or a fixed int
    output: str    # the array updated in place
    sizes: tuple   # the size names passed to C after the arrays, in the prototype's order

    def cdef(self, kernel: str, ctype: str) -> str:
        args = ", ".join(("real *" if name == self.output else "const real *") + name
                         for name, _ in self.arrays)
        args += "".join(f", long {s}" for s in self.sizes)
        return (f"typedef {ctype} real;\n"
                f"void uk_{kernel}({args});\n"
                f"double uk_{kernel}_time({args}, long reps);\n")


SIGNATURES = {
    "mac": _Signature((("a", ("N",)), ("b", ("N",)), ("c", ("N",))), "c", ("N",)),
    "dot": _Signature((("x", ("N",)), ("y", ("N",)), ("out", (1,))), "out", ("N",)),
    "gemm": _Signature((("A", ("M", "K")), ("B", ("K", "N")), ("C", ("M", "N"))), "C",
                       ("M", "N", "K")),
}


# -- what to build

def compilers() -> dict:
    """The C compilers found on PATH: ``{"gcc": "/usr/bin/gcc", "clang": "/usr/bin/clang-22"}``."""
    found = {}
    for name, commands in COMPILER_COMMANDS.items():
        for command in commands:
            path = shutil.which(command)
            if path:
                found[name] = path
                break
    return found


def _check_choice(kernel: str, variant: str, factor: int, dtype: str, compiler: str) -> None:
    if kernel not in C_KERNELS:
        raise CVariantError(f"no C source for kernel {kernel!r}; the C kernels are {list(C_KERNELS)}")
    if variant not in CVARIANTS:
        raise CVariantError(f"unknown C variant {variant!r}; the C variants are {list(CVARIANTS)}")
    if isinstance(factor, bool) or not isinstance(factor, (int, np.integer)):
        raise CVariantError(f"unroll factor must be a positive integer, got {factor!r}")
    if factor < 1:
        raise CVariantError(f"unroll factor must be >= 1, got {factor}")
    if variant == "c-manual" and factor not in MANUAL_FACTORS:
        raise CVariantError(f"c-manual is hand-unrolled for factors {list(MANUAL_FACTORS)} only, "
                            f"not {factor}; c-macro and c-pragma take any factor")
    if variant == "cxx-template" and factor > TEMPLATE_MAX_FACTOR:
        raise CVariantError(f"cxx-template expands at most {TEMPLATE_MAX_FACTOR} copies of the "
                            f"body, not {factor}")
    if variant == "c-macro" and factor > MACRO_MAX_FACTOR:
        raise CVariantError(f"c-macro expands at most {MACRO_MAX_FACTOR} copies of the body, "
                            f"not {factor}")
    if dtype not in DTYPES:
        raise CVariantError(f"unknown element type {dtype!r}; the C variants take {list(DTYPES)}")
    if compiler not in COMPILER_COMMANDS:
        raise CVariantError(f"unknown C compiler {compiler!r}; the compilers are "
                            f"{list(COMPILER_COMMANDS)}")


def compile_flags(variant: str, factor: int, dtype: str) -> list:
    """Every flag of the compile command but the input and output paths.

    c-plain's source does not depend on the factor: it gets no ``-DUNROLL`` and one shared
    object serves every factor."""
    flags = list(OPTIMIZE_FLAGS)
    if variant != "c-plain":
        flags += NO_COMPILER_UNROLL
    if variant == "cxx-template":  # C++: the template expansion of kernels/c/unroll.hpp
        flags += ["-std=c++17"] + [f for f in SHARED_OBJECT_FLAGS if not f.startswith("-std=")]
        return flags + [f"-DREAL={DTYPES[dtype][0]}", f"-DUNROLL={int(factor)}"]
    flags += SHARED_OBJECT_FLAGS
    flags += [f"-DREAL={DTYPES[dtype][0]}", "-DUK_VARIANT_" + variant[2:].upper()]
    if variant != "c-plain":
        flags.append(f"-DUNROLL={int(factor)}")
    return flags


def source_directory() -> Path:
    """kernels/c, wherever the ``unrollkit.kernels`` package lives (found without importing it)."""
    return Path(importlib.util.find_spec("unrollkit.kernels").origin).parent / "c"


@functools.lru_cache(maxsize=None)
def compiler_version(path: str) -> str:
    """The first line of ``<compiler> --version``, e.g. ``gcc (Debian 12.2.0-14) 12.2.0``."""
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=60,
                             check=True).stdout
    except (OSError, subprocess.SubprocessError) as e:
        raise ToolMissingError(f"the C compiler {path} does not run: {e}") from e
    return out.splitlines()[0].strip() if out.strip() else "unknown"


@functools.lru_cache(maxsize=None)
def _host_cpu() -> str:
    """What ``-march=native`` resolves from: the CPU model and its feature flags."""
    info = cpuinfo()
    if not info:
        return platform.machine() + " " + platform.processor()
    return info.get("model name", "") + "|" + info.get("flags", "")


# -- building, with the disk cache

def _compile(compiler_path: str, flags: list, source_file: Path, directory: Path,
             stem: str) -> tuple:
    """Compile to ``directory/stem.so`` through a temporary file and an atomic rename, so that
    a reader never loads half a file and two processes building the same one both succeed.

    Returns (path, seconds, command, SHA-256 of the object)."""
    target = directory / (stem + ".so")
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=".so")
    os.close(fd)
    command = [compiler_path, *flags, str(source_file), "-o", tmp]
    try:
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        if done.returncode != 0:
            raise CompileError(f"{' '.join(command[:-2])} failed (exit {done.returncode}):\n"
                               f"{done.stderr.strip()}")
        digest = so_cache.check_built(tmp, command)  # a compiler that wrote nothing: an error
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target, seconds, command[:-1] + [str(target)], digest


def _compiler_path(compiler: str) -> str:
    found = compilers()
    if compiler not in found:
        raise ToolMissingError(
            f"the C compiler {compiler!r} is not installed: none of "
            f"{', '.join(COMPILER_COMMANDS[compiler])} is on PATH (found: "
            f"{', '.join(sorted(found)) or 'none'}); on Debian: apt-get install "
            f"{'clang-22' if compiler == 'clang' else 'gcc'}")
    return found[compiler]


def _cxx_path(compiler: str) -> str:
    """The C++ compiler of the ``compiler`` toolchain (g++, clang++-22 or clang++)."""
    for command in CXX_COMMANDS[compiler]:
        path = shutil.which(command)
        if path:
            return path
    raise ToolMissingError(f"the C++ compiler of {compiler!r} is not installed: none of "
                           f"{', '.join(CXX_COMMANDS[compiler])} is on PATH (cxx-template needs it); "
                           f"on Debian: apt-get install {'g++' if compiler == 'gcc' else 'clang-22'}")


def _writable_cache_directory() -> Path | None:
    """``<unrollkit cache>/c``, or None when the cache is disabled, untrusted or unwritable."""
    return so_cache.folder()


def build(kernel: str, variant: str, factor: int, dtype: str = "f32",
          compiler: str = "gcc") -> "CKernel":
    """The C ``variant`` of ``kernel`` unrolled by ``factor``, compiled by ``compiler``.

    ``compiler`` is "gcc" or "clang" (clang-22 preferred); a compiler that is not installed
    raises ToolMissingError. c-plain ignores ``factor`` (the compiler decides).
    """
    _check_choice(kernel, variant, factor, dtype, compiler)
    factor = int(factor)
    cxx = variant == "cxx-template"
    compiler_path = _cxx_path(compiler) if cxx else _compiler_path(compiler)
    version = compiler_version(compiler_path)
    flags = compile_flags(variant, factor, dtype)
    source_file = source_directory() / (f"{kernel}.cpp" if cxx else f"{kernel}.c")
    source = source_file.read_text()
    header = (source_directory() / ("unroll.hpp" if cxx else "unroll.h")).read_text()
    key = hashlib.sha256(json.dumps([BUILD_VERSION, source, header, flags, compiler_path, version,
                                     _host_cpu()]).encode()).hexdigest()
    unroll = "" if variant == "c-plain" else f"-u{factor}"
    stem = f"{kernel}-{variant}-{dtype}{unroll}-{compiler}-{key[:24]}"
    described = dict(name=kernel, variant=variant, factor=factor, dtype=dtype, compiler=compiler,
                     flags=flags, compiler_version=version, source=source)

    directory = _writable_cache_directory()
    if directory is None:  # no cache: a private folder that goes away with the kernel
        private = Path(tempfile.mkdtemp(prefix="unrollkit-c-"))
        so_path, seconds, _, _ = _compile(compiler_path, flags, source_file, private, stem)
        return CKernel(**described, compile_seconds=seconds, so_path=str(so_path),
                       _remove_on_close=private)

    hit = so_cache.load_cached(directory, stem, key, lambda record, path: CKernel(
        **described, compile_seconds=float(record["compile_seconds"]), so_path=path, cache_hit=True))
    if hit is not None:
        return hit  # else missing, damaged, replaced or foreign: build it again
    so_path, seconds, command, digest = _compile(compiler_path, flags, source_file, directory, stem)
    so_cache.write_record(directory, stem, {"key": key, "sha256": digest, "compile_seconds": seconds,
                                            "command": command, "compiler_version": version})
    return CKernel(**described, compile_seconds=seconds, so_path=str(so_path))


# -- calling

@functools.lru_cache(maxsize=None)
def _ffi(kernel: str, dtype: str) -> cffi.FFI:
    ffi = cffi.FFI()
    ffi.cdef(SIGNATURES[kernel].cdef(kernel, DTYPES[dtype][0]))
    return ffi


@dataclasses.dataclass(eq=False)
class CKernel:
    """One compiled C variant. Call it like ``unrollkit.kernels.<name>``: ``k(a, b, c)``."""
    name: str
    variant: str
    factor: int
    dtype: str
    compiler: str
    flags: list
    compiler_version: str
    compile_seconds: float  # of the compile that made the shared object, cached or not
    source: str             # kernels/c/<name>.c
    so_path: str
    cache_hit: bool = False  # the shared object came from the disk cache
    _remove_on_close: Path | None = dataclasses.field(default=None, repr=False)

    def __post_init__(self):
        self._signature = SIGNATURES[self.name]
        self._ffi = _ffi(self.name, self.dtype)
        self._lib = self._ffi.dlopen(self.so_path)
        self._kernel = getattr(self._lib, f"uk_{self.name}")
        self._timer = getattr(self._lib, f"uk_{self.name}_time")
        if self._remove_on_close is not None:
            weakref.finalize(self, shutil.rmtree, str(self._remove_on_close), True)

    def _bind(self, arrays) -> list:
        """Check ``arrays`` against the kernel's signature: cffi pointers, then the sizes."""
        sig, label = self._signature, f"{self.name} ({self.variant}, {self.dtype})"
        want_dtype = DTYPES[self.dtype][1]
        if len(arrays) != len(sig.arrays):
            names = ", ".join(n for n, _ in sig.arrays)
            raise ArgumentError(f"{label} takes {len(sig.arrays)} arrays ({names}), got {len(arrays)}")
        sizes, args = {}, []
        for (name, shape), a in zip(sig.arrays, arrays):
            if not isinstance(a, np.ndarray) or isinstance(a, np.ma.MaskedArray):
                raise ArgumentError(f"{label}: {name!r} must be a numpy array (not a masked array: "
                                    f"its mask would be ignored), got {type(a).__name__}")
            if a.dtype != want_dtype:
                raise ArgumentError(f"{label}: {name!r} must have dtype {want_dtype} (built for "
                                    f"{self.dtype}), got {a.dtype}")
            if a.ndim != len(shape):
                raise ArgumentError(f"{label}: {name!r} must be {len(shape)}-D, got shape {a.shape}")
            for dim, (want, got) in enumerate(zip(shape, a.shape)):
                if isinstance(want, int):
                    if got != want:
                        raise ArgumentError(f"{label}: dimension {dim} of {name!r} must be {want}, "
                                            f"got {got}")
                elif sizes.setdefault(want, (got, name))[0] != got:
                    raise ArgumentError(f"{label}: size {want} is {sizes[want][0]} in "
                                        f"{sizes[want][1]!r} but {got} in {name!r}")
            if not a.flags.c_contiguous:
                raise ArgumentError(f"{label}: {name!r} must be C-contiguous; pass "
                                    "np.ascontiguousarray(...)")
            if name == sig.output and not a.flags.writeable:
                raise ArgumentError(f"{label}: output {name!r} is read-only")
            args.append(a)
        out = args[[n for n, _ in sig.arrays].index(sig.output)]
        for (name, _), a in zip(sig.arrays, args):
            # the C pointers are restrict: the output must not share memory with an input
            if name != sig.output and np.may_share_memory(a, out):
                raise ArgumentError(f"{label}: output {sig.output!r} overlaps input {name!r}; "
                                    "pass separate arrays")
        pointers = [self._ffi.from_buffer("real[]", a, require_writable=(name == sig.output))
                    for (name, _), a in zip(sig.arrays, args)]
        return pointers + [sizes[s][0] for s in sig.sizes]

    def __call__(self, *arrays) -> None:
        """Run the kernel once; the result is in the output array (c, out or C)."""
        self._kernel(*self._bind(arrays))

    def time(self, *arrays, reps: int) -> float:
        """Seconds for ``reps`` back-to-back calls, timed inside C (clock_gettime around a C
        repeat loop), so the cost of calling from Python is not in it. Every call accumulates
        into the output, as ``__call__`` does."""
        if isinstance(reps, bool) or not isinstance(reps, (int, np.integer)) or reps < 1:
            raise ArgumentError(f"reps must be a positive integer, got {reps!r}")
        return float(self._timer(*self._bind(arrays), int(reps)))

    def __repr__(self) -> str:
        unroll = "" if self.variant == "c-plain" else f" factor={self.factor}"
        return (f"<CKernel {self.name} {self.variant}{unroll} {self.dtype} {self.compiler}"
                f"{' (cached)' if self.cache_hit else ''}>")
