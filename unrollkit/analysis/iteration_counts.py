"""Exact iteration counts of a loop nest, for the cost model: how often a loop is entered per
call and how many iterations it runs in all, triangular bounds included.

The cost model used to read a loop's trip count at the first iteration of the loops around
it: ``for j in range(i + 1)`` looked like one iteration per entry (at ``i = 0``), where the mean
is about ``N / 2``. Here both numbers are counts of integer points of isl sets (the domain of
the loops around, and of the loop itself) built as the bounds proof builds them
(`kernel_bounds.loop_domain`).

isl counts a set by enumerating all of its dimensions but the last (``count_val``), which is
quick for one or two coupled loops and slow beyond. So a set is first split into groups of
dimensions that no constraint couples (``syrk``'s ``{i, j : j <= i} × {k}``), each group is
counted on its own, and the product is the count. A group whose enumeration would visit more
than `MAX_ENUMERATED` points is not counted (None): the caller keeps its estimate.
"""
from __future__ import annotations

import math

import islpy as isl

from unrollkit.frontend import descriptor as d
from .kernel_bounds import loop_domain

#: at most this many points enumerated per group (~1 µs each: tens of ms at worst)
MAX_ENUMERATED = 1 << 16


def nest_counts(outer: tuple, lp: d.Loop, sizes: dict) -> tuple[int, int] | None:
    """(entries, iterations) of loop ``lp`` inside the loops ``outer`` (outermost first) at
    ``sizes``: how many times per call the loop starts and runs at least once, and how many
    iterations it runs in all (so iterations / entries is its mean trip count). None when a
    bound is not affine or counting would take too long."""
    try:
        inner = loop_domain(tuple(outer) + (lp,), sizes).domain
        entries = count_points(inner.project_out(isl.dim_type.set, len(outer), 1)) if outer else 1
        iterations = count_points(inner)
    except (KeyError, TypeError, ValueError, isl.Error):  # not affine: the caller estimates
        return None
    if entries is None or iterations is None:
        return None
    return entries, iterations


def count_points(s: isl.Set) -> int | None:
    """The number of integer points of the bounded set ``s`` (no parameters), or None when
    some group of coupled dimensions would need more than `MAX_ENUMERATED` points visited
    (or ``s`` is unbounded)."""
    s = s.coalesce()
    if s.is_empty():
        return 0
    if not s.is_bounded():
        return None
    n = s.dim(isl.dim_type.set)
    if n == 0:
        return 1
    total = 1
    for group in coupled_groups(s):
        part = _only(s, group)
        if _enumeration_cost(part) > MAX_ENUMERATED:
            return None
        total *= part.count_val().to_python()
    return total


def coupled_groups(s: isl.Set) -> list[list[int]]:
    """The set's dimensions in groups that no constraint couples (a union of basic sets, or a
    constraint through a local variable, couples every dimension it touches)."""
    n = s.dim(isl.dim_type.set)
    parent = list(range(n))

    def find(a):
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    def join(dims):
        for a in dims[1:]:  # (nothing for fewer than two)
            parent[find(a)] = find(dims[0])

    pieces = s.get_basic_sets()
    if len(pieces) > 1:  # a union: its pieces may split different ways; keep it whole
        join(list(range(n)))
    for bset in pieces:
        # a local (existential) variable, known as a floor division or not, couples every
        # dimension of every constraint that mentions it
        through = [[] for _ in range(bset.dim(isl.dim_type.div))]
        for c in bset.get_constraints():
            dims = [k for k in range(n) if c.involves_dims(isl.dim_type.set, k, 1)]
            join(dims)
            for j, group in enumerate(through):
                if c.involves_dims(isl.dim_type.div, j, 1):
                    group += dims
        for group in through:
            join(group)
    groups = {}
    for k in range(n):
        groups.setdefault(find(k), []).append(k)
    return list(groups.values())


def _only(s: isl.Set, keep: list) -> isl.Set:
    """``s`` projected onto the dimensions ``keep`` (dropped from the last, so indices hold)."""
    for k in reversed(range(s.dim(isl.dim_type.set))):
        if k not in keep:
            s = s.project_out(isl.dim_type.set, k, 1)
    return s


def _enumeration_cost(s: isl.Set) -> int:
    """An upper bound on the points isl visits to count ``s``: those of its box without the
    last dimension (isl counts the last one's range at once)."""
    n = s.dim(isl.dim_type.set)
    cost = 1
    for k in range(n - 1):
        lo, hi = s.dim_min_val(k), s.dim_max_val(k)
        if not (lo.is_int() and hi.is_int()):
            return math.inf
        cost *= max(0, hi.to_python() - lo.to_python() + 1)
    return cost
