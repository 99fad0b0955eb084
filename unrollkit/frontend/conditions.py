"""Conditions of ``if`` statements on loop variables and sizes as affine constraints.

An ``if`` whose condition compares only loop variables, sizes and int literals (joined by
``and``, or one inequality under ``not``) is an ``affine.if``: unrolling, the bounds proof
(`unrollkit.analysis.kernel_bounds`) and MLIR's affine passes see its integer set. Any other
condition is data-dependent (``scf.if``).
"""
from __future__ import annotations

from unrollkit.frontend.descriptor import (BinOp, Compare, Const, Expr, Index, Lit, Logic, Neg, Not, aff_add,
                         aff_mul)


def affine_condition(cond: Expr):
    """``cond`` as a conjunction of affine constraints ``[(aff, is_equality)]`` meaning
    ``aff >= 0`` / ``aff == 0`` when it compares loop variables, sizes and int literals only
    (``and`` of such, ``not`` of one inequality); else None (a data-dependent condition)."""
    if isinstance(cond, Logic) and cond.op == "and":
        a, b = affine_condition(cond.lhs), affine_condition(cond.rhs)
        return None if a is None or b is None else a + b
    if isinstance(cond, Not):
        inner = affine_condition(cond.operand)
        if inner is None or len(inner) != 1 or inner[0][1]:
            return None
        return [(aff_add(aff_mul(inner[0][0], -1), Lit(-1)), False)]  # not (e >= 0): -e - 1 >= 0
    if not isinstance(cond, Compare):
        return None
    a, b = _index_aff(cond.lhs), _index_aff(cond.rhs)
    if a is None or b is None:
        return None
    diff = aff_add(a, aff_mul(b, -1))  # a - b
    neg = aff_mul(diff, -1)
    return {"<": [(aff_add(neg, Lit(-1)), False)], "<=": [(neg, False)],
            ">": [(aff_add(diff, Lit(-1)), False)], ">=": [(diff, False)],
            "==": [(diff, True)]}.get(cond.op)  # != is not a conjunction: data-dependent form


def _index_aff(e: Expr):
    if isinstance(e, Index):
        return e.expr
    if isinstance(e, Const) and type(e.value) is int:
        return Lit(e.value)
    if isinstance(e, Neg):
        inner = _index_aff(e.operand)
        return None if inner is None else aff_mul(inner, -1)
    if isinstance(e, BinOp) and e.op in ("+", "-"):
        a, b = _index_aff(e.lhs), _index_aff(e.rhs)
        if a is None or b is None:
            return None
        return aff_add(a, b if e.op == "+" else aff_mul(b, -1))
    if isinstance(e, BinOp) and e.op == "*":
        a, b = _index_aff(e.lhs), _index_aff(e.rhs)
        if isinstance(a, Lit) and b is not None:
            return aff_mul(b, a.value)
        if isinstance(b, Lit) and a is not None:
            return aff_mul(a, b.value)
    return None
