"""``peel``: split a loop so its main part's trip count is a multiple of ``factor``.

Options:
    loop (str, ""): the source name of the loop(s); "" means every innermost loop.
    factor (int, 4): the main part runs a multiple of this many iterations.
    side (str, "back"): where the remainder goes: ``back`` (an epilogue after the main loop)
        or ``front`` (a prologue before it).

Naming: the main loop keeps the name (``i``), the remainder is ``i.rem``; a remainder with no
iterations (the factor divides a constant trip count) is not emitted, while a main loop with
none (trip count below the factor) stays, empty, so later passes still find it by name; a pass
that targets ``i.rem`` when there is no remainder at this size does nothing (``i`` must exist). Later passes target
either part, e.g. ``peel{loop=i,factor=8},vectorize{loop=i}`` or ``unroll{loop=i.rem,full=true}``.
This is the building block of `unroll`'s remainder strategies (``remainder=peel-back``,
``peel-front``, ``unrolled-cleanup``). Refused for a loop whose bounds are a min/max of
several expressions (a partial tile of `tile`): the split point would not be affine.

Empty loops: the split point comes from the raw trip count ``ceildiv(ub - lb, step)``, which
is negative where a loop is empty because ``ub < lb`` (a triangular ``range(i + 1, M - 1)``
for large ``i``). Unless the bounds prove ``ub >= lb`` for every outer iteration, the
remainder's bound is clamped to the loop's (``max(split, lb)`` behind, ``min(split, ub)`` in
front); that remainder then has a min/max bound (`unroll` refuses it, the main loop is
unaffected). A loop the bounds prove never runs is not split at all.

Before → after (``peel{loop=i,factor=4}``, 0..10; ``side=front`` puts 0..2 first)::

    affine.for %i = 0 to 10 {         affine.for %i = 0 to 8 { S(%i) }  {uk.name = "i"}
      S(%i)                     →     affine.for %i = 8 to 10 { S(%i) } {uk.name = "i.rem"}
    } {uk.name = "i"}
"""
from __future__ import annotations

import dataclasses
from typing import ClassVar

from unrollkit.core.errors import TransformError
from unrollkit.ir.ir_utils import (constant_trip_count, count_ops, has_iter_args, loop_name,
                                split_loop, split_point, never_runs, trip_count_divisor,
                                trip_count_nonnegative)

from .base import Pass, check_code_size, register, select_loops, check_int

REM_SUFFIX = ".rem"
SIDES = ("back", "front")


def peel_loop(op, factor: int, side: str = "back"):
    """Split ``op``; returns (main loop, remainder loop or None). ``op`` is erased."""
    name = loop_name(op) or "<unnamed>"
    if has_iter_args(op):
        raise TransformError(f"cannot peel loop {name!r}: it carries values (iter_args)")
    if factor <= 1 or trip_count_divisor(op) % factor == 0 or never_runs(op):
        return op, None  # (also a main loop an earlier split made a multiple of ``factor``)
    front = side == "front"
    at = split_point(op, factor, front)
    # The split point is computed from the raw trip count ceildiv(ub - lb, step), which is
    # negative when the loop is empty with ub < lb (a triangular ``range(i + 1, M - 1)`` for
    # large i); then ``mod``/``floordiv`` put the split point outside [lb, ub] and the
    # remainder would run iterations the loop never had. Clamp the remainder's bound to the
    # loop's own (the main part is empty then either way, and keeps single-result bounds).
    clamp = "" if trip_count_nonnegative(op) else ("first" if front else "second")
    first, second = split_loop(op, at, name if not front else name + REM_SUFFIX,
                               name + REM_SUFFIX if not front else name, clamp=clamp)
    main, rem = (second, first) if front else (first, second)
    # an empty remainder is dropped; an empty main loop stays (trip count below the factor), so
    # passes that target it by name still find it
    if constant_trip_count(rem) == 0:
        rem.erase()
        rem = None
    return main, rem


@register
@dataclasses.dataclass(frozen=True)
class Peel(Pass):
    """Peel(loop, factor, side): the ``peel`` pass; `register` gives it the module docstring
    (options, before → after)."""
    name: ClassVar[str] = "peel"
    loop: str = ""
    factor: int = 4
    side: str = "back"

    def __post_init__(self):
        check_int(self.factor, "peel factor")
        if self.side not in SIDES:
            raise TransformError(f"peel side must be one of {list(SIDES)}, got {self.side!r}")

    def apply(self, module) -> None:
        """Split each selected loop into a main loop of a multiple of ``factor`` iterations and a
        remainder ``<name>.rem`` on ``side``, after a code-size check."""
        targets = select_loops(module, self.loop)
        total = count_ops(module.operation) + sum(count_ops(op) for op in targets)
        check_code_size("peeling", self.loop or "<innermost>", total)
        for op in targets:
            peel_loop(op, self.factor, self.side)
