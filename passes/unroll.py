"""``unroll``: MLIR's structural unrolling of ``affine.for`` loops.

Options:
    factor (int, 4): copies of the body per iteration of the unrolled loop; 1 leaves it.
    loop (str, ""): the source name of the loop(s) to unroll; "" means every innermost loop.
    full (bool, false): unroll completely (the trip count must be a compile-time constant).

Before → after (``unroll{loop=i,factor=2}``, trip count 5)::

    affine.for %i = 0 to 5 {          affine.for %i = 0 to 4 step 2 {
      S(%i)                     →        S(%i); S(%i + 1)
    } {uk.name = "i"}                  } {uk.name = "i"}
                                      affine.for %i = 4 to 5 { S(%i) }   // cleanup
"""
from __future__ import annotations

import dataclasses
from typing import ClassVar

from mlir import ir

from unrollkit.errors import TransformError
from unrollkit.ir_utils import affine_loops, constant_trip_count, count_ops, is_innermost, loop_name
from unrollkit.transform_script import apply_to_groups

from .base import Pass, check_code_size, register


def select_loops(module, loop: str) -> list:
    """The affine.for ops a loop-targeting pass acts on: by source name, else innermost ones."""
    loops = affine_loops(module)
    if loop:
        chosen = [op for op in loops if loop_name(op) == loop]
        if not chosen:
            names = sorted({n for n in map(loop_name, loops) if n})
            raise TransformError(f"no loop named {loop!r}; the loops are {names}")
        return chosen
    return [op for op in loops if is_innermost(op)]


@register
@dataclasses.dataclass(frozen=True)
class Unroll(Pass):
    name: ClassVar[str] = "unroll"
    factor: int = 4
    loop: str = ""
    full: bool = False

    def __post_init__(self):
        if isinstance(self.factor, bool) or not isinstance(self.factor, int):
            raise TransformError(f"unroll factor must be an integer, got {self.factor!r}")
        if self.factor < 1:
            raise TransformError(f"unroll factor must be >= 1, got {self.factor}")

    def apply(self, module) -> None:
        if self.factor == 1 and not self.full:
            return
        targets = select_loops(module, self.loop)
        total = count_ops(module.operation)
        for op in targets:
            name = loop_name(op) or "<unnamed>"
            trips = constant_trip_count(op)
            if self.full and trips is None:
                raise TransformError(f"cannot fully unroll loop {name!r}: its trip count is not a "
                                     "compile-time constant")
            copies = trips if self.full else min(self.factor, trips if trips is not None else self.factor)
            body = count_ops(op)
            total += body * (max(copies, 1) - 1)
            check_code_size("full unroll" if self.full else f"unrolling by {self.factor}", name, total)
        # Per loop: a trip count below the factor means a full unroll (like `#pragma unroll 8`
        # on a 6-trip loop); 0 or 1 iterations leave nothing to unroll (upstream fails on them).
        groups = {}
        for op in targets:
            trips = constant_trip_count(op)
            f = trips if self.full else (self.factor if trips is None else min(self.factor, trips))
            if f is not None and f > 1:
                groups.setdefault(f, []).append(op)
        if not groups:
            return
        names = sorted({loop_name(op) or "<unnamed>" for op in targets})
        try:
            apply_to_groups(module, [(ops, lambda h, f=f: _unroll_op(h, f)) for f, ops in groups.items()])
        except TransformError as exc:
            raise TransformError(f"cannot unroll loop(s) {names} by {self.factor}: {exc}") from None


def _unroll_op(handle, factor):
    from mlir.dialects.transform import loop
    loop.loop_unroll(handle, factor)
