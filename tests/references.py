"""The built-in kernels' test data from one size number: thin wrappers of
`unrollkit.tools.testdata` (the one source of arguments, references and tolerances)."""
from __future__ import annotations

from unrollkit.tools import testdata


def make_args(name, n, dt, seed=0):
    """Arguments of built-in ``name`` at `testdata.uneven_sizes` of ``n`` (remainders in every
    loop) in element type ``dt``: floats in [-1, 1), integers in [-9, 10)."""
    kernel = "gemm" if name.startswith("gemm_") else name
    return testdata.make_args(kernel, testdata.uneven_sizes(name, n), dt, seed=seed,
                              floats=(-1.0, 1.0), ints=(-9, 10))


def reference(name, args):
    """``{output position: (expected, scale)}`` (`testdata.reference`), taken before the call."""
    return testdata.reference(name, args)


def check_outputs(name, args, expected):
    """The outputs in ``args`` match ``expected`` within `testdata.tolerance`."""
    why = testdata.check_outputs(name, args, expected)
    assert not why, why
