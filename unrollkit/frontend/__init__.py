"""The kernel language: Python source → a kernel descriptor (the layer above `core`).

The names a kernel is written with, as ``uk.<name>`` after ``import unrollkit as uk`` (the
package root re-exports them). The built-in kernels (`unrollkit.kernels`) import them from here,
so the library below the public API (the manual variant, the bench) may use them.
"""
from unrollkit.core.dtypes import T, f16, f32, f64, i8, i16, i32, i64, u8
# abs and range shadow the builtins on purpose: the kernel language spells them uk.abs, uk.range
# (issue 13), and a kernel body may use either spelling
from unrollkit.frontend.language import Size, abs, ceil, exp, floor, log, range, sizes, sqrt, tanh, unroll, zeros  # noqa: A004
from unrollkit.frontend.parse import kernel

__all__ = ["kernel", "T", "f16", "f32", "f64", "i8", "u8", "i16", "i32", "i64", "abs", "ceil", "exp",
           "floor", "log", "sqrt", "tanh", "range", "unroll", "Size", "sizes", "zeros"]
