"""Loops with a negative constant step, ``for i in range(N - 1, -1, -1)``, as counted loops.

``affine.for`` steps forward only, so the frontend writes such a loop as a counter ``i`` over
``range(0, (start - stop + s - 1) // s)`` and replaces ``i`` in its body by ``start - s * i``:

    for i in range(a, b, -s):           for i in range(0, (a - b + s - 1) // s):
        x[i] = ...                  →       x[a - s * i] = ...

The iterations, their order and every value of ``i`` are Python's; an empty range (``a <= b``)
gives a count <= 0, so the loop does not run. The loop keeps its name (``factor={"i": 4}``,
``uk.range(..., unroll=4)`` and pipelines name it as written), and unrolling, the bounds proof
and the interpreter see an ordinary affine loop.
"""
from __future__ import annotations

from dataclasses import replace

from unrollkit.frontend import descriptor as d


def reversed_loop(var: str, start: d.Aff, stop: d.Aff, step: int, body: tuple, **fields) -> d.Loop:
    """The counted form of ``for var in range(start, stop, step)`` with ``step < 0``; ``body``
    is written in terms of ``var`` (the values Python gives it)."""
    s = -step
    span = d.aff_add(start, d.aff_mul(stop, -1))
    count = d.aff_subst(d.FloorDiv(d.aff_add(span, d.Lit(s - 1)), s) if s > 1 else span, {})
    value = d.aff_add(start, d.aff_mul(d.Var(var), -s))
    return d.Loop(var, (d.Lit(0),), (count,), 1, subst_body(body, {var: value}), **fields)


def subst_body(body: tuple, env: dict) -> tuple:
    """``body`` with the index variables named in ``env`` replaced by affine expressions in
    every subscript, bound, index value and condition."""
    out = []
    for s in body:
        if isinstance(s, d.Let):
            out.append(replace(s, value=subst_expr(s.value, env)))
        elif isinstance(s, d.Store):
            out.append(replace(s, index=tuple(d.aff_subst(i, env) for i in s.index),
                               value=subst_expr(s.value, env)))
        elif isinstance(s, d.If):
            out.append(replace(s, cond=subst_expr(s.cond, env), then=subst_body(s.then, env),
                               orelse=subst_body(s.orelse, env)))
        else:
            out.append(replace(s, lower=tuple(d.aff_subst(b, env) for b in s.lower),
                               upper=tuple(d.aff_subst(b, env) for b in s.upper),
                               body=subst_body(s.body, env)))
    return tuple(out)


def subst_expr(e: d.Expr, env: dict) -> d.Expr:
    """A value expression with `subst_body`'s replacement in its loads and index values."""
    if isinstance(e, d.Load):
        return d.Load(e.array, tuple(d.aff_subst(i, env) for i in e.index))
    if isinstance(e, d.Index):
        return d.Index(d.aff_subst(e.expr, env))
    return d.map_children(e, lambda c: subst_expr(c, env))
