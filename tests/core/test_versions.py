"""The stack check: MLIR's and llvmlite's LLVM majors must agree, or import says why."""
import pytest

import unrollkit as uk
from unrollkit.core import versions


def test_installed_stack_agrees():
    v = versions.versions()
    assert v["mlir"].split(".")[0] == v["llvmlite_llvm"].split(".")[0] == "22"
    versions.check_llvm_majors()


def test_mismatched_majors_are_a_clear_error(monkeypatch):
    monkeypatch.setattr(versions, "stack_versions", lambda: {"mlir": "21.1.0", "llvmlite": "0.50.0",
                                                      "llvmlite_llvm": "22.1.0",
                                                      "unrollkit": "dev"})
    with pytest.raises(uk.UnrollkitError, match="LLVM majors must match.*xtc-mlir-python-bindings 22"):
        versions.check_llvm_majors()


def test_the_source_hash_covers_every_layer_and_the_c_variants():
    """The compile cache key's source hash must see a change in any module of any layer (a
    glob of the package's top folder alone missed every sub-package after the layering)."""
    names = {n for n, _ in versions.source_files()}
    for must in ("unrollkit/codegen/compiler.py", "unrollkit/analysis/module_bounds.py",
                 "unrollkit/tuning/gemm_schedule.py", "unrollkit/runtime/jit_kernel.py",
                 "unrollkit.passes/unroll.py", "unrollkit.kernels/mac.py", "unrollkit.kernels/c/unroll.h"):
        assert must in names, must
    import unrollkit
    from pathlib import Path
    package = Path(unrollkit.__file__).parent
    assert {f"unrollkit/{p.relative_to(package).as_posix()}" for p in package.rglob("*.py")
            if "__pycache__" not in p.parts} <= names
