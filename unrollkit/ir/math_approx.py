"""``math.exp``, ``math.log`` and ``math.tanh`` as polynomials in ``arith``, before LLVM
(and ``math.powf`` from them, `unrollkit.ir.math_pow`).

LLVM lowers ``llvm.exp.v16f32`` to sixteen calls of the C library's scalar ``expf``: a
vectorised loop of ``uk.exp`` ran one libm call per lane. MLIR's own polynomial
approximations are not a registered pass in the Python bindings, so this module rewrites the
three functions, on scalars and vectors alike, into adds, multiplies, shifts and selects that
LLVM vectorises like any other arithmetic (the kernel's ``affine`` and ``transformed``
stages keep the ``math`` ops; the rewrite runs as the module is lowered to the LLVM dialect).

* ``exp(x) = 2**n * p(r)``, ``x = n ln2 + r``, ``|r| <= ln2 / 2`` (ln2 in two parts, Cody and
  Waite), ``p`` the Taylor polynomial of degree 7 (f32) or 13 (f64), whose truncation error is
  below half an ulp; ``2**n`` is applied as two exact powers of two (so subnormal results are
  right); overflow gives inf, NaN stays NaN.
* ``log(x) = e ln2 + 2 atanh(s)``, ``x = m 2**e``, ``m`` in [sqrt(1/2), sqrt(2)),
  ``s = (m - 1) / (m + 1)``, atanh's odd series to s**9 (f32) or s**21 (f64); subnormal inputs
  are scaled first; log(0) = -inf, log(x < 0) = NaN, log(inf) = inf.
* ``tanh(x) = sign(x) t / (t + 2)``, ``t = expm1(2 |x|)`` from the same reduction as exp
  (``expm1 = 2**n q + (2**n - 1)``: no cancellation near 0), ``|x|`` clamped at 20.

Measured against numpy (tests/frontend/test_language_math.py): within 3 ulp (f32) and 4 ulp (f64).
"""
from __future__ import annotations

import math

from mlir import ir
from mlir.dialects import arith
from mlir.dialects import math as mmath

from unrollkit.ir.math_pow import pow_expansion

#: the math ops rewritten here (others lower to LLVM intrinsics that are vector instructions)
APPROXIMATED = ("math.exp", "math.log", "math.tanh", "math.powf")


def approximate_math(module) -> int:
    """Rewrite every `APPROXIMATED` op of ``module`` in place; returns how many."""
    ops = []

    def visit(op):
        for region in op.regions:
            for block in region.blocks:
                for inner in block.operations:
                    if inner.operation.name in APPROXIMATED:
                        ops.append(inner.operation)
                    visit(inner.operation)

    visit(module.operation)
    for op in ops:
        with ir.InsertionPoint(op), op.location:
            if op.name == "math.powf":
                new = _powf(op.operands[0], op.operands[1])
            else:
                b = _Builder(op.operands[0].type)
                x = op.operands[0]
                new = {"math.exp": b.exp, "math.log": b.log, "math.tanh": b.tanh}[op.name](x)
        op.results[0].replace_all_uses_with(new)
        op.erase()
    return len(ops)


def _powf(x, y):
    """``math.powf`` (`math_pow`); an f32 one computed in f64 and rounded once."""
    ftype = x.type
    vec = ftype if isinstance(ftype, ir.VectorType) else None
    if isinstance(vec.element_type if vec else ftype, ir.F64Type):
        return pow_expansion(_Builder(ftype), x, y)
    wide = ir.VectorType.get(vec.shape, ir.F64Type.get()) if vec else ir.F64Type.get()
    r = pow_expansion(_Builder(wide), arith.ExtFOp(wide, x).result, arith.ExtFOp(wide, y).result)
    return arith.TruncFOp(ftype, r).result


class _Builder:
    """Arithmetic on one float type (scalar or vector) and the integer type of its bits."""

    def __init__(self, ftype: ir.Type):
        self.ftype = ftype
        vec = ftype if isinstance(ftype, ir.VectorType) else None
        elem = vec.element_type if vec else ftype
        self.f64 = isinstance(elem, ir.F64Type)
        self.bits, self.mant = (64, 52) if self.f64 else (32, 23)
        self.ielem, self.felem = ir.IntegerType.get_signless(self.bits), elem
        self.itype = ir.VectorType.get(vec.shape, self.ielem) if vec else self.ielem
        self.fm = ir.Attribute.parse("#arith.fastmath<contract>")

    # -- constants and operations
    def f(self, v: float):
        if self.ftype == self.felem:
            return arith.ConstantOp(self.ftype, ir.FloatAttr.get(self.felem, v)).result
        return arith.ConstantOp(self.ftype, ir.DenseElementsAttr.get_splat(
            self.ftype, ir.FloatAttr.get(self.felem, v))).result

    def i(self, v: int):
        if self.itype == self.ielem:
            return arith.ConstantOp(self.itype, ir.IntegerAttr.get(self.ielem, v)).result
        return arith.ConstantOp(self.itype, ir.DenseElementsAttr.get_splat(
            self.itype, ir.IntegerAttr.get(self.ielem, v))).result

    def add(self, a, b):
        return arith.AddFOp(a, b, fastmath=self.fm).result

    def sub(self, a, b):
        return arith.SubFOp(a, b, fastmath=self.fm).result

    def mul(self, a, b):
        return arith.MulFOp(a, b, fastmath=self.fm).result

    def div(self, a, b):
        return arith.DivFOp(a, b).result

    def cmp(self, pred: str, a, b):
        return arith.CmpFOp(getattr(arith.CmpFPredicate, pred), a, b).result

    def select(self, c, a, b):
        return arith.SelectOp(c, a, b).result

    def horner(self, x, coeffs):
        """``coeffs[0] + x (coeffs[1] + x (...))``."""
        acc = self.f(coeffs[-1])
        for c in reversed(coeffs[:-1]):
            acc = self.add(self.mul(acc, x), self.f(c))
        return acc

    def pow2(self, n):
        """2**n for an integer-valued float ``n`` within the exponent range (bits, exact)."""
        k = arith.FPToSIOp(self.itype, n).result
        biased = arith.AddIOp(k, self.i((1 << (self.bits - self.mant - 2)) - 1)).result
        return arith.BitcastOp(self.ftype, arith.ShLIOp(biased, self.i(self.mant)).result).result

    # -- exp
    def reduce(self, x):
        """(n, r) with x = n ln2 + r, |r| <= ln2 / 2 (x clamped so 2**n stays representable
        as two powers of two)."""
        lo, hi = (-746.0, 710.0) if self.f64 else (-104.0, 89.0)
        xc = arith.MinimumFOp(arith.MaximumFOp(x, self.f(lo)).result, self.f(hi)).result
        n = mmath.FloorOp(self.add(self.mul(xc, self.f(1 / math.log(2))), self.f(0.5))).result
        ln2_hi, ln2_lo = (0.693145751953125, 1.428606820309417232e-06)
        r = self.sub(self.sub(xc, self.mul(n, self.f(ln2_hi))), self.mul(n, self.f(ln2_lo)))
        return n, r

    def expm1_poly(self, r):
        """q(r) = exp(r) - 1 for |r| <= ln2 / 2 (Taylor, r + r**2/2! + ...)."""
        degree = 13 if self.f64 else 7
        coeffs = [1 / math.factorial(k) for k in range(1, degree + 1)]
        return self.mul(r, self.horner(r, coeffs))

    def scale(self, v, n):
        """v * 2**n as two exact multiplications (n in about [-1077, 1025])."""
        half = mmath.FloorOp(self.mul(n, self.f(0.5))).result
        return self.mul(self.mul(v, self.pow2(half)), self.pow2(self.sub(n, half)))

    def exp(self, x):
        n, r = self.reduce(x)
        y = self.scale(self.add(self.f(1.0), self.expm1_poly(r)), n)
        return self.select(self.cmp("UNO", x, x), x, y)  # NaN in, NaN out

    # -- log
    def log(self, x):
        tiny = self.cmp("OLT", x, self.f(2.0 ** (-1022 if self.f64 else -126)))
        shift = 64 if self.f64 else 32
        xs = self.select(tiny, self.mul(x, self.f(2.0 ** shift)), x)  # subnormals made normal
        bits = arith.BitcastOp(self.itype, xs).result
        bias = (1 << (self.bits - self.mant - 2)) - 1
        e_int = arith.SubIOp(arith.ShRSIOp(bits, self.i(self.mant)).result, self.i(bias)).result
        m_bits = arith.OrIOp(arith.AndIOp(bits, self.i((1 << self.mant) - 1)).result,
                             self.i(bias << self.mant)).result
        m = arith.BitcastOp(self.ftype, m_bits).result  # in [1, 2)
        big = self.cmp("OGT", m, self.f(math.sqrt(2.0)))
        m = self.select(big, self.mul(m, self.f(0.5)), m)
        e = arith.SIToFPOp(self.ftype, e_int).result
        e = self.add(e, self.select(big, self.f(1.0), self.f(0.0)))
        e = self.sub(e, self.select(tiny, self.f(float(shift)), self.f(0.0)))
        s = self.div(self.sub(m, self.f(1.0)), self.add(m, self.f(1.0)))
        s2 = self.mul(s, s)
        terms = 11 if self.f64 else 5
        series = self.horner(s2, [2.0 / (2 * k + 1) for k in range(terms)])
        y = self.add(self.mul(e, self.f(math.log(2.0))), self.mul(s, series))
        y = self.select(self.cmp("OEQ", x, self.f(0.0)), self.f(-math.inf), y)
        y = self.select(self.cmp("OLT", x, self.f(0.0)), self.f(math.nan), y)
        y = self.select(self.cmp("OEQ", x, self.f(math.inf)), x, y)
        return self.select(self.cmp("UNO", x, x), x, y)

    # -- tanh
    def tanh(self, x):
        ax = arith.MinimumFOp(mmath.AbsFOp(x).result, self.f(20.0)).result
        n, r = self.reduce(self.add(ax, ax))
        q = self.expm1_poly(r)
        p2 = self.scale(self.f(1.0), n)
        t = self.add(self.scale(q, n), self.sub(p2, self.f(1.0)))  # expm1(2|x|)
        y = self.div(t, self.add(t, self.f(2.0)))
        return mmath.CopySignOp(y, x).result
