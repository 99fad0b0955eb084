"""unrollkit: a loop-unrolling kernel compiler for Python.

    import unrollkit as uk
    from unrollkit.kernels import gemm
    f = uk.jit(gemm, factor=4)
    f(A, B, C)          # C += A @ B, the innermost loop unrolled by 4 by MLIR

The kernel language (`uk.kernel`, element types, math functions) loads with the package; the
compiler (`uk.jit`, `uk.Pipeline`, `uk.LLVMPolicy`, and with them MLIR, LLVM and isl) loads
when first named, so ``import unrollkit`` stays cheap. Loading the compiler checks that
MLIR's and llvmlite's LLVM majors agree (`unrollkit.core.versions.check_llvm_majors`).
"""
import importlib

from unrollkit.core.dtypes import T, f16, f32, f64, i8, i16, i32, i64, u8
from unrollkit.core.errors import (ArgumentError, CodeSizeError, CompileError, KernelSyntaxError,
                                   TransformError, UnrollkitError)
from unrollkit.frontend import abs, ceil, exp, floor, kernel, log, sqrt, tanh  # noqa: A004
from unrollkit.frontend import range, unroll  # noqa: A004, F401 - uk.range, uk.unroll (not in __all__)
from unrollkit.frontend import Size, sizes, zeros

#: public names whose module loads the compiler: imported on first use (PEP 562)
_COMPILER = {"jit": "unrollkit.runtime.jit_kernel", "Pipeline": "unrollkit.codegen.pipeline",
             "LLVMPolicy": "unrollkit.codegen.backend"}

__all__ = ["kernel", "jit", "Pipeline", "LLVMPolicy", "T", "f16", "f32", "f64", "i8", "u8", "i16", "i32", "i64",
           "UnrollkitError", "ArgumentError", "KernelSyntaxError", "TransformError",
           "CodeSizeError", "CompileError", "exp", "log", "sqrt", "tanh", "abs", "floor", "ceil",
           "Size", "sizes", "zeros", "f16", "i8", "u8", "i16"]


def __getattr__(name: str):
    """`uk.jit`, `uk.Pipeline`, `uk.LLVMPolicy`: the compiler, loaded when first asked for."""
    if name in _COMPILER:
        value = getattr(importlib.import_module(_COMPILER[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'unrollkit' has no attribute {name!r}")


def __dir__() -> list:
    return sorted(set(globals()) | set(_COMPILER))
