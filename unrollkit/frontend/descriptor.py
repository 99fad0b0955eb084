"""The loop-nest descriptor: a small, frozen, hashable IR of a kernel.

The frontend builds it from Python source; `lower_affine` turns it into MLIR; the reference
interpreter runs it directly; descriptor-level rewrites (`macro` unrolling, loop permutation)
return new descriptors. Being frozen, a descriptor is its own cache key.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Union

from unrollkit.core.dtypes import ElementType, int_range

# the affine part (index arithmetic) lives in `unrollkit.frontend.affine`; it is part of the
# descriptor's vocabulary (``d.Var``, ``d.aff_add``), hence imported here by name
from unrollkit.frontend.affine import (Add, Aff, FloorDiv, Lit, Mul, Var, aff_add, aff_eval,  # noqa: E402,F401
                                       aff_linear, aff_mul, aff_str, aff_subst, aff_vars)


# ---------------------------------------------------------------- value expressions


@dataclass(frozen=True)
class Loc:
    """Where a statement is in the kernel's source: ``file:line`` for messages."""
    filename: str
    lineno: int

    def __str__(self) -> str:
        return f"{self.filename}:{self.lineno}"


@dataclass(frozen=True)
class Load:
    """``array[index]``: a load with affine subscripts."""
    array: str
    index: tuple  # of Aff


@dataclass(frozen=True)
class Const:
    """An int or float literal."""
    value: Union[int, float]


#: the magnitude from which a number rounds to infinity in each float element type (the
#: largest finite value plus half its last place)
FLOAT_OVERFLOW = {"f16": 2 ** 16 - 2 ** 4, "f32": 2 ** 128 - 2 ** 103, "f64": 2 ** 1024 - 2 ** 970}
#: the largest finite value of each float element type
FLOAT_MAX = {"f16": 65504.0, "f32": 3.4028234663852886e38, "f64": 1.7976931348623157e308}


def literal_problem(value, ty: ElementType) -> str | None:
    """Why literal ``value`` cannot be a value of element type ``ty`` (None when it can): an
    int outside the integer type's range (``4294967297`` as i32 silently became 1), or a
    finite number that rounds to infinity in the float type (``10**400`` raised a raw
    OverflowError, ``1e39`` became inf in f32). A float that already is inf or nan (a
    global ``NEG_INF = float("-inf")``) stays what it is."""
    if isinstance(value, bool) or ty.is_generic:
        return None
    if not ty.is_float:
        low, high = int_range(ty)
        if isinstance(value, int) and not low <= value <= high:
            return f"int literal {value} does not fit {ty.name} (from {low} to {high}); it would wrap around"
        return None
    limit = FLOAT_OVERFLOW.get(ty.name)
    if limit is None or (isinstance(value, float) and not math.isfinite(value)) or abs(value) < limit:
        return None
    shown = value if isinstance(value, float) or abs(value) < 10 ** 30 else f"of {len(str(abs(value)))} digits"
    return f"literal {shown} is too large for {ty.name}: it would be infinity (largest finite: {FLOAT_MAX[ty.name]:.7g})"


@dataclass(frozen=True)
class Scalar:
    """A scalar kernel parameter."""
    name: str


@dataclass(frozen=True)
class Index:
    """An index expression (loop variable, size) used as a value."""
    expr: Aff


@dataclass(frozen=True)
class Local:
    """A local variable of the kernel, read by name."""
    name: str


@dataclass(frozen=True)
class BinOp:
    """``lhs op rhs`` with op one of ``+ - * /`` or ``min``/``max``."""
    op: str  # "+", "-", "*", "/", "min", "max"
    lhs: "Expr"
    rhs: "Expr"


@dataclass(frozen=True)
class Neg:
    """``-operand``."""
    operand: "Expr"


@dataclass(frozen=True)
class Math:
    """``uk.exp(x)`` and the other one-argument functions of `MATH_FUNCTIONS` (MLIR ``math``)."""
    fn: str
    operand: "Expr"


@dataclass(frozen=True)
class Cast:
    """``uk.f32(x)`` and the other element types called on a value: a conversion (numpy's
    ``astype``; a float to an integer saturates, NaN gives 0: see `unrollkit.ir.casts`)."""
    to: str  # an element type name; "T" converts to the type the call binds T to
    operand: "Expr"
    #: for ``T(x)``: the first array parameter of type T, whose element type the call binds
    #: (one T per call: `bind` refuses arrays of different dtypes), so ``T`` resolves to it
    like: str | None = None


#: the math functions a kernel may call, spelled ``uk.f``, ``math.f`` or ``numpy.f`` (``abs`` also bare)
MATH_FUNCTIONS = ("exp", "log", "sqrt", "tanh", "abs", "floor", "ceil")


@dataclass(frozen=True)
class Pow:
    """``base ** exponent`` for a literal exponent: an int (repeated products) or 0.5 (sqrt)."""
    base: "Expr"
    exponent: Union[int, float]


@dataclass(frozen=True)
class PowValue:
    """``base ** exponent`` for any other exponent (a value, or a literal that `Pow` does not
    take): ``math.powf``, numpy's ``np.power`` of floats. The base is a float; an integer
    exponent is converted to the base's type."""
    base: "Expr"
    exponent: "Expr"


@dataclass(frozen=True)
class Compare:
    """``lhs op rhs`` with op one of ``< <= > >= == !=``: a condition, not a value."""
    op: str
    lhs: "Expr"
    rhs: "Expr"


@dataclass(frozen=True)
class Logic:
    """``lhs and rhs`` / ``lhs or rhs`` of conditions (both sides are evaluated: no side effects)."""
    op: str  # "and", "or"
    lhs: "Expr"
    rhs: "Expr"


@dataclass(frozen=True)
class Not:
    """``not operand`` of a condition."""
    operand: "Expr"


@dataclass(frozen=True)
class Select:
    """``if_true if cond else if_false`` (``arith.select``: both sides are evaluated)."""
    cond: "Expr"
    if_true: "Expr"
    if_false: "Expr"


Expr = Union[Load, Const, Scalar, Index, Local, BinOp, Neg, Math, Pow, Compare, Logic, Not, Select,
             Cast, PowValue]
#: expressions that are conditions (true/false), allowed only in ``if`` and ``... if c else ...``
CONDITIONS = (Compare, Logic, Not)

# ---------------------------------------------------------------- statements


@dataclass(frozen=True)
class Store:
    """``array[index] = value`` (``A[i] += e`` is ``A[i] = A[i] + e``)."""
    array: str
    index: tuple  # of Aff
    value: Expr
    loc: Loc = field(compare=False, default=Loc("<kernel>", 0))


@dataclass(frozen=True)
class Let:
    """``name = value``: an assignment to a local (``t += e`` is ``t = t + e``)."""
    name: str
    value: Expr
    loc: Loc = field(compare=False, default=Loc("<kernel>", 0))


@dataclass(frozen=True)
class Loop:
    """``for var in range(max(lower), min(upper), step)``; ``name`` is the source loop's name."""
    var: str
    lower: tuple  # of Aff; the bound is their max
    upper: tuple  # of Aff; the bound is their min
    step: int
    body: tuple  # of Stmt
    name: str
    loc: Loc = field(compare=False, default=Loc("<kernel>", 0))
    #: unrolling written in the source: 0 none, n > 1 ``uk.range(..., unroll=n)``, `FULL`
    #: ``uk.unroll(range(...))``; applied like ``factor={name: n}`` (`source_unroll`)
    unroll: int = 0


#: `Loop.unroll` of ``uk.unroll(range(...))``: every iteration, at compile time
FULL = -1


def trip_count(lp: "Loop") -> int | None:
    """The iterations of a loop whose bounds are literals, else None."""
    if len(lp.lower) != 1 or len(lp.upper) != 1 or not isinstance(lp.lower[0], Lit) \
            or not isinstance(lp.upper[0], Lit):
        return None
    return max(0, -(-(lp.upper[0].value - lp.lower[0].value) // lp.step))


@dataclass(frozen=True)
class If:
    """``if cond: then else: orelse``. A condition on loop variables and sizes only (see
    `affine_condition`) lowers to ``affine.if``; any other to ``scf.if``."""
    cond: Expr
    then: tuple  # of Stmt
    orelse: tuple  # of Stmt
    loc: Loc = field(compare=False, default=Loc("<kernel>", 0))


Stmt = Union[Store, Let, Loop, If]

#: the hidden output parameter that ``return value`` stores into (a 1-element array the call
#: allocates and whose element it returns): not an identifier a user can spell in a kernel
RETURN_PARAM = "return"


@dataclass(frozen=True)
class Param:
    """A kernel parameter: its name, element type and shape (None for a scalar; size names and fixed
    sizes for an array)."""
    name: str
    elem: ElementType
    shape: tuple | None  # None for a scalar; else size names (str) or fixed sizes (int)

    @property
    def is_array(self) -> bool:
        """Whether the parameter is an array (it has a shape)."""
        return self.shape is not None


@dataclass(frozen=True)
class LocalArray:
    """``z = uk.zeros(N, T)``: an array of the kernel's own (`unrollkit.frontend.local_arrays`),
    zeroed where it is declared (a fill loop nest in the body), its shape affine in the sizes."""
    name: str
    elem: ElementType
    shape: tuple  # of Aff over sizes and index scalars
    like: str | None = None  # for T: the first T array parameter, as `Cast.like`
    loc: Loc = field(compare=False, default=Loc("<kernel>", 0))


@dataclass(frozen=True)
class Kernel:
    """A kernel descriptor. Decorate a function with ``@unrollkit.kernel`` to get one."""
    name: str
    params: tuple  # of Param
    body: tuple  # of Stmt
    filename: str = field(default="<kernel>")
    lineno: int = field(default=0)
    source: str = field(default="", compare=False)
    #: the kernel's local arrays (`LocalArray`), allocated per call, not parameters
    local_arrays: tuple = ()

    # -- derived facts
    @property
    def arrays(self) -> tuple:
        """The array parameters, in order."""
        return tuple(p for p in self.params if p.is_array)

    @property
    def written(self) -> frozenset:
        """The names of the arrays some statement stores into."""
        return frozenset(s.array for s in walk(self.body) if isinstance(s, Store))

    def param(self, name: str) -> Param:
        """The parameter named ``name``; a `KeyError` when there is none."""
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    def loops(self) -> list:
        """Every loop of the body, outer first."""
        return [s for s in walk(self.body) if isinstance(s, Loop)]

    def loop_names(self) -> list:
        """The loops' source names, each once, outer first."""
        seen = []
        for lp in self.loops():
            if lp.name not in seen:
                seen.append(lp.name)
        return seen

    def innermost_loop_names(self) -> list:
        """The source names of the loops with no loop directly in their body, each once."""
        names = []
        for lp in self.loops():
            if not any(isinstance(s, Loop) for s in walk(lp.body)) and lp.name not in names:  # (inside an if too)
                names.append(lp.name)
        return names

    @property
    def returns(self) -> bool:
        """Whether the kernel ``return``s a scalar (stored into the hidden `RETURN_PARAM`)."""
        return bool(self.params) and self.params[-1].name == RETURN_PARAM

    @property
    def user_params(self) -> tuple:
        """The parameters a caller passes (all but the hidden return slot)."""
        return self.params[:-1] if self.returns else self.params

    def describe(self) -> str:
        """The kernel's signature in one line: ``dot(a: f32[N], b: f32[N]) -> f32``. (Its
        ``repr`` stays the full structure: the disk cache keys compiles by it.)"""
        def shape(p):
            return "" if p.shape is None else "[" + ", ".join(map(str, p.shape)) + "]"
        params = ", ".join(f"{p.name}: {p.elem.name}{shape(p)}" for p in self.user_params)
        ret = f" -> {self.params[-1].elem.name}" if self.returns else ""
        return f"{self.name}({params}){ret}"

    def with_body(self, body: tuple, suffix: str = "") -> "Kernel":
        """A copy of the kernel with body ``body``, ``suffix`` appended to its name."""
        return replace(self, body=tuple(body), name=self.name + suffix)

    def __call__(self, *args):
        raise TypeError(
            f"kernel {self.name!r} is a descriptor; compile it first: unrollkit.jit({self.name})(...)"
        )


def walk(body):
    """Every statement of a body, outer first (the branches of an ``if`` included)."""
    for s in body:
        yield s
        if isinstance(s, Loop):
            yield from walk(s.body)
        elif isinstance(s, If):
            yield from walk(s.then)
            yield from walk(s.orelse)


def assigned_names(body) -> set:
    """The names of locals assigned anywhere in ``body``: with the locals defined before it,
    the values a loop carries (``iter_args``) or an ``if`` yields."""
    return {s.name for s in walk(body) if isinstance(s, Let)}


def statement_values(s) -> tuple:
    """The value expressions a statement evaluates itself (not those of nested statements)."""
    if isinstance(s, (Store, Let)):
        return (s.value,)
    if isinstance(s, If):
        return (s.cond,)
    return ()


def ops_estimate(body, straight: bool = False) -> int:
    """About how many MLIR operations ``body`` lowers to (a load, store, arithmetic operation
    or loop each one, an index used as a value two): what a code-size check multiplies by a
    factor before anything is built (`macro_unroll`, `variants.plan`). ``straight``: only its
    straight-line part (a nested loop counts as one operation)."""
    total = 0
    for s in body:
        if isinstance(s, Loop):
            total += 2 + (0 if straight else ops_estimate(s.body))  # the loop and its yield
        else:
            if isinstance(s, If):
                total += 2 + ops_estimate(s.then, straight) + ops_estimate(s.orelse, straight)
            total += (1 if isinstance(s, Store) else 0) + sum(
                2 if isinstance(x, Index) else 0 if isinstance(x, (Scalar, Local)) else 1
                for v in statement_values(s) for x in walk_expr(v))
    return total


def expr_children(e: Expr) -> tuple:
    """The direct subexpressions of ``e`` (none for a leaf)."""
    if isinstance(e, (BinOp, Compare, Logic)):
        return (e.lhs, e.rhs)
    if isinstance(e, PowValue):
        return (e.base, e.exponent)
    if isinstance(e, (Neg, Math, Not, Cast)):
        return (e.operand,)
    if isinstance(e, Pow):
        return (e.base,)
    if isinstance(e, Select):
        return (e.cond, e.if_true, e.if_false)
    return ()


def inline_locals(e: Expr, values: dict) -> Expr:
    """``e`` with each `Local` named in ``values`` replaced by its value expression: an untyped
    local (literals and indices) reassigned from itself, ``t = t + 1``, takes the old value."""
    if isinstance(e, Local):
        return values.get(e.name, e)
    return map_children(e, lambda c: inline_locals(c, values))


def map_children(e: Expr, fn) -> Expr:
    """``e`` with ``fn`` applied to each of its direct subexpressions (leaves unchanged)."""
    if isinstance(e, (BinOp, Compare, Logic)):
        return replace(e, lhs=fn(e.lhs), rhs=fn(e.rhs))
    if isinstance(e, PowValue):
        return replace(e, base=fn(e.base), exponent=fn(e.exponent))
    if isinstance(e, (Neg, Math, Not, Cast)):
        return replace(e, operand=fn(e.operand))
    if isinstance(e, Pow):
        return replace(e, base=fn(e.base))
    if isinstance(e, Select):
        return replace(e, cond=fn(e.cond), if_true=fn(e.if_true), if_false=fn(e.if_false))
    return e


def walk_expr(e: Expr):
    """``e`` and every subexpression of it, outer first."""
    yield e
    for c in expr_children(e):
        yield from walk_expr(c)


def permute(kernel: Kernel, order) -> Kernel:
    """Reorder a perfect, rectangular loop nest: ``permute(gemm, "ijk")``.

    Only for nests whose bounds do not use other loops' variables (then every order visits
    the same iterations); the caller is responsible for the reordering being legal.
    """
    order = tuple(order)
    loops, body = [], kernel.body
    while len(body) == 1 and isinstance(body[0], Loop):
        loops.append(body[0])
        body = body[0].body
    names = [lp.name for lp in loops]
    if sorted(names) != sorted(order):
        raise ValueError(f"order {''.join(order)!r} must be a permutation of the perfect nest {names}")
    vars_ = {lp.var for lp in loops}
    for lp in loops:
        for e in lp.lower + lp.upper:
            if aff_vars(e) & vars_:
                raise ValueError(f"loop {lp.name!r} has bounds that depend on another loop; "
                                 "only rectangular nests can be permuted this way")
    by_name = {lp.name: lp for lp in loops}
    for name in reversed(order):
        lp = by_name[name]
        body = (replace(lp, body=tuple(body)),)
    return replace(kernel, body=body, name=f"{kernel.name}_{''.join(order)}")
