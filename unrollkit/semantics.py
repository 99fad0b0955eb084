"""Static checks of a kernel bound to concrete sizes and element types, before any compile.

* `value_type`: the element type of a value expression, or a `KernelSyntaxError` at the
  statement's file:line when types mix (no implicit conversions, like C with -Werror).
* `check_bounds`: every subscript is proved inside its array for every iteration, or the
  kernel is refused. Shapes are static per call signature; the proof (isl, in
  `unrollkit.analysis`) is exact for any affine nest, triangular, stepped or with ``//``.
"""
from __future__ import annotations

from . import descriptor as d
from .analysis.kernel_bounds import first_out_of_bounds
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


def check_literals(e: d.Expr, ty: ElementType, loc: d.Loc, untyped: dict | None = None):
    """Literals of ``e`` as values of ``ty`` (`d.literal_problem`), through the untyped locals
    it uses (``untyped``: name → (value, loc)), which take the type of each use."""
    for x in d.walk_expr(e):
        if isinstance(x, d.Const) and isinstance(x.value, float) and not ty.is_float:
            fail(loc, f"float literal {x.value!r} in an {ty.name} expression")
        if isinstance(x, d.Const) and d.literal_problem(x.value, ty):
            fail(loc, d.literal_problem(x.value, ty))
        if isinstance(x, d.Local) and untyped and x.name in untyped:
            check_literals(untyped[x.name][0], ty, untyped[x.name][1], untyped)
        if isinstance(x, d.BinOp) and x.op == "/" and not ty.is_float:
            fail(loc, f"'/' on {ty.name} values: integer division is not supported (it can trap)")


def check_types(kernel: d.Kernel, ptypes: dict) -> dict:
    """Type-check every statement; returns the types of locals by (statement id) name."""
    ltypes_all, untyped = {}, {}

    def block(body, ltypes):
        for s in body:
            if isinstance(s, d.Loop):
                block(s.body, dict(ltypes))
            elif isinstance(s, d.Let):
                ty = value_type(s.value, ptypes, ltypes, s.loc)
                if ty is not None:
                    check_literals(s.value, ty, s.loc, untyped)
                else:  # built from literals and indices only; it takes the type of each use
                    untyped[s.name] = (s.value, s.loc)
                ltypes[s.name] = ty
                ltypes_all[s.name] = ty
            else:
                ty = ptypes[s.array]
                vt = value_type(s.value, ptypes, ltypes, s.loc)
                if vt is not None and vt != ty:
                    fail(s.loc, f"storing a {vt.name} value into {s.array}, an array of {ty.name}")
                check_literals(s.value, ty, s.loc, untyped)

    block(kernel.body, {})
    return ltypes_all


# ---------------------------------------------------------------- subscript ranges


def check_bounds(kernel: d.Kernel, sizes: dict, shapes: dict):
    """Refuse any subscript that an executed iteration takes outside its array, with the
    statement's file:line (the exact isl proof of `unrollkit.analysis.kernel_bounds`)."""
    bad = first_out_of_bounds(kernel, sizes, shapes)
    if bad is not None:
        fail(bad.stmt.loc, f"subscript {d.aff_str(bad.index)} of {bad.array} (dimension {bad.dim}, "
                           f"size {bad.size}) ranges over [{bad.lo}, {bad.hi}] for these sizes: "
                           "out of bounds")
