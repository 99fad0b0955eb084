"""A conservative memory-dependence test for the loop passes (not a pass itself).

Every ``affine.load``/``affine.store`` subscript is turned into a linear form over induction
variables (through ``affine.apply`` chains). For two accesses to the same memref (at least
one a store) and the loops of interest, each loop's distance sign (later − earlier iteration)
is fixed when a subscript dimension pins it (single loop, equal coefficients: the SIV test),
and unknown (any of −, 0, +) otherwise. Anything non-linear makes every sign unknown: the
test may refuse a legal transformation, never allow an illegal one. Distinct memrefs do not
alias: the runtime refuses overlapping outputs and copies overlapping inputs.
"""
from __future__ import annotations

import itertools

from mlir import ir

from unrollkit.ir.ir_utils import bound_maps, bound_operands, enclosing_loops, loop_name, loop_of_iv, step_of, walk_ops
from unrollkit.core.errors import TransformError

ANY = (-1, 0, 1)


class Access:
    """One ``affine.load``/``affine.store``: its ``op``, ``write``, ``memref``, subscript ``forms``
    (`linear`, None where not linear) and enclosing ``loops``."""
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
    """Every ``affine.load`` and ``affine.store`` under ``root``, as `Access` objects."""
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
    """Possible signs of (iteration of b − iteration of a) for each of ``loops`` (common to both)
    when a and b touch the same element; an empty list when they never do."""
    fixed: dict = {}
    inside = set(loops)
    ranges: dict = {}
    for fa, fb in zip(a.forms, b.forms):
        ra, rb = interval(fa, ranges), interval(fb, ranges)
        if ra is not None and rb is not None and (ra[1] < rb[0] or rb[1] < ra[0]):
            return []  # the subscripts' ranges do not overlap: never the same element
    common = [l for l in a.loops if l in b.loops]
    for fa, fb in zip(a.forms, b.forms):
        if fa is None or fb is None:
            continue
        ca, cb = fa[0], fb[0]
        eq_vars, ok = {}, True
        for k in set(ca) | set(cb):
            x, y = ca.get(k, 0), cb.get(k, 0)
            if k in inside:
                if x != y:
                    ok = False
                    break
                eq_vars[k] = x
            elif (k in common or isinstance(k, ir.Value)) and x == y:
                continue  # same outer iteration / same symbol: cancels
            else:
                ok = False  # a free variable (a loop only one access is in): no constraint
                break
        if not ok:
            continue
        rhs = fa[1] - fb[1]  # sum c_k · d_k = const_a − const_b
        if not eq_vars:
            if rhs:
                return []  # different constant elements: never the same element
            continue
        if len(eq_vars) == 1:
            (k, c), = eq_vars.items()
            if rhs % c:
                return []
            d = rhs // c
            if k in fixed and fixed[k] != d:
                return []
            if d % step_of(k) and not bound_operands(k)[0]:
                return []  # IV values are lb + n·step: a distance off that grid never occurs
            fixed[k] = d
    per_loop = [((_sign(fixed[l]),) if l in fixed else ANY) for l in loops]
    return list(itertools.product(*per_loop))


def interval(form, ranges):
    """(min, max) of a linear form over loop ranges (``ranges`` caches loop → (lo, hi))."""
    if form is None:
        return None
    coeffs, const = form
    lo = hi = const
    for key, c in coeffs.items():
        r = _range(key, ranges)
        if r is None:
            return None
        a, b = c * r[0], c * r[1]
        lo, hi = lo + min(a, b), hi + max(a, b)
    return lo, hi


def _range(key, ranges):
    """Value range of a loop's induction variable (its bounds evaluated over outer ranges)."""
    if isinstance(key, ir.Value):
        return None
    if key in ranges:
        return ranges[key]
    lbm, ubm = bound_maps(key)
    lbo, ubo = bound_operands(key)
    los = [interval(linear(e, lbm.n_dims, lbo), ranges) for e in lbm.results]
    his = [interval(linear(e, ubm.n_dims, ubo), ranges) for e in ubm.results]
    if any(x is None for x in los + his):
        return None
    lo, hi = max(x[0] for x in los), min(x[1] for x in his) - 1
    if all(x[0] == x[1] for x in los) and len(los) == 1 and hi >= lo:
        hi = lo + (hi - lo) // step_of(key) * step_of(key)  # the last IV on the step grid
    r = (lo, hi)
    ranges[key] = r
    return r


def _sign(x: int) -> int:
    return (x > 0) - (x < 0)


def lex_sign(vec) -> int:
    """The sign of a direction vector read lexicographically: its first non-zero entry (−1 or +1), 0
    when all are 0."""
    for s in vec:
        if s:
            return s
    return 0


def dependence_pairs(root):
    """Ordered pairs (a, b) of accesses under ``root`` to one memref, at least one a store."""
    acc = accesses(root)
    for a in acc:
        for b in acc:
            if a.memref == b.memref and (a.write or b.write):
                yield a, b


def check_permutation(band: list, order: list, what: str) -> None:
    """Refuse reordering the perfect nest ``band`` into ``order`` when a dependence forbids it."""
    pos = [band.index(l) for l in order]
    for a, b in dependence_pairs(band[0]):
        for vec in signs(a, b, band):
            if lex_sign(vec) > 0 and lex_sign([vec[p] for p in pos]) < 0:
                raise TransformError(
                    f"cannot {what}: a dependence on {_memref_name(a)} between iterations of loops "
                    f"{[loop_name(l) for l in band]} with directions {_dirs(vec)} would be reversed "
                    f"in order {[loop_name(l) for l in order]}")


def _dirs(vec) -> str:
    return "(" + ", ".join({-1: ">", 0: "=", 1: "<"}[s] for s in vec) + ")"


def _memref_name(acc: Access) -> str:
    return acc.memref.get_name()


def check_tiling(band: list, tiled: set, order: list, what: str) -> None:
    """Refuse tiling ``band`` when some dependence would be reversed.

    ``order``: the loops after strip-mining, as ("tile", loop) / ("point", loop), outermost
    first. A tiled loop's distance sign s splits into a tile-level sign t ∈ {0, s} and a
    point-level sign (s when t = 0, anything when t ≠ 0)."""
    for a, b in dependence_pairs(band[0]):
        for vec in signs(a, b, band):
            if lex_sign(vec) <= 0:
                continue
            options = []
            for loop, s in zip(band, vec):
                if loop in tiled and s:
                    options.append([(0, s)] + [(s, p) for p in ANY])
                else:
                    options.append([(0, s)])
            for choice in itertools.product(*options):
                level = {("tile", l): t for l, (t, _) in zip(band, choice)}
                level.update({("point", l): p for l, (_, p) in zip(band, choice)})
                if lex_sign([level[k] for k in order]) < 0:
                    raise TransformError(
                        f"cannot {what}: a dependence on {_memref_name(a)} with directions "
                        f"{_dirs(vec)} over loops {[loop_name(l) for l in band]} would be reversed "
                        "(the band is not fully permutable)")


def check_unroll_jam(loop, what: str) -> None:
    """Refuse unroll-and-jam of ``loop`` when a later iteration's instance would move before an
    earlier one's: a dependence carried by ``loop`` whose direction on the loops inside it is
    negative, or zero with the later instance's statement placed earlier in the body."""
    for a, b in dependence_pairs(loop):
        if loop not in a.loops or loop not in b.loops:
            continue
        inner = [l for l in a.loops if l in b.loops]
        inner = inner[inner.index(loop):]
        for vec in signs(a, b, inner):
            if vec[0] <= 0:
                continue
            rest = lex_sign(vec[1:])
            if rest < 0 or (rest == 0 and a.op != b.op and _before(b.op, a.op, loop)
                            and not _same_jam_unit(a.op, b.op)):
                raise TransformError(
                    f"cannot {what}: a dependence on {_memref_name(a)} carried by loop "
                    f"{loop_name(loop)!r} with directions {_dirs(vec)} over loops "
                    f"{[loop_name(l) for l in inner]} would be reversed by jamming")


def _same_jam_unit(x, y) -> bool:
    """Are ``x`` and ``y`` in one run of loop-free ops of one block? Jamming copies such a
    run as a whole (all of copy 0, then all of copy 1), so their relative order is kept."""
    if x.parent != y.parent:
        return False
    ops = list(x.parent.regions[0].blocks[0].operations) if x.parent.regions else []
    try:
        i, j = sorted((ops.index(x), ops.index(y)))
    except ValueError:
        return False
    return not any(o.name == "affine.for" for o in ops[i:j + 1])


def _before(x, y, root) -> bool:
    """Is op ``x`` textually before op ``y`` (both under ``root``)?"""
    order = {op: i for i, op in enumerate(walk_ops(root))}
    return order[x] < order[y]
