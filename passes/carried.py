"""Reductions carried in ``affine.for`` ``iter_args``, for the passes that reassociate them.

A scalar accumulator of the kernel language (``acc = 0.0; for k ...: acc += a[k] * b[k]``) is
lowered as a loop-carried value::

    %r = affine.for %k = 0 to N iter_args(%acc = %init) -> (f32) {
      %p = arith.mulf %a, %b
      %s = arith.addf %acc, %p          // the combining op: one of `REDUCTIONS`
      affine.yield %s
    }

`carried_reductions` recognises such an accumulator under exactly the rule ``multi-acc``
applies to carried scalars in the descriptor (`unrollkit.codegen.macro_unroll.split_carried`):
the yielded value is ``acc ⊕ e`` for ⊕ one of `REDUCTIONS` (+, *, min, max; float or signed
integer), ``acc`` used by that one operation only, and ``acc ⊕ e`` used by the yield only.
Anything else a loop carries (a running value used in the body, ``acc = acc * c + x``, a
last-value ``m = x[k]``) is not a reduction and is refused by name. Reassociating the ⊕ chain
is what ``vector-acc`` and ``multi-acc`` already do for memory accumulators (``out[0] +=``):
float sums and products then differ from the sequential ones by rounding, exactly as theirs do.

`peel_carried` splits such a loop like `peel` does a plain one: the main part (a multiple of
the factor) carries the accumulators from the loop's initial values, the remainder
``<name>.rem`` starts from the main part's results, and the uses of the loop's results read
the remainder's.
"""
from __future__ import annotations

from mlir import ir
from mlir.dialects import affine

from unrollkit.core.errors import TransformError
from unrollkit.ir.ir_utils import (bound_maps, bound_operands, constant_trip_count, copy_attributes,
                                   dedup_operands, loop_name, never_runs, set_loop_name, shifted,
                                   split_point, step_of, trip_count_divisor, trip_count_nonnegative)

from .split_accumulators import REDUCTIONS

REM_SUFFIX = ".rem"


def iter_inits(loop) -> list:
    """The initial values of ``loop``'s iter_args (its operands after the bound operands)."""
    lbm, ubm = bound_maps(loop)
    return list(loop.operands)[lbm.n_inputs + ubm.n_inputs:]


def carried_reductions(loop, what: str) -> list:
    """[(iter_arg position, combining op)] of every value ``loop`` carries, each a reduction
    ``acc = acc ⊕ e`` (see the module docstring); a `TransformError` naming the loop, the value
    and ``what`` (the pass: "vectorize") for one that is not (reassociating it would change
    what the kernel computes)."""
    block = loop.regions[0].blocks[0]
    yield_op = list(block.operations)[-1]
    out = []
    for n, arg in enumerate(list(block.arguments)[1:]):
        value = yield_op.operands[n]
        red = value.owner if isinstance(value, ir.OpResult) else None
        why = _not_a_reduction(loop, arg, red, value)
        if why:
            raise TransformError(
                f"cannot {what} loop {loop_name(loop) or '<unnamed>'!r}: the value #{n} it carries "
                f"is not a reduction acc = acc op e (op one of + * min max, acc used by that op "
                f"only): {why}; reassociating it would change what the loop computes")
        out.append((n, red))
    return out


def _not_a_reduction(loop, arg, red, value) -> str:
    """Why the iter_arg ``arg`` yielded as ``value`` (made by ``red``) is no reduction, or ""."""
    if red is None or red.parent != loop:
        return "the loop yields a value not computed in its body"
    if red.name not in REDUCTIONS:
        return f"it is updated by {red.name}"
    if arg not in list(red.operands):
        return f"{red.name} does not combine it directly (acc = f(acc) op e)"
    if len(list(arg.uses)) != 1:
        return "it is also read elsewhere in the body"
    if len(list(value.uses)) != 1:
        return "its updated value is also used in the body"
    return ""


def _rebuild(loop, lb, ub, inits, name):
    """``loop`` with bounds ``lb``/``ub`` ((map, operands)) and iter_args starting at ``inits``,
    its body moved (yield included); ``loop`` is left empty, for the caller to erase."""
    with ir.InsertionPoint(loop), loop.location:
        new = affine.AffineForOp(lb[0], ub[0], step_of(loop), iter_args=list(inits),
                                 lower_bound_operands=list(lb[1]), upper_bound_operands=list(ub[1]))
    new = new.operation
    copy_attributes(loop, new)
    set_loop_name(new, name)
    old, body = loop.regions[0].blocks[0], new.regions[0].blocks[0]
    for a, b in zip(old.arguments, body.arguments):
        a.replace_all_uses_with(b)
    for op in list(old.operations):
        body.append(op)
    return new


def peel_carried(loop, factor: int):
    """Split the iter_args loop ``loop`` (back side) so its main part runs a multiple of
    ``factor`` iterations; returns (main loop, remainder or None) as `peel.peel_loop` does.
    The remainder carries on from the main part's results; ``loop`` is erased."""
    name = loop_name(loop) or "<unnamed>"
    if factor <= 1 or trip_count_divisor(loop) % factor == 0 or never_runs(loop):
        return loop, None
    at = split_point(loop, factor, False)
    lbm, ubm = bound_maps(loop)
    lbo, ubo = bound_operands(loop)
    rem_lb = at
    if not trip_count_nonnegative(loop):  # (see peel: an empty loop's split point lies outside it)
        exprs = shifted(at[0], 0) + shifted(lbm, at[0].n_dims)
        rem_lb = dedup_operands(ir.AffineMap.get(at[0].n_dims + lbm.n_dims, 0, exprs),
                                list(at[1]) + list(lbo))
    second = loop.clone(ir.InsertionPoint(loop))
    second.move_after(loop)
    for a, b in zip(loop.results, second.results):
        a.replace_all_uses_with(b)
    main = _rebuild(loop, (lbm, lbo), at, iter_inits(loop), name)
    loop.erase()
    rem = _rebuild(second, rem_lb, (ubm, ubo), list(main.results), name + REM_SUFFIX)
    for a, b in zip(second.results, rem.results):
        a.replace_all_uses_with(b)
    second.erase()
    if constant_trip_count(rem) == 0:
        for a, b in zip(rem.results, main.results):
            a.replace_all_uses_with(b)
        rem.erase()
        rem = None
    return main, rem
