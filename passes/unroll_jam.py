"""``unroll-jam``: unroll an outer loop and fuse (jam) the copies of the loops inside it.

Options:
    loop (str, required): the source name of the loop to unroll; any depth.
    factor (int, 2): copies of the body; a loop with a constant trip count below the factor is
        unrolled by its trip count.
    remainder (str, "cleanup"): ``cleanup``: upstream's cleanup nest after the jammed one (a
        copy that keeps the loop's name; for a loop that may be empty with ``ub < lb`` it is
        split off as by ``peel-back``, see `unroll`); ``peel-back`` / ``peel-front``: the remainder split off
        first as ``<name>.rem`` (see `peel`), so the jammed loop has no cleanup.

Uses the transform dialect's ``transform.loop.unroll_and_jam`` on the named loops (upstream's
``affine-loop-unroll-jam`` pass only touches the first top-level loop of a function). A trip
count that the factor does not divide leaves a cleanup nest after the jammed one. Refused when
a dependence carried by the loop at a distance below factor × step would be reversed by
jamming (exact, on isl: unrollkit/analysis/legality.py), when the
loops inside have bounds that depend on it, or when the code would exceed the size budget.

Before → after (``unroll-jam{loop=i,factor=2}`` on gemm, M = 4)::

    affine.for %i = 0 to 4 {               affine.for %i = 0 to 4 step 2 {
      affine.for %k {                        affine.for %k {
        affine.for %j {              →         affine.for %j {
          C[i,j] += A[i,k]*B[k,j]                C[i,j]   += A[i,k]*B[k,j]
    }}}                                          C[i+1,j] += A[i+1,k]*B[k,j]
                                           }}}
"""
from __future__ import annotations

import dataclasses
from typing import ClassVar

from unrollkit.core.errors import TransformError
from unrollkit.ir.ir_utils import (bound_operands, bound_results, constant_trip_count, count_ops, iv_of, loop_name,
                                never_runs, walk_ops, has_iter_args)
from unrollkit.ir.transform_script import apply_to_groups

from .base import Pass, check_code_size, register, select_loops, check_int
from .dependence import check_unroll_jam
from .peel import peel_loop
from .unroll import own_cleanup
from mlir.dialects.transform import loop


@register
@dataclasses.dataclass(frozen=True)
class UnrollJam(Pass):
    """UnrollJam(loop, factor, remainder): the ``unroll-jam`` pass; `register` gives it the module
    docstring (options, before → after)."""
    name: ClassVar[str] = "unroll-jam"
    removes_loops: ClassVar[bool] = True
    loop: str = ""
    factor: int = 2
    remainder: str = "cleanup"

    def __post_init__(self):
        if self.remainder not in ("cleanup", "peel-back", "peel-front"):
            raise TransformError(f"unroll-jam remainder must be one of ['cleanup', 'peel-back', "
                                 f"'peel-front'], got {self.remainder!r}")
        check_int(self.factor, "unroll-jam factor")

    def apply(self, module) -> None:
        """Unroll every loop named ``loop`` by ``factor`` and jam the copies of the loops inside it,
        its remainder handled as ``remainder`` says."""
        if not self.loop:
            raise TransformError("unroll-jam needs loop=<name>: the loop whose copies are jammed")
        if self.factor == 1:
            return
        targets = select_loops(module, self.loop)
        what = f"unroll-and-jam loop {self.loop!r} by {self.factor}"
        total = count_ops(module.operation)
        groups = {}
        for op in targets:
            if has_iter_args(op) or any(has_iter_args(l) for l in walk_ops(op, "affine.for")):
                raise TransformError(f"cannot {what}: it or a loop inside it carries values (iter_args)")
            if bound_results(op) != (1, 1):
                raise TransformError(f"cannot {what}: its bounds are a min/max of several expressions "
                                     "(a partial tile of tile{...,separate=false}); MLIR's unroll-and-jam "
                                     "needs single-expression bounds")
            iv = iv_of(op)
            inner_loops = walk_ops(op, "affine.for")[1:]
            # values defined inside the loop: upstream's unroll-and-jam (areInnerBoundsInvariant)
            # fails without a reason when an inner loop's bounds use one, e.g. the point loop of
            # a tile whose tile loop sits inside the jammed loop
            inside = [iv_of(l) for l in inner_loops] + [r for o in walk_ops(op)[1:] for r in o.results]
            for inner in inner_loops:
                lbo, ubo = bound_operands(inner)
                if any(v == iv for v in list(lbo) + list(ubo)):
                    raise TransformError(f"cannot {what}: the bounds of loop {loop_name(inner)!r} "
                                         f"depend on {self.loop!r} (the copies could not be jammed)")
                for v in list(lbo) + list(ubo):
                    src = next((loop_name(l) for l in inner_loops if iv_of(l) == v), None)
                    if src is not None or any(v == x for x in inside):
                        raise TransformError(
                            f"cannot {what}: the bounds of loop {loop_name(inner)!r} use "
                            f"{'loop ' + repr(src) if src else 'a value computed'} inside "
                            f"{self.loop!r}; MLIR's unroll-and-jam needs the bounds of inner loops "
                            "invariant in the jammed loop (jam the tile loop's copies instead, or "
                            "tile after unroll-and-jam)")
            check_unroll_jam(op, what, self.factor)
            if self.remainder != "cleanup":
                op, _ = peel_loop(op, self.factor, self.remainder[len("peel-"):])
            else:
                op = own_cleanup(op, self.factor)  # upstream's cleanup bound is unclamped
            trips = constant_trip_count(op)
            f = self.factor if trips is None else min(self.factor, trips)
            total += count_ops(op) * (max(f, 1) - 1)
            check_code_size(f"unroll-and-jam by {self.factor}", self.loop, total)
            if f > 1 and not never_runs(op):  # an empty loop: nothing to jam (see own_cleanup)
                groups.setdefault(f, []).append(op)
        if not groups:
            return
        try:
            apply_to_groups(module, [(ops, lambda h, f=f: _jam(h, f)) for f, ops in groups.items()])
        except TransformError as exc:
            raise TransformError(f"cannot {what}: {exc}") from None


def _jam(handle, factor):
    loop.loop_unroll_and_jam(handle, factor)
