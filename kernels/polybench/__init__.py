"""PolyBench/C 4.2.1's 30 kernels in the kernel language (``unrollkit.kernels.polybench``).

``REGISTRY[name]`` is a `PolyBench` entry ``(kernel, reference, init, sizes)`` for each of the
30 kernels, by PolyBench's name ("gemm", "2mm", "floyd-warshall", ...). To run one::

    from unrollkit.kernels.polybench import REGISTRY
    kernel, reference, init, sizes = REGISTRY["gemm"]
    args = init(sizes["MEDIUM"], np.float64)
    expected = reference(*args)          # {array name: expected values}
    uk.jit(kernel)(*args)                # the arrays are updated in place

Grouped by PolyBench's categories: `blas`, `linalg_kernels`, `solvers`, `datamining`,
`medley`, `stencils`.
"""
from . import blas, datamining, linalg_kernels, medley, solvers, stencils
from .common import PolyBench

REGISTRY = {**blas.KERNELS, **linalg_kernels.KERNELS, **solvers.KERNELS, **datamining.KERNELS,
            **medley.KERNELS, **stencils.KERNELS}

__all__ = ["REGISTRY", "PolyBench", "blas", "linalg_kernels", "solvers", "datamining", "medley",
           "stencils"]
