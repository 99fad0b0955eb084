"""``split-accumulators``: k independent accumulators for a reduction, combined after the loop.

Options:
    loop (str, ""): the source name of the reduction loop; "" means every innermost loop.
    accumulators (int, 4): how many partial results; iteration n adds into accumulator n mod k.

A reduction is ``M[idx] = M[idx] ⊕ x`` directly in the loop's body, with ``idx`` invariant in
the loop and ``⊕`` one of addf, addi, mulf, muli, maximumf, minimumf, maxsi, minsi. The loop is
first peeled to a multiple of k (the remainder ``<name>.rem`` runs afterwards on memory, see
`peel`), then rewritten with ``affine.for`` iter_args: accumulator 0 starts from ``M[idx]``,
the others from ⊕'s identity; after the loop a balanced tree combines them and stores once.
Floating-point sums are reassociated (that is the point: k independent FMA chains instead of
one), so results differ from the sequential sum by rounding.

Refused, naming the loop: no reduction in its body; the reduced element is accessed elsewhere in
the loop (other elements of its array may be); the reduction sits in a loop nested inside (make the reduction loop innermost first,
e.g. ``permute{order=i:j:k}`` for gemm's k); bounds that are a min/max (a partial tile).

Before → after (``split-accumulators{loop=i,accumulators=2}`` on dot, N = 8)::

    affine.for %i = 0 to 8 {                 %a0 = load out[0]
      %o = load out[0]                       %r:2 = affine.for %i = 0 to 8 step 2
      out[0] = %o + x[i]*y[i]        →           iter_args(%s0 = %a0, %s1 = 0.0) {
    }                                          yield %s0 + x[i]*y[i], %s1 + x[i+1]*y[i+1] }
                                           store %r#0 + %r#1, out[0]
"""
from __future__ import annotations

import dataclasses
from typing import ClassVar

from mlir import ir
from mlir.dialects import affine, arith

from unrollkit.analysis.legality import touches_element_of
from unrollkit.core.errors import TransformError
from unrollkit.ir.ir_utils import (body_ops, bound_maps, bound_operands, clone_into, copy_attributes,
                                count_ops, has_iter_args, iv_of, loop_name, never_runs, step_of,
                                walk_ops)

from .base import Pass, check_code_size, register, select_loops, check_int
from .dependence import Access
from .peel import peel_loop

#: reduction op → identity (None: idempotent, the initial value itself serves)
REDUCTIONS = {"arith.addf": 0.0, "arith.addi": 0, "arith.mulf": 1.0, "arith.muli": 1,
              "arith.maximumf": None, "arith.minimumf": None, "arith.maxsi": None, "arith.minsi": None}


def find_reductions(loop) -> list:
    """[(load, combine op, store)] for each reduction directly in ``loop``'s body."""
    name = loop_name(loop) or "<unnamed>"
    iv = iv_of(loop)
    out = []
    stores = [op for op in body_ops(loop) if op.name == "affine.store"]
    for st in stores:
        value = st.operands[0]
        red = value.owner if isinstance(value, ir.OpResult) else None
        if red is None or red.name not in REDUCTIONS or red.parent != loop:
            continue
        acc = Access(st)
        if any(f is None or loop in f[0] for f in acc.forms) or iv in list(st.operands)[2:]:
            continue
        if not all(_defined_outside(v, loop) for v in list(st.operands)[2:]):
            continue  # its load is hoisted before the loop: its indices must exist there
        for operand in red.operands:
            ld = operand.owner if isinstance(operand, ir.OpResult) else None
            if (ld is not None and ld.name == "affine.load" and ld.parent == loop
                    and ld.operands[0] == st.operands[1]
                    and list(ld.operands)[1:] == list(st.operands)[2:]
                    and str(ld.attributes["map"]) == str(st.attributes["map"])):
                uses = list(operand.uses)
                if len(uses) != 1:
                    raise TransformError(f"cannot split accumulators of loop {name!r}: the value "
                                         f"loaded from {acc.memref.get_name()} is used besides the reduction")
                others = [op for op in walk_ops(loop)
                          if op.name in ("affine.load", "affine.store") and op not in (ld, st)
                          and Access(op).memref == acc.memref]
                # other elements of the array may be used (exact, isl): only the reduction's is
                # hoisted into accumulators
                if others and touches_element_of(loop, st, others):
                    raise TransformError(f"cannot split accumulators of loop {name!r}: "
                                         f"its element of {acc.memref.get_name()} is read or written "
                                         "elsewhere in it")
                out.append((ld, red, st))
                break
    return out


def _defined_outside(value, loop) -> bool:
    """Is ``value`` defined outside ``loop`` (not in its body, not its induction variable)?
    An index made inside the body (an unrolled copy's constant) is invariant but cannot be used
    by the load hoisted before the loop."""
    op = value.owner.owner if isinstance(value, ir.BlockArgument) else value.owner
    while op is not None:
        if op == loop:
            return False
        op = op.parent
    return True


@register
@dataclasses.dataclass(frozen=True)
class SplitAccumulators(Pass):
    """SplitAccumulators(loop, accumulators): the ``split-accumulators`` pass; `register` gives it
    the module docstring (options, before → after)."""
    name: ClassVar[str] = "split-accumulators"
    loop: str = ""
    accumulators: int = 4

    def __post_init__(self):
        a = self.accumulators
        check_int(a, "split-accumulators: accumulators")

    def apply(self, module) -> None:
        """Peel each selected reduction loop to a multiple of ``accumulators`` and make its main
        loop carry that many partial results, combined after it."""
        if self.accumulators == 1:
            return
        targets = select_loops(module, self.loop)
        total = count_ops(module.operation)
        plans = []
        for op in targets:
            name = loop_name(op) or "<unnamed>"
            if has_iter_args(op):
                raise TransformError(f"cannot split accumulators of loop {name!r}: it already carries values")
            reds = find_reductions(op)
            if not reds:
                nested = [s for s in walk_ops(op, "affine.store") if s.parent != op]
                hint = (f"; its stores are inside loop {loop_name(nested[0].parent)!r}: make {name!r} "
                        "the innermost loop first (permute)" if nested else "")
                raise TransformError(f"cannot split accumulators of loop {name!r}: no reduction "
                                     f"M[idx] = M[idx] op x with idx invariant in it{hint}")
            total += count_ops(op) * (self.accumulators - 1)
            check_code_size(f"{self.accumulators} accumulators", name, total)
            plans.append(op)
        for op in plans:
            main, _ = peel_loop(op, self.accumulators, "back")
            # a main loop that never runs (trip count below k at this size) stays a plain loop:
            # a zero-trip loop with iter_args would be folded away by the lowering's
            # canonicalization, which the loop-by-loop metadata of the pragma variant relies on not doing
            if main is not None and not never_runs(main):
                _split(main, self.accumulators)


def _split(loop, k: int) -> None:
    reds = find_reductions(loop)
    st = step_of(loop)
    lbm, ubm = bound_maps(loop)
    lbo, ubo = bound_operands(loop)
    ip = ir.InsertionPoint(loop)
    skip = set()
    inits = []
    with ip, loop.location:
        for ld, red, store in reds:
            first = clone_into([ld], {}, ip)[ld.result]
            ty = ld.result.type
            ident = REDUCTIONS[red.name]
            if ident is None:
                rest = [first] * (k - 1)
            else:
                attr = ir.FloatAttr.get(ty, ident) if isinstance(ident, float) else ir.IntegerAttr.get(ty, ident)
                c = arith.ConstantOp(ty, attr).result
                rest = [c] * (k - 1)
            inits += [first] + rest
            skip |= {ld, store}
        new = affine.AffineForOp(lbm, ubm, st * k, iter_args=inits,
                                 lower_bound_operands=list(lbo), upper_bound_operands=list(ubo))
    new = new.operation
    copy_attributes(loop, new)
    body = new.regions[0].blocks[0]
    niv, accs = body.arguments[0], list(body.arguments)[1:]
    yields = [None] * len(accs)
    with ir.InsertionPoint(body), loop.location:
        for c in range(k):
            if c == 0:
                civ = niv
            else:
                civ = affine.AffineApplyOp(ir.AffineMap.get(1, 0, [ir.AffineDimExpr.get(0) + c * st]),
                                           [niv]).result
            mapping = {iv_of(loop): civ}
            for r, (ld, red, store) in enumerate(reds):
                mapping[ld.result] = accs[r * k + c]
            mapping = clone_into([o for o in body_ops(loop) if o not in skip], mapping,
                                 ir.InsertionPoint(body))
            for r, (ld, red, store) in enumerate(reds):
                yields[r * k + c] = mapping[store.operands[0]]
        affine.AffineYieldOp(yields)
    after = ir.InsertionPoint(loop)
    with after, loop.location:
        for r, (ld, red, store) in enumerate(reds):
            parts = list(new.results)[r * k:(r + 1) * k]
            while len(parts) > 1:  # a balanced tree: independent combines
                nxt = []
                for a, b in zip(parts[0::2], parts[1::2]):
                    op = ir.Operation.create(red.name, results=[a.type], operands=[a, b],
                                             attributes={n: red.attributes[n] for n in red.attributes})
                    nxt.append(op.result)
                if len(parts) % 2:
                    nxt.append(parts[-1])
                parts = nxt
            clone_into([store], {store.operands[0]: parts[0]}, after)
    loop.erase()
