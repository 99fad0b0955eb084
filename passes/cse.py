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
    name: ClassVar[str] = "cse"

    def apply(self, module) -> None:
        run_upstream("cse", module)
