"""unrollkit: a loop-unrolling kernel compiler for Python.

    import unrollkit as uk
    from unrollkit.kernels import gemm
    f = uk.jit(gemm, factor=4)
    f(A, B, C)          # C += A @ B, the innermost loop unrolled by 4 by MLIR
"""
from unrollkit.core.versions import check_llvm_majors as _check

_check()

from unrollkit.codegen.backend import LLVMPolicy  # noqa: E402
from unrollkit.core.dtypes import T, f32, f64, i32, i64  # noqa: E402
from unrollkit.core.errors import (ArgumentError, CodeSizeError, CompileError, KernelSyntaxError,  # noqa: E402
                     TransformError, UnrollkitError)
from unrollkit.frontend.parse import kernel  # noqa: E402
from unrollkit.frontend.language import abs, ceil, exp, floor, log, sqrt, tanh  # noqa: E402,A004
from unrollkit.frontend.language import range, unroll  # noqa: E402,A004 - uk.range, uk.unroll (not in __all__)
from unrollkit.codegen.pipeline import Pipeline  # noqa: E402
from unrollkit.runtime.jit_kernel import jit  # noqa: E402

__all__ = ["kernel", "jit", "Pipeline", "LLVMPolicy", "T", "f32", "f64", "i32", "i64",
           "UnrollkitError", "ArgumentError", "KernelSyntaxError", "TransformError",
           "CodeSizeError", "CompileError", "exp", "log", "sqrt", "tanh", "abs", "floor", "ceil"]
