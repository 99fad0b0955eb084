"""Versions of the stack, and the check that MLIR's and llvmlite's LLVM majors agree."""
from __future__ import annotations

import functools
from importlib import metadata

import llvmlite
import llvmlite.binding as llvm

from unrollkit.core.errors import UnrollkitError
import hashlib
import importlib.util
from pathlib import Path


def _dist_version(*names) -> str | None:
    for n in names:
        try:
            return metadata.version(n)
        except metadata.PackageNotFoundError:
            continue
    return None


@functools.lru_cache(None)
def source_hash() -> str:
    """A hash of unrollkit's own code (the package, its passes and kernels): a fixed pass must
    not be served a kernel it miscompiled before, and a version number does not change
    between development builds."""

    h = hashlib.sha256()
    for name in ("unrollkit", "unrollkit.passes", "unrollkit.kernels"):
        # located, not imported: this runs while unrollkit itself is still importing
        root = Path(importlib.util.find_spec(name).submodule_search_locations[0])
        for f in sorted(root.glob("*.py")) + sorted(root.glob("c/*.[ch]")):
            h.update(f.name.encode())
            h.update(f.read_bytes())
    return h.hexdigest()[:16]


@functools.lru_cache(None)
def versions() -> dict:
    return {
        "unrollkit": _dist_version("unrollkit") or "dev",
        "unrollkit_source": source_hash(),
        "mlir": _dist_version("xtc-mlir-python-bindings", "mlir-python-bindings", "mlir") or "unknown",
        "llvmlite": llvmlite.__version__,
        "llvmlite_llvm": ".".join(map(str, llvm.llvm_version_info)),
    }


def check_llvm_majors() -> None:
    """MLIR emits LLVM IR for its own LLVM; llvmlite must parse it: same major or refuse."""
    v = versions()
    mlir_major = v["mlir"].split(".")[0]
    lite_major = str(llvm.llvm_version_info[0])
    if mlir_major.isdigit() and mlir_major != lite_major:
        raise UnrollkitError(
            f"MLIR Python bindings are LLVM {v['mlir']} but llvmlite {v['llvmlite']} is LLVM "
            f"{v['llvmlite_llvm']}: their LLVM majors must match (install xtc-mlir-python-bindings "
            f"{lite_major}.x, or an llvmlite built on LLVM {mlir_major})")
