"""Static checks of a kernel bound to concrete sizes and element types, before any compile.

* `value_type`: the element type of a value expression, or a `KernelSyntaxError` at the
  statement's file:line when types mix (no implicit conversions, like C with -Werror).
* `check_bounds`: every subscript is proved inside its array for every iteration, or the
  kernel is refused. Shapes are static per call signature, so the proof is exact for
  rectangular nests and sound (never accepts an out-of-range access) for triangular ones.
"""
from __future__ import annotations

from . import descriptor as d
from .dtypes import ElementType
from .errors import KernelSyntaxError


def fail(loc: d.Loc, msg: str):
    raise KernelSyntaxError(msg, loc.filename, loc.lineno)


def value_type(e: d.Expr, ptypes: dict, ltypes: dict, loc: d.Loc) -> ElementType | None:
    """Element type of ``e``; None when it has no typed leaf (int literals, indices), which
    then take the type of their context."""
    if isinstance(e, d.Load):
        return ptypes[e.array]
    if isinstance(e, d.Scalar):
        return ptypes[e.name]
    if isinstance(e, d.Local):
        return ltypes[e.name]
    if isinstance(e, (d.Const, d.Index)):
        return None
    kids = [value_type(c, ptypes, ltypes, loc) for c in d.expr_children(e)]
    typed = [k for k in kids if k is not None]
    if len(set(typed)) > 1:
        fail(loc, f"expression mixes element types {typed[0].name} and {typed[1].name}; "
                  "unrollkit has no implicit conversions")
    return typed[0] if typed else None


def check_literals(e: d.Expr, ty: ElementType, loc: d.Loc):
    for x in d.walk_expr(e):
        if isinstance(x, d.Const) and isinstance(x.value, float) and not ty.is_float:
            fail(loc, f"float literal {x.value!r} in an {ty.name} expression")
        if isinstance(x, d.BinOp) and x.op == "/" and not ty.is_float:
            fail(loc, f"'/' on {ty.name} values: integer division is not supported (it can trap)")


def check_types(kernel: d.Kernel, ptypes: dict) -> dict:
    """Type-check every statement; returns the types of locals by (statement id) name."""
    ltypes_all = {}

    def block(body, ltypes):
        for s in body:
            if isinstance(s, d.Loop):
                block(s.body, dict(ltypes))
            elif isinstance(s, d.Let):
                ty = value_type(s.value, ptypes, ltypes, s.loc)
                if ty is not None:
                    check_literals(s.value, ty, s.loc)
                # None: built from literals and indices only; it takes the type of each use
                ltypes[s.name] = ty
                ltypes_all[s.name] = ty
            else:
                ty = ptypes[s.array]
                vt = value_type(s.value, ptypes, ltypes, s.loc)
                if vt is not None and vt != ty:
                    fail(s.loc, f"storing a {vt.name} value into {s.array}, an array of {ty.name}")
                check_literals(s.value, ty, s.loc)

    block(kernel.body, {})
    return ltypes_all


# ---------------------------------------------------------------- subscript ranges


def _extreme(coeffs: dict, const: int, loops: list, want_max: bool):
    """Max (or min) of a linear form over the loop nest, substituting loop bounds innermost
    first. Returns None when some enclosing loop is provably empty."""
    coeffs = dict(coeffs)
    for lp, lo_forms, hi_forms in reversed(loops):
        c = coeffs.pop(lp, 0)
        if c == 0:
            continue
        # the variable ranges over [max(lo), min(hi) - 1]; pick the end that extremises c*v
        use_hi = (c > 0) == want_max
        forms = hi_forms if use_hi else lo_forms
        best = None
        for fc, fk in forms:
            fk = fk - 1 if use_hi else fk
            cand = dict(coeffs)
            for k, v in fc.items():
                cand[k] = cand.get(k, 0) + c * v
            val = _extreme({k: v for k, v in cand.items() if v}, const + c * fk, loops, want_max)
            if val is None:
                return None
            # v <= every upper form (>= every lower form): the tightest one bounds it
            if best is None or (val < best if want_max else val > best):
                best = val
        return best
    if coeffs:
        raise ValueError(f"free variables {sorted(coeffs)}")
    return const


def _lin(e: d.Aff, sizes: dict):
    """The linear form of ``e`` with sizes substituted (None if it has a floordiv)."""
    return d.aff_linear(d.aff_subst(e, sizes))


def check_bounds(kernel: d.Kernel, sizes: dict, shapes: dict):
    """Refuse any subscript the loop bounds allow outside its array (exact for rectangles)."""

    def block(body, loops):
        for s in body:
            if isinstance(s, d.Loop):
                lo = [_lin(e, sizes) for e in s.lower]
                hi = [_lin(e, sizes) for e in s.upper]
                if any(x is None for x in lo + hi):
                    continue  # floordiv bounds come only from unrollkit's own rewrites
                if _never_runs(lo, hi, loops):
                    continue  # e.g. a size-0 dimension: the body's accesses never happen
                block(s.body, loops + [(s.var, lo, hi)])
            else:
                accesses = [(s.array, s.index)] if isinstance(s, d.Store) else []
                for x in d.walk_expr(s.value):
                    if isinstance(x, d.Load):
                        accesses.append((x.array, x.index))
                for arr, idx in accesses:
                    for dim, e in enumerate(idx):
                        lin = _lin(e, sizes)
                        if lin is None:
                            continue
                        hi_v = _extreme(lin[0], lin[1], loops, True)
                        lo_v = _extreme(lin[0], lin[1], loops, False)
                        if hi_v is None or lo_v is None:
                            continue
                        n = shapes[arr][dim]
                        if lo_v < 0 or hi_v >= n:
                            rng = f"[{lo_v}, {hi_v}]"
                            fail(s.loc, f"subscript {d.aff_str(e)} of {arr} (dimension {dim}, size {n}) "
                                        f"ranges over {rng} for these sizes: out of bounds")

    block(kernel.body, [])


def _never_runs(lo, hi, loops) -> bool:
    """True when max(lo) >= min(hi) for every outer iteration (e.g. a size-0 dimension)."""
    # lower bound's minimum over the nest vs the upper bound's maximum: if even the most
    # favourable pair leaves the range empty, the loop never runs.
    lo_vals = [_extreme(c, k, loops, False) for c, k in lo]
    hi_vals = [_extreme(c, k, loops, True) for c, k in hi]
    if None in lo_vals or None in hi_vals:
        return True
    return max(lo_vals) >= min(hi_vals)
