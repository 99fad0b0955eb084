"""Iteration domains as isl sets: the points at which a statement runs.

A `Nest` is the domain of one place in a loop nest: an isl set over the loop variables that
enclose it (set dimension k is the k-th loop from the outside). Shapes are static per call
signature, so every bound is a number once the outer variables are fixed and the sets need
no parameters; they are exact all the same — steps are existential variables, ``min``/``max``
bounds are several constraints, floor division and modulo are isl's quasi-affine forms. A
value is a `isl.PwAff` over the loop variables enclosing its definition; it is lifted to a
deeper nest by adding dimensions (an SSA definition dominates its uses, so its loops are a
prefix of theirs).
"""
from __future__ import annotations

import islpy as isl


class Nest:
    """The iteration domain at one place of a loop nest (``depth`` enclosing loop variables)."""

    __slots__ = ("ctx", "depth", "domain", "ranges", "_children")

    def __init__(self, ctx: isl.Context, depth: int, domain: isl.Set):
        self.ctx, self.depth, self.domain = ctx, depth, domain
        #: memo: base PwAff's text (`range_of`) or a linear shape's range key (`linear_range`)
        #: -> (min, max) | None; the proof reads the second kind directly
        self.ranges = {}
        self._children = {}  # memo: a band's bounds as text -> its body's Nest, see `loops`

    @classmethod
    def root(cls, ctx: isl.Context | None = None) -> "Nest":
        """Outside every loop: one point, no dimensions."""
        ctx = ctx or isl.Context()
        return cls(ctx, 0, isl.Set.universe(isl.Space.set_alloc(ctx, 0, 0)))

    # -- values over this nest's loop variables
    def const(self, value: int) -> isl.PwAff:
        """The constant ``value`` as a function of this nest's loop variables."""
        space = isl.Space.set_alloc(self.ctx, 0, self.depth)
        return isl.PwAff.val_on_domain(isl.Set.universe(space), val(self.ctx, value))

    def var(self, k: int) -> isl.PwAff:
        """Loop variable ``k`` (0 = outermost) as a function of this nest's variables."""
        ls = isl.LocalSpace.from_space(self.domain.get_space())
        return isl.PwAff.var_on_domain(ls, isl.dim_type.set, k)

    def lift(self, pa: isl.PwAff) -> isl.PwAff:
        """``pa`` (over the variables of an enclosing nest) over this nest's variables."""
        return lift(pa, self.depth)

    # -- nested domains
    def loop(self, lowers: list, uppers: list, step: int) -> "Nest":
        """The body of ``for v in range(max(lowers), min(uppers), step)`` placed here."""
        return self.loops([(lowers, uppers, step)])

    def loops(self, bounds: list) -> "Nest":
        """The body of a band of loops placed here (an ``affine.parallel``): one
        ``(lowers, uppers, step)`` per new variable, bounds over this nest's variables.

        Sibling bands with the same bounds (the copies a full unroll leaves of an inner loop)
        get the same `Nest`, and so share its memo of ranges."""
        key = tuple((tuple(x.to_str() for x in lowers), tuple(x.to_str() for x in uppers), step)
                    for lowers, uppers, step in bounds)
        inner = self._children.get(key)
        if inner is None:
            inner = self._children[key] = self._loops(bounds)
        return inner

    def _loops(self, bounds: list) -> "Nest":
        depth = self.depth + len(bounds)
        dom = self.domain.add_dims(isl.dim_type.set, len(bounds))
        inner = Nest(self.ctx, depth, dom)
        for k, (lowers, uppers, step) in enumerate(bounds):
            if step < 1:
                raise ValueError(f"loop step {step} is not positive")
            v = inner.var(self.depth + k)
            lows = [lift(lo, depth) for lo in lowers]
            # (`intersect`, not `&`: islpy's operator costs four times the intersection here)
            for lo in lows:
                dom = dom.intersect(v.ge_set(lo))
            for hi in uppers:
                dom = dom.intersect(v.lt_set(lift(hi, depth)))
            if step > 1:  # v = max(lowers) + step * e for some integer e >= 0
                first = lows[0]
                for lo in lows[1:]:
                    first = first.max(lo)
                dom = dom.intersect((v - first).mod_val(val(self.ctx, step)).zero_set())
        return Nest(self.ctx, depth, dom)

    def restrict(self, cond: isl.Set) -> "Nest":
        """The points of this nest where ``cond`` (a set over its outer variables) holds."""
        return Nest(self.ctx, self.depth, (self.domain & lift_set(cond, self.depth)).coalesce())

    def exclude(self, cond: isl.Set) -> "Nest":
        """The points of this nest where ``cond`` does not hold."""
        return Nest(self.ctx, self.depth, (self.domain - lift_set(cond, self.depth)).coalesce())

    def is_empty(self) -> bool:
        """Whether no point of the domain exists (the place is never reached)."""
        return self.domain.is_empty()

    # -- ranges
    def range_of(self, pa: isl.PwAff):
        """Exact ``(min, max)`` of ``pa`` over the integer points of this domain; None when
        the domain is empty (the place is never reached). Raises `Unbounded` if infinite."""
        pa = self.lift(pa)
        base, offset = split_constant(pa)
        # keyed by text: an isl object's hash may change as isl normalises it in place
        key = base.to_str()
        rng = self.ranges.get(key, False)
        if rng is False:
            rng = self.ranges[key] = self._range(base)
        return None if rng is None else (rng[0] + offset, rng[1] + offset)

    def linear_range(self, coeffs: frozenset, forms, key=None):
        """`range_of` ``sum(c * v)`` over ``(v, c)`` in ``coeffs`` (SSA values with forms in
        ``forms``, a `ValueForms`), memoised by ``key`` (default the coefficients;
        `ValueForms.range_key` names induction variables by dimension): the copies of an
        unrolled body, which differ only in constant offsets, need no isl work after the first."""
        key = coeffs if key is None else key
        rng = self.ranges.get(key, False)
        if rng is False:
            rng = self.ranges[key] = self._range(self.lift(forms.linear_form(coeffs)))
        return rng

    def _range(self, pa: isl.PwAff):
        if pa.n_piece() == 1:  # the common case: one ILP per end over the domain
            where, aff = pa.get_pieces()[0]
            dom = self.domain & where
            try:
                lo, hi = dom.min_val(aff), dom.max_val(aff)
            except isl.Error:
                pass  # isl's ILP refuses objectives that its equalities make rational
            else:
                if lo.is_nan():
                    return None
                if lo.is_int() and hi.is_int():
                    return lo.to_python(), hi.to_python()
        # the optimum over the set of values taken (projection is exact for integer sets)
        values = isl.Map.from_pw_aff(pa.intersect_domain(self.domain)).range()
        if values.is_empty():
            return None
        if not values.is_bounded():
            raise Unbounded(f"{pa} is unbounded over {self.domain}")
        lo = values.lexmin().sample_point().get_coordinate_val(isl.dim_type.set, 0)
        hi = values.lexmax().sample_point().get_coordinate_val(isl.dim_type.set, 0)
        return lo.to_python(), hi.to_python()


class Unbounded(Exception):
    """An index whose range over a domain is infinite (an unbounded loop)."""


def val(ctx: isl.Context, v: int) -> isl.Val:
    """The integer ``v`` as an isl value (any size: a kernel may spell a huge literal)."""
    return isl.Val.int_from_si(ctx, v) if -2**62 < v < 2**62 else isl.Val.read_from_str(ctx, str(int(v)))


def lift(pa: isl.PwAff, depth: int) -> isl.PwAff:
    """``pa`` as a function of ``depth`` variables (its own are the outermost)."""
    have = pa.dim(isl.dim_type.in_)
    if have == depth:
        return pa
    if have > depth:
        raise ValueError(f"a value over {have} loop variables used where {depth} enclose it")
    return pa.add_dims(isl.dim_type.in_, depth - have)


def lift_set(s: isl.Set, depth: int) -> isl.Set:
    """``s`` as a set over ``depth`` variables (its own are the outermost)."""
    have = s.dim(isl.dim_type.set)
    return s if have == depth else s.add_dims(isl.dim_type.set, depth - have)


def align(a: isl.PwAff, b: isl.PwAff):
    """``a`` and ``b`` over the same (the deeper one's) loop variables."""
    da, db = a.dim(isl.dim_type.in_), b.dim(isl.dim_type.in_)
    return (lift(a, db), b) if da < db else (a, lift(b, da))


def constant_of(pa: isl.PwAff):
    """The integer ``pa`` always equals, or None."""
    if not pa.is_cst():
        return None
    pieces = pa.get_pieces()
    if len(pieces) != 1 or not pieces[0][0].plain_is_universe():
        return None
    c = pieces[0][1].get_constant_val()
    return c.to_python() if c.is_int() else None


def split_constant(pa: isl.PwAff):
    """``(base, offset)`` with ``pa = base + offset``: copies of an unrolled body differ only
    in their offsets, so their ranges share one optimisation of the base."""
    if pa.n_piece() != 1:
        return pa, 0
    dom, aff = pa.get_pieces()[0]
    c = aff.get_constant_val()
    if not c.is_int() or c.is_zero():
        return pa, 0
    base = isl.PwAff.from_aff(aff.set_constant_val(isl.Val.zero(pa.get_ctx()))).intersect_domain(dom)
    return base, c.to_python()
