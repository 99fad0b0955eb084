"""``in-bounds``: mark vector transfers ``in_bounds`` where their lanes provably stay in the array.

Options: none.

Why: a ``vector.transfer_read``/``transfer_write`` not marked in bounds lowers to a masked
load or store, and LLVM cannot keep a masked access in a register across a loop: a GEMM
register tile whose C transfers are masked is reloaded and stored at every k (measured here
at 1024³: 28 GFLOP/s masked, 160 in bounds). `vectorize` marks what its own interval check
proves, but that check bounds every loop variable independently; a point loop nested in two
levels of tiles (``j`` in ``jr`` in ``jc``) needs the relation between them. This pass uses
the relational analysis of the IR bounds check (`unrollkit.ir_bounds`: bounds substituted
innermost first, steps followed), the same proof that admits the code to run.

Before → after::

    vector.transfer_read %C[%i, %j], %pad : memref<1024x1024xf32>, vector<16xf32>
      →  vector.transfer_read %C[%i, %j], %pad {in_bounds = [true]} : ...
"""
from __future__ import annotations

import dataclasses
from typing import ClassVar

from mlir import ir

from unrollkit import ir_bounds
from unrollkit.ir_utils import enclosing_loops, walk_ops

from .base import Pass, register

_TRANSFERS = ("vector.transfer_read", "vector.transfer_write")


@register
@dataclasses.dataclass(frozen=True)
class InBounds(Pass):
    name: ClassVar[str] = "in-bounds"

    def apply(self, module) -> None:
        for op in walk_ops(module):
            if op.name in _TRANSFERS and not _marked(op) and _proved(op):
                n = len(ir.ArrayAttr(op.attributes["in_bounds"])) if "in_bounds" in op.attributes else 1
                op.attributes["in_bounds"] = ir.ArrayAttr.get([ir.BoolAttr.get(True)] * n)


def _marked(op) -> bool:
    if "in_bounds" not in op.attributes:
        return False
    return all(ir.BoolAttr(a).value for a in ir.ArrayAttr(op.attributes["in_bounds"]))


def _proved(op) -> bool:
    """Every lane of every dimension inside the memref, over the enclosing loops' ranges."""
    if "permutation_map" in op.attributes:
        pmap = ir.AffineMapAttr(op.attributes["permutation_map"]).value
        if pmap != ir.AffineMap.get_minor_identity(pmap.n_dims, len(pmap.results)):
            return False
    acc = ir_bounds._accesses(op)
    if acc is None:
        return False
    mem, _, operands, vshape = acc
    try:
        shape = list(ir.MemRefType(mem.type).shape)
    except ValueError:
        return False
    if any(s < 0 for s in shape):
        return False  # dynamic: nothing to compare with
    an = ir_bounds._Analysis()
    scope = []
    for loop in enclosing_loops(op):
        an.loops[ir_bounds._key(loop)] = loop
        scope.append(ir_bounds._key(loop))
    extents = [1] * (len(shape) - len(vshape)) + list(vshape)
    try:
        for x, n, ext in zip(operands, shape, extents):
            f = an.value(x, scope)
            lo, hi = an.extreme(f, False, scope), an.extreme(f, True, scope) + ext - 1
            if lo < 0 or hi >= n:
                return False
    except (ir_bounds._Unknown, KeyError, StopIteration):
        return False
    return True
