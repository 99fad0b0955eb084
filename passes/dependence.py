"""The dependence questions of the loop passes (not a pass itself), answered exactly on isl.

`signs`, `check_permutation`, `check_tiling` and `check_unroll_jam` are thin wrappers over
`unrollkit.analysis.dependence` (exact dependence relations between statement instances) and
`unrollkit.analysis.legality` (the rules), raising `TransformError` with the dependence and
its direction vector. `Access` and `linear` remain the passes' syntactic view of
one subscript (its linear form over the loops: strides for vectorize, packing layouts for
pack); they no longer decide legality.
"""
from __future__ import annotations

from mlir import ir

from unrollkit.analysis.dependence import Model
from unrollkit.analysis.legality import permutation_violation, tiling_violation, unroll_jam_violation
from unrollkit.core.errors import TransformError
from unrollkit.ir.ir_utils import enclosing_loops, loop_name, loop_of_iv, walk_ops


class Access:
    """One ``affine.load``/``affine.store``: its memref, whether it writes, the linear form
    of each subscript (None where not linear) and the loops around it."""

    def __init__(self, op):
        self.op = op
        self.write = op.name == "affine.store"
        operands = list(op.operands)
        self.memref = operands[1] if self.write else operands[0]
        idx = operands[2:] if self.write else operands[1:]
        amap = ir.AffineMapAttr(op.attributes["map"]).value
        self.forms = [linear(e, amap.n_dims, idx) for e in amap.results]
        self.loops = enclosing_loops(op)


def accesses(root) -> list:
    """The `Access` of every affine load and store under ``root``."""
    return [Access(op) for op in walk_ops(root) if op.name in ("affine.load", "affine.store")]


def linear(expr, n_dims: int, operands):
    """AffineExpr over ``operands`` → ({key: coeff}, const), keys = loops or opaque values; None
    when not linear."""
    for cast in (ir.AffineConstantExpr,):
        try:
            return {}, cast(expr).value
        except (ValueError, TypeError):
            pass
    for cast, pos_of in ((ir.AffineDimExpr, lambda e: e.position),
                         (ir.AffineSymbolExpr, lambda e: n_dims + e.position)):
        try:
            e = cast(expr)
        except (ValueError, TypeError):
            continue
        return value_form(operands[pos_of(e)])
    try:
        e = ir.AffineAddExpr(expr)
        a, b = linear(e.lhs, n_dims, operands), linear(e.rhs, n_dims, operands)
        if a is None or b is None:
            return None
        out = dict(a[0])
        for k, c in b[0].items():
            out[k] = out.get(k, 0) + c
        return {k: c for k, c in out.items() if c}, a[1] + b[1]
    except (ValueError, TypeError):
        pass
    try:
        e = ir.AffineMulExpr(expr)
        a, b = linear(e.lhs, n_dims, operands), linear(e.rhs, n_dims, operands)
        if a is None or b is None:
            return None
        if not a[0]:
            a, b = b, a
        if b[0]:
            return None  # product of two variables
        c = b[1]
        return {k: v * c for k, v in a[0].items() if v * c}, a[1] * c
    except (ValueError, TypeError):
        pass
    return None  # floordiv, mod, ceildiv


def value_form(v):
    """Linear form of an index value: a loop IV, an affine.apply of IVs, a constant, or opaque."""
    loop = loop_of_iv(v)
    if loop is not None:
        return {loop: 1}, 0
    owner = v.owner if isinstance(v, ir.OpResult) else None
    if owner is not None:
        if owner.name == "affine.apply":
            amap = ir.AffineMapAttr(owner.attributes["map"]).value
            return linear(amap.results[0], amap.n_dims, list(owner.operands))
        if owner.name == "arith.constant":
            try:
                return {}, ir.IntegerAttr(owner.attributes["value"]).value
            except (ValueError, TypeError):
                pass
    return {v: 1}, 0


def signs(a: Access, b: Access, loops: list):
    """Possible signs of (iteration of b − iteration of a) for each of ``loops`` (common to both,
    outermost first) when a and b touch the same element in one execution of ``loops[0]``;
    an empty list when they never do. Exact (isl): see `unrollkit.analysis.dependence`."""
    model = Model(loops[0] if loops else a.op.parent)
    sa, sb = model.statement(a.op), model.statement(b.op)
    rel = model.touching(sa, sb)
    if rel is not None and rel.is_empty():
        return []
    return model.signs_of(model.distances(sa, sb, rel, loops, None), len(loops))


def check_permutation(band: list, order: list, what: str) -> None:
    """Refuse reordering the perfect nest ``band`` into ``order`` when a dependence forbids it."""
    v = permutation_violation(band, order)
    if v is not None:
        raise TransformError(
            f"cannot {what}: a dependence on {v.memref_name} between iterations of loops "
            f"{[loop_name(l) for l in band]} with directions {_dirs(v.vector)} would be reversed "
            f"in order {[loop_name(l) for l in order]}")


def _dirs(vec) -> str:
    return "(" + ", ".join({-1: ">", 0: "=", 1: "<"}[s] for s in vec) + ")"


def check_tiling(band: list, tiled: set, order: list, what: str) -> None:
    """Refuse tiling ``band`` when some dependence would be reversed.

    ``order``: the loops after strip-mining, as ("tile", loop) / ("point", loop), outermost
    first. A tiled loop's distance sign s splits into a tile-level sign t ∈ {0, s} and a
    point-level sign (s when t = 0, anything when t ≠ 0)."""
    v = tiling_violation(band, tiled, order)
    if v is not None:
        raise TransformError(
            f"cannot {what}: a dependence on {v.memref_name} with directions "
            f"{_dirs(v.vector)} over loops {[loop_name(l) for l in band]} would be reversed "
            "(the band is not fully permutable)")


def check_unroll_jam(loop, what: str, factor: int | None = None) -> None:
    """Refuse unroll-and-jam of ``loop`` (by ``factor``; None: any) when a later iteration's
    instance would move before an earlier one's: a dependence carried by ``loop`` within one
    group of jammed copies whose direction on the loops inside it is negative, or zero with
    the later instance's statement placed earlier in the body."""
    v = unroll_jam_violation(loop, factor)
    if v is not None:
        raise TransformError(
            f"cannot {what}: a dependence on {v.memref_name} carried by loop "
            f"{loop_name(loop)!r} with directions {_dirs(v.vector)} over loops "
            f"{[loop_name(l) for l in v.loops]} would be reversed by jamming")
