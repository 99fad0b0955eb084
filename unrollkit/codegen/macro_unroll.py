"""Macro unrolling: a descriptor rewrite that expands a loop body N times, like a C macro.

    for i in range(lo, hi):            for i in range(lo, lo + (hi - lo) // N * N, N):
        S(i)                     →         S(i); S(i + 1); ...; S(i + N - 1)
                                       for i in range(lo + (hi - lo) // N * N, hi):
                                           S(i)                       # remainder

The split point uses FloorDiv, which folds to a constant once sizes are known. Locals
assigned in the body are renamed per copy (``t`` → ``t_u1``) so copies do not clash. This
happens before MLIR sees the kernel: MLIR gets a loop with step N and N bodies, as the C
preprocessor would give a C compiler.
"""
from __future__ import annotations

from dataclasses import replace

from unrollkit.frontend import descriptor as d
from unrollkit.core.errors import TransformError
from unrollkit.passes.base import check_code_size


def shift_aff(e: d.Aff, var: str, k: int) -> d.Aff:
    """The affine expression ``e`` with loop variable ``var`` replaced by ``var + k``."""
    return d.aff_subst(e, {var: d.aff_add(d.Var(var), d.Lit(k))}) if k else e


def shift_expr(e: d.Expr, var: str, k: int, rename: dict) -> d.Expr:
    """The value expression ``e`` for the copy ``k`` iterations later: ``var`` shifted by ``k`` in
    every subscript and index, locals renamed by ``rename``."""
    if isinstance(e, d.Load):
        return d.Load(e.array, tuple(shift_aff(i, var, k) for i in e.index))
    if isinstance(e, d.Index):
        return d.Index(shift_aff(e.expr, var, k))
    if isinstance(e, d.Local):
        return d.Local(rename.get(e.name, e.name))
    return d.map_children(e, lambda c: shift_expr(c, var, k, rename))  # leaves: Const, Scalar


def shift_body(body: tuple, var: str, k: int, rename: dict, suffix: str,
               keep: frozenset = frozenset()) -> tuple:
    """One copy of ``body`` at ``var + k``; locals defined in it get ``suffix``, the ones in
    ``keep`` (defined before the loop: carried from copy to copy) keep their names."""
    out = []
    rename = dict(rename)
    for s in body:
        if isinstance(s, d.Let):
            value = shift_expr(s.value, var, k, rename)
            new = s.name + suffix if suffix and s.name not in keep else rename.get(s.name, s.name)
            rename[s.name] = new
            out.append(replace(s, name=new, value=value))
        elif isinstance(s, d.If):
            out.append(replace(s, cond=shift_expr(s.cond, var, k, rename),
                               then=shift_body(s.then, var, k, rename, suffix, keep | frozenset(rename)),
                               orelse=shift_body(s.orelse, var, k, rename, suffix, keep | frozenset(rename))))
        elif isinstance(s, d.Store):
            out.append(replace(s, index=tuple(shift_aff(i, var, k) for i in s.index),
                               value=shift_expr(s.value, var, k, rename)))
        else:
            out.append(replace(s, lower=tuple(shift_aff(b, var, k) for b in s.lower),
                               upper=tuple(shift_aff(b, var, k) for b in s.upper),
                               body=shift_body(s.body, var, k, rename, suffix, keep | frozenset(rename))))
    return tuple(out)


def split_loop(lp: d.Loop, factor: int, keep: frozenset = frozenset()) -> tuple:
    """``lp`` → (main loop with the body expanded ``factor`` times, remainder loop)."""
    if len(lp.lower) != 1 or len(lp.upper) != 1:
        raise TransformError(f"macro unrolling needs loop {lp.name!r} to have one lower and one "
                             "upper bound (no max()/min() bounds)")
    lo, hi, step = lp.lower[0], lp.upper[0], lp.step
    span = factor * step
    # iterations = ceil((hi - lo) / step); the main loop covers the first factor * (it // factor)
    trips = d.FloorDiv(d.aff_add(d.aff_add(hi, d.aff_mul(lo, -1)), d.Lit(step - 1)), step) \
        if step > 1 else d.aff_add(hi, d.aff_mul(lo, -1))
    split = d.aff_add(lo, d.aff_mul(d.FloorDiv(trips, factor), span))
    copies = []
    for u in range(factor):
        copies.extend(shift_body(lp.body, lp.var, u * step, {}, f"_u{u}" if u else "", keep))
    main = replace(lp, upper=(split,), step=span, body=tuple(copies))
    # an empty loop (hi < lo, e.g. a triangular range(i + 1, M) late in i) has negative
    # "trips" and a split point below lo: the remainder must still start no earlier than lo
    rest = replace(lp, lower=(split, lo))
    return main, rest


def macro_unroll(kernel: d.Kernel, factors: tuple) -> d.Kernel:
    """Expand loops by name (``(("k", 4),)``) or every innermost loop (``(("", 4),)``).

    The kernel keeps its name and parameters: it is the same function, written differently.
    An expansion over the code-size budget is a `CodeSizeError` before any copy is made.
    """
    by_name = {n: f for n, f in factors if n}
    inner = next((f for n, f in factors if not n), None)
    for n in by_name:
        if n not in kernel.loop_names():
            raise TransformError(f"kernel {kernel.name!r} has no loop named {n!r}; "
                                 f"its loops are {kernel.loop_names()}")

    def expand(s: d.Loop, visible: frozenset) -> tuple:
        innermost = not any(isinstance(c, d.Loop) for c in s.body)
        f = by_name.get(s.name, inner if innermost else None)
        if not f or f <= 1:
            return (s,)
        # refused before the copies exist: factor=100000 took 50 s to build and lower
        check_code_size(f"macro expansion by {f}", s.name, (f + 1) * d.ops_estimate(s.body),
                        block=f * d.ops_estimate(s.body, straight=True))
        return split_loop(s, f, visible)

    return replace(kernel, body=map_loops(kernel.body, frozenset(), expand))


def map_loops(body, visible: frozenset, on_loop) -> tuple:
    """``body`` with every loop (its own body rewritten first) replaced by the statements
    ``on_loop(loop, visible)`` returns; ``visible``: the locals defined before ``body`` (a
    loop's copies share them). Branches of an ``if`` are rewritten the same way."""
    out = []
    for s in body:
        if isinstance(s, d.Let):
            visible |= {s.name}
        if isinstance(s, d.If):
            s = replace(s, then=map_loops(s.then, visible, on_loop),
                        orelse=map_loops(s.orelse, visible, on_loop))
        if not isinstance(s, d.Loop):
            out.append(s)
            continue
        out.extend(on_loop(replace(s, body=map_loops(s.body, visible, on_loop)), visible))
    return tuple(out)


# ---------------------------------------------------------------- multi-acc on carried scalars
#: the combining operators of a scalar reduction ``acc = acc op e``; min/max start every
#: accumulator from ``acc`` itself (idempotent), + and * from their identities
_IDENTITY = {"+": 0, "*": 1}


def split_carried(kernel: d.Kernel, k: int, loop: str = "") -> d.Kernel | None:
    """``multi-acc`` for scalars carried by a loop: ``acc = acc op e(i)`` becomes ``k``
    accumulators (copy u of the body, ``i + u``, adds into ``acc_u{u}``), combined by a tree
    after the main loop; a remainder loop finishes on ``acc``. The loop (every innermost loop
    when ``loop`` is "") must be straight-line and carry reductions only. None when no such
    loop carries a scalar (then the memory reductions are the variant's business)."""
    if k <= 1:
        return None
    found = []

    def split(s: d.Loop, visible: frozenset) -> tuple:
        carried = d.assigned_names(s.body) & visible
        innermost = not any(isinstance(c, (d.Loop, d.If)) for c in s.body)
        if not carried or not (s.name == loop if loop else innermost):
            return (s,)
        found.append(s.name)
        return _split_reductions(s, k, carried, visible)

    new = replace(kernel, body=map_loops(kernel.body, frozenset(), split))
    return new if found else None


def _split_reductions(lp: d.Loop, k: int, carried: set, visible: frozenset) -> tuple:
    ops = {}
    for s in lp.body:
        if isinstance(s, (d.Loop, d.If)):
            raise TransformError(f"multi-acc: loop {lp.name!r} carries {sorted(carried)} but is not "
                                 "straight-line (a loop or if inside it)")
        if isinstance(s, d.Let) and s.name in carried:
            v = s.value
            ok = isinstance(v, d.BinOp) and v.op in ("+", "*", "min", "max") and s.name not in ops \
                and sum(isinstance(x, d.Local) and x.name == s.name for x in d.walk_expr(v)) == 1 \
                and d.Local(s.name) in (v.lhs, v.rhs)
            if not ok:
                raise TransformError(f"multi-acc: {s.name!r} in loop {lp.name!r} is not a reduction "
                                     f"{s.name} = {s.name} op e (op one of + * min max, {s.name} "
                                     "used once)")
            ops[s.name] = v.op
    used = {x.name for s in lp.body if not (isinstance(s, d.Let) and s.name in carried)
            for v in d.statement_values(s) for x in d.walk_expr(v) if isinstance(x, d.Local)}
    if used & carried:
        raise TransformError(f"multi-acc: loop {lp.name!r} reads {sorted(used & carried)[0]!r} "
                             "besides its reduction")
    if len(lp.lower) != 1 or len(lp.upper) != 1:
        raise TransformError(f"multi-acc: loop {lp.name!r} has max()/min() bounds")
    names = {(acc, u): f"{acc}_acc{u}" for acc in ops for u in range(1, k)}
    inits = tuple(d.Let(names[acc, u], d.Const(_IDENTITY[op]) if op in _IDENTITY else d.Local(acc), lp.loc)
                  for acc, op in ops.items() for u in range(1, k))
    lo, hi, step = lp.lower[0], lp.upper[0], lp.step
    trips = d.FloorDiv(d.aff_add(d.aff_add(hi, d.aff_mul(lo, -1)), d.Lit(step - 1)), step) \
        if step > 1 else d.aff_add(hi, d.aff_mul(lo, -1))
    split = d.aff_add(lo, d.aff_mul(d.FloorDiv(trips, k), k * step))
    copies = []
    for u in range(k):
        rename = {acc: names[acc, u] for acc in ops} if u else {}
        copies.extend(shift_body(lp.body, lp.var, u * step, rename, f"_u{u}" if u else "", visible))
    main = replace(lp, upper=(split,), step=k * step, body=tuple(copies))
    combine = []
    for acc, op in ops.items():
        parts = [d.Local(acc)] + [d.Local(names[acc, u]) for u in range(1, k)]
        while len(parts) > 1:  # a balanced tree: k independent chains meet in log2(k) steps
            parts = [d.BinOp(op, parts[i], parts[i + 1]) if i + 1 < len(parts) else parts[i]
                     for i in range(0, len(parts), 2)]
        combine.append(d.Let(acc, parts[0], lp.loc))
    return inits + (main,) + tuple(combine) + (replace(lp, lower=(split, lo)),)
