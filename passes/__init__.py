"""Loop transformations over the affine IR, one pass per file, registered by name.

A pass is a small frozen dataclass: its fields are its options, its docstring shows them with
a before → after sketch, and ``apply(module)`` rewrites an ``mlir.ir.Module`` in place.
`REGISTRY` maps each pass name (as used in pipeline text) to its class.
"""
from __future__ import annotations

from .base import REGISTRY, Pass, register  # noqa: F401  (the registry is the public face)
from . import unroll  # noqa: F401  (each import registers its pass)

__all__ = ["REGISTRY", "Pass", "register"]
