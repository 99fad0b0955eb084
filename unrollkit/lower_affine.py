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
from mlir.dialects import affine, arith, func

from . import descriptor as d
from .dtypes import ElementType
from .semantics import value_type

LOOP_NAME_ATTR = "uk.name"


def mlir_type(t: ElementType) -> ir.Type:
    return {"f32": ir.F32Type.get, "f64": ir.F64Type.get,
            "i32": lambda: ir.IntegerType.get_signless(32),
            "i64": lambda: ir.IntegerType.get_signless(64)}[t.name]()


def _loc(loc: d.Loc) -> ir.Location:
    return ir.Location.file(loc.filename, loc.lineno, 1)


def lower(kernel: d.Kernel, sizes: dict, ptypes: dict, shapes: dict) -> ir.Module:
    """Build the module in the current MLIR context (the caller owns the context)."""
    module = ir.Module.create(loc=ir.Location.file(kernel.filename, kernel.lineno, 1))
    arg_types = []
    for p in kernel.params:
        et = mlir_type(ptypes[p.name])
        arg_types.append(ir.MemRefType.get(_memref_shape(shapes[p.name]), et) if p.is_array else et)
    with ir.InsertionPoint(module.body), ir.Location.file(kernel.filename, kernel.lineno, 1):
        fn = func.FuncOp(kernel.name, ir.FunctionType.get(arg_types, []))
        fn.attributes["llvm.emit_c_interface"] = ir.UnitAttr.get()
        arg_attrs = [ir.DictAttr.get({"llvm.noalias": ir.UnitAttr.get()}) if p.is_array
                     else ir.DictAttr.get({}) for p in kernel.params]
        fn.arg_attrs = ir.ArrayAttr.get(arg_attrs)
        entry = fn.add_entry_block()
        values = {p.name: entry.arguments[i] for i, p in enumerate(kernel.params)}
        _Builder(kernel, sizes, ptypes, values).block(kernel.body, entry, [], {}, {})
        with ir.InsertionPoint(entry):
            func.ReturnOp([])
    return module


def _memref_shape(shape) -> list:
    """The static memref shape of an argument. An empty array (a 0 in its shape) is declared
    with 1s instead: MLIR's bare-pointer convention rejects shapes like 9x0, and no access to
    an empty array can execute (`semantics.check_bounds` refuses any access a running loop
    could reach), so its declared extent is never used."""
    return [max(1, s) for s in shape] if 0 in shape else list(shape)


class _Builder:
    def __init__(self, kernel, sizes, ptypes, args):
        self.kernel, self.sizes, self.ptypes, self.args = kernel, sizes, ptypes, args
        self.contract = ir.Attribute.parse("#arith.fastmath<contract>")

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
        for s in body:
            with ir.InsertionPoint(block), _loc(s.loc):
                if isinstance(s, d.Loop):
                    lb, lb_ops = self.affine_map(s.lower, ivs)
                    ub, ub_ops = self.affine_map(s.upper, ivs)
                    op = affine.AffineForOp(lb, ub, s.step, lower_bound_operands=lb_ops,
                                            upper_bound_operands=ub_ops)
                    op.attributes[LOOP_NAME_ATTR] = ir.StringAttr.get(s.name)
                    inner = ivs + [(s.var, op.induction_variable)]
                    self.block(s.body, op.body, inner, dict(locals_), dict(ltypes))
                    with ir.InsertionPoint(op.body):
                        affine.AffineYieldOp([])
                elif isinstance(s, d.Let):
                    ty = value_type(s.value, self.ptypes, ltypes, s.loc)
                    ltypes[s.name] = ty
                    # an untyped local (literals and indices only) is re-emitted at each use
                    # in the type its use needs
                    locals_[s.name] = s.value if ty is None else self.expr(s.value, ty, ivs, locals_)
                else:
                    ty = self.ptypes[s.array]
                    v = self.expr(s.value, ty, ivs, locals_)
                    amap, ops = self.affine_map(s.index, ivs)
                    affine.AffineStoreOp(v, self.args[s.array], ops, map=amap)

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
                return arith.NegFOp(x, fastmath=self.contract).result
            zero = arith.ConstantOp(t, ir.IntegerAttr.get(t, 0)).result
            return arith.SubIOp(zero, x).result
        a = self.expr(e.lhs, ty, ivs, locals_)
        b = self.expr(e.rhs, ty, ivs, locals_)
        if ty.is_float:
            op = {"+": arith.AddFOp, "-": arith.SubFOp, "*": arith.MulFOp, "/": arith.DivFOp,
                  "min": arith.MinimumFOp, "max": arith.MaximumFOp}[e.op]
            return op(a, b, fastmath=self.contract).result
        op = {"+": arith.AddIOp, "-": arith.SubIOp, "*": arith.MulIOp,
              "min": arith.MinSIOp, "max": arith.MaxSIOp}[e.op]
        return op(a, b).result
