"""Rewrites of whole loop nests: the perfect band under a loop (`perfect_band`), a band
rebuilt in another order (`reorder_band`, for ``interchange``/``permute`` and ``tile``), and
the loops of one iteration folded into their parent (`inline_single_iterations`).
"""
from __future__ import annotations

from mlir import ir
from mlir.dialects import affine

from unrollkit.core.errors import TransformError
from unrollkit.ir.ir_utils import (body_ops, bound_maps, bound_operands, constant_trip_count,
                                   has_iter_args, iv_of, loop_name, new_loop, step_of)


def inline_single_iterations(loop) -> None:
    """Replace each loop of one iteration directly in ``loop``'s body (a vector tile's
    16-column loop of one step, which ``unroll{full=true}`` leaves) by its body, its
    induction variable by its lower bound; again for what that brings into the body."""
    changed = True
    while changed:
        changed = False
        for op in body_ops(loop):
            op = op.operation
            if op.name != "affine.for" or has_iter_args(op) or constant_trip_count(op) != 1:
                continue
            lbm, _ = bound_maps(op)
            lbo, _ = bound_operands(op)
            if len(lbm.results) != 1:
                continue
            with ir.InsertionPoint(op), op.location:
                first = affine.AffineApplyOp(lbm, list(lbo)).result
            iv_of(op).replace_all_uses_with(first)
            for inner in body_ops(op):
                inner.move_before(op)
            op.erase()
            changed = True


def perfect_band(outer, depth: int | None = None) -> list:
    """Loops perfectly nested from ``outer`` down (each body is exactly one loop + yield)."""
    band = [outer]
    while depth is None or len(band) < depth:
        ops = body_ops(band[-1])
        if len(ops) == 1 and ops[0].name == "affine.for":
            band.append(ops[0])
        else:
            break
    return band


def reorder_band(band: list, order: list) -> list:
    """Rebuild the perfect nest ``band`` (outer → inner) with its loops in ``order``.

    Each loop keeps its bounds and attributes; a bound may only use loops placed outside it.
    Returns the new loops, outermost first."""
    if has_iter_args(band[-1]) or any(has_iter_args(b) for b in band):
        raise TransformError(f"cannot reorder loops {[loop_name(b) for b in band]}: a loop carries values")
    ivs = {iv_of(b): b for b in band}
    placed, new_ivs, new_loops = set(), {}, []
    ip = ir.InsertionPoint(band[0])
    for b in order:
        lbo, ubo = bound_operands(b)
        for v in list(lbo) + list(ubo):
            if v in ivs and ivs[v] not in placed:
                raise TransformError(
                    f"cannot place loop {loop_name(b)!r} outside loop {loop_name(ivs[v])!r}: "
                    f"its bounds use {loop_name(ivs[v])!r}'s induction variable")
        remap = lambda vs: [new_ivs.get(v, v) for v in vs]  # noqa: E731
        lbm, ubm = bound_maps(b)
        n = new_loop(lbm, remap(lbo), ubm, remap(ubo), step_of(b), ip, like=b)
        placed.add(b)
        new_ivs[iv_of(b)] = iv_of(n)
        new_loops.append(n)
        ip = ir.InsertionPoint(list(n.regions[0].blocks[0].operations)[-1])
    inner_old, inner_new = band[-1], new_loops[-1]
    term = list(inner_new.regions[0].blocks[0].operations)[-1]
    for op in body_ops(inner_old):
        op.move_before(term)
    for old_iv, new_iv in new_ivs.items():
        old_iv.replace_all_uses_with(new_iv)
    band[0].erase()
    return new_loops
