"""Versions of the stack, and the check that MLIR's and llvmlite's LLVM majors agree."""
from __future__ import annotations

import functools
import hashlib
import importlib.util
from importlib import metadata
from pathlib import Path

import llvmlite
import llvmlite.binding as llvm

from unrollkit.core.errors import UnrollkitError

#: the source folders whose code decides what a compile produces (the package with every
#: layer, its passes and kernels with the C variants)
_SOURCES = ("unrollkit", "unrollkit.passes", "unrollkit.kernels")
_C_SUFFIXES = (".c", ".h", ".cpp", ".hpp")


def _dist_version(*names) -> str | None:
    for n in names:
        try:
            return metadata.version(n)
        except metadata.PackageNotFoundError:
            continue
    return None


def source_files() -> list:
    """(name, path) of every source file the cache key covers: each ``.py`` of the package and
    its sub-packages (every layer), of its passes and kernels, and the C/C++ variants' sources."""
    out = []
    for name in _SOURCES:
        # located, not imported: this may run while unrollkit itself is still importing
        root = Path(importlib.util.find_spec(name).submodule_search_locations[0])
        for f in sorted(root.rglob("*")):
            if f.is_file() and (f.suffix == ".py" or f.suffix in _C_SUFFIXES) and "__pycache__" not in f.parts:
                out.append((f"{name}/{f.relative_to(root).as_posix()}", f))
    return out


@functools.lru_cache(None)
def source_hash() -> str:
    """A hash of unrollkit's own code (`source_files`): a fixed pass must not be served a
    kernel it miscompiled before, and a version number does not change between development
    builds. Computed when a cache key is first needed, not at import."""
    h = hashlib.sha256()
    for name, f in source_files():
        h.update(name.encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


@functools.lru_cache(None)
def stack_versions() -> dict:
    """Versions of unrollkit and the stack under it (MLIR bindings, llvmlite and its LLVM)."""
    return {
        "unrollkit": _dist_version("unrollkit") or "dev",
        "mlir": _dist_version("xtc-mlir-python-bindings", "mlir-python-bindings", "mlir") or "unknown",
        "llvmlite": llvmlite.__version__,
        "llvmlite_llvm": ".".join(map(str, llvm.llvm_version_info)),
    }


@functools.lru_cache(None)
def versions() -> dict:
    """`stack_versions` plus the hash of unrollkit's source (`source_hash`): what every
    compile cache key and benchmark record carries."""
    return {**stack_versions(), "unrollkit_source": source_hash()}


def check_llvm_majors() -> None:
    """MLIR emits LLVM IR for its own LLVM; llvmlite must parse it: same major or refuse."""
    v = stack_versions()
    mlir_major = v["mlir"].split(".")[0]
    lite_major = str(llvm.llvm_version_info[0])
    if mlir_major.isdigit() and mlir_major != lite_major:
        raise UnrollkitError(
            f"MLIR Python bindings are LLVM {v['mlir']} but llvmlite {v['llvmlite']} is LLVM "
            f"{v['llvmlite_llvm']}: their LLVM majors must match (install xtc-mlir-python-bindings "
            f"{lite_major}.x, or an llvmlite built on LLVM {mlir_major})")
