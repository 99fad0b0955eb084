"""Small helpers over MLIR operations shared by passes and the cost model."""
from __future__ import annotations

from mlir import ir

from .lower_affine import LOOP_NAME_ATTR


def walk_ops(root, name: str | None = None) -> list:
    """Every operation under ``root`` (pre-order), optionally only those named ``name``."""
    out = []

    def visit(op):
        if name is None or op.name == name:
            out.append(op)
        return ir.WalkResult.ADVANCE

    (root.operation if hasattr(root, "operation") else root).walk(visit, ir.WalkOrder.PRE_ORDER)
    return out


def loop_name(op) -> str | None:
    attrs = op.attributes
    return ir.StringAttr(attrs[LOOP_NAME_ATTR]).value if LOOP_NAME_ATTR in attrs else None


def affine_loops(module) -> list:
    return walk_ops(module, "affine.for")


def is_innermost(loop_op) -> bool:
    return not any(o.name == "affine.for" for o in walk_ops(loop_op)[1:])


def count_ops(op) -> int:
    return len(walk_ops(op)) - 1


def constant_trip_count(loop_op) -> int | None:
    """Trip count of an ``affine.for`` whose bounds are constants, else None."""
    lb = ir.AffineMapAttr(loop_op.attributes["lowerBoundMap"]).value
    ub = ir.AffineMapAttr(loop_op.attributes["upperBoundMap"]).value
    step = ir.IntegerAttr(loop_op.attributes["step"]).value
    try:
        lo = max(ir.AffineConstantExpr(e).value for e in lb.results)
        hi = min(ir.AffineConstantExpr(e).value for e in ub.results)
    except (ValueError, TypeError):
        return None
    return max(0, -(-(hi - lo) // step))
