"""A last line of defence: prove every memory access of the transformed affine IR in bounds.

The frontend proves the user's subscripts in bounds (`semantics.check_bounds`); loop passes
then rewrite bounds and subscripts. A wrong rewrite would let machine code write outside
the caller's arrays — heap corruption, not an exception. So before lowering, every
``affine.load/store``, ``affine.vector_load/store`` and ``vector.transfer_read/write`` index is
bounded over its enclosing loops (substituting loop bounds innermost first, exactly as the
frontend does) and compared with the static memref shape. An access that cannot be proved is
refused with the pipeline named, instead of running.
"""
from __future__ import annotations

from mlir import ir

from .errors import CompileError

_LOOP = "affine.for"


class _Unknown(Exception):
    """An index whose range this analysis cannot follow (then the access is not judged)."""


# A form is (coeffs: {loop_op_key: int}, lo: int, hi: int): sum(coeff * iv) + [lo, hi].


def _add(a, b, k=1):
    coeffs = dict(a[0])
    for key, v in b[0].items():
        coeffs[key] = coeffs.get(key, 0) + k * v
    lo2, hi2 = (b[1] * k, b[2] * k) if k >= 0 else (b[2] * k, b[1] * k)
    return {x: v for x, v in coeffs.items() if v}, a[1] + lo2, a[2] + hi2


def _const(c):
    return {}, c, c


class _Analysis:
    def __init__(self):
        self.loops = {}  # key -> loop op (OpView)
        # bound forms per (loop, upper): `extreme` asks for them at every substitution step,
        # and they depend only on values defined outside the loop
        self._bounds = {}
        # form per SSA value: unrolled code uses one IV or apply in many accesses. A form
        # depends only on the value (an affine.min's range on loops enclosing its definition,
        # which enclose every use), not on the scope of the access asking.
        self._values = {}
        # extreme per (coefficients, want_max) at a zero constant part: substitution is
        # translation-invariant (the constant range rides along unchanged), so the copies of
        # an unrolled body — same loops, other offsets — share one substitution walk
        self._extremes = {}

    # -- values → forms
    def value(self, v, scope):
        form = self._values.get(v)
        if form is None:
            form = self._values[v] = self._value(v, scope)
        return form

    def _value(self, v, scope):
        if isinstance(v, ir.BlockArgument):
            owner = v.owner.owner
            if owner is not None and owner.operation.name == _LOOP and v.arg_number == 0:
                key = _key(owner)
                self.loops[key] = owner
                return {key: 1}, 0, 0
            raise _Unknown()
        op = v.owner
        name = op.name if hasattr(op, "name") and isinstance(op.name, str) else op.operation.name
        if name == "arith.constant":
            return _const(ir.IntegerAttr(op.attributes["value"]).value)
        if name == "affine.apply":
            amap = ir.AffineMapAttr(op.attributes["map"]).value
            return self.expr(amap.results[0], [self.value(x, scope) for x in op.operands], scope)
        if name in ("affine.min", "affine.max"):
            amap = ir.AffineMapAttr(op.attributes["map"]).value
            forms = [self.expr(e, [self.value(x, scope) for x in op.operands], scope) for e in amap.results]
            lo = min if name == "affine.min" else max
            return _const_range(lo(self.extreme(f, False, scope) for f in forms),
                                lo(self.extreme(f, True, scope) for f in forms))
        raise _Unknown()

    def expr(self, e, operands, scope):
        e = e.maybe_downcast()
        if isinstance(e, ir.AffineDimExpr):
            return operands[e.position]
        if isinstance(e, ir.AffineSymbolExpr):
            raise _Unknown()  # shapes are static: symbols come only from raw MLIR steps
        if isinstance(e, ir.AffineConstantExpr):
            return _const(e.value)
        if isinstance(e, ir.AffineAddExpr):
            return _add(self.expr(e.lhs, operands, scope), self.expr(e.rhs, operands, scope))
        if isinstance(e, ir.AffineMulExpr):
            a, b = self.expr(e.lhs, operands, scope), self.expr(e.rhs, operands, scope)
            if not b[0] and b[1] == b[2]:
                return _add(({}, 0, 0), a, b[1])
            if not a[0] and a[1] == a[2]:
                return _add(({}, 0, 0), b, a[1])
            raise _Unknown()
        a = self.expr(e.lhs, operands, scope)
        b = self.expr(e.rhs, operands, scope)
        if b[0] or b[1] != b[2] or b[1] <= 0:
            raise _Unknown()
        d = b[1]
        lo, hi = self.extreme(a, False, scope), self.extreme(a, True, scope)
        if isinstance(e, ir.AffineFloorDivExpr):
            return _const_range(lo // d, hi // d)
        if isinstance(e, ir.AffineCeilDivExpr):
            return _const_range(-(-lo // d), -(-hi // d))
        return _const_range(0, d - 1) if hi - lo >= d or lo // d != hi // d else _const_range(lo % d, hi % d)

    # -- extremes over the loop nest
    def bounds(self, loop, scope, upper: bool):
        key = (_key(loop), upper)
        if key not in self._bounds:
            self._bounds[key] = self._bound_forms(loop, scope, upper)
        return self._bounds[key]

    def _bound_forms(self, loop, scope, upper: bool):
        amap = ir.AffineMapAttr(loop.attributes["upperBoundMap" if upper else "lowerBoundMap"]).value
        ops = list(loop.operation.operands)
        n_lb = ir.AffineMapAttr(loop.attributes["lowerBoundMap"]).value.n_inputs
        operands = ops[n_lb:n_lb + amap.n_inputs] if upper else ops[:n_lb]
        forms = [self.value(x, scope) for x in operands]
        return [self.expr(e, forms, scope) for e in amap.results]

    def extreme(self, form, want_max: bool, scope):
        coeffs, lo, hi = form
        if not coeffs:
            return hi if want_max else lo
        memo = (frozenset(coeffs.items()), want_max)
        base = self._extremes.get(memo)
        if base is None:
            base = self._extremes[memo] = self._extreme(coeffs, want_max, scope)
        return base + (hi if want_max else lo)

    def _extreme(self, coeffs, want_max: bool, scope):
        """`extreme` of ``sum(coeffs · iv)`` (no constant part)."""
        lo = hi = 0
        # the innermost loop variable of the form (scope lists loops outermost first)
        key = next(k for k in reversed(scope) if k in coeffs)
        c = coeffs[key]
        rest = ({k: v for k, v in coeffs.items() if k != key}, lo, hi)
        use_hi = (c > 0) == want_max
        best = None
        loop = self.loops[key]
        for f in self.bounds(loop, scope, upper=use_hi):
            if use_hi:
                f = self.last_value(loop, f, scope)
            val = self.extreme(_add(rest, f, c), want_max, scope)
            # the variable is <= every upper bound (>= every lower bound): the tightest wins
            if best is None or (val < best if want_max else val > best):
                best = val
        return best


    def last_value(self, loop, ub, scope):
        """The largest value the IV takes below ``ub``: ``ub - 1``, or with a step s and a
        lower bound a constant distance below ``ub`` (unrolled and tiled loops),
        ``lb + ((ub - lb - 1) // s) * s`` — so ``%i + 3`` in a loop ``0 to 8 step 4`` peaks at 7."""
        step = ir.IntegerAttr(loop.attributes["step"]).value
        if step > 1:
            lbs = self.bounds(loop, scope, upper=False)
            if len(lbs) == 1:
                diff = _add(ub, lbs[0], -1)
                if not diff[0] and diff[1] == diff[2]:
                    return _add(lbs[0], _const(max(0, (diff[1] - 1) // step) * step))
        return _add(ub, _const(-1))


def _const_range(lo, hi):
    return {}, lo, hi


def _key(loop):
    return loop.operation


def _never_runs(an, loop, scope) -> bool:
    lows = [an.extreme(f, False, scope) for f in an.bounds(loop, scope, upper=False)]
    highs = [an.extreme(f, True, scope) for f in an.bounds(loop, scope, upper=True)]
    return max(lows) >= min(highs)


_ACCESS_OPS = frozenset(("affine.load", "affine.vector_load", "affine.store", "affine.vector_store",
                         "vector.transfer_read", "vector.transfer_write", "vector.load", "vector.store"))


def _accesses(op):
    """(memref value, index values or (map, operands), extent per dim) of an access op."""
    name = op.operation.name
    ops = op.operation.operands
    if name in ("affine.load", "affine.vector_load"):
        return ops[0], ir.AffineMapAttr(op.attributes["map"]).value, list(ops)[1:], _vec_shape(op.operation.results[0].type)
    if name in ("affine.store", "affine.vector_store"):
        return ops[1], ir.AffineMapAttr(op.attributes["map"]).value, list(ops)[2:], _vec_shape(ops[0].type)
    if name in ("vector.transfer_read", "vector.load"):
        # operands by position (the op definitions: base, one index per memref dim, then
        # padding/mask), not through the generated op view, which costs more than the check
        base = ops[0]
        return base, None, list(ops)[1:1 + _rank(base.type)], _vec_shape(op.operation.results[0].type)
    if name in ("vector.transfer_write", "vector.store"):
        base = ops[1]  # (the value stored comes first)
        return base, None, list(ops)[2:2 + _rank(base.type)], _vec_shape(ops[0].type)
    return None


def _rank(t) -> int:
    return ir.ShapedType(t).rank


def _masked_dims(op, rank: int) -> set:
    """Memref dims where a vector.transfer op is not marked in_bounds (its lowering masks)."""
    if not op.operation.name.startswith("vector.transfer_"):
        return set()
    vec_rank = len(ir.ArrayAttr(op.attributes["in_bounds"])) if "in_bounds" in op.attributes else 0
    flags = [ir.BoolAttr(a).value for a in ir.ArrayAttr(op.attributes["in_bounds"])] \
        if vec_rank else []
    # with the (default) minor identity permutation, vector dim i is memref dim rank - n + i
    first = rank - len(flags)
    masked = {first + i for i, ok in enumerate(flags) if not ok}
    if "in_bounds" not in op.attributes:
        masked = set(range(rank))
    return masked


def _vec_shape(t):
    # (a type-id test: a failed cast raises, and that costs more than the whole check)
    return list(ir.VectorType(t).shape) if t.typeid == ir.VectorType.static_typeid else []


def check_module(module, after: str) -> None:
    """Raise CompileError if some access of ``module`` may fall outside its memref."""
    an = _Analysis()

    def visit(block, scope):
        for op in block.operations:
            name = op.operation.name
            if name == _LOOP:
                key = _key(op)
                an.loops[key] = op
                inner = scope + [key]
                try:
                    if _never_runs(an, op, inner):
                        continue
                except _Unknown:
                    pass
                visit(op.regions[0].blocks[0], inner)
                continue
            if name in _ACCESS_OPS:  # (most ops are arithmetic: skip building their view)
                _check(an, op, _accesses(op), scope, after)
            for region in op.operation.regions:
                for b in region.blocks:
                    visit(b, scope)

    for fn in module.body.operations:
        for region in fn.operation.regions:
            for b in region.blocks:
                visit(b, [])


def _check(an, op, acc, scope, after):
    memref, amap, operands, vshape = acc
    try:
        shape = list(ir.MemRefType(memref.type).shape)
    except ValueError:
        return
    try:
        forms = [an.value(x, scope) for x in operands]
        if amap is not None:
            forms = [an.expr(e, forms, scope) for e in amap.results]
    except _Unknown:
        return
    extents = [1] * (len(shape) - len(vshape)) + vshape
    masked = _masked_dims(op, len(shape))
    for dim, (f, n, ext) in enumerate(zip(forms, shape, extents)):
        if dim in masked:
            continue  # a transfer that is not in_bounds there masks the lanes past the end
        try:
            lo, hi = an.extreme(f, False, scope), an.extreme(f, True, scope) + ext - 1
        except _Unknown:
            continue
        if lo < 0 or hi >= n:
            # the symbolic bound is loose where floordiv/mod correlate with loop variables
            # (unrolled triangular loops): decide exactly by enumerating the loops involved
            exact = _Exact(an, scope).range(operands, amap, dim)
            if exact == ():
                return  # no iteration reaches this access
            if exact is not None:
                lo, hi = exact[0], exact[1] + ext - 1
                if lo >= 0 and hi < n:
                    continue
            raise CompileError(
                f"after {after}: {op.operation.name} of a memref with shape {shape} may touch index "
                f"range [{lo}, {hi}] in dimension {dim}, outside [0, {n - 1}]. The kernel's own "
                "subscripts were proved in bounds, so a transformation produced this access: "
                "refusing to run it (please report the kernel and pipeline)")


# ---------------------------------------------------------------- exact enumeration

#: iteration points the exact check may visit for one access before it gives up (refuses)
EXACT_BUDGET = 200_000


class _OverBudget(Exception):
    pass


def _compile_expr(e):
    """An AffineExpr as a Python function of its dim values."""
    e = e.maybe_downcast()
    if isinstance(e, ir.AffineDimExpr):
        p = e.position
        return lambda d: d[p]
    if isinstance(e, ir.AffineConstantExpr):
        c = e.value
        return lambda d: c
    if isinstance(e, ir.AffineSymbolExpr):
        raise _Unknown()
    a, b = _compile_expr(e.lhs), _compile_expr(e.rhs)
    if isinstance(e, ir.AffineAddExpr):
        return lambda d: a(d) + b(d)
    if isinstance(e, ir.AffineMulExpr):
        return lambda d: a(d) * b(d)
    if isinstance(e, ir.AffineFloorDivExpr):
        return lambda d: a(d) // b(d)
    if isinstance(e, ir.AffineCeilDivExpr):
        return lambda d: -(-a(d) // b(d))
    return lambda d: a(d) % b(d)


class _Exact:
    """Concrete evaluation over the loops an access depends on (static shapes make every
    bound a number once the outer variables are fixed)."""

    def __init__(self, an, scope):
        self.an, self.scope, self.visited = an, scope, 0

    def value(self, v):
        """(function of the loop environment, loop keys it reads)."""
        if isinstance(v, ir.BlockArgument):
            owner = v.owner.owner
            if owner is not None and owner.operation.name == _LOOP and v.arg_number == 0:
                key = _key(owner)
                return (lambda env: env[key]), {key}
            raise _Unknown()
        op = v.owner
        name = op.operation.name if hasattr(op, "operation") else op.name
        if name == "arith.constant":
            c = ir.IntegerAttr(op.attributes["value"]).value
            return (lambda env: c), set()
        if name in ("affine.apply", "affine.min", "affine.max"):
            amap = ir.AffineMapAttr(op.attributes["map"]).value
            return self.mapped(amap, list(op.operands), {"affine.apply": None, "affine.min": min,
                                                          "affine.max": max}[name])
        raise _Unknown()

    def mapped(self, amap, operands, combine):
        args = [self.value(x) for x in operands]
        fns = [_compile_expr(e) for e in amap.results]
        deps = set().union(*(d for _, d in args)) if args else set()
        if combine is None:
            f = fns[0]
            return (lambda env: f([a(env) for a, _ in args])), deps
        return (lambda env: combine(g([a(env) for a, _ in args]) for g in fns)), deps

    def loop_bounds(self, loop):
        lbm = ir.AffineMapAttr(loop.attributes["lowerBoundMap"]).value
        ubm = ir.AffineMapAttr(loop.attributes["upperBoundMap"]).value
        ops = list(loop.operation.operands)
        lo, dl = self.mapped(lbm, ops[:lbm.n_inputs], max)
        hi, dh = self.mapped(ubm, ops[lbm.n_inputs:lbm.n_inputs + ubm.n_inputs], min)
        return lo, hi, ir.IntegerAttr(loop.attributes["step"]).value, dl | dh

    def range(self, operands, amap, dim):
        """Exact (min, max) of index ``dim``; () if no iteration reaches it; None if unknown
        or over budget."""
        try:
            args = [self.value(x) for x in operands]
            if amap is not None:
                f = _compile_expr(amap.results[dim])
                idx = lambda env: f([a(env) for a, _ in args])  # noqa: E731
                deps = set().union(*(d for _, d in args)) if args else set()
            else:
                idx, deps = args[dim]
            # close over the loops whose bounds the involved loops read
            loops, todo = {}, list(deps)
            while todo:
                k = todo.pop()
                if k in loops:
                    continue
                loops[k] = self.loop_bounds(self.an.loops[k])
                todo.extend(loops[k][3])
            order = [k for k in self.scope if k in loops]
            found = []
            self.walk(order, loops, {}, idx, found)
        except (_Unknown, _OverBudget, KeyError):
            return None
        return tuple(found)  # () when the access never executes

    def walk(self, order, loops, env, idx, found):
        if not order:
            self.visited += 1
            if self.visited > EXACT_BUDGET:
                raise _OverBudget()
            v = idx(env)
            if not found:
                found.extend((v, v))
            else:
                found[0], found[1] = min(found[0], v), max(found[1], v)
            return
        key, rest = order[0], order[1:]
        lo, hi, step, _ = loops[key]
        for x in range(lo(env), hi(env), step):
            env[key] = x
            self.walk(rest, loops, env, idx, found)
        env.pop(key, None)
