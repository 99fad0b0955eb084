"""``cse``: MLIR's common-subexpression elimination (identical pure ops computed once).

Options: none. Loads are not merged across stores (they are not pure); use `scalar-replace`.

Before → after (after unrolling, the copies recompute the same index)::

    %a = affine.apply #map(%i)          %a = affine.apply #map(%i)
    %b = affine.apply #map(%i)    →     (uses of %b read %a)
"""
from __future__ import annotations

import dataclasses
from typing import ClassVar

from unrollkit.ir.mlir_passes import run_upstream

from .base import Pass, register


@register
@dataclasses.dataclass(frozen=True)
class CSE(Pass):
    """CSE(): the ``cse`` pass; `register` gives it the module docstring (options, before → after)."""
    name: ClassVar[str] = "cse"

    def apply(self, module) -> None:
        """Run MLIR's common-subexpression elimination on ``module`` in place."""
        run_upstream("cse", module)
