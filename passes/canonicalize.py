"""``canonicalize``: MLIR's canonicalizer (folds constants, simplifies affine maps and bounds,
removes loops with no iterations, promotes single-iteration loops into their parent).

Options: none.

Before → after::

    %c = affine.apply affine_map<(d0) -> (d0 + 0)>(%i)     →   (uses of %c read %i)
    affine.for %j = 0 to 1 { S(%j) }                        →   S(0)
"""
from __future__ import annotations

import dataclasses
from typing import ClassVar

from unrollkit.ir.mlir_passes import run_upstream

from .base import Pass, register


@register
@dataclasses.dataclass(frozen=True)
class Canonicalize(Pass):
    """Canonicalize(): the ``canonicalize`` pass; `register` gives it the module docstring (options,
    before → after)."""
    name: ClassVar[str] = "canonicalize"
    removes_loops: ClassVar[bool] = True

    def apply(self, module) -> None:
        """Run MLIR's canonicalizer on ``module`` in place."""
        run_upstream("canonicalize", module)
