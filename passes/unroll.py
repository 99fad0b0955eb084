"""``unroll``: MLIR's structural unrolling of ``affine.for`` loops.

Options:
    factor (int, 4): copies of the body per iteration of the unrolled loop; 1 leaves it.
    loop (str, ""): the source name of the loop(s) to unroll; "" means every innermost loop.
    full (bool, false): unroll completely (the trip count must be a compile-time constant).
    up_to_factor (bool, true): a loop whose constant trip count is below the factor is unrolled
        fully (by its trip count); false leaves such loops rolled, as upstream does without
        ``unroll-up-to-factor``.
    remainder (str, "cleanup"): what happens to the trip count mod factor iterations:
        ``cleanup``: upstream's remainder loop after the unrolled one (it keeps the name); for
            a loop that may be empty with ``ub < lb`` (triangular) the remainder is split off
            as by ``peel-back`` instead (upstream's cleanup bound is unclamped there, see
            `own_cleanup`), and it also keeps the name;
        ``peel-back`` / ``peel-front``: the remainder split off first (see `peel`) as its own
            loop ``<name>.rem`` after / before the main loop, left rolled;
        ``unrolled-cleanup``: peel-back, then the remainder fully unrolled;
        ``pad``: the trip count rounded up (see `pad`: only for arrays padded by the caller).

Before → after (``unroll{loop=i,factor=2}``, trip count 5)::

    affine.for %i = 0 to 5 {          affine.for %i = 0 to 4 step 2 {
      S(%i)                     →        S(%i); S(%i + 1)
    } {uk.name = "i"}                  } {uk.name = "i"}
                                      affine.for %i = 4 to 5 { S(%i) }   // cleanup
"""
from __future__ import annotations

import dataclasses
from typing import ClassVar


from unrollkit.core.errors import TransformError
from unrollkit.ir.ir_utils import (bound_results, constant_trip_count, count_ops, distinct_inits,
                                   has_iter_args, loop_name, never_runs, set_loop_name,
                                   trip_count_divisor, trip_count_nonnegative, yields_from_body)
from unrollkit.ir.transform_script import apply_to_groups

from .base import Pass, check_code_size, register, select_loops, check_int
from .pad import pad_loop
from .peel import peel_loop
from mlir.dialects.transform import loop


@register
@dataclasses.dataclass(frozen=True)
class Unroll(Pass):
    """Unroll(factor, loop, full, up_to_factor, remainder): the ``unroll`` pass; `register` gives it
    the module docstring (options, before → after)."""
    name: ClassVar[str] = "unroll"
    scope_options: ClassVar[tuple] = ("loop",)
    removes_loops: ClassVar[bool] = True
    factor: int = 4
    loop: str = ""
    full: bool = False
    up_to_factor: bool = True
    remainder: str = "cleanup"

    def __post_init__(self):
        if self.remainder not in REMAINDERS:
            raise TransformError(f"unroll remainder must be one of {list(REMAINDERS)}, "
                                 f"got {self.remainder!r}")
        check_int(self.factor, "unroll factor")

    def apply(self, module) -> None:
        """Unroll each selected loop of ``module`` by ``factor`` (by its trip count when ``full`` or
        below the factor), its remainder handled as ``remainder`` says."""
        if self.factor == 1 and not self.full:
            return
        targets = select_loops(module, self.loop)
        if not self.up_to_factor and not self.full:
            targets = [op for op in targets
                       if (t := constant_trip_count(op)) is None or t >= self.factor]
        total = count_ops(module.operation)
        for op in targets:
            name = loop_name(op) or "<unnamed>"
            if not self.full and bound_results(op) != (1, 1):
                raise TransformError(
                    f"cannot unroll loop {name!r}: its bounds use min()/max(), and MLIR's affine "
                    "unroller only handles single-expression bounds; unroll another loop, or "
                    "fully unroll a constant-trip loop")
            trips = constant_trip_count(op)
            if self.full and trips is None:
                raise TransformError(f"cannot fully unroll loop {name!r}: its trip count is not a "
                                     "compile-time constant")
            copies = trips if self.full else min(self.factor, trips if trips is not None else self.factor)
            body = count_ops(op)
            total += body * (max(copies, 1) - 1)
            check_code_size("full unroll" if self.full else f"unrolling by {self.factor}", name, total)
        if not self.full and self.remainder != "cleanup":
            targets = _split_remainders(targets, self.factor, self.remainder)
        elif not self.full:
            targets = [own_cleanup(op, self.factor) for op in targets]
        for op in targets:
            distinct_inits(op)
            yields_from_body(op)
        # Per loop: a trip count below the factor means a full unroll (like `#pragma unroll 8`
        # on a 6-trip loop); 0 or 1 iterations leave nothing to unroll (upstream fails on them).
        groups = {}
        for op in targets:
            trips = constant_trip_count(op)
            f = trips if self.full else (self.factor if trips is None else min(self.factor, trips))
            # a loop that provably never iterates is left alone: unrolling it changes nothing,
            # and upstream would give it a cleanup loop with unclamped bounds (see own_cleanup)
            if f is not None and f > 1 and not never_runs(op):
                groups.setdefault(f, []).append(op)
        if not groups:
            return
        names = sorted({loop_name(op) or "<unnamed>" for op in targets})
        try:
            apply_to_groups(module, [(ops, lambda h, f=f: _unroll_op(h, f)) for f, ops in groups.items()])
        except TransformError as exc:
            raise TransformError(f"cannot unroll loop(s) {names} by {self.factor}: {exc}") from None


REMAINDERS = ("cleanup", "peel-back", "peel-front", "unrolled-cleanup", "pad")


def _split_remainders(targets, factor, remainder):
    """Peel or pad each target; returns the loops to unroll by ``factor`` (remainders of
    ``unrolled-cleanup`` are unrolled fully right here)."""
    mains = []
    for op in targets:
        if remainder == "pad":
            mains.append(pad_loop(op, factor))
            continue
        main, rem = peel_loop(op, factor, "front" if remainder == "peel-front" else "back")
        if main is not None:
            mains.append(main)
        if rem is not None and remainder == "unrolled-cleanup":
            trips = constant_trip_count(rem)
            if trips is None:
                raise TransformError(f"cannot fully unroll the remainder of loop {loop_name(rem)!r}: "
                                     "its trip count is not a compile-time constant")
            if trips > 1:
                yields_from_body(rem)
                try:
                    apply_to_groups(_module_of(rem), [([rem], lambda h, t=trips: _unroll_op(h, t))])
                except TransformError as exc:
                    raise TransformError(f"cannot unroll the remainder loop {loop_name(rem)!r}: {exc}") from None
    return mains


def own_cleanup(op, factor):
    """Split off the cleanup of ``op`` ourselves when upstream's would be wrong; returns the
    loop to hand to upstream's unroller (then with no cleanup to generate).

    Works around upstream MLIR's affine unroller (``loopUnrollByFactor`` /
    ``loopUnrollJamByFactor``, also behind ``transform.loop.unroll[_and_jam]``): its cleanup
    loop starts at ``lb + (tc - tc mod f)·step`` with ``tc = ceildiv(ub - lb, step)`` unclamped,
    so a loop that is empty because ``ub < lb`` (``for j in range(i + 1, M - 1)`` with large i)
    gets a cleanup running from below ``lb`` up to ``ub``: iterations the loop never had, out
    of bounds. Such loops are peeled here with a clamped split (see `peel_loop`); the
    remainder keeps the loop's name, like upstream's cleanup loop."""
    if (factor <= 1 or trip_count_nonnegative(op) or bound_results(op) != (1, 1) or never_runs(op)
            or trip_count_divisor(op) % factor == 0):
        return op  # (with tc a multiple of f, upstream's cleanup starts at lb + tc·step >= ub)
    name = loop_name(op)
    if has_iter_args(op):
        raise TransformError(
            f"cannot unroll loop {name or '<unnamed>'!r} by {factor}: it may run no iterations with "
            "its upper bound below its lower bound (e.g. a triangular loop), where MLIR's cleanup "
            "loop would run iterations outside it, and it carries values (iter_args), so its "
            "remainder cannot be split off instead; unroll it before split-accumulators/vectorize")
    main, rem = peel_loop(op, factor, "back")
    if rem is not None and name is not None:
        set_loop_name(rem, name)
    return main


def _module_of(op):
    while op.parent is not None:
        op = op.parent
    return op


def _unroll_op(handle, factor):
    loop.loop_unroll(handle, factor)
