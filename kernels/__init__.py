"""Built-in kernels (``unrollkit.kernels``): descriptors written as plain Python loops.

Element types are generic (``T``): the arrays' dtype is bound at call time.
"""
from .dot import dot, dot_scalar
from .gemm import gemm, gemm_order
from .gemv import gemv
from .iir import iir, prefix_sum
from .jacobi1d import jacobi1d
from .layernorm import layernorm, layernorm_numpy
from .mac import mac
from .softmax import softmax, softmax_numpy

ALL = {k.name: k for k in (mac, dot, gemm, gemv, jacobi1d, iir, prefix_sum)}

__all__ = ["mac", "dot", "dot_scalar", "gemm", "gemm_order", "gemv", "jacobi1d", "iir", "prefix_sum", "ALL",
           "softmax", "softmax_numpy", "layernorm", "layernorm_numpy"]
