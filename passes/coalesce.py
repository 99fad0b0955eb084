"""``coalesce``: fuse two nested loops that walk two adjacent, whole dimensions into one loop
over the flattened dimension.

Options:
    outer (str, required): the outer loop's name (``h``).
    inner (str, required): the inner loop's name (``w``); the fused loop keeps it.

Why: a 1×1 convolution ``O[n, co, h, w] += W[co, ci] * I[n, ci, h, w]`` is a matrix product
whose columns are the H·W pixels; scheduled with ``w`` alone as the columns, every row of
56 pixels is a GEMM too narrow for full register tiles. The arrays are C-contiguous (the
runtime requires it of outputs and copies inputs that are not), so the pixels ``(h, w)`` are
one dimension of H·W elements: ``memref.collapse_shape`` views each array that way, and one
loop over that dimension replaces the two.

Conditions (a TransformError names the one that fails): ``inner`` is the only operation in
``outer``'s body; both run from 0 to a constant with step 1; their variables are used only in
subscripts of loads and stores. An array is *collapsed* when every access to it has
``outer``'s variable alone in some dimension d and ``inner``'s alone in d + 1 (and nowhere
else), its dimensions d and d + 1 are exactly the trip counts (the loops walk its rows whole,
so the fused subscript covers the flattened dimension once, in the same order), and it is a
function argument (or a view this pass made of one) accessed nowhere else. Any other access
keeps its array and reads the fused variable v as ``v floordiv W`` for ``outer``'s and
``v mod W`` for ``inner``'s (W: ``inner``'s trip count): a convolution's
``I[n, ci, h + kh, w + kw]``, which `pack` with ``iterations=`` then copies into a block.

Before → after (``coalesce{outer=h,inner=w}``, O and I: memref<1x16x5x7xf32>)::

    affine.for %h = 0 to 5 {                   %Oc = memref.collapse_shape %O [[0], [1], [2, 3]]
      affine.for %w = 0 to 7 {           →     affine.for %w = 0 to 35 {
        ... O[%n, %co, %h, %w] ...                ... %Oc[%n, %co, %w] ...
"""
from __future__ import annotations

import dataclasses
from typing import ClassVar

from mlir import ir
from mlir.dialects import affine, memref

from unrollkit.core.errors import TransformError
from unrollkit.ir.ir_utils import (body_ops, bound_maps, constant_trip_count, iv_of, loop_name, move_body,
                                   new_loop, step_of)

from .base import Pass, register, select_loops
from .dependence import linear


@register
@dataclasses.dataclass(frozen=True)
class Coalesce(Pass):
    """Coalesce(outer, inner): the ``coalesce`` pass; `register` gives it the module docstring
    (options, before → after)."""
    name: ClassVar[str] = "coalesce"
    outer: str = ""
    inner: str = ""

    def apply(self, module) -> None:
        """Fuse every loop ``inner`` directly in a loop ``outer`` into one loop over the
        flattened dimension of the arrays they index (see the module docstring)."""
        if not self.outer or not self.inner:
            raise TransformError("coalesce needs outer=<loop name> and inner=<loop name>")
        for outer in select_loops(module, self.outer):
            _coalesce(outer, self)


def _fail(p: Coalesce, why: str):
    raise TransformError(f"cannot coalesce loops {p.outer!r} and {p.inner!r}: {why}")


def _whole(loop, p: Coalesce) -> int:
    """The constant trip count of a loop from 0 with step 1."""
    lb = bound_maps(loop)[0]
    trips = constant_trip_count(loop)
    if step_of(loop) != 1 or trips is None or len(lb.results) != 1 or str(lb.results[0]) != "0":
        _fail(p, f"loop {loop_name(loop)!r} does not run from 0 to a constant with step 1")
    return trips


def _coalesce(outer, p: Coalesce) -> None:
    inner = body_ops(outer)
    if len(inner) != 1 or inner[0].name != "affine.for" or loop_name(inner[0]) != p.inner:
        _fail(p, f"loop {p.inner!r} is not the only operation in loop {p.outer!r}")
    inner = inner[0]
    h, w = _whole(outer, p), _whole(inner, p)
    collapsed, substituted = _accesses(outer, inner, (h, w), p)
    fn = outer.parent
    while fn.name != "func.func":
        fn = fn.parent
    views = []
    fused = new_loop(ir.AffineMap.get(0, 0, [ir.AffineConstantExpr.get(0)]), [],
                     ir.AffineMap.get(0, 0, [ir.AffineConstantExpr.get(h * w)]), [], 1,
                     ir.InsertionPoint(outer), like=inner)
    move_body(inner, fused)
    iv_of(outer).replace_all_uses_with(iv_of(fused))
    for op, new_map in substituted:  # its operands are the fused loop's variable now
        op.attributes["map"] = ir.AffineMapAttr.get(new_map)
    for op, d in collapsed:
        _retarget(op, d, _view(fn, op, d, views))
    outer.erase()


def _memref_of(op):
    return list(op.operands)[1 if op.name == "affine.store" else 0]


def _uses(outer, inner, p: Coalesce) -> list:
    """The loads and stores that use the two loops' variables (a TransformError for any
    other use)."""
    found = []
    for loop in (outer, inner):
        for use in iv_of(loop).uses:
            op = use.owner
            first_subscript = {"affine.load": 1, "affine.store": 2}.get(op.name)
            if first_subscript is None or use.operand_number < first_subscript:
                _fail(p, f"loop {loop_name(loop)!r}'s variable is used by {op.name}, not only as a subscript")
            if not any(op == x for x in found):
                found.append(op)
    return found


def _accesses(outer, inner, trips: tuple, p: Coalesce) -> tuple:
    """([(load or store, d)] to collapse, [(load or store, map)] to rewrite) over every access
    using the loops' variables. An array is collapsed when each of its accesses has outer's
    variable alone in some dimension d and inner's alone in d + 1 and nowhere else, dimensions
    d, d + 1 are the trip counts, and it is a function argument accessed nowhere else (analyses
    after this pass take two memref values for two arrays, and the view is one of them). Any
    other access gets ``v floordiv W`` for outer's variable and ``v mod W`` for inner's (W:
    inner's trip count, v: the fused loop's variable)."""
    found = _uses(outer, inner, p)
    place = {}
    for op in found:
        array = _memref_of(op)
        amap = ir.AffineMapAttr(op.attributes["map"]).value
        idx = list(op.operands)[2 if op.name == "affine.store" else 1:]
        forms = [linear(e, amap.n_dims, idx) for e in amap.results]
        d = next((n for n, f in enumerate(forms[:-1]) if f == ({outer: 1}, 0) and forms[n + 1] == ({inner: 1}, 0)),
                 None)
        shape = ir.MemRefType(array.type).shape
        if d is None or (shape[d], shape[d + 1]) != trips or any(
                f is None or outer in f[0] or inner in f[0] for n, f in enumerate(forms) if n not in (d, d + 1)):
            d = None
        place[op] = d
    collapsed, substituted = [], []
    for op in found:
        array = _memref_of(op)
        mine = [x for x in found if _memref_of(x) == array]
        alone = _whole_array(array) and all(u.owner.name == "memref.collapse_shape"
                                            or any(u.owner == x for x in mine) for u in array.uses)
        if alone and all(place[x] is not None and place[x] == place[op] for x in mine):
            collapsed.append((op, place[op]))
        else:
            substituted.append((op, _substitution(op, outer, inner, trips[1])))
    return collapsed, substituted


def _whole_array(v) -> bool:
    """A function argument, or a view of one this pass made (the same elements, C order)."""
    while isinstance(v, ir.OpResult) and v.owner.name == "memref.collapse_shape":
        v = v.owner.operands[0]
    return isinstance(v, ir.BlockArgument) and v.owner.owner.operation.name == "func.func"


def _substitution(op, outer, inner, w: int):
    """``op``'s map with outer's variable v floordiv ``w`` and inner's v mod ``w``."""
    amap = ir.AffineMapAttr(op.attributes["map"]).value
    idx = list(op.operands)[2 if op.name == "affine.store" else 1:]
    dims = []
    for n, v in enumerate(idx):
        e = ir.AffineDimExpr.get(n)
        dims.append(ir.AffineExpr.get_floor_div(e, w) if v == iv_of(outer)
                    else ir.AffineExpr.get_mod(e, w) if v == iv_of(inner) else e)
    sub = ir.AffineMap.get(amap.n_dims, amap.n_symbols, dims)
    return ir.AffineMap.get(amap.n_dims, amap.n_symbols,
                            [ir.AffineExpr.simplify_affine_expr(e.compose(sub), amap.n_dims, amap.n_symbols)
                             for e in amap.results])


def _view(fn, op, d: int, views: list):
    """The array of ``op`` with dimensions d and d + 1 collapsed into one, made once after its
    definition (or found there, made for another copy of the loops)."""
    array = _memref_of(op)
    for a, dd, v in views:
        if a == array and dd == d:
            return v
    t = ir.MemRefType(array.type)
    shape = list(t.shape)
    new = ir.MemRefType.get(shape[:d] + [shape[d] * shape[d + 1]] + shape[d + 2:], t.element_type)
    view = next((u.owner.result for u in array.uses
                 if u.owner.name == "memref.collapse_shape" and u.owner.result.type == new), None)
    if view is None:
        groups = [[n] for n in range(d)] + [[d, d + 1]] + [[n] for n in range(d + 2, len(shape))]
        i64 = ir.IntegerType.get_signless(64)
        assoc = ir.ArrayAttr.get([ir.ArrayAttr.get([ir.IntegerAttr.get(i64, n) for n in g]) for g in groups])
        where = ir.InsertionPoint.at_block_begin(fn.regions[0].blocks[0]) if isinstance(array, ir.BlockArgument) \
            else ir.InsertionPoint.after(array.owner)
        with where, op.location:
            view = memref.CollapseShapeOp(new, array, assoc).result
    views.append((array, d, view))
    return view


def _retarget(op, d: int, view) -> None:
    """``op`` reading or writing ``view``: its subscript d dropped (d + 1, now the fused loop's
    variable, indexes the collapsed dimension)."""
    amap = ir.AffineMapAttr(op.attributes["map"]).value
    results = list(amap.results)
    new_map = ir.AffineMap.get(amap.n_dims, amap.n_symbols, results[:d] + results[d + 1:])
    with ir.InsertionPoint(op), op.location:
        if op.name == "affine.load":
            idx = list(op.operands)[1:]
            new = affine.AffineLoadOp(ir.MemRefType(view.type).element_type, view, idx, map=new_map)
            op.result.replace_all_uses_with(new.result)
        else:
            idx = list(op.operands)[2:]
            affine.AffineStoreOp(list(op.operands)[0], view, idx, map=new_map)
    op.erase()
