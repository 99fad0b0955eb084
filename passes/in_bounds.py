"""``in-bounds``: mark vector transfers ``in_bounds`` where their lanes provably stay in the array.

Options: none.

Why: a ``vector.transfer_read``/``transfer_write`` not marked in bounds lowers to a masked
load or store, and LLVM cannot keep a masked access in a register across a loop: a GEMM
register tile whose C transfers are masked is reloaded and stored at every k (measured here
at 1024³: 28 GFLOP/s masked, 160 in bounds). `vectorize` marks what its own interval check
proves, but that check bounds every loop variable independently; a point loop nested in two
levels of tiles (``j`` in ``jr`` in ``jc``) needs the relation between them. This pass asks
the exact isl proof that admits the code to run (`unrollkit.analysis.module_bounds`:
domains with steps, ``min``/``max`` bounds and conditions; every lane of the transfer).

Before → after::

    vector.transfer_read %C[%i, %j], %pad : memref<1024x1024xf32>, vector<16xf32>
      →  vector.transfer_read %C[%i, %j], %pad {in_bounds = [true]} : ...
"""
from __future__ import annotations

import dataclasses
from typing import ClassVar

from mlir import ir

from unrollkit.analysis.module_bounds import transfers_in_bounds

from .base import UNMARKED_TRANSFERS, Pass, register, unmarked_transfer


@register
@dataclasses.dataclass(frozen=True)
class InBounds(Pass):
    """InBounds(): the ``in-bounds`` pass; `register` gives it the module docstring (options, before
    → after)."""
    name: ClassVar[str] = "in-bounds"

    def loop_scope(self):
        """The nests holding a transfer not yet marked: nothing else can change (`UNMARKED_TRANSFERS`)."""
        return UNMARKED_TRANSFERS

    def apply(self, module) -> None:
        """Mark ``in_bounds`` every vector transfer of ``module`` whose lanes `transfers_in_bounds`
        proves inside its array."""
        for op in transfers_in_bounds(module):
            if unmarked_transfer(op):
                n = len(ir.ArrayAttr(op.attributes["in_bounds"])) if "in_bounds" in op.attributes else 1
                op.attributes["in_bounds"] = ir.ArrayAttr.get([ir.BoolAttr.get(True)] * n)
