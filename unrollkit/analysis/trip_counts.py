"""Trip-count facts of one ``affine.for`` from isl: the span of its bounds over every place
the loop is reached (the enclosing loops' exact domain, triangular bounds included), and its
exact number of iterations summed over those places.

`bound_span` replaces an interval analysis that bounded each enclosing loop on its own (so
``for j in range(i + 1, N)`` looked as if ``j`` could start at ``N``): here the outer loops'
values are the points of their domain, not a box around it.
"""
from __future__ import annotations

import islpy as isl
from mlir import ir

from .affine_to_isl import NotAffine
from .dependence import Model
from .nest import Unbounded, align


def bound_span(loop_op):
    """(min, max) of ``ub − lb`` of ``loop_op`` (one lower and one upper bound expression)
    over the iterations of the loops around it; (0, 0) if it is never reached (it never runs,
    and every claim about its trip count holds there); None if it cannot be expressed."""
    lbm = ir.AffineMapAttr(loop_op.attributes["lowerBoundMap"]).value
    ubm = ir.AffineMapAttr(loop_op.attributes["upperBoundMap"]).value
    model = Model(loop_op, body=False)
    if model.place[0].is_empty():
        return 0, 0
    if len(lbm.results) != 1 or len(ubm.results) != 1:
        return None
    ops = list(loop_op.operands)
    try:
        (lo,) = model.forms.map_results(lbm, ops[:lbm.n_inputs])
        (hi,) = model.forms.map_results(ubm, ops[lbm.n_inputs:lbm.n_inputs + ubm.n_inputs])
        hi, lo = align(hi, lo)
        span = model.place[0].range_of(hi - lo)
    except (NotAffine, Unbounded, isl.Error, ValueError):
        return None
    return (0, 0) if span is None else span
