"""The stack check: MLIR's and llvmlite's LLVM majors must agree, or import says why."""
import pytest

import unrollkit as uk
from unrollkit.core import versions


def test_installed_stack_agrees():
    v = versions.versions()
    assert v["mlir"].split(".")[0] == v["llvmlite_llvm"].split(".")[0] == "22"
    versions.check_llvm_majors()


def test_mismatched_majors_are_a_clear_error(monkeypatch):
    monkeypatch.setattr(versions, "versions", lambda: {"mlir": "21.1.0", "llvmlite": "0.50.0",
                                                      "llvmlite_llvm": "22.1.0",
                                                      "unrollkit": "dev"})
    with pytest.raises(uk.UnrollkitError, match="LLVM majors must match.*xtc-mlir-python-bindings 22"):
        versions.check_llvm_majors()
