"""``pad``: round a loop's trip count up to a multiple of ``factor`` (no remainder at all).

Options:
    loop (str, ""): the source name of the loop(s); "" means every innermost loop.
    factor (int, 4): the padded trip count is the next multiple of it.

The padded iterations really run: they read and write the elements past the loop's last
iteration. That is only correct when the caller allocated padded buffers (arrays larger than
the loop's range) and keeps neutral values (e.g. zeros for a sum) in the slack. The pass proves
the first half: every access in the padded loop must stay inside its array's static shape,
else it is refused with the array, the dimension and the index reached. unrollkit hands the
caller's arrays to the machine code as they are (no runtime padding or copying), so padding a
loop that already covers a whole array is always refused: a runtime that copied into padded
buffers would cost a copy per call and is not provided.

Before → after (``pad{loop=i,factor=4}``, arrays of 12 elements, loop 0..10)::

    affine.for %i = 0 to 10 { S(%i) }    →    affine.for %i = 0 to 12 { S(%i) }
"""
from __future__ import annotations

import dataclasses
from typing import ClassVar

from mlir import ir

from unrollkit.analysis.dependence import Model
from unrollkit.core.errors import TransformError
from unrollkit.ir.ir_utils import bound_maps, constant_trip_count, has_iter_args, loop_name, rebuild_loop, step_of, walk_ops

from .base import Pass, check_int, register, select_loops
from .dependence import Access


def pad_loop(op, factor: int):
    """Round ``op``'s trip count up to a multiple of ``factor``; returns the new loop."""
    name = loop_name(op) or "<unnamed>"
    trips = constant_trip_count(op)
    lbm, ubm = bound_maps(op)
    if has_iter_args(op):
        raise TransformError(f"cannot pad loop {name!r}: it carries values (iter_args)")
    if trips is None or len(lbm.results) != 1 or lbm.n_inputs:
        raise TransformError(f"cannot pad loop {name!r}: it needs constant bounds (its trip count "
                             "decides how far the padding reaches)")
    if trips % factor == 0:
        return op
    lo = ir.AffineConstantExpr(lbm.results[0]).value
    new_hi = lo + -(-trips // factor) * factor * step_of(op)
    model = Model(op, upper_bounds={op: new_hi})  # every access as if padded (exact, isl)
    for acc_op in walk_ops(op):
        if acc_op.name not in ("affine.load", "affine.store"):
            continue
        acc = Access(acc_op)
        shape = ir.MemRefType(acc.memref.type).shape
        spans = model.element_ranges(acc_op)
        if spans is None:
            raise TransformError(f"cannot pad loop {name!r}: cannot bound the subscripts of "
                                 f"{acc.memref.get_name()} (not affine functions of the loops)")
        for dim, span in enumerate(spans):
            if span[0] < 0 or span[1] >= shape[dim]:
                raise TransformError(
                    f"cannot pad loop {name!r} from {trips} to {-(-trips // factor) * factor} "
                    f"iterations: {acc.memref.get_name()} would be accessed at index {span[1]} of "
                    f"dimension {dim}, past its {shape[dim]} elements. unrollkit passes the "
                    "caller's arrays unpadded (no runtime padding), so `pad` needs arrays the "
                    "caller allocated larger than the loop's range; use remainder=cleanup or "
                    "peel-back instead")
    return rebuild_loop(op, ub=(ir.AffineMap.get(0, 0, [ir.AffineConstantExpr.get(new_hi)]), []))


@register
@dataclasses.dataclass(frozen=True)
class Pad(Pass):
    """Pad(loop, factor): the ``pad`` pass; `register` gives it the module docstring (options,
    before → after)."""
    name: ClassVar[str] = "pad"
    loop: str = ""
    factor: int = 4

    def __post_init__(self):
        check_int(self.factor, "pad factor")

    def apply(self, module) -> None:
        """Round the trip count of each selected loop up to a multiple of ``factor`` (`pad_loop`)."""
        for op in select_loops(module, self.loop):
            pad_loop(op, self.factor)
