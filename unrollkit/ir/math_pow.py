"""``math.powf(x, y)`` as arithmetic LLVM vectorises (numpy's ``np.power`` of floats, C's
``pow``), built on `unrollkit.ir.math_approx`'s ``exp`` and ``log`` polynomials.

``pow(x, y) = exp(y log |x|)``, then C's special cases, in order (the later win):

* ``|x| == 1``: 1 (``pow(1, nan)``, ``pow(-1, ±inf)``);
* a negative ``x`` (its sign bit: ``-0.0`` too) and an odd integer ``y``: the result negated
  (``pow(-2, 3) = -8``, ``pow(-0.0, -1) = -inf``);
* a finite negative ``x`` and a ``y`` that is not an integer: NaN (``pow(-8, 1/3)``);
* ``y == 0``: 1 (``pow(nan, 0)``).

The zeros, infinities and NaNs of ``x`` and ``y`` fall out of ``exp`` and ``log``
(``log(0) = -inf``, ``exp(-inf) = 0``, ``exp(inf) = inf``, NaN in, NaN out). An f32 ``pow``
is computed in f64 and rounded once (the error of ``y log x``, a few f64 ulp of ``|y log x| <=
104``, is far below an f32 ulp): within an ulp of numpy's. An f64 ``pow`` by an integral ``|y| <= 64``
is products by squaring (`_small_integer_power`, as ``**`` by a literal int); by any other
``y`` within about ``4 + 4 |y ln x|`` ulp (the rounding of ``log x`` is scaled by ``y``): a
few ulp for ``|y ln x| <= 1``, as in deriche's ``2 ** -alpha``; up to ~10^3 ulp where the
result nears overflow or underflow.
"""
from __future__ import annotations

import math

from mlir.dialects import arith
from mlir.dialects import math as mmath

#: the largest integral ``|y|`` an f64 ``pow`` computes by products (`values.MAX_POW`, as ``**``
#: by a literal does)
MAX_POW = 64


def pow_expansion(b, x, y):
    """``x ** y`` with builder ``b`` (a `math_approx` builder of ``x``'s float type)."""
    one, zero = b.f(1.0), b.f(0.0)
    ax = mmath.AbsFOp(x).result
    r = b.exp(b.mul(y, b.log(ax)))
    fy = mmath.FloorOp(y).result
    integral = b.cmp("OEQ", fy, y)                 # false for NaN, true for ±inf (even)
    if b.f64:
        r = _small_integer_power(b, ax, y, integral, r)
    r = b.select(b.cmp("OEQ", ax, one), one, r)
    half = mmath.FloorOp(b.mul(y, b.f(0.5))).result
    odd = arith.AndIOp(integral, b.cmp("UNE", b.add(half, half), y)).result
    negative = b.cmp("OLT", mmath.CopySignOp(one, x).result, zero)  # the sign bit
    r = b.select(arith.AndIOp(negative, odd).result, arith.NegFOp(r).result, r)
    finite_negative = arith.AndIOp(b.cmp("OLT", x, zero), b.cmp("OGT", x, b.f(-math.inf))).result
    fractional = b.cmp("UNE", fy, y)
    r = b.select(arith.AndIOp(finite_negative, fractional).result, b.f(math.nan), r)
    return b.select(b.cmp("OEQ", y, zero), one, r)


def _small_integer_power(b, ax, y, integral, r):
    """In f64, ``|x| ** y`` for an integral ``|y| <= MAX_POW`` by products (squaring, one
    division for ``y < 0``, as a literal exponent is computed), else ``r``: exp-log rounds
    ``10 ** -2`` to 0.010000000000000005, products give 0.01."""
    ay = mmath.AbsFOp(y).result
    small = arith.AndIOp(integral, b.cmp("OLE", ay, b.f(float(MAX_POW)))).result
    bits = MAX_POW.bit_length()
    shifted = [mmath.FloorOp(b.mul(ay, b.f(2.0 ** -k))).result for k in range(bits + 1)]
    p, base = b.f(1.0), ax
    for k in range(bits):
        bit = b.cmp("OEQ", b.sub(shifted[k], b.add(shifted[k + 1], shifted[k + 1])), b.f(1.0))
        p = b.select(bit, b.mul(p, base), p)
        if k + 1 < bits:
            base = b.mul(base, base)
    p = b.select(b.cmp("OLT", y, b.f(0.0)), b.div(b.f(1.0), p), p)
    return b.select(small, p, r)
