"""Reference interpreter: runs a kernel descriptor directly in Python on numpy scalars.

The oracle of the differential tests: no MLIR, no LLVM, every operation rounded to the
kernel's element type (float32 math stays float32), integers wrapping like machine code.
Slow by design; use it on small sizes. It mutates the output arrays in place, like `jit`.
"""
from __future__ import annotations

import numpy as np

from . import descriptor as d
from .compiler import sizes_of
from .runtime import JitKernel
from .semantics import value_type


def interpret(kernel: d.Kernel, *args) -> None:
    """Run ``kernel`` on ``args`` (same checks as a compiled call)."""
    jk = JitKernel.__new__(JitKernel)  # reuse the argument checks without compiling anything
    jk.kernel = kernel
    sig, ready = jk.signature(args)
    ptypes = sig.ptypes()
    sizes = sizes_of(kernel, sig)
    from . import semantics
    semantics.check_types(kernel, ptypes)
    semantics.check_bounds(kernel, sizes, sig.shape_map())
    env = {p.name: a for p, a in zip(kernel.params, ready)}
    for p in kernel.params:
        if not p.is_array:
            env[p.name] = ptypes[p.name].numpy.type(env[p.name])
    with np.errstate(all="ignore"):  # wrap-around and inf/nan behave like machine code
        _Run(kernel, env, ptypes, sizes).block(kernel.body, dict(sizes), {})
    # outputs that were copied (aliasing) are not the caller's arrays: copy results back
    for p, orig, used in zip(kernel.params, args, ready):
        if p.is_array and used is not orig and p.name in kernel.written:
            orig[...] = used


class _Run:
    def __init__(self, kernel, env, ptypes, sizes):
        self.env, self.ptypes, self.sizes = env, ptypes, sizes

    def block(self, body, ivs, locals_):
        for s in body:
            if isinstance(s, d.Loop):
                lo = max(d.aff_eval(e, ivs) for e in s.lower)
                hi = min(d.aff_eval(e, ivs) for e in s.upper)
                inner_locals = dict(locals_)
                for v in range(lo, hi, s.step):
                    ivs[s.var] = v
                    self.block(s.body, ivs, inner_locals)
                ivs.pop(s.var, None)
            elif isinstance(s, d.Let):
                ty = value_type(s.value, self.ptypes, {k: v[1] for k, v in locals_.items()}, s.loc)
                # untyped locals (literals and indices only) are evaluated at each use, in its type
                locals_[s.name] = (s.value if ty is None else self.expr(s.value, ty, ivs, locals_), ty,
                                   dict(ivs))
            else:
                ty = self.ptypes[s.array]
                idx = tuple(d.aff_eval(e, ivs) for e in s.index)
                self.env[s.array][idx] = self.expr(s.value, ty, ivs, locals_)

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
        if isinstance(e, d.Index):
            return cast(d.aff_eval(e.expr, ivs))
        if isinstance(e, d.Neg):
            return cast(-self.expr(e.operand, ty, ivs, locals_))
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
