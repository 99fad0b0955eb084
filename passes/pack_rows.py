"""The copy of ``pack{iterations=k:j}`` row by row, when the read divides the column iteration
(a convolution's coalesced pixel ``j = h·W + w`` read as ``I[..., j floordiv W + kh, j mod W + kw]``).

Column by column, every copied element pays a floor division and a modulo of ``j`` (signed
divisions by a constant, a dozen instructions): a 3×3 convolution at 128 channels and 28²
pixels spent ~20% of its time in its im2col copy. Split at the rows of W columns, the copy is

    for a in [0, E_k):                                          # k = k0 + a
      for r in [j0 floordiv W, (j0 + E_j - 1) floordiv W]:      # the rows the block touches
        for w in [max(0, j0 - r·W), min(W, j0 + E_j - r·W)):    # the columns of row r in it
          buf[a, r·W + w - j0] = I[..., r + kh, w + kw]           # j = r·W + w: no division

exact because 0 ≤ w < W on every iteration (so j floordiv W = r and j mod W = w there), and
the inner loop reads consecutive elements.
"""
from __future__ import annotations

from mlir import ir

from unrollkit.ir.ir_utils import dedup_operands, iv_of, new_loop


def row_width(read) -> int | None:
    """W when the read map ``read`` (dimensions k, j, the loops around the anchor) divides j
    (dimension 1) by one constant W > 1, as ``j floordiv W`` or ``j mod W``; None otherwise."""
    found = set()

    def visit(e):
        e = e.maybe_downcast()
        if isinstance(e, (ir.AffineFloorDivExpr, ir.AffineModExpr)) and _is_dim(e.lhs, 1):
            rhs = e.rhs.maybe_downcast()
            if isinstance(rhs, ir.AffineConstantExpr) and rhs.value > 1:
                found.add(rhs.value)
        if isinstance(e, ir.AffineBinaryExpr):
            visit(e.lhs)
            visit(e.rhs)

    for res in read.results:
        visit(res)
    return found.pop() if len(found) == 1 else None


def copy_by_rows(ip, read, width: int, extents: list, origins: list, ivs: list, name: str) -> tuple:
    """The copy loops at ``ip`` (named ``name.0``, ``name.1.rows``, ``name.1``) and, inside
    them, (insertion point, (load map, operands), (store map, operands)): the array as ``read``
    gives it at k = origins[0] + a, j = r·W + w, stored at (a, r·W + w − j0) of the buffer.
    ``origins``: affine expressions of k0 and j0 over ``ivs``, the loops around the anchor."""
    W, n = width, len(ivs)
    const = ir.AffineConstantExpr.get
    j0 = origins[1]
    a_loop = new_loop(_map(0, const(0)), [], _map(0, const(extents[0])), [], 1, ip, name=f"{name}.0")
    rows = new_loop(_map(n, ir.AffineFloorDivExpr.get(j0, const(W))), ivs,
                    _map(n, ir.AffineFloorDivExpr.get(j0 + (extents[1] - 1), const(W)) + 1), ivs, 1,
                    _inside(a_loop), name=f"{name}.1.rows")
    r, j0_r = ir.AffineDimExpr.get(0), j0.shift_dims(n, 1)  # dimensions: r, the loops around
    lb, lb_ops = dedup_operands(_map(n + 1, const(0), j0_r - r * W), [iv_of(rows)] + ivs)
    ub, ub_ops = dedup_operands(_map(n + 1, const(W), j0_r + extents[1] - r * W), [iv_of(rows)] + ivs)
    cols = new_loop(lb, lb_ops, ub, ub_ops, 1, _inside(rows), name=f"{name}.1")
    # the copy's maps: dimensions a, r, w, then the loops around the anchor
    a, r, w = (ir.AffineDimExpr.get(d) for d in range(3))
    k_at = origins[0].shift_dims(n, 3) + a
    operands = [iv_of(a_loop), iv_of(rows), iv_of(cols)] + ivs
    results = [ir.AffineExpr.simplify_affine_expr(_substitute(e, k_at, r, w, W), 3 + n, 0)
               for e in read.results]
    load = dedup_operands(_map(3 + n, *results), operands)
    store = dedup_operands(_map(3 + n, a, r * W + w - j0.shift_dims(n, 3)), operands)
    return _inside(cols), load, store


def _substitute(e, k_at, r, w, W: int):
    """``e`` over (k, j, the loops around) rewritten over (a, r, w, the loops around):
    ``j floordiv W`` → r, ``j mod W`` → w, j → r·W + w, k → ``k_at``."""
    e = e.maybe_downcast()
    if isinstance(e, ir.AffineDimExpr):
        return k_at if e.position == 0 else r * W + w if e.position == 1 else ir.AffineDimExpr.get(e.position + 1)
    if isinstance(e, (ir.AffineFloorDivExpr, ir.AffineModExpr)) and _is_dim(e.lhs, 1):
        rhs = e.rhs.maybe_downcast()
        if isinstance(rhs, ir.AffineConstantExpr) and rhs.value == W:
            return r if isinstance(e, ir.AffineFloorDivExpr) else w
    if isinstance(e, ir.AffineBinaryExpr):
        return type(e).get(_substitute(e.lhs, k_at, r, w, W), _substitute(e.rhs, k_at, r, w, W))
    return e


def _is_dim(e, position: int) -> bool:
    e = e.maybe_downcast()
    return isinstance(e, ir.AffineDimExpr) and e.position == position


def _map(n_dims: int, *results):
    return ir.AffineMap.get(n_dims, 0, list(results))


def _inside(loop):
    return ir.InsertionPoint(list(loop.regions[0].blocks[0].operations)[-1])
