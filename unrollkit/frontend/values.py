"""The frontend's conditions, exponents, math calls and conversions (mixed into `frontend._Parser`).

Conditions are comparisons (chained ones too) joined by ``and``/``or``/``not``; ``x ** n``
by a small int literal is products, by any other exponent ``math.powf``; a math call is ``uk.exp`` or its namesake in
``math`` or ``numpy`` (`unrollkit.frontend.language`).
"""
from __future__ import annotations

import ast
import builtins
import math

import numpy as np

from unrollkit.frontend import descriptor as d
from unrollkit.frontend.language import FUNCTIONS

_CMP = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!="}
#: other spellings of the math functions in the modules a kernel may call them from
_ALIASES = {"fabs": "abs", "absolute": "abs"}
#: largest |n| of ``x ** n`` (expanded into products by squaring)
MAX_POW = 64


class Conditions:
    """Conditions and calls of the value language (a mixin: the parser supplies ``expr``,
    ``fail`` and ``env``)."""

    def cond(self, node, loops, locals_) -> d.Expr:
        """A condition: comparisons (chained ones too) joined by and/or/not."""
        if isinstance(node, ast.BoolOp):
            op = "and" if isinstance(node.op, ast.And) else "or"
            parts = [self.cond(v, loops, locals_) for v in node.values]
            out = parts[0]
            for p in parts[1:]:
                out = d.Logic(op, out, p)
            return out
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return d.Not(self.cond(node.operand, loops, locals_))
        if isinstance(node, ast.Compare):
            for op in node.ops:
                if type(op) not in _CMP:
                    self.fail(node, f"comparison '{type(op).__name__}' is not supported; use "
                                    "< <= > >= == !=")
            terms = [node.left] + list(node.comparators)
            vals = [self.expr(t, loops, locals_) for t in terms]
            out = None
            for op, a, b in zip(node.ops, vals, vals[1:]):
                c = d.Compare(_CMP[type(op)], a, b)
                out = c if out is None else d.Logic("and", out, c)
            return out
        self.fail(node, f"'{ast.unparse(node)}' is not a condition: compare values with "
                        "< <= > >= == != (joined by and, or, not)")

    def power(self, node: ast.BinOp, loops, locals_) -> d.Expr:
        """``x ** y``: `d.Pow` for a literal (or global constant) int exponent of at most
        `MAX_POW` in magnitude, or 0.5 (products, sqrt: exact for integers too); any other
        exponent, a value or another literal, `d.PowValue` (``math.powf``, float bases)."""
        base = self.expr(node.left, loops, locals_)
        try:
            n = ast.literal_eval(node.right)
        except ValueError:  # a global or closure constant, like the other literals
            n = self.env.get(node.right.id) if isinstance(node.right, ast.Name) else None
        if type(n) is int and abs(n) <= MAX_POW or n == 0.5:
            return d.Pow(base, n)
        return d.PowValue(base, self.expr(node.right, loops, locals_))

    def conversion(self, node, to, loops, locals_) -> d.Expr:
        """``uk.f32(x)``: a call of element type ``to`` on one value (`unrollkit.ir.casts`).
        ``T(x)`` converts to the generic type: every T array of a call has one dtype (`bind`
        refuses others), so T is one known type in each compile, PolyBench's
        ``(DATA_TYPE)x``; it resolves through the first T array (`d.Cast.like`)."""
        if len(node.args) != 1 or node.keywords:
            self.fail(node, f"{ast.unparse(node.func)}() takes exactly one argument: the value to convert")
        like = None
        if to.is_generic:  # C's (DATA_TYPE)x: T is one type per call, bound by its T arrays
            like = next((p.name for p in self.arrays.values() if p.elem.is_generic), None)
            if like is None:
                self.fail(node, "T(x) converts to the type the call binds T to, but no array "
                                "parameter has type T: annotate one as uk.T[...] or convert "
                                "to a named type such as uk.f32(x)")
        return d.Cast(to.name, self.expr(node.args[0], loops, locals_), like)

    def math_function(self, func):
        """The name in `d.MATH_FUNCTIONS` that ``func`` (uk.exp, math.exp, np.exp, exp imported
        from one of them, bare abs) calls, or None."""
        if isinstance(func, ast.Name):
            obj = self.env.get(func.id, getattr(builtins, func.id, None))
            if obj is builtins.abs:
                return "abs"
        elif isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
            mod = self.env.get(func.value.id)
            obj = getattr(mod, func.attr, None) if mod in (math, np) or \
                getattr(mod, "__name__", "") in ("unrollkit", "unrollkit.frontend") else None
        else:
            return None
        for name in d.MATH_FUNCTIONS:
            for where in (FUNCTIONS, vars(math), vars(np)):
                if obj is not None and where.get(name) is obj:
                    return name
        for alias, name in _ALIASES.items():
            if obj is not None and obj in (getattr(math, alias, None), getattr(np, alias, None)):
                return name
        return None
