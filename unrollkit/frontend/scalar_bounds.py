"""Integer scalar parameters in loop bounds and subscripts: ``for t in range(tsteps)``.

Such a scalar is an *index scalar*: in a bound or subscript it is an affine variable like a size
name (``d.Var``), and its value at the call joins the call signature like the arrays' shapes
(`signature.Signature.values`). Each value is compiled once, with the scalar a constant:

* the in-bounds proof stays exact (isl sees a number, not a parameter whose range it would
  have to assume), so a subscript such as ``x[t + 1]`` is proved or refused for that value;
* the compile cache key covers the value (it is part of the signature);
* the unroller, the cost model and the GEMM schedule see constant trip counts, as for sizes.

The price: a new value compiles again (a per-kernel LRU keeps the recent ones), and such calls
skip the native fast path (it checks dtypes and shapes, not scalar values). Used as a value
(``y[i] = x[i] * tsteps``) the scalar is the argument, as any scalar is.
"""
from __future__ import annotations

import functools

from unrollkit.frontend import descriptor as d


@functools.lru_cache(maxsize=256)
def index_scalars(kernel: d.Kernel) -> tuple:
    """The names of the scalar parameters used in a bound, subscript or index value of
    ``kernel``, in parameter order."""
    used = set()
    for s in d.walk(kernel.body):
        affs = []
        if isinstance(s, d.Loop):
            affs += [*s.lower, *s.upper]
        if isinstance(s, d.Store):
            affs += list(s.index)
        for v in d.statement_values(s):
            for x in d.walk_expr(v):
                affs += list(x.index) if isinstance(x, d.Load) else [x.expr] if isinstance(x, d.Index) else []
        for a in affs:
            used |= d.aff_vars(a)
    return tuple(p.name for p in kernel.user_params if not p.is_array and p.name in used)
