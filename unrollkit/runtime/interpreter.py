"""Reference interpreter: runs a kernel descriptor directly in Python on numpy scalars.

The oracle of the differential tests: no MLIR, no LLVM, every operation rounded to the
kernel's element type (float32 math stays float32), integers wrapping like machine code.
Slow by design; use it on small sizes. It mutates the output arrays in place, like `jit`.
"""
from __future__ import annotations

import numpy as np

from unrollkit.analysis import kernel_bounds
from unrollkit.frontend import descriptor as d
from unrollkit.frontend import semantics
from unrollkit.frontend.returns import returned, with_return_slot
from unrollkit.frontend.semantics import cast_source, compare_type, exponent_type, variable_types
from unrollkit.frontend.signature import sizes_of
from unrollkit.ir.casts import convert_value, wrap_int
from unrollkit.runtime.bind import bind


def interpret(kernel: d.Kernel, *args):
    """Run ``kernel`` on ``args`` (same checks as a compiled call); returns what the kernel
    returns (a Python number), else None."""
    args, slot = with_return_slot(kernel, args)
    sig, ready = bind(kernel, args)
    ptypes = sig.ptypes()
    sizes = sizes_of(kernel, sig)
    semantics.check_types(kernel, ptypes)
    kernel_bounds.check_bounds(kernel, sizes, sig.shape_map())
    env = {p.name: a for p, a in zip(kernel.params, ready)}
    for p in kernel.params:
        if not p.is_array:
            env[p.name] = ptypes[p.name].numpy.type(env[p.name])
    for la in kernel.local_arrays:  # (the body's fill nest zeroes them, as the code does)
        env[la.name] = np.full(sig.shape_map()[la.name], np.nan if ptypes[la.name].is_float else 7,
                               ptypes[la.name].numpy)
    with np.errstate(all="ignore"):  # wrap-around and inf/nan behave like machine code
        _Run(kernel, env, ptypes, sizes).block(kernel.body, dict(sizes), {})
    # outputs that were copied (aliasing) are not the caller's arrays: copy results back
    for p, orig, used in zip(kernel.params, args, ready):
        if p.is_array and used is not orig and p.name in kernel.written:
            orig[...] = used
    return returned(slot)


class _Run:
    def __init__(self, kernel, env, ptypes, sizes):
        self.env, self.ptypes, self.sizes = env, ptypes, sizes
        self.vtypes = variable_types(kernel.body, ptypes)
        self.ltypes = {}  # the element types of the locals visible at the current statement

    def block(self, body, ivs, locals_):
        """Run ``body``; ``locals_`` (name → (value, type, ivs)) gets what it assigns, so the
        variables of an enclosing scope carry their new values out of loops and ifs."""
        for s in body:
            self.ltypes = {k: v[1] for k, v in locals_.items()}
            if isinstance(s, d.Loop):
                lo = max(d.aff_eval(e, ivs) for e in s.lower)
                hi = min(d.aff_eval(e, ivs) for e in s.upper)
                inner_locals = dict(locals_)
                for v in range(lo, hi, s.step):
                    ivs[s.var] = v
                    self.block(s.body, ivs, inner_locals)
                ivs.pop(s.var, None)
                self.carry(locals_, inner_locals)
            elif isinstance(s, d.If):
                inner_locals = dict(locals_)
                self.block(s.then if self.cond(s.cond, ivs, locals_) else s.orelse, ivs, inner_locals)
                self.carry(locals_, inner_locals)
            elif isinstance(s, d.Let):
                ty = self.vtypes[id(s)]
                # untyped locals (literals and indices only) are evaluated at each use, in its type
                value = self.expr(s.value, ty, ivs, locals_) if ty is not None else \
                    d.inline_locals(s.value, {n: v[0] for n, v in locals_.items() if v[1] is None})
                locals_[s.name] = (value, ty, dict(ivs))
            else:
                ty = self.ptypes[s.array]
                idx = tuple(d.aff_eval(e, ivs) for e in s.index)
                self.env[s.array][idx] = self.expr(s.value, ty, ivs, locals_)

    @staticmethod
    def carry(outer: dict, inner: dict) -> None:
        """The variables defined before a loop or if take their values after it."""
        for name in outer:
            outer[name] = inner[name]

    def cond(self, c, ivs, locals_) -> bool:
        if isinstance(c, d.Logic):
            a, b = self.cond(c.lhs, ivs, locals_), self.cond(c.rhs, ivs, locals_)
            return (a and b) if c.op == "and" else (a or b)
        if isinstance(c, d.Not):
            return not self.cond(c.operand, ivs, locals_)
        ltypes = {k: v[1] for k, v in locals_.items()}
        ty = compare_type(c, self.ptypes, ltypes, d.Loc("<kernel>", 0))
        a, b = self.expr(c.lhs, ty, ivs, locals_), self.expr(c.rhs, ty, ivs, locals_)
        return bool({"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b, "==": a == b,
                     "!=": a != b}[c.op])

    def expr(self, e, ty, ivs, locals_):
        cast = ty.numpy.type
        if isinstance(e, d.Load):
            return self.env[e.array][tuple(d.aff_eval(x, ivs) for x in e.index)]
        if isinstance(e, d.Const):
            return cast(e.value)
        if isinstance(e, d.Scalar):
            return self.env[e.name]
        if isinstance(e, d.Local):
            value, lty, at = locals_[e.name]
            return value if lty is not None else self.expr(value, ty, at, locals_)
        if isinstance(e, d.Index):  # an int type wraps it, as the compiled index_cast does
            v = d.aff_eval(e.expr, ivs)
            return cast(v) if ty.is_float else wrap_int(v, ty)
        if isinstance(e, d.Cast):
            src = cast_source(e, self.ptypes, self.ltypes, d.Loc("<kernel>", 0))
            return convert_value(self.expr(e.operand, src, ivs, locals_), src, ty)
        if isinstance(e, d.Neg):
            return cast(-self.expr(e.operand, ty, ivs, locals_))
        if isinstance(e, d.Select):
            a = self.expr(e.if_true, ty, ivs, locals_)
            b = self.expr(e.if_false, ty, ivs, locals_)
            return a if self.cond(e.cond, ivs, locals_) else b
        if isinstance(e, d.Math):
            x = self.expr(e.operand, ty, ivs, locals_)
            return cast(getattr(np, "absolute" if e.fn == "abs" else e.fn)(x))
        if isinstance(e, d.Pow):
            return self.power(self.expr(e.base, ty, ivs, locals_), e.exponent, cast)
        if isinstance(e, d.PowValue):  # numpy's power of floats; the exponent converted first
            et = exponent_type(e, ty, self.ptypes, self.ltypes, d.Loc("<kernel>", 0))
            y = convert_value(self.expr(e.exponent, et, ivs, locals_), et, ty)
            # as arrays: numpy's scalar power takes y == 0.5 as sqrt (sqrt(-inf) is NaN, C's
            # pow(-inf, 0.5) is inf); with an array exponent it is C's pow
            x = np.asarray([self.expr(e.base, ty, ivs, locals_)])
            return cast(np.power(x, np.asarray([y]))[0])
        a = self.expr(e.lhs, ty, ivs, locals_)
        b = self.expr(e.rhs, ty, ivs, locals_)
        if e.op == "+":
            return cast(a + b)
        if e.op == "-":
            return cast(a - b)
        if e.op == "*":
            return cast(a * b)
        if e.op == "/":
            return cast(a / b)
        if e.op == "min":
            return cast(np.minimum(a, b))
        return cast(np.maximum(a, b))

    @staticmethod
    def power(x, n, cast):
        """``x ** n`` as the compiled code computes it: sqrt for 0.5, else products by
        squaring rounded in the element type at each step, one division for n < 0."""
        if n == 0.5:
            return cast(np.sqrt(x))
        result, base, k = None, x, abs(n)
        while k:
            if k & 1:
                result = base if result is None else cast(result * base)
            k >>= 1
            if k:
                base = cast(base * base)
        if result is None:
            return cast(1)
        return cast(cast(1) / result) if n < 0 else result
