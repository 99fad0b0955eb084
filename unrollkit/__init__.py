"""unrollkit: a loop-unrolling kernel compiler for Python.

    import unrollkit as uk
    from unrollkit.kernels import gemm
    f = uk.jit(gemm, factor=4)
    f(A, B, C)          # C += A @ B, the innermost loop unrolled by 4 by MLIR
"""
from .versions import check_llvm_majors as _check

_check()

from .backend import LLVMPolicy  # noqa: E402
from .dtypes import T, f16, f32, f64, i8, i16, i32, i64, u8  # noqa: E402
from .errors import (ArgumentError, CodeSizeError, CompileError, KernelSyntaxError,  # noqa: E402
                     TransformError, UnrollkitError)
from .frontend import kernel  # noqa: E402
from .language import abs, ceil, exp, floor, log, sqrt, tanh  # noqa: E402,A004
from .language import range, unroll  # noqa: E402,A004 - uk.range, uk.unroll (not in __all__)
from .language import Size, sizes  # noqa: E402
from .pipeline import Pipeline  # noqa: E402
from .runtime import jit  # noqa: E402

__all__ = ["kernel", "jit", "Pipeline", "LLVMPolicy", "T", "f16", "f32", "f64", "i8", "u8", "i16", "i32", "i64",
           "UnrollkitError", "ArgumentError", "KernelSyntaxError", "TransformError",
           "CodeSizeError", "CompileError", "exp", "log", "sqrt", "tanh", "abs", "floor", "ceil",
           "Size", "sizes"]
