"""Kernel descriptor → MLIR ``func.func`` with ``affine.for`` / ``affine.load`` / ``affine.store``.

Built with the MLIR Python bindings' builders (no text templates). Shapes are static: a kernel
is specialised per call signature, so every bound is an affine map over enclosing loop
variables only, and array arguments can be passed as bare ``noalias`` pointers.

Every ``affine.for`` carries its source loop name as the discardable attribute ``uk.name``,
which is how passes target loops (`passes.unroll` matches ``{uk.name = "k"}``).

    >>> lower(mac, sizes={"N": 8}, ...)             # doctest: +SKIP
    # CHECK: func.func @mac(%arg0: memref<8xf32> {llvm.noalias}
    # CHECK: affine.for %{{.*}} = 0 to 8 {
    # CHECK: } {uk.name = "i"}
"""
from __future__ import annotations

from mlir import ir
from mlir.dialects import affine, arith, func, math, memref, scf

from unrollkit.frontend import descriptor as d
from unrollkit.core.dtypes import BY_NAME, SCALAR_ABI, ElementType
from unrollkit.frontend.conditions import affine_condition
from unrollkit.frontend.semantics import cast_source, compare_type, exponent_type, variable_types
from unrollkit.ir.casts import convert, mlir_type

LOOP_NAME_ATTR = "uk.name"
#: the unrolling written in the source (``uk.range(..., unroll=4)``: 4; ``uk.unroll``: "full")
UNROLL_ATTR = "uk.unroll"


def _loc(loc: d.Loc) -> ir.Location:
    return ir.Location.file(loc.filename, loc.lineno, 1)


def lower(kernel: d.Kernel, sizes: dict, ptypes: dict, shapes: dict) -> ir.Module:
    """Build the module in the current MLIR context (the caller owns the context)."""
    module = ir.Module.create(loc=ir.Location.file(kernel.filename, kernel.lineno, 1))
    arg_types = []
    for p in kernel.params:
        et = mlir_type(ptypes[p.name] if p.is_array else scalar_abi(ptypes[p.name]))
        arg_types.append(ir.MemRefType.get(_memref_shape(shapes[p.name]), et) if p.is_array else et)
    with ir.InsertionPoint(module.body), ir.Location.file(kernel.filename, kernel.lineno, 1):
        fn = func.FuncOp(kernel.name, ir.FunctionType.get(arg_types, []))
        fn.attributes["llvm.emit_c_interface"] = ir.UnitAttr.get()
        arg_attrs = [ir.DictAttr.get({"llvm.noalias": ir.UnitAttr.get()}) if p.is_array
                     else ir.DictAttr.get({}) for p in kernel.params]
        fn.arg_attrs = ir.ArrayAttr.get(arg_attrs)
        entry = fn.add_entry_block()
        values = {p.name: entry.arguments[i] for i, p in enumerate(kernel.params)}
        with ir.InsertionPoint(entry):  # a scalar passed wider (`SCALAR_ABI`) back to its type
            for p in kernel.params:
                if not p.is_array and scalar_abi(ptypes[p.name]) != ptypes[p.name]:
                    values[p.name] = convert(values[p.name], scalar_abi(ptypes[p.name]), ptypes[p.name])
            for la in kernel.local_arrays:  # on the stack, zeroed by the body's fill nest
                mt = ir.MemRefType.get(_memref_shape(shapes[la.name]), mlir_type(ptypes[la.name]))
                values[la.name] = memref.AllocaOp(mt, [], []).result
        _Builder(kernel, sizes, ptypes, values).block(kernel.body, entry, [], {}, {})
        with ir.InsertionPoint(entry):
            func.ReturnOp([])
    return module


def scalar_abi(ty: ElementType) -> ElementType:
    """The type a scalar parameter of type ``ty`` is passed as (`dtypes.SCALAR_ABI`)."""
    return BY_NAME[SCALAR_ABI.get(ty.name, ty.name)]


def _memref_shape(shape) -> list:
    """The static memref shape of an argument. An empty array (a 0 in its shape) is declared
    with 1s instead: MLIR's bare-pointer convention rejects shapes like 9x0, and no access to
    an empty array can execute (`kernel_bounds.check_bounds` refuses any access a running loop
    could reach), so its declared extent is never used."""
    return [max(1, s) for s in shape] if 0 in shape else list(shape)


class _Builder:
    def __init__(self, kernel, sizes, ptypes, args):
        self.kernel, self.sizes, self.ptypes, self.args = kernel, sizes, ptypes, args
        self.vtypes = variable_types(kernel.body, ptypes)  # of each assignment, by id(let)
        self.contract = ir.Attribute.parse("#arith.fastmath<contract>")
        self.ltypes = {}  # the element types of the locals visible at the current statement

    # -- affine expressions over the enclosing loop variables
    def affine_map(self, exprs, ivs):
        """An affine map of ``exprs`` over the induction variables it uses, and its operands."""
        used = set()
        for e in exprs:
            used |= d.aff_vars(d.aff_subst(e, self.sizes))
        dims = [(name, v) for name, v in ivs if name in used]
        pos = {name: i for i, (name, _) in enumerate(dims)}
        results = [self.affine_expr(d.aff_subst(e, self.sizes), pos) for e in exprs]
        return ir.AffineMap.get(len(dims), 0, results), [v for _, v in dims]

    def affine_expr(self, e, pos):
        if isinstance(e, d.Var):
            if e.name not in pos:
                raise ValueError(f"unbound index variable {e.name!r}")
            return ir.AffineDimExpr.get(pos[e.name])
        if isinstance(e, d.Lit):
            return ir.AffineConstantExpr.get(e.value)
        if isinstance(e, d.Add):
            return ir.AffineAddExpr.get(self.affine_expr(e.lhs, pos), self.affine_expr(e.rhs, pos))
        if isinstance(e, d.Mul):
            return ir.AffineMulExpr.get(self.affine_expr(e.lhs, pos), ir.AffineConstantExpr.get(e.coeff))
        return ir.AffineFloorDivExpr.get(self.affine_expr(e.lhs, pos), ir.AffineConstantExpr.get(e.divisor))

    # -- statements
    def block(self, body, block, ivs, locals_, ltypes):
        """Lower ``body`` at the end of ``block``; ``locals_`` (name → value) is updated with
        what it assigns, so a loop or ``if`` around it can carry or yield the new values."""
        for s in body:
            self.ltypes = ltypes
            with ir.InsertionPoint(block), _loc(s.loc):
                if isinstance(s, d.Loop):
                    self.loop(s, ivs, locals_, ltypes)
                elif isinstance(s, d.If):
                    self.branch(s, ivs, locals_, ltypes)
                elif isinstance(s, d.Let):
                    ty = self.vtypes[id(s)]
                    ltypes[s.name] = ty
                    # an untyped local (literals and indices only) is re-emitted at each use
                    # in the type its use needs
                    locals_[s.name] = self.expr(s.value, ty, ivs, locals_) if ty is not None else \
                        d.inline_locals(s.value, {n: v for n, v in locals_.items() if not isinstance(v, ir.Value)})
                else:
                    ty = self.ptypes[s.array]
                    v = self.expr(s.value, ty, ivs, locals_)
                    amap, ops = self.affine_map(s.index, ivs)
                    affine.AffineStoreOp(v, self.args[s.array], ops, map=amap)

    def loop(self, s: d.Loop, ivs, locals_, ltypes):
        """``affine.for``; the locals it assigns that are defined before it are its iter_args."""
        carried = sorted(d.assigned_names(s.body) & set(locals_))
        lb, lb_ops = self.affine_map(s.lower, ivs)
        ub, ub_ops = self.affine_map(s.upper, ivs)
        op = affine.AffineForOp(lb, ub, s.step, iter_args=[locals_[n] for n in carried] or None,
                                lower_bound_operands=lb_ops, upper_bound_operands=ub_ops)
        op.attributes[LOOP_NAME_ATTR] = ir.StringAttr.get(s.name)
        if s.unroll:  # written in the source; `runtime` applies it as factor={name: n}
            op.attributes[UNROLL_ATTR] = ir.StringAttr.get("full") if s.unroll == d.FULL \
                else ir.IntegerAttr.get(ir.IntegerType.get_signless(64), s.unroll)
        inner = dict(locals_, **dict(zip(carried, op.inner_iter_args)))
        self.block(s.body, op.body, ivs + [(s.var, op.induction_variable)], inner, dict(ltypes))
        with ir.InsertionPoint(op.body):
            affine.AffineYieldOp([inner[n] for n in carried])
        locals_.update(zip(carried, op.results))

    def branch(self, s: d.If, ivs, locals_, ltypes):
        """``affine.if`` on loop variables and sizes, else ``scf.if``; yields the locals defined
        before it that a branch assigns."""
        assigned = sorted((d.assigned_names(s.then) | d.assigned_names(s.orelse)) & set(locals_))
        types = [locals_[n].type for n in assigned]
        constraints = affine_condition(s.cond)
        if constraints is not None:
            iset, ops = self.integer_set(constraints, ivs)
            op = affine.AffineIfOp(iset, types or None, cond_operands=ops,
                                   has_else=bool(s.orelse) or bool(assigned))
            yield_op = affine.AffineYieldOp
        else:
            op = scf.IfOp(self.condition(s.cond, ivs, locals_), types,
                          has_else=bool(s.orelse) or bool(assigned))
            yield_op = scf.YieldOp
        for region, stmts in ((op.regions[0], s.then), (op.regions[1], s.orelse)):
            if not stmts and not assigned and region is op.regions[1]:
                continue
            blk = region.blocks[0] if len(region.blocks) else region.blocks.append()
            inner = dict(locals_)
            self.block(stmts, blk, ivs, inner, dict(ltypes))
            with ir.InsertionPoint(blk):
                yield_op([inner[n] for n in assigned])
        locals_.update(zip(assigned, op.results))

    def integer_set(self, constraints, ivs):
        """The ``affine.if`` integer set of ``[(aff, is_equality)]`` over the loop variables."""
        exprs = [d.aff_subst(a, self.sizes) for a, _ in constraints]
        used = set().union(*(d.aff_vars(e) for e in exprs))
        dims = [(name, v) for name, v in ivs if name in used]
        pos = {name: i for i, (name, _) in enumerate(dims)}
        iset = ir.IntegerSet.get(len(dims), 0, [self.affine_expr(e, pos) for e in exprs],
                                 [eq for _, eq in constraints])
        return iset, [v for _, v in dims]

    def condition(self, c, ivs, locals_):
        """An ``i1`` value of condition ``c``."""
        if isinstance(c, d.Logic):
            a, b = self.condition(c.lhs, ivs, locals_), self.condition(c.rhs, ivs, locals_)
            return (arith.AndIOp if c.op == "and" else arith.OrIOp)(a, b).result
        if isinstance(c, d.Not):
            true = arith.ConstantOp(ir.IntegerType.get_signless(1), 1).result
            return arith.XOrIOp(self.condition(c.operand, ivs, locals_), true).result
        ty = compare_type(c, self.ptypes, self.ltypes_of(locals_), d.Loc("<kernel>", 0))
        a, b = self.expr(c.lhs, ty, ivs, locals_), self.expr(c.rhs, ty, ivs, locals_)
        if ty.is_float:  # ordered: false when either side is NaN, as in Python
            pred = {"<": "olt", "<=": "ole", ">": "ogt", ">=": "oge", "==": "oeq", "!=": "une"}[c.op]
            return arith.CmpFOp(getattr(arith.CmpFPredicate, pred.upper()), a, b).result
        pred = {"<": "lt", "<=": "le", ">": "gt", ">=": "ge"}.get(c.op)
        pred = ("u" if ty.is_unsigned else "s") + pred if pred else {"==": "eq", "!=": "ne"}[c.op]
        return arith.CmpIOp(getattr(arith.CmpIPredicate, pred), a, b).result

    def ltypes_of(self, locals_):
        """The element types of the locals (None: untyped) at the statement being lowered."""
        return self.ltypes

    def fastmath(self, ty: ElementType):
        """``contract`` (a*b+c may fuse) in f32 and f64; none in f16, whose every operation
        rounds as numpy's does (LLVM computes a half in float and rounds each result)."""
        return self.contract if ty.bits > 16 else ir.Attribute.parse("#arith.fastmath<none>")

    # -- values, all of element type ``ty``
    def expr(self, e, ty: ElementType, ivs, locals_):
        t = mlir_type(ty)
        if isinstance(e, d.Load):
            amap, ops = self.affine_map(e.index, ivs)
            return affine.AffineLoadOp(t, self.args[e.array], ops, map=amap).result
        if isinstance(e, d.Const):
            if ty.is_float:
                return arith.ConstantOp(t, ir.FloatAttr.get(t, float(e.value))).result
            return arith.ConstantOp(t, ir.IntegerAttr.get(t, int(e.value))).result
        if isinstance(e, d.Scalar):
            return self.args[e.name]
        if isinstance(e, d.Cast):
            src = cast_source(e, self.ptypes, self.ltypes, d.Loc("<kernel>", 0))
            return convert(self.expr(e.operand, src, ivs, locals_), src, ty)
        if isinstance(e, d.Local):
            v = locals_[e.name]
            return v if isinstance(v, ir.Value) else self.expr(v, ty, ivs, locals_)
        if isinstance(e, d.Index):
            amap, ops = self.affine_map((e.expr,), ivs)
            idx = affine.AffineApplyOp(amap, ops).result
            if ty.is_float:
                i = arith.IndexCastOp(ir.IntegerType.get_signless(64), idx).result
                return arith.SIToFPOp(t, i).result
            return arith.IndexCastOp(t, idx).result
        if isinstance(e, d.Neg):
            x = self.expr(e.operand, ty, ivs, locals_)
            if ty.is_float:
                return arith.NegFOp(x, fastmath=self.fastmath(ty)).result
            zero = arith.ConstantOp(t, ir.IntegerAttr.get(t, 0)).result
            return arith.SubIOp(zero, x).result
        if isinstance(e, d.Select):
            c = self.condition(e.cond, ivs, locals_)
            return arith.SelectOp(c, self.expr(e.if_true, ty, ivs, locals_),
                                  self.expr(e.if_false, ty, ivs, locals_)).result
        if isinstance(e, d.Math):
            return math_op(e.fn, self.expr(e.operand, ty, ivs, locals_), ty)
        if isinstance(e, d.Pow):
            return power(self.expr(e.base, ty, ivs, locals_), e.exponent, ty)
        if isinstance(e, d.PowValue):  # the exponent in its own type, converted (an int exactly)
            et = exponent_type(e, ty, self.ptypes, self.ltypes, d.Loc("<kernel>", 0))
            y = convert(self.expr(e.exponent, et, ivs, locals_), et, ty)
            return powf(self.expr(e.base, ty, ivs, locals_), y, ty)
        a = self.expr(e.lhs, ty, ivs, locals_)
        b = self.expr(e.rhs, ty, ivs, locals_)
        if ty.is_float:
            op = {"+": arith.AddFOp, "-": arith.SubFOp, "*": arith.MulFOp, "/": arith.DivFOp,
                  "min": arith.MinimumFOp, "max": arith.MaximumFOp}[e.op]
            return op(a, b, fastmath=self.fastmath(ty)).result
        op = {"+": arith.AddIOp, "-": arith.SubIOp, "*": arith.MulIOp,
              "min": arith.MinUIOp if ty.is_unsigned else arith.MinSIOp,
              "max": arith.MaxUIOp if ty.is_unsigned else arith.MaxSIOp}[e.op]
        return op(a, b).result


def math_op(fn: str, x, ty: ElementType):
    """``math.<fn>`` of ``x`` (``math.absf``/``math.absi`` for abs). An f16 function is
    computed in f32 and rounded to f16, as numpy computes it (and the polynomial expansions
    of `math_approx` are f32/f64 ones)."""
    if fn == "abs":
        return (math.AbsFOp if ty.is_float else math.AbsIOp)(x).result
    if ty.name == "f16":
        wide = BY_NAME["f32"]
        return convert(math_op(fn, convert(x, ty, wide), wide), wide, ty)
    op = {"exp": math.ExpOp, "log": math.LogOp, "sqrt": math.SqrtOp, "tanh": math.TanhOp,
          "floor": math.FloorOp, "ceil": math.CeilOp}[fn]
    return op(x).result


def powf(x, y, ty: ElementType):
    """``math.powf(x, y)``; in f16 computed in f32 and rounded, as numpy computes it
    (`unrollkit.ir.math_pow` expands it before LLVM)."""
    if ty.name == "f16":
        wide = BY_NAME["f32"]
        return convert(powf(convert(x, ty, wide), convert(y, ty, wide), wide), wide, ty)
    return math.PowFOp(x, y).result


def power(x, n, ty: ElementType):
    """``x ** n``: ``math.sqrt`` for 0.5, else products by squaring (|n| <= 64: at most 12
    multiplications), then one division for a negative n; ``x ** 0`` is 1 (Python's 0 ** 0)."""
    if n == 0.5:
        return math_op("sqrt", x, ty)
    t = x.type
    one = arith.ConstantOp(t, ir.FloatAttr.get(t, 1.0) if ty.is_float else ir.IntegerAttr.get(t, 1)).result
    mul = (lambda a, b: arith.MulFOp(a, b).result) if ty.is_float else (lambda a, b: arith.MulIOp(a, b).result)
    result, base, k = None, x, abs(n)
    while k:
        if k & 1:
            result = base if result is None else mul(result, base)
        k >>= 1
        if k:
            base = mul(base, base)
    if result is None:
        return one
    return arith.DivFOp(one, result).result if n < 0 else result
