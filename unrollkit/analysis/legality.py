"""Legality of the reordering transformations, from the exact dependences of `dependence`.

Each question returns the first `Violation` (the dependence and the direction vector that the
transformation would reverse), or None when the transformation keeps every dependence. The
rules, over the exact direction vectors of every dependence (source before sink):

* permutation of a perfect band: no vector becomes lexicographically negative in the new
  order;
* tiling: no vector becomes negative once each tiled loop's direction s is split into a
  tile-level direction (0 or s) and a point-level one (s when the tile level is 0, anything
  otherwise), in the order of the tile and point loops (so a fully tiled band must be fully
  permutable);
* unroll-and-jam of L by u: no dependence with distance 0 < d < u·step on L (two iterations
  that one jammed copy group holds) whose direction on the common loops inside L is negative,
  or zero with the sink's statement before the source's in the text, unless both are in one
  run of loop-free statements (jamming copies such a run whole, keeping their order);
* vectorisation of an innermost loop by w lanes: no dependence with distance 0 < d < w·step on
  it whose sink statement is not after its source in the text (each statement runs for all
  lanes before the next), recognised reductions excepted;
* accumulator splitting: nothing but the reduction itself touches the reduction's element.

The passes turn a violation into a `TransformError` naming it.
"""
from __future__ import annotations

import dataclasses
import itertools


from .affine_to_isl import for_bounds, op_name
from .dependence import SIGNS, Dependence, Model


@dataclasses.dataclass
class Violation:
    """A dependence the transformation would reverse, with the direction vector that shows it
    over ``loops``."""
    dependence: Dependence
    vector: tuple
    loops: list

    @property
    def memref_name(self) -> str:
        """The SSA name of the memref the dependence is on (as the error messages spell it)."""
        mem = self.dependence.source.memref
        return "an unknown memref" if mem is None else mem.get_name()


def lex_sign(vec) -> int:
    """The sign of the first nonzero entry (0 if none)."""
    for s in vec:
        if s:
            return s
    return 0


def permutation_violation(band: list, order: list) -> Violation | None:
    """Does reordering the perfect nest ``band`` (loops, outermost first) into ``order``
    reverse a dependence?"""
    pos = [band.index(loop) for loop in order]
    for dep in Model(band[0]).dependences():
        for vec in dep.directions(band):
            if lex_sign(vec) > 0 and lex_sign([vec[p] for p in pos]) < 0:
                return Violation(dep, vec, band)
    return None


def tiling_violation(band: list, tiled: set, order: list) -> Violation | None:
    """Does tiling ``band`` reverse a dependence? ``order``: the loops after strip-mining, as
    ("tile", loop) / ("point", loop), outermost first; ``tiled``: the loops strip-mined."""
    for dep in Model(band[0]).dependences():
        for vec in dep.directions(band):
            if lex_sign(vec) > 0 and _tiled_reversal(band, tiled, order, vec):
                return Violation(dep, vec, band)
    return None


def _tiled_reversal(band, tiled, order, vec) -> bool:
    options = []
    for loop, s in zip(band, vec):
        options.append([(0, s)] + [(s, p) for p in SIGNS] if loop in tiled and s else [(0, s)])
    for choice in itertools.product(*options):
        level = {("tile", loop): t for loop, (t, _) in zip(band, choice)}
        level.update({("point", loop): p for loop, (_, p) in zip(band, choice)})
        if lex_sign([level[k] for k in order]) < 0:
            return True
    return False


def unroll_jam_violation(loop, factor: int | None = None) -> Violation | None:
    """Does unroll-and-jam of ``loop`` by ``factor`` (None: any factor) move a later
    iteration's instance before an earlier one's?"""
    model = Model(loop)
    below = None if factor is None else factor * for_bounds(loop)[2]
    for dep in model.dependences():
        src, snk = dep.source, dep.sink
        inner = list(src.loops[model.outer:model.common(src, snk)])
        if not inner:
            continue  # not both inside the loop
        for vec in dep.directions(inner, below):
            if vec[0] <= 0:
                continue
            rest = lex_sign(vec[1:])
            if rest < 0 or (rest == 0 and src.op != snk.op and _text_reversed(src, snk)):
                return Violation(dep, vec, inner)
    return None


def vectorize_violation(loop, width: int, reductions: set) -> Violation | None:
    """Does running ``width`` iterations of the innermost ``loop`` as one vector step (each
    statement for all lanes, in text order) reverse a dependence? Dependences between two
    ops of ``reductions`` (vectorised as accumulators) are not looked at."""
    model = Model(loop)
    red = {op.operation for op in reductions}
    for dep in model.dependences():
        if dep.source.op in red and dep.sink.op in red:
            continue
        if model.common(dep.source, dep.sink) <= model.outer:
            continue
        for vec in dep.directions([loop], width * for_bounds(loop)[2]):
            if vec[0] > 0 and not dep.source.order < dep.sink.order:
                return Violation(dep, vec, [loop])
    return None


def touches_element_of(loop, reduction_store, others: list) -> list:
    """The ops of ``others`` that touch, inside one execution of ``loop``, an element the
    reduction's ``reduction_store`` writes."""
    model = Model(loop)
    st = model.statement(reduction_store)
    out = []
    for op in others:
        other = model.statement(op)
        rel = model.touching(st, other)
        if rel is None or not rel.is_empty():
            out.append(op)
    return out


def _text_reversed(src, snk) -> bool:
    """With "=" on every common loop inside the jammed one, the jammed copies run statement by
    statement: a sink placed before its source in the text runs first, unless both sit in one
    run of loop-free statements (copied as a unit)."""
    return snk.order < src.order and not same_jam_unit(src.op, snk.op)


def same_jam_unit(x, y) -> bool:
    """Are ops ``x`` and ``y`` in one run of loop-free ops of one block? Jamming copies such a
    run as a whole (all of copy 0, then all of copy 1), so their relative order is kept."""
    x, y = x.operation, y.operation
    if x.parent is None or y.parent is None or x.parent.operation != y.parent.operation:
        return False
    ops = [o.operation for o in x.parent.regions[0].blocks[0].operations] if x.parent.regions else []
    try:
        i, j = sorted((ops.index(x), ops.index(y)))
    except ValueError:
        return False
    return not any(op_name(o) == "affine.for" for o in ops[i:j + 1])
