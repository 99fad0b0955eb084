"""Counting a module's operations and loops in one walk (what the pipeline records after every pass)."""
from __future__ import annotations

from mlir import ir

from unrollkit.ir.lower_affine import LOOP_NAME_ATTR


def census(root) -> tuple[int, set]:
    """(operations nested under ``root``, the source names of its loops) in one walk: what the
    pipeline checks after every pass (a walk from Python costs ~1 µs per operation, and an
    unrolled GEMM has tens of thousands)."""
    count, names, _ = census_flagging(root, None)  # (no operation is asked about)
    return count, names


def census_flagging(root, flag, flag_ops=frozenset()) -> tuple[int, set, bool]:
    """`census`, and whether ``flag(op)`` holds for an operation under ``root`` whose name is
    one of ``flag_ops`` (asked of those only: a call per operation would cost a third of
    the walk)."""
    count, names, flagged = -1, set(), False  # (root itself is visited, not counted)

    def visit(op):
        nonlocal count, flagged
        count += 1
        name = op.name
        if name == "affine.for" and LOOP_NAME_ATTR in op.attributes:
            names.add(ir.StringAttr(op.attributes[LOOP_NAME_ATTR]).value)
        elif name in flag_ops and not flagged:
            flagged = flag(op)
        return ir.WalkResult.ADVANCE

    (root.operation if hasattr(root, "operation") else root).walk(visit, ir.WalkOrder.PRE_ORDER)
    return count, names, flagged
