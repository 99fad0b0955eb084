"""Loop transformations over the affine IR, one pass per file, registered by name.

A pass is a small frozen dataclass: its fields are its options, its docstring shows them with
a before → after sketch, and ``apply(module)`` rewrites an ``mlir.ir.Module`` in place.
`REGISTRY` maps each pass name (as used in pipeline text) to its class; `register_function`
(or the `function_pass` decorator) turns a Python function over the module into a pass.
"""
from __future__ import annotations

from .base import REGISTRY, Pass, register  # noqa: F401  (the registry is the public face)
# each import registers its pass(es)
from . import (unroll, unroll_jam, tile, permute, peel, pad, split_accumulators,  # noqa: F401,E402
               vectorize, scalar_replace, canonicalize, cse, mlir_raw, rename, pack, in_bounds, coalesce,
               promote_registers)
from .user import function_pass, is_user_pass, register_function, unregister  # noqa: E402

__all__ = ["REGISTRY", "Pass", "register", "register_function", "function_pass", "unregister",
           "is_user_pass"]
