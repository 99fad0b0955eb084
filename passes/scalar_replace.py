"""``scalar-replace``: MLIR's affine scalar replacement (``affine-scalrep``): a load of an
element just stored, or loaded, in the same iteration reads the value instead of memory, and
stores that are overwritten before any read are removed.

Options: none.

Before → after (gemm unroll-jammed on i: ``A[i,k]`` loaded twice in one body)::

    %a = affine.load %A[%i, %k]         %a = affine.load %A[%i, %k]
    %b = affine.load %A[%i, %k]   →     (uses of %b read %a)
"""
from __future__ import annotations

import dataclasses
from typing import ClassVar

from unrollkit.ir.mlir_passes import run_upstream

from .base import Pass, register


@register
@dataclasses.dataclass(frozen=True)
class ScalarReplace(Pass):
    """ScalarReplace(): the ``scalar-replace`` pass; `register` gives it the module docstring
    (options, before → after)."""
    name: ClassVar[str] = "scalar-replace"

    def apply(self, module) -> None:
        """Run MLIR's affine scalar replacement (``affine-scalrep``) on ``module`` in place."""
        run_upstream("scalar-replace", module)
