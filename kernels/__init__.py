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
#: built-ins the CLI (``unrollkit bench``, ``opt``, ...) also takes by name, outside `ALL` because
#: the every-kernel × factor × size sweeps do not fit them (exp and sqrt: no + - * / reference
#: of the scale of rounding errors; 1-D sizes)
MORE = {k.name: k for k in (dot_scalar, softmax, layernorm)}

__all__ = ["mac", "dot", "dot_scalar", "gemm", "gemm_order", "gemv", "jacobi1d", "iir", "prefix_sum", "ALL", "MORE",
           "softmax", "softmax_numpy", "layernorm", "layernorm_numpy"]
