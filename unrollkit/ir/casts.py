"""Conversions between element types: ``uk.f32(x)``, ``uk.i8(x)``, ... in a kernel.

They mean what numpy's ``astype`` means for the same dtypes: a float to a narrower float
rounds to nearest, an int to a narrower int wraps (two's complement), an int to a float
rounds to nearest, ``u8`` extends with zeros. A float to an integer truncates toward zero;
where numpy's result is undefined (NaN, infinities, values outside the integer type: numpy
warns "invalid value encountered in cast" and returns whatever the C cast gives), unrollkit
saturates to the type's lowest or highest value and gives 0 for NaN (like LLVM's
``fptosi.sat``), so the result is defined and the same on every path.

`convert` builds the MLIR operations; `convert_value` is the same function on numpy scalars
(the reference interpreter's).
"""
from __future__ import annotations

import math

import numpy as np
from mlir import ir
from mlir.dialects import arith

from unrollkit.frontend.descriptor import FLOAT_MAX
from unrollkit.core.dtypes import ElementType, int_range


def mlir_type(t: ElementType) -> ir.Type:
    """The MLIR type of an element type (``u8`` is a signless i8: the operations say unsigned)."""
    if t.is_float:
        return {"f16": ir.F16Type.get, "f32": ir.F32Type.get, "f64": ir.F64Type.get}[t.name]()
    return ir.IntegerType.get_signless(t.bits)


def convert(x, src: ElementType, dst: ElementType):
    """``x`` (an MLIR value of type ``src``) as a value of type ``dst``."""
    t = mlir_type(dst)
    if src == dst:
        return x
    if src.name == "f64" and dst.name == "f16":
        return arith.TruncFOp(t, _f64_to_f32_odd(x)).result
    if src.is_float and dst.is_float:
        return (arith.ExtFOp if dst.bits > src.bits else arith.TruncFOp)(t, x).result
    if not src.is_float and not dst.is_float:
        if dst.bits == src.bits:
            return x  # i8 <-> u8: the same bits, read differently
        if dst.bits < src.bits:
            return arith.TruncIOp(t, x).result
        return (arith.ExtUIOp if src.is_unsigned else arith.ExtSIOp)(t, x).result
    if not src.is_float:
        return (arith.UIToFPOp if src.is_unsigned else arith.SIToFPOp)(t, x).result
    return _float_to_int(x, src, dst)


def _f64_to_f32_odd(x):
    """``x`` rounded to f32 *to odd* (an inexact result gets an odd last bit). LLVM lowers
    f64 → f16 to a C library call (``__truncdfhf2``) this process does not provide; through
    f32 it would round twice. Round-to-odd with 13 spare bits makes the second rounding
    (f32 → f16, one instruction) give exactly the correctly rounded f16 numpy gives."""
    f32, i32 = ir.F32Type.get(), ir.IntegerType.get_signless(32)
    r = arith.TruncFOp(f32, x).result                      # to nearest
    back = arith.ExtFOp(x.type, r).result
    inexact = arith.CmpFOp(arith.CmpFPredicate.ONE, back, x).result
    bits = arith.BitcastOp(i32, r).result
    one = arith.ConstantOp(i32, ir.IntegerAttr.get(i32, 1)).result
    even = arith.CmpIOp(arith.CmpIPredicate.eq, arith.AndIOp(bits, one).result,
                        arith.ConstantOp(i32, ir.IntegerAttr.get(i32, 0)).result).result
    # the odd neighbour on x's side: one step down in magnitude if r overshot, else up
    # (sign-magnitude bits: ±1 moves the magnitude; inf - 1 is the largest finite)
    zero = arith.ConstantOp(x.type, ir.FloatAttr.get(x.type, 0.0)).result
    positive = arith.CmpFOp(arith.CmpFPredicate.OGT, x, zero).result
    overshot = arith.SelectOp(positive, arith.CmpFOp(arith.CmpFPredicate.OGT, back, x).result,
                              arith.CmpFOp(arith.CmpFPredicate.OLT, back, x).result).result
    step = arith.SelectOp(overshot, arith.SubIOp(bits, one).result, arith.AddIOp(bits, one).result).result
    fix = arith.AndIOp(inexact, even).result
    return arith.BitcastOp(f32, arith.SelectOp(fix, step, bits).result).result


def _float_to_int(x, src: ElementType, dst: ElementType):
    """Truncation toward zero, saturated at the type's limits, NaN → 0 (`arith.select`s
    around ``fptosi``/``fptoui``, whose out-of-range result is poison and never selected)."""
    t, ft = mlir_type(dst), x.type
    lo, hi = int_range(dst)
    # hi + 1 and lo are powers of two (or 0): exact in every float type that can hold them
    above = float(hi + 1) if hi + 1 <= FLOAT_MAX[src.name] else math.inf

    def fconst(v):
        return arith.ConstantOp(ft, ir.FloatAttr.get(ft, v)).result

    def iconst(v):
        return arith.ConstantOp(t, ir.IntegerAttr.get(t, v)).result

    raw = (arith.FPToUIOp if dst.is_unsigned else arith.FPToSIOp)(t, x).result
    too_big = arith.CmpFOp(arith.CmpFPredicate.OGE, x, fconst(above)).result
    too_small = arith.CmpFOp(arith.CmpFPredicate.OLT, x, fconst(float(max(lo, -FLOAT_MAX[src.name])))).result
    nan = arith.CmpFOp(arith.CmpFPredicate.UNO, x, x).result
    r = arith.SelectOp(too_big, iconst(hi), raw).result
    r = arith.SelectOp(too_small, iconst(lo), r).result
    return arith.SelectOp(nan, iconst(0), r).result


def convert_value(x, src: ElementType, dst: ElementType):
    """`convert` on a numpy scalar: the interpreter's conversion."""
    if src.is_float and not dst.is_float:
        lo, hi = int_range(dst)
        v = float(x)
        r = 0 if v != v else hi if v >= hi + 1 else lo if v < lo else math.trunc(v)
        return dst.numpy.type(r)
    return np.asarray(x).astype(dst.numpy)[()]


def wrap_int(v: int, ty: ElementType):
    """Python int ``v`` as a value of integer type ``ty``, wrapped (an index used as a value)."""
    lo, hi = int_range(ty)
    return ty.numpy.type((v - lo) % (hi - lo + 1) + lo)
