"""Affine index expressions of the kernel descriptor: loop variables, size names and integer
literals under ``+``, ``*`` by a constant and ``//`` by a constant, as in MLIR's affine maps.
Subscripts and loop bounds are made of them (`unrollkit.frontend.descriptor`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Union

@dataclass(frozen=True)
class Var:
    """A loop variable or size name in an affine expression."""
    name: str


@dataclass(frozen=True)
class Lit:
    """An integer constant in an affine expression."""
    value: int


@dataclass(frozen=True)
class Add:
    """``lhs + rhs`` of two affine expressions."""
    lhs: "Aff"
    rhs: "Aff"


@dataclass(frozen=True)
class Mul:
    """``lhs * coeff``: an affine expression times an integer constant."""
    lhs: "Aff"
    coeff: int


@dataclass(frozen=True)
class FloorDiv:
    """``lhs // divisor``: an affine expression divided by a positive constant, rounded down."""
    lhs: "Aff"
    divisor: int  # > 0


Aff = Union[Var, Lit, Add, Mul, FloorDiv]


def aff_add(a: Aff, b: Aff) -> Aff:
    """``a + b``, folding constants and adding 0 away."""
    if isinstance(a, Lit) and isinstance(b, Lit):
        return Lit(a.value + b.value)
    if isinstance(b, Lit) and b.value == 0:
        return a
    if isinstance(a, Lit) and a.value == 0:
        return b
    return Add(a, b)


def aff_mul(a: Aff, k: int) -> Aff:
    """``a * k``, folding constants and multiplying by 1 away."""
    if isinstance(a, Lit):
        return Lit(a.value * k)
    if k == 1:
        return a
    return Mul(a, k)


def aff_eval(e: Aff, env: dict) -> int:
    """The value of ``e`` with every variable's value taken from ``env`` (name → int)."""
    if isinstance(e, Var):
        return env[e.name]
    if isinstance(e, Lit):
        return e.value
    if isinstance(e, Add):
        return aff_eval(e.lhs, env) + aff_eval(e.rhs, env)
    if isinstance(e, Mul):
        return aff_eval(e.lhs, env) * e.coeff
    return aff_eval(e.lhs, env) // e.divisor


def aff_subst(e: Aff, env: dict) -> Aff:
    """Replace variables by expressions (or ints), folding constants."""
    if isinstance(e, Var):
        v = env.get(e.name, e)
        return Lit(v) if isinstance(v, int) else v
    if isinstance(e, Lit):
        return e
    if isinstance(e, Add):
        return aff_add(aff_subst(e.lhs, env), aff_subst(e.rhs, env))
    if isinstance(e, Mul):
        return aff_mul(aff_subst(e.lhs, env), e.coeff)
    inner = aff_subst(e.lhs, env)
    return Lit(inner.value // e.divisor) if isinstance(inner, Lit) else FloorDiv(inner, e.divisor)


def aff_linear(e: Aff) -> tuple[dict, int] | None:
    """``(coefficients by variable, constant)`` of a linear expression, None if it has floordiv."""
    if isinstance(e, Var):
        return {e.name: 1}, 0
    if isinstance(e, Lit):
        return {}, e.value
    if isinstance(e, Add):
        a, b = aff_linear(e.lhs), aff_linear(e.rhs)
        if a is None or b is None:
            return None
        coeffs = dict(a[0])
        for k, v in b[0].items():
            coeffs[k] = coeffs.get(k, 0) + v
        return {k: v for k, v in coeffs.items() if v}, a[1] + b[1]
    if isinstance(e, Mul):
        a = aff_linear(e.lhs)
        if a is None:
            return None
        return {k: v * e.coeff for k, v in a[0].items() if v * e.coeff}, a[1] * e.coeff
    return None


def aff_vars(e: Aff) -> set:
    """The names of the variables ``e`` uses."""
    if isinstance(e, Var):
        return {e.name}
    if isinstance(e, Lit):
        return set()
    if isinstance(e, Add):
        return aff_vars(e.lhs) | aff_vars(e.rhs)
    return aff_vars(e.lhs)


def aff_str(e: Aff) -> str:
    """``e`` as Python-like source text: ``i + 1``, ``(N) // 4``."""
    if isinstance(e, Var):
        return e.name
    if isinstance(e, Lit):
        return str(e.value)
    if isinstance(e, Add):
        return f"{aff_str(e.lhs)} + {aff_str(e.rhs)}"
    if isinstance(e, Mul):
        return f"({aff_str(e.lhs)}) * {e.coeff}"
    return f"({aff_str(e.lhs)}) // {e.divisor}"
