"""Transformed affine IR → LLVM dialect → LLVM IR text, in process."""
from __future__ import annotations

from mlir.dialects import llvm as llvm_dialect

from .pipeline import lower_to_llvm_dialect


def to_llvm_ir(module) -> str:
    """Lower ``module`` (in place) to the LLVM dialect and translate it to LLVM IR text."""
    lower_to_llvm_dialect(module)
    return str(llvm_dialect.translate_module_to_llvmir(module.operation))
