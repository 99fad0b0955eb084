"""Run MLIR transform-dialect ops on chosen payload operations, in process.

The chosen ops get a temporary ``uk.target`` attribute (the group's number); one named
sequence matches every group first, then applies each group's transform ops. Errors from
the interpreter become `TransformError`.
"""
from __future__ import annotations

from mlir import ir
from mlir.dialects import transform
from mlir.dialects.transform import interpreter, structured

from unrollkit.core.errors import TransformError
from unrollkit.ir.mlir_passes import diagnostics
from unrollkit.ir.ir_utils import walk_ops

MARK = "uk.target"


def apply_to_groups(module, groups) -> None:
    """``groups``: [(ops, build)]; ``build(handle)`` emits transform ops for that group's ops."""
    i64 = ir.IntegerType.get_signless(64)
    for g, (ops, _) in enumerate(groups):
        for op in ops:
            op.attributes[MARK] = ir.IntegerAttr.get(i64, g)
    try:
        script = ir.Module.create()
        script.operation.attributes["transform.with_named_sequence"] = ir.UnitAttr.get()
        with ir.InsertionPoint(script.body):
            anyop = transform.AnyOpType.get()
            seq = transform.NamedSequenceOp("__transform_main", [anyop], [])
            with ir.InsertionPoint(seq.body):
                handles = [structured.MatchOp(
                    anyop, seq.bodyTarget, ops=None,
                    op_attrs=ir.DictAttr.get({MARK: ir.IntegerAttr.get(i64, g)})).result
                    for g in range(len(groups))]
                for h, (_, build) in zip(handles, groups):
                    build(h)
                transform.YieldOp([])
        try:
            interpreter.apply_named_sequence(module.operation, seq, script)
        except (ir.MLIRError, ValueError) as exc:
            raise TransformError(_diag(exc)) from None
    finally:
        for op in walk_ops(module):
            if MARK in op.attributes:
                del op.attributes[MARK]


def _diag(exc) -> str:
    return diagnostics(exc).replace("Failed to apply named transform sequence.\n", "").strip()
