"""``permute`` and ``interchange``: reorder a perfect loop nest when no dependence forbids it.

Options:
    permute{order=k:i:j}: the loops of a perfectly nested band by source name, in their new
        order, outermost first. The band is the perfect nest the named loops form (they must be
        consecutive loops of one perfect nest, in any order).
    interchange{a=i,b=k}: swap two loops of a perfect nest (``permute`` with those two swapped).

Legality: the exact dependence analysis on isl (unrollkit/analysis/dependence.py): every
dependence between two accesses to one array, at least one a store, has its exact set of
direction vectors over the band; the reorder is refused if one that runs forward in the old
order would run backward in the new, and the error names the loops, the array and the
directions. A loop whose bounds use another
loop's induction variable cannot move outside it.

Before → after (``permute{order=i:j:k}`` on gemm's i-k-j nest)::

    affine.for %i {                      affine.for %i {
      affine.for %k {                      affine.for %j {
        affine.for %j {           →          affine.for %k {
          C[i,j] += A[i,k]*B[k,j]              C[i,j] += A[i,k]*B[k,j]
    }}} // i, k, j                       }}} // i, j, k
"""
from __future__ import annotations

import dataclasses
from typing import ClassVar

from unrollkit.core.errors import TransformError
from unrollkit.ir.ir_utils import affine_loops, loop_name, loop_names, vanished
from unrollkit.ir.loop_nests import perfect_band, reorder_band

from .base import Pass, register
from .dependence import check_permutation


def permute_loops(module, order: list, what: str) -> None:
    """Reorder every perfect band made of the loops named in ``order`` into that order."""
    if len(order) < 2:
        raise TransformError(f"{what}: give at least two loops, got {order}")
    if len(set(order)) != len(order):
        raise TransformError(f"{what}: a loop is named twice in {order}")
    if any(vanished(module, n) for n in order):
        return  # a loop was fully unrolled by an earlier pass at this size: nothing to reorder
    known = loop_names(module)
    for n in order:
        if n not in known:
            raise TransformError(f"{what}: no loop named {n!r}; the loops are {known}")
    heads = []
    for l in affine_loops(module):
        if loop_name(l) in order:
            p, nested = l.parent, False
            while p is not None:
                if p.name == "affine.for" and loop_name(p) in order:
                    nested = True
                p = p.parent
            if not nested:
                heads.append(l)
    for head in heads:
        band = perfect_band(head, len(order))
        names = [loop_name(b) for b in band]
        if sorted(names) != sorted(order):
            missing = [n for n in order if n not in names]
            raise TransformError(
                f"cannot {what}: loops {order} do not form a perfect nest here; from loop "
                f"{loop_name(head)!r} the perfect nest is {names}"
                + (f" (loop {missing[0]!r} is not perfectly nested inside it)" if missing else ""))
        new = [band[names.index(n)] for n in order]
        if new == band:
            continue
        check_permutation(band, new, what)
        reorder_band(band, new)


@register
@dataclasses.dataclass(frozen=True)
class Permute(Pass):
    """Permute(order): the ``permute`` pass; `register` gives it the module docstring (options,
    before → after)."""
    name: ClassVar[str] = "permute"
    scope_options: ClassVar[tuple] = ("order",)
    order: tuple = ()

    def __post_init__(self):
        object.__setattr__(self, "order", tuple(str(x) for x in self.order))

    def apply(self, module) -> None:
        """Reorder the perfect band of the loops named in ``order`` into that order (outermost
        first), unless a dependence forbids it."""
        permute_loops(module, list(self.order), f"permute loops into order {list(self.order)}")


@register
@dataclasses.dataclass(frozen=True)
class Interchange(Pass):
    """Interchange(a, b): the ``interchange`` pass; `register` gives it the module docstring
    (options, before → after)."""
    name: ClassVar[str] = "interchange"
    scope_options: ClassVar[tuple] = ("a", "b")
    a: str = ""
    b: str = ""

    def apply(self, module) -> None:
        """Swap loops ``a`` and ``b`` of one perfect nest (a `permute_loops` of the band between
        them); nothing when either was fully unrolled by an earlier pass."""
        what = f"interchange loops {self.a!r} and {self.b!r}"
        if not self.a or not self.b:
            raise TransformError(f"{what}: give both loops, e.g. interchange{{a=i,b=k}}")
        heads = [l for l in affine_loops(module) if loop_name(l) in (self.a, self.b)]
        if vanished(module, self.a) or vanished(module, self.b):
            return  # fully unrolled by an earlier pass at this size
        if not heads:
            raise TransformError(f"{what}: no such loops; the loops are {loop_names(module)}")
        # the band runs from the outer of the two to the inner: swap them, keep the rest
        outer = heads[0]
        band = perfect_band(outer)
        names = [loop_name(b) for b in band]
        other = self.b if loop_name(outer) == self.a else self.a
        if other not in names:
            raise TransformError(f"cannot {what}: they are not in one perfect nest (from "
                                 f"{loop_name(outer)!r} the perfect nest is {names})")
        band_names = names[:names.index(other) + 1]
        swapped = list(band_names)
        i, j = swapped.index(self.a), swapped.index(self.b)
        swapped[i], swapped[j] = swapped[j], swapped[i]
        if band_names != swapped:
            permute_loops(module, swapped, what)
