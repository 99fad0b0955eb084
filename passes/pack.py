"""``pack``: copy the part of an input array a loop's iteration reads into a local, aligned buffer.

Options:
    arg (int, required): the array, by position among the function's arguments (0 = first).
    loop (str, required): the anchor loop. At the start of each of its iterations the elements
        its body reads (the footprint) are copied into the buffer; its body then reads the
        buffer instead of the array.
    transpose (bool, false): store the footprint with its two last dimensions swapped
        (column-major slivers: GEMM's A block read down its columns, one stream per tile).
    pad (int, 0): extra elements at the end of the buffer's rows (the leading dimension), so
        that rows whose length is a multiple of 4 KiB do not all map to one cache set.
    align (int, 64): byte alignment of the buffer (one cache line; full-width vector loads).
    iterations (str, ""): ``k:j``, two loops inside the anchor: pack by iterations instead of
        by the array's footprint. The buffer is indexed by the values of loops k and j over the
        anchor's body (the reduction and the columns of a GEMM): element [k, j] holds what the
        read gives at those iterations, so the read may be any affine function of k, j and the
        loops around the anchor (a convolution's ``I[n, c floordiv 9, v floordiv W + ...]``:
        the im2col of one cache block, and the kernel then reads the buffer at unit stride).
    scale (bool, false): every read of the array in the body is multiplied by one scalar
        argument of the function (``alpha * B[k, j]``): store the products in the buffer and
        drop the multiplications from the body (the same multiplications, once per element
        copied instead of once per use: the results are bit for bit the same).
    along (str, ""): pack only the reads inside a loop of this name whose subscripts use its
        variable (GEMM's columns ``j``); the other reads of the array stay in place. For an
        operand read twice with different footprints: syrk's ``A[i, k] * A[j, k]`` packs the
        columns' read ``A[j, k]`` and reads the rows' ``A[i, k]`` in place; trmm's
        ``B[i, j] += A[k, i] * B[k, j]`` packs ``B[k, j]`` with ``along=k`` (its rows k are
        proved never written by the loop: see below).

Why: a tile of a large array is scattered over pages and cache sets (GEMM's B panel of
KC rows, 4 KiB apart at N = 1024, maps every row to one L1 set). Packed, the tile is one
contiguous, aligned block that stays in cache for the whole reuse, and the loads of the
kernel become unit-stride loads at constant offsets from one pointer.

The footprint of each access is found from the loops inside the anchor (each inner loop
variable at its extreme values, bounds followed inward), so it is affine in the loops around
the anchor and must have a constant extent in every dimension (tile first: `tile` with
``separate=true`` gives constant-size tiles, and a separate nest for the last partial one,
which gets its own smaller buffer). Only arrays the anchor's body reads and never writes are
packed, or reads of an array the body also writes whose elements isl proves it never writes in
one execution of the anchor (select them with ``along=``: trmm's operand rows below the rows it
updates, `unrollkit.tuning.triangular_trmm`). The buffer is allocated once at the function's
entry (``memref.alloc`` with ``alignment``) and freed at its return; the copy loops are named
``<loop>.pack<arg>.<dim>``.

Before → after (``pack{arg=1,loop=j.tile}`` on a tiled GEMM, B: 512×512, tiles 512×64)::

    affine.for %jt = 0 to 512 step 64 {           %Bp = memref.alloc() {alignment = 64} : memref<512x64xf32>
      affine.for %k = 0 to 512 {                  affine.for %jt = 0 to 512 step 64 {
        affine.for %j = %jt to %jt + 64 {   →       affine.for %a = 0 to 512 { affine.for %b = 0 to 64 {
          ... B[%k, %j] ...                           %Bp[%a, %b] = B[%a, %jt + %b] }}
                                                    affine.for %k ... affine.for %j ... %Bp[%k, %j - %jt]
"""
from __future__ import annotations

import dataclasses
from typing import ClassVar

from mlir import ir
from mlir.dialects import affine, arith, memref

from unrollkit.core.errors import TransformError
from unrollkit.ir.ir_utils import (bound_maps, bound_operands, dedup_operands, enclosing_loops, iv_of,
                                loop_name, new_loop, step_of, walk_ops)

from .base import Pass, check_code_size, register, select_loops
from .pack_rows import copy_by_rows, row_width
from .dependence import linear
from unrollkit.analysis.dependence import Model
from unrollkit.ir.ir_utils import count_ops


@register
@dataclasses.dataclass(frozen=True)
class Pack(Pass):
    """Pack(arg, loop, transpose, pad, align, scale): the ``pack`` pass; `register` gives it the
    module docstring (options, before → after)."""
    name: ClassVar[str] = "pack"
    scope_options: ClassVar[tuple] = ("loop", "along", "iterations")
    arg: int = -1
    loop: str = ""
    transpose: bool = False
    pad: int = 0
    align: int = 64
    scale: bool = False
    iterations: tuple = ()
    along: str = ""

    def __post_init__(self):
        for k in ("arg", "pad", "align"):
            v = getattr(self, k)
            if isinstance(v, bool) or not isinstance(v, int):
                raise TransformError(f"pack option {k} must be an integer, got {v!r}")
        if self.pad < 0 or self.align < 1:
            raise TransformError("pack: pad must be >= 0 and align >= 1")

    def apply(self, module) -> None:
        """At each iteration of every loop named ``loop``, copy what it reads of argument ``arg``
        into a local buffer and make its body read the buffer."""
        if self.arg < 0 or not self.loop:
            raise TransformError("pack needs arg=<argument position> and loop=<anchor loop name>")
        for anchor in select_loops(module, self.loop):
            fn = _function_of(anchor)
            args = fn.regions[0].blocks[0].arguments
            if self.arg >= len(args) or not isinstance(args[self.arg].type, ir.MemRefType):
                raise TransformError(f"pack: argument {self.arg} of the function is not an array")
            _pack(fn, anchor, args[self.arg], self)
        check_code_size("packing", self.loop, count_ops(module.operation))


def _function_of(op):
    p = op.parent
    while p is not None and p.name != "func.func":
        p = p.parent
    if p is None:
        raise TransformError("pack: the loop is not inside a function")
    return p


def _fail(p: Pack, why: str):
    raise TransformError(f"cannot pack argument {p.arg} at loop {p.loop!r}: {why}")


def _pack(fn, anchor, array, p: Pack) -> None:
    ops = [op for op in walk_ops(anchor)[1:] if op.name in ("affine.load", "affine.store")
           and list(op.operands)[1 if op.name == "affine.store" else 0] == array]
    if not ops:
        return  # this copy of the nest does not read the array
    stores = [op for op in ops if op.name == "affine.store"]
    if p.along:
        ops = [op for op in ops if _varies_along(op, p.along)]
        if not ops:
            return  # this copy of the nest has no read along that loop
    if stores:
        _check_unwritten(anchor, stores, ops, p)
    scale = _scale_factor(fn, ops, p) if p.scale else None
    if p.iterations:
        return _pack_iterations(fn, anchor, array, ops, p, scale)
    outer = enclosing_loops(anchor) + [anchor]
    rank = len(ir.MemRefType(array.type).shape)
    lows, extents = _footprint(ops, outer, rank, p)
    order = list(range(rank))
    if p.transpose and rank >= 2:
        order[-2], order[-1] = order[-1], order[-2]
    shape = [extents[d] for d in order]
    shape[-1] += p.pad
    et = ir.MemRefType(array.type).element_type
    loc = anchor.location
    buf = _buffer(fn, shape, et, p.align, loc)
    ivs = [iv_of(l) for l in outer]
    keys = list(outer)

    def origin_expr(form, nd_offset):  # the footprint's origin over the outer loops' IVs
        return _origin(form, nd_offset, keys)
    # copy loops at the start of the anchor's body: buf[order(t)] = array[origin + t]
    body = anchor.regions[0].blocks[0]
    first = list(body.operations)[0]
    ip = ir.InsertionPoint(first)
    ts, ip = _copy_loops(ip, extents, p, _line_elements(et) if p.transpose and rank >= 2 else 0)
    with ip, loc:
        src = ir.AffineMap.get(rank + len(keys), 0,
                               [origin_expr(lows[d], rank) + ir.AffineDimExpr.get(d) for d in range(rank)])
        smap, sops = dedup_operands(src, ts + ivs)
        v = affine.AffineLoadOp(et, array, sops, map=smap).result
        if scale is not None:
            v = arith.MulFOp(scale, v).result
        dst = ir.AffineMap.get(rank, 0, [ir.AffineDimExpr.get(d) for d in order])
        affine.AffineStoreOp(v, buf, ts, map=dst)
    # the body's accesses read the buffer: subscript − origin, dimensions in buffer order
    for op in ops:
        amap = ir.AffineMapAttr(op.attributes["map"]).value
        idx = list(op.operands)[1:]
        n = amap.n_dims
        res = [amap.results[d] - origin_expr(lows[d], n) for d in range(rank)]
        new_map, new_ops = dedup_operands(ir.AffineMap.get(n + len(keys), 0, [res[d] for d in order]),
                                          idx + ivs)
        with ir.InsertionPoint(op), op.location:
            new = affine.AffineLoadOp(et, buf, new_ops, map=new_map)
        _replace_read(op, new, scale)


def _copy_loops(ip, extents: list, p: Pack, block: int) -> tuple:
    """(the copy's IVs, one per dimension, and the insertion point in its innermost loop): loops
    over the footprint at ``ip``. ``block`` > 0 (a transposed copy): the last two dimensions go
    in ``block`` × ``block`` squares, ``block`` elements to a cache line, so that a square's
    reads (``block`` rows of the array, a line each) and its writes (``block`` rows of the
    buffer, a line each) stay in L1. Row by row, the writes of one source row fall a buffer row
    apart: a 512 × 256 f32 copy touched 512 lines a row, in 4 of the 64 sets of this Zen 5's
    L1, missing at every store, and gemm_bt at 512³ f32 ran at 0.66× numpy."""
    rank = len(extents)
    squared = [d for d in range(rank - 2, rank) if block and rank >= 2 and extents[d] > block]
    ivs = [None] * rank

    def loop(lb, lb_ops, ub, ub_ops, step, name):
        nonlocal ip
        l = new_loop(lb, lb_ops, ub, ub_ops, step, ip, name=name)
        ip = ir.InsertionPoint(list(l.regions[0].blocks[0].operations)[-1])
        return iv_of(l)

    zero, name = _const_map(0), f"{p.loop}.pack{p.arg}"
    split = rank - 2 if squared else rank  # the squares' loops go between these dimensions
    for d in range(split):
        ivs[d] = loop(zero, [], _const_map(extents[d]), [], 1, f"{name}.{d}")
    starts = {d: loop(zero, [], _const_map(extents[d]), [], block, f"{name}.{d}.square") for d in squared}
    d0 = ir.AffineDimExpr.get(0)
    for d in range(split, rank):
        if d not in starts:
            ivs[d] = loop(zero, [], _const_map(extents[d]), [], 1, f"{name}.{d}")
            continue
        ends = [d0 + block] + ([] if extents[d] % block == 0 else [ir.AffineConstantExpr.get(extents[d])])
        ivs[d] = loop(ir.AffineMap.get(1, 0, [d0]), [starts[d]], ir.AffineMap.get(1, 0, ends),
                      [starts[d]], 1, f"{name}.{d}")
    return ivs, ip


def _const_map(value: int):
    return ir.AffineMap.get(0, 0, [ir.AffineConstantExpr.get(value)])


def _line_elements(et) -> int:
    """Elements of type ``et`` to a 64-byte cache line (a transposed copy's square side)."""
    return max(1, 512 // et.width)


def _check_unwritten(anchor, stores: list, reads: list, p: Pack) -> None:
    """Refuses to pack ``reads`` of an array the anchor's body also writes (``stores``) unless
    isl proves that no element they read is written anywhere in one execution of the anchor
    loop (trmm's operand rows below the rows it updates): then the copy made at each of its
    iterations holds what the array holds at every read."""
    if any(op.name == "affine.store" for op in reads):
        _fail(p, "the loop writes the array where it would read the buffer (pack only the reads, "
                 "with along=)")
    model = Model(anchor)
    for w in stores:
        for r in reads:
            pairs = model.touching(model.statement(w), model.statement(r))
            if pairs is None or not pairs.is_empty():
                _fail(p, "the loop writes the array and its reads are not proved disjoint from "
                         "its writes (only inputs, or footprints it never writes, are packed)")


def _varies_along(op, name: str) -> bool:
    """Whether access ``op`` is inside a loop named ``name`` and subscripted by its variable."""
    ivs = [iv_of(l) for l in enclosing_loops(op) if loop_name(l) == name]
    return any(v in ivs for v in list(op.operands)[1:])


def _replace_read(op, new, scale) -> None:
    """The read ``op`` replaced by the buffer's read ``new`` (with scale=true, its one use,
    scale × this element, too: the product is in the buffer already)."""
    if scale is not None:
        (mul,) = [u.owner for u in op.result.uses]
        mul.result.replace_all_uses_with(new.result)
        mul.erase()
    op.result.replace_all_uses_with(new.result)
    op.erase()


def _footprint(ops, outer: list, rank: int, p: Pack) -> tuple:
    """(lowest subscript per dimension as a linear form over the ``outer`` loops, constant
    extent per dimension) of the accesses ``ops``; refuses a footprint whose extent varies."""
    lows, highs = [None] * rank, [None] * rank
    for op in ops:
        amap = ir.AffineMapAttr(op.attributes["map"]).value
        idx = list(op.operands)[1:]
        for d, e in enumerate(amap.results):
            form = linear(e, amap.n_dims, idx)
            if form is None:
                _fail(p, f"subscript {d} is not affine in the loop variables")
            lo, hi = _extreme(form, outer, p, False), _extreme(form, outer, p, True)
            lows[d] = lo if lows[d] is None else _join(lows[d], lo, min, p)
            highs[d] = hi if highs[d] is None else _join(highs[d], hi, max, p)
    extents = []
    for d in range(rank):
        if lows[d][0] != highs[d][0]:
            _fail(p, f"the footprint's extent in dimension {d} varies with the loops around it "
                     "(tile the loops inside it to constant sizes first)")
        extents.append(highs[d][1] - lows[d][1] + 1)
    return lows, extents


def _buffer(fn, shape: list, et, align: int, loc):
    """An aligned ``memref.alloc`` of ``shape`` at the start of function ``fn``, freed at its end."""
    entry = fn.regions[0].blocks[0]
    with loc:
        with ir.InsertionPoint.at_block_begin(entry):
            buf = memref.AllocOp(ir.MemRefType.get(shape, et), [], [],
                                 alignment=ir.IntegerAttr.get(ir.IntegerType.get_signless(64), align)).result
        with ir.InsertionPoint(list(entry.operations)[-1]):
            memref.DeallocOp(buf)
    return buf


def _origin(form, nd_offset: int, keys: list):
    """The linear ``form`` ({loop: coefficient}, constant) as an affine expression whose loop
    ``keys[i]`` is dimension ``nd_offset + i``."""
    e = ir.AffineConstantExpr.get(form[1])
    for k, c in form[0].items():
        e = e + ir.AffineDimExpr.get(nd_offset + keys.index(k)) * c
    return e


def _scale_factor(fn, ops, p: Pack):
    """The scalar argument every read in ``ops`` is multiplied by (its only use: one
    ``arith.mulf`` with a function argument), or a TransformError saying which read is not."""
    args = list(fn.regions[0].blocks[0].arguments)
    factor = None
    for op in ops:
        uses = [u.owner for u in op.result.uses]
        mul = uses[0] if len(uses) == 1 else None
        if mul is None or mul.name != "arith.mulf":
            _fail(p, "scale=true needs each read used once, by a multiplication")
        other = [v for v in mul.operands if v != op.result]
        if len(other) != 1 or other[0] not in args or (factor is not None and other[0] != factor):
            _fail(p, "scale=true needs each read multiplied by the same scalar argument")
        factor = other[0]
    return factor


def _join(a, b, pick, p):
    if a[0] != b[0]:
        _fail(p, "two reads of the array have footprints that move differently with the loops")
    return a[0], pick(a[1], b[1])


def _extreme(form, outer, p, want_max: bool):
    """The min or max of a linear form over the loops inside the anchor, as a form over the
    ``outer`` loops (the anchor and those around it): each inner loop variable is replaced by
    its lower bound, or its last value, whichever gives the extreme, followed inward."""
    coeffs, const = dict(form[0]), form[1]
    for _ in range(64):
        inner = [k for k in coeffs if k not in outer]
        if not inner:
            return {k: c for k, c in coeffs.items() if c}, const
        key = inner[0]
        if isinstance(key, ir.Value):
            _fail(p, "a subscript uses a value that is not a loop variable")
        c = coeffs.pop(key)
        take_hi = (c > 0) == want_max
        lbm, ubm = bound_maps(key)
        lbo, ubo = bound_operands(key)
        if len(lbm.results) != 1 or len(ubm.results) != 1:
            _fail(p, f"loop {loop_name(key)!r} has min/max bounds (tile with separate=true first)")
        lo = linear(lbm.results[0], lbm.n_dims, lbo)
        hi = linear(ubm.results[0], ubm.n_dims, ubo)
        if lo is None or hi is None:
            _fail(p, f"loop {loop_name(key)!r} has bounds that are not affine")
        if take_hi:
            # the last value: ub − 1, or on the step grid when ub − lb is a constant
            diff = {k: hi[0].get(k, 0) - lo[0].get(k, 0) for k in set(hi[0]) | set(lo[0])}
            span = hi[1] - lo[1]
            if not any(diff.values()) and step_of(key) > 1:
                sub = (lo[0], lo[1] + max(0, (span - 1) // step_of(key)) * step_of(key))
            else:
                sub = (hi[0], hi[1] - 1)
        else:
            sub = lo
        for k, v in sub[0].items():
            coeffs[k] = coeffs.get(k, 0) + c * v
        const += c * sub[1]
        coeffs = {k: v for k, v in coeffs.items() if v}
    _fail(p, "the loops inside are nested too deep to follow")


def _pack_iterations(fn, anchor, array, ops, p: Pack, scale) -> None:
    """``iterations=k:j``: buf[k - k0, j - j0] = the read at iterations (k, j), copied at each
    iteration of the anchor; every read of the array in its body (one per copy of the nest
    that `tile` made) must be the same function of k, j and the loops around the anchor."""
    outer = enclosing_loops(anchor) + [anchor]
    ivs = [iv_of(l) for l in outer]
    reads = [_read_by_iterations(op, outer, [str(x) for x in p.iterations], p) for op in ops]
    if any(r[0] != reads[0][0] for r in reads):
        _fail(p, "iterations=: the body reads the array at two different subscripts")
    lows, highs = [None, None], [None, None]
    for _, by in reads:
        for n, l in enumerate(by):
            lo, hi = _extreme(({l: 1}, 0), outer, p, False), _extreme(({l: 1}, 0), outer, p, True)
            lows[n] = lo if lows[n] is None else _join(lows[n], lo, min, p)
            highs[n] = hi if highs[n] is None else _join(highs[n], hi, max, p)
    if any(lo[0] != hi[0] for lo, hi in zip(lows, highs)):
        _fail(p, "iterations=: the range of a loop varies with the loops around the anchor")
    extents = [hi[1] - lo[1] + 1 for lo, hi in zip(lows, highs)]
    et = ir.MemRefType(array.type).element_type
    buf = _buffer(fn, [extents[0], extents[1] + p.pad], et, p.align, anchor.location)
    ip = ir.InsertionPoint(list(anchor.regions[0].blocks[0].operations)[0])
    origins = [_origin(lows[n], 0, outer) for n in range(2)]
    width = row_width(reads[0][0])
    copy = copy_by_rows if width is not None else _copy_by_columns
    ip, (src, sops), (dst, dops) = copy(ip, reads[0][0], width, extents, origins, ivs, f"{p.loop}.pack{p.arg}")
    with ip, anchor.location:
        v = affine.AffineLoadOp(et, array, sops, map=src).result
        if scale is not None:
            v = arith.MulFOp(scale, v).result
        affine.AffineStoreOp(v, buf, dops, map=dst)
    _read_buffer(ops, reads, buf, et, lows, outer, ivs, scale)


def _copy_by_columns(ip, read, _width, extents: list, origins: list, ivs: list, name: str) -> tuple:
    """The copy loops at ``ip`` (a over extents[0], b over extents[1]) and, inside them, as
    `pack_rows.copy_by_rows` gives them: (insertion point, (load map, operands), (store map,
    operands)), the array as ``read`` gives it at k = k0 + a, j = j0 + b, stored at (a, b)."""
    copy = []
    for n in range(2):
        copy.append(new_loop(_const_map(0), [], _const_map(extents[n]), [], 1, ip, name=f"{name}.{n}"))
        ip = ir.InsertionPoint(list(copy[-1].regions[0].blocks[0].operations)[-1])
    n = len(ivs)
    shift = ir.AffineMap.get(2 + n, 0, [origins[d].shift_dims(n, 2) + ir.AffineDimExpr.get(d) for d in range(2)]
                             + [ir.AffineDimExpr.get(2 + d) for d in range(n)])
    load = dedup_operands(ir.AffineMap.get(2 + n, 0, [e.compose(shift) for e in read.results]),
                          [iv_of(l) for l in copy] + ivs)
    return ip, load, (ir.AffineMap.get_identity(2), [iv_of(l) for l in copy])


def _read_buffer(ops, reads, buf, et, lows, outer, ivs, scale) -> None:
    """Each read of the body reads ``buf`` at (k − k0, j − j0) instead."""
    rel = ir.AffineMap.get(2 + len(ivs), 0, [ir.AffineDimExpr.get(n) - _origin(lows[n], 2, outer)
                                             for n in range(2)])
    for op, (_, by) in zip(ops, reads):
        new_map, new_ops = dedup_operands(rel, [iv_of(l) for l in by] + ivs)
        with ir.InsertionPoint(op), op.location:
            new = affine.AffineLoadOp(et, buf, new_ops, map=new_map)
        _replace_read(op, new, scale)


def _read_by_iterations(op, outer: list, names: list, p: Pack) -> tuple:
    """(the read's map over (k, j, the loops around the anchor), [loop k, loop j]) of read
    ``op`` inside the loops named ``names``."""
    around = {loop_name(l): l for l in enclosing_loops(op) if l not in outer}
    if len(names) != 2 or any(n not in around for n in names):
        _fail(p, f"iterations= names two loops inside the anchor around the read, got {':'.join(names)!r}")
    by = [around[n] for n in names]
    by_ivs, ivs = [iv_of(l) for l in by], [iv_of(l) for l in outer]
    amap = ir.AffineMapAttr(op.attributes["map"]).value
    subs = []
    for v in list(op.operands)[1:]:
        if v in by_ivs:
            subs.append(ir.AffineDimExpr.get(by_ivs.index(v)))
        elif v in ivs:
            subs.append(ir.AffineDimExpr.get(2 + ivs.index(v)))
        else:
            _fail(p, "iterations=: the read depends on a loop other than the two named and those "
                     "around the anchor")
    sub = ir.AffineMap.get(2 + len(ivs), 0, subs)
    n = 2 + len(ivs)
    return ir.AffineMap.get(n, 0, [ir.AffineExpr.simplify_affine_expr(e.compose(sub), n, 0)
                                   for e in amap.results]), by
