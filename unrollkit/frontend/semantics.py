"""Static checks of a kernel bound to concrete sizes and element types, before any compile.

* `value_type`: the element type of a value expression, or a `KernelSyntaxError` at the
  statement's file:line when types mix (no implicit conversions, like C with -Werror).

The bounds of every subscript are proved one layer up (`unrollkit.analysis.kernel_bounds.check_bounds`).
"""
from __future__ import annotations

from unrollkit.core.dtypes import BY_NAME, ElementType
from unrollkit.core.errors import KernelSyntaxError
from unrollkit.frontend import descriptor as d



def fail(loc: d.Loc, msg: str):
    """Raise a `KernelSyntaxError` with ``msg`` at ``loc``'s file:line."""
    raise KernelSyntaxError(msg, loc.filename, loc.lineno)


def value_type(e: d.Expr, ptypes: dict, ltypes: dict, loc: d.Loc) -> ElementType | None:
    """Element type of ``e``; None when it has no typed leaf (int literals, indices), which
    then take the type of their context. A condition's type is that of what it compares (its
    truth value is no element type); a select's is that of its two values."""
    if isinstance(e, d.Load):
        return ptypes[e.array]
    if isinstance(e, d.Scalar):
        return ptypes[e.name]
    if isinstance(e, d.Local):
        return ltypes.get(e.name)
    if isinstance(e, (d.Const, d.Index)):
        return None
    if isinstance(e, d.Cast):
        value_type(e.operand, ptypes, ltypes, loc)  # mixed types inside are an error too
        return cast_target(e, ptypes)
    if isinstance(e, d.PowValue):
        return _pow_type(e, ptypes, ltypes, loc)
    if isinstance(e, d.Select):
        value_type(e.cond, ptypes, ltypes, loc)
        kids = (e.if_true, e.if_false)
    elif isinstance(e, (d.Logic, d.Not)):
        for c in d.expr_children(e):
            value_type(c, ptypes, ltypes, loc)
        return None
    else:
        kids = d.expr_children(e)
    typed = [t for t in (value_type(c, ptypes, ltypes, loc) for c in kids) if t is not None]
    if len(set(typed)) > 1:
        fail(loc, f"expression mixes element types {typed[0].name} and {typed[1].name}; "
                  "unrollkit has no implicit conversions")
    ty = typed[0] if typed else None
    integer = ty is not None and not ty.is_float and not ty.is_generic
    if isinstance(e, d.Math) and integer and e.fn != "abs":
        fail(loc, f"{e.fn}() of an {ty.name} value: it takes floating-point values "
                  f"(convert first: uk.f64(x))")
    if isinstance(e, d.Pow) and integer and \
            (isinstance(e.exponent, float) or e.exponent < 0):
        fail(loc, f"** {e.exponent} of an {ty.name} value: integers take exponents 0, 1, 2, ...")
    return ty


def _is_int(ty: ElementType | None) -> bool:
    return ty is not None and not ty.is_float and not ty.is_generic


#: why ``x ** y`` by a value takes float bases only
INT_POW = ("an integer base takes an int literal exponent from 0 to 64 only (numpy raises on "
           "an integer to a negative power, which compiled code cannot): convert the base, "
           "e.g. uk.f64(x) ** y")


def _pow_type(e: d.PowValue, ptypes: dict, ltypes: dict, loc: d.Loc) -> ElementType | None:
    """The type of ``x ** y`` by a value: the base's, else a float exponent's (``2.0 **
    alpha``); a float exponent of another type than the base is a mix; an int base an error."""
    bt = value_type(e.base, ptypes, ltypes, loc)
    et = value_type(e.exponent, ptypes, ltypes, loc)
    if bt is not None and et is not None and not _is_int(et) and et != bt:
        fail(loc, f"expression mixes element types {bt.name} and {et.name} in x ** y; "
                  "unrollkit has no implicit conversions (an integer exponent is converted)")
    ty = bt if bt is not None else et if not _is_int(et) else None
    if _is_int(ty):
        fail(loc, f"x ** y of an {ty.name} base: {INT_POW}")
    return ty


def exponent_type(e: d.PowValue, ty: ElementType, ptypes: dict, ltypes: dict, loc: d.Loc) -> ElementType:
    """The type the exponent of ``x ** y`` (evaluated in ``ty``) is computed in before it is
    converted to ``ty``: its own, or ``ty`` for literals and indices."""
    return value_type(e.exponent, ptypes, ltypes, loc) or ty


def cast_target(e: d.Cast, ptypes: dict) -> ElementType:
    """The type ``uk.f32(x)`` converts to; for ``T(x)`` the type of the T array it names
    (`d.Cast.like`): T itself before the call binds it."""
    return ptypes[e.like] if e.like is not None else BY_NAME[e.to]


def cast_source(e: d.Cast, ptypes: dict, ltypes: dict, loc: d.Loc) -> ElementType:
    """The type ``uk.f32(x)`` converts from: ``x``'s, or for an untyped ``x`` (literals and
    indices) the target type itself (``uk.i8(300)`` is a literal that does not fit)."""
    return value_type(e.operand, ptypes, ltypes, loc) or cast_target(e, ptypes)


def _walk_to_casts(e: d.Expr):
    """The nodes of ``e`` evaluated in its own type: not below a `d.Cast` (whose operand has
    the type it converts from)."""
    yield e
    if isinstance(e, d.PowValue):  # the exponent is computed in its own type
        yield from _walk_to_casts(e.base)
    elif not isinstance(e, d.Cast):
        for c in d.expr_children(e):
            yield from _walk_to_casts(c)


def check_literals(e: d.Expr, ty: ElementType, loc: d.Loc, untyped: dict | None = None,
                   ptypes: dict | None = None, ltypes: dict | None = None):
    """Literals of ``e`` as values of ``ty`` (`d.literal_problem`), through the untyped locals
    it uses (``untyped``: name → (value, loc)), which take the type of each use, and the
    operands of conversions in the type each converts from."""
    for x in _walk_to_casts(e):
        if isinstance(x, d.Cast):
            src = cast_source(x, ptypes or {}, ltypes or {}, loc)
            check_literals(x.operand, src, loc, untyped, ptypes, ltypes)
        if isinstance(x, d.PowValue):
            if _is_int(ty):
                fail(loc, f"x ** y in an {ty.name} expression: {INT_POW}")
            et = exponent_type(x, ty, ptypes or {}, ltypes or {}, loc)
            check_literals(x.exponent, et, loc, untyped, ptypes, ltypes)
        if isinstance(x, d.Const) and isinstance(x.value, float) and not ty.is_float:
            fail(loc, f"float literal {x.value!r} in an {ty.name} expression")
        if isinstance(x, d.Const) and d.literal_problem(x.value, ty):
            fail(loc, d.literal_problem(x.value, ty))
        if isinstance(x, d.Local) and untyped and x.name in untyped:
            check_literals(untyped[x.name][0], ty, untyped[x.name][1], untyped, ptypes, ltypes)
        if isinstance(x, d.BinOp) and x.op == "/" and not ty.is_float:
            fail(loc, f"'/' on {ty.name} values: integer division is not supported (it can trap)")


class _Variable:
    """One local variable: every assignment to a name visible in one scope (``acc = 0.0`` and
    the ``acc += ...`` of the loops inside it) shares it, and its element type; ``uses``: the
    types it is evaluated in where typed values surround it (for a carried one of literals)."""
    __slots__ = ("name", "type", "lets", "carried", "uses")

    def __init__(self, name):
        self.name, self.type, self.lets, self.carried, self.uses = name, None, [], False, set()


def use_types(e: d.Expr, ty, ptypes: dict, ltypes: dict, loc: d.Loc):
    """``(name, type)`` of each local that ``e``, evaluated in type ``ty``, reads: a
    comparison's operands are evaluated in the type they compare in (None when untyped)."""
    if isinstance(e, d.Local):
        if ty is not None:
            yield e.name, ty
        return
    if isinstance(e, d.Compare):
        ty = value_type(d.BinOp("+", e.lhs, e.rhs), ptypes, ltypes, loc)
    elif isinstance(e, d.Cast):
        ty = value_type(e.operand, ptypes, ltypes, loc)  # an untyped operand: none to adopt
    elif isinstance(e, d.PowValue):
        yield from use_types(e.base, ty, ptypes, ltypes, loc)
        yield from use_types(e.exponent, value_type(e.exponent, ptypes, ltypes, loc), ptypes, ltypes, loc)
        return
    for c in d.expr_children(e):
        yield from use_types(c, ty, ptypes, ltypes, loc)


def variable_types(body, ptypes: dict) -> dict:
    """The element type of the variable each `d.Let` of ``body`` assigns, by ``id(let)``: the
    type of its typed assignments (``acc = 0.0`` then ``acc += x[i]`` is a ``x``-typed
    variable; the literal takes that type), None for a variable of literals and indices
    only (re-emitted at each use) — unless a loop or an ``if`` carries it (``n = 0`` then
    ``n += 1``): then it takes the type its uses evaluate it in when they all agree
    (``out[i] = x[i] + n``: ``x``'s type, as numpy treats a Python int or float), else it is
    i64, or f64 if a float literal is among its values, as in Python. (`multi-acc` relies on
    this: its extra accumulators of ``acc += j`` start from a literal 0 and meet ``acc``.)
    Assignments of different types are a `KernelSyntaxError` at the assignment."""
    by_let, variables = {}, []

    def note_uses(e, ty, scope, loc):
        ltypes = {n: v.type for n, v in scope.items()}
        for name, t in use_types(e, ty, ptypes, ltypes, loc):
            if name in scope and scope[name].type is None:
                scope[name].uses.add(t)

    def block(stmts, scope, nested):
        changed = False
        for s in stmts:
            if isinstance(s, d.Loop):
                changed |= block(s.body, dict(scope), nested + 1)
            elif isinstance(s, d.If):
                note_uses(s.cond, None, scope, s.loc)
                changed |= block(s.then, dict(scope), nested + 1)
                changed |= block(s.orelse, dict(scope), nested + 1)
            elif isinstance(s, d.Store):
                note_uses(s.value, ptypes[s.array], scope, s.loc)
            elif isinstance(s, d.Let):
                var = scope.get(s.name)
                if var is None:
                    var = by_let.get(id(s)) or _Variable(s.name)
                    scope[s.name] = var
                elif nested > var_depth[id(var)]:
                    var.carried = True
                var_depth.setdefault(id(var), nested)
                if id(s) not in by_let:
                    by_let[id(s)] = var
                    var.lets.append(s)
                    variables.append(var)
                vt = value_type(s.value, ptypes, {n: v.type for n, v in scope.items()}, s.loc)
                if vt is not None and var.type is None:
                    var.type, changed = vt, True
                elif vt is not None and vt != var.type:
                    fail(s.loc, f"{s.name!r} holds {var.type.name} values and is assigned a "
                                f"{vt.name} value here; unrollkit has no implicit conversions")
                note_uses(s.value, var.type, scope, s.loc)
        return changed

    var_depth = {}
    while True:
        for _ in range(len(list(d.walk(body))) + 1):  # types only go from None to known
            if not block(body, {}, 0):
                break
        if not _type_carried_numbers(variables):
            break
    return {k: v.type for k, v in by_let.items()}


def _type_carried_numbers(variables: list) -> bool:
    """Give the carried variables still without a type one: the type their uses agree on (a
    Python number meeting typed values, numpy's rule), else, when none agrees, Python's own
    (i64, or f64 with a float literal among its values). False when none was left."""
    untyped = [v for v in {id(v): v for v in variables}.values() if v.carried and v.type is None]
    if not untyped:
        return False
    agreed = [v for v in untyped if len(v.uses) == 1]
    for var in agreed:
        var.type = next(iter(var.uses))
    if agreed:
        return True
    for var in untyped:
        floats = any(isinstance(x, d.Const) and isinstance(x.value, float)
                     for s in var.lets for x in d.walk_expr(s.value))
        var.type = BY_NAME["f64" if floats else "i64"]
    return True


def check_types(kernel: d.Kernel, ptypes: dict) -> dict:
    """Type-check every statement; returns the types of the variables by ``id(let)``."""
    vtypes = variable_types(kernel.body, ptypes)
    untyped = {}

    def block(body, ltypes):
        for s in body:
            if isinstance(s, d.Loop):
                block(s.body, dict(ltypes))
            elif isinstance(s, d.If):
                value_type(s.cond, ptypes, ltypes, s.loc)
                check_condition(s.cond, ptypes, ltypes, s.loc, untyped)
                block(s.then, dict(ltypes))
                block(s.orelse, dict(ltypes))
            elif isinstance(s, d.Let):
                ty = vtypes[id(s)]
                value_type(s.value, ptypes, ltypes, s.loc)  # mixed types are an error here
                if ty is not None:
                    check_literals(s.value, ty, s.loc, untyped, ptypes, ltypes)
                    check_condition(s.value, ptypes, ltypes, s.loc, untyped)
                else:  # built from literals and indices only; it takes the type of each use
                    untyped[s.name] = (d.inline_locals(s.value, {n: v[0] for n, v in untyped.items()}), s.loc)
                ltypes[s.name] = ty
            else:
                ty = ptypes[s.array]
                vt = value_type(s.value, ptypes, ltypes, s.loc)
                if vt is not None and vt != ty:
                    fail(s.loc, f"storing a {vt.name} value into {s.array}, an array of {ty.name}")
                check_literals(s.value, ty, s.loc, untyped, ptypes, ltypes)
                check_condition(s.value, ptypes, ltypes, s.loc, untyped)

    block(kernel.body, {})
    return vtypes


def compare_type(e, ptypes: dict, ltypes: dict, loc: d.Loc) -> ElementType:
    """The element type a comparison ``e`` compares in: its operands' type, else (indices and
    int literals only) i64, else f64 (a float literal)."""
    ty = value_type(d.BinOp("+", e.lhs, e.rhs), ptypes, ltypes, loc)
    if ty is not None:
        return ty
    floats = any(isinstance(x, d.Const) and isinstance(x.value, float)
                 for c in (e.lhs, e.rhs) for x in d.walk_expr(c))
    return BY_NAME["f64" if floats else "i64"]


def check_condition(e: d.Expr, ptypes, ltypes, loc: d.Loc, untyped: dict):
    """The literals of every comparison in ``e`` fit the type it compares in."""
    for x in d.walk_expr(e):
        if isinstance(x, d.Compare):
            ty = compare_type(x, ptypes, ltypes, loc)
            check_literals(d.BinOp("+", x.lhs, x.rhs), ty, loc, untyped, ptypes, ltypes)
