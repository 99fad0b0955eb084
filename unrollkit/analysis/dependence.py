"""Exact memory dependences between statement instances of an affine loop nest, on isl.

A `Model` of a region (``root``: a loop, or any op) reads every memory access under it as a
`Statement`: its iteration domain (an isl set over the ``affine.for`` loops around it, built
from the function down, so triangular and ``min``/``max`` bounds, steps and ``affine.if``
conditions are exact) and its access relation (iteration → the elements it touches, vector
lanes included). Two statements on one memref, at least one writing, depend where an instance
of one touches an element an instance of the other touches; the loops around ``root`` are at
one iteration (the question is always about one execution of ``root``). `Model.dependences`
gives them ordered by the schedule — source instance before sink instance: lexicographic
over the common loops, then textual order — as flow (RAW), anti (WAR) and output (WAW)
relations; `Dependence.directions` gives the exact sign vectors of their distances over some
common loops.

Anything the analysis cannot express exactly (an index that is not affine, an access inside a
region it does not model, an operation touching a memref in an unknown way) has relation None
and every direction: the answer may refuse a legal transformation, never allow an illegal
one. Distinct memrefs do not alias (the runtime refuses overlapping outputs and copies
overlapping inputs).
"""
from __future__ import annotations

import dataclasses
import threading

import islpy as isl

from .affine_to_isl import NotAffine, ValueForms, for_bounds, op_name
from .memory_ops import ACCESS_OPS, access_of, foreign_memory_op
from .nest import Nest, lift

SIGNS = (-1, 0, 1)
KINDS = {(True, False): "flow", (False, True): "anti", (True, True): "output"}


@dataclasses.dataclass(eq=False)
class Statement:
    """One memory access under the model's root. ``loops``: the ``affine.for`` ops around it,
    outermost first (set dimension k of ``domain`` is ``loops[k]``); ``order``: its place in
    the text (pre-order); ``access``: iteration → elements touched, None when unknown."""
    op: object
    memref: object
    writes: bool
    loops: tuple
    order: int
    domain: isl.Set
    access: isl.Map | None


@dataclasses.dataclass(eq=False)
class Dependence:
    """Instances of ``sink`` that touch what an earlier instance of ``source`` touched:
    ``relation`` maps source iterations to sink iterations (None: unknown, any pair)."""
    kind: str
    source: Statement
    sink: Statement
    relation: isl.Map | None
    model: "Model"

    def distances(self, loops: list, below: int | None = None) -> isl.Set | None:
        """The set of distance vectors (sink − source iteration) over ``loops`` (common to both
        statements); ``below``: only those whose first distance is smaller (None: unknown)."""
        return self.model.distances(self.source, self.sink, self.relation, loops, below)

    def directions(self, loops: list, below: int | None = None) -> list:
        """Every sign vector (−1, 0, 1 per loop of ``loops``) some pair of instances has."""
        return self.model.signs_of(self.distances(loops, below), len(loops))


class Model:
    """The statements under ``root`` and their dependences (see the module docstring)."""

    def __init__(self, root, body: bool = True, upper_bounds: dict | None = None):
        """``body=False``: only the domains down to ``root`` (`place`), no statements;
        ``upper_bounds``: loop op → a constant upper bound to use instead of its own (what
        the loop would be after padding)."""
        self.root = root.operation
        self.body = body
        self.upper_bounds = {op.operation: hi for op, hi in (upper_bounds or {}).items()}
        self.ctx, self._texts = _context()
        self.forms = ValueForms(self.ctx)
        self.statements = []
        self.outer = 0  # loops around root: one iteration for every statement
        self.place = None  # (Nest, loops) just outside root
        self._order = 0
        chain = _ancestors(self.root)
        self._walk_chain(chain, Nest.root(self.ctx), [])
        if self.place is None:  # never silently "no dependence": the walk must reach root
            raise ValueError(f"the dependence analysis could not reach {op_name(self.root)} "
                             "from the operations around it")

    # -- building
    def _walk_chain(self, chain: list, nest: Nest, loops: list) -> None:
        """Down the ancestors of root (``chain``, outermost first) to root, then all of it."""
        op = chain[0]
        if len(chain) == 1:
            self.outer, self.place = len(loops), (nest, list(loops))
            if self.body:
                self._op(op, nest, loops, False)
            return
        below = chain[1]
        for region, inner, more, opaque in self._regions(op, nest, loops):
            for block in region.blocks:
                for child in block.operations:
                    if child.operation == below:
                        if opaque:
                            self.outer, self.place = len(more), (inner, list(more))
                            if self.body:
                                self._op(below, inner, more, True)
                        else:
                            self._walk_chain(chain[1:], inner, more)
                        return

    def _op(self, op, nest: Nest, loops: list, opaque: bool) -> None:
        op = op.operation
        self._order += 1
        name = op_name(op)
        if name in ACCESS_OPS:
            self._statement(op, nest, loops, opaque)
        elif foreign_memory_op(op):
            # it may read or write anything it can reach: memref=None conflicts with every memref
            self.statements.append(Statement(op, None, True, tuple(loops), self._order, nest.domain, None))
        for region, inner, more, opaque_inside in self._regions(op, nest, loops):
            for block in region.blocks:
                for child in block.operations:
                    self._op(child, inner, more, opaque or opaque_inside)

    def _regions(self, op, nest: Nest, loops: list):
        """(region, its nest, its loops, opaque?) for each region of ``op``."""
        name = op_name(op)
        regions = list(op.regions)
        if name == "affine.for":
            inner = self._loop_nest(op, nest)
            return [(regions[0], inner, loops + [op], False)]
        if name == "affine.if":
            try:
                cond = self.forms.integer_set(str(op.attributes["condition"]), list(op.operands))
            except (NotAffine, isl.Error):
                return [(r, nest, loops, False) for r in regions]  # both: a superset of each
            return list(zip(regions, (nest.restrict(cond), nest.exclude(cond)),
                            (loops, loops), (False, False)))
        if name in ("func.func", "builtin.module"):
            return [(r, nest, loops, False) for r in regions]
        # any other region (scf.for, affine.parallel, ...): its instances are not modelled
        for r in regions:
            for b in r.blocks:
                for arg in b.arguments:
                    self.forms.unknown(arg, f"a block argument of {name}")
        return [(r, nest, loops, True) for r in regions]

    def _loop_nest(self, op, nest: Nest) -> Nest:
        ops = list(op.operands)
        lbm, ubm, step = for_bounds(op)
        try:
            lows = self.forms.map_results(lbm, ops[:lbm.n_inputs])
            highs = self.forms.map_results(ubm, ops[lbm.n_inputs:lbm.n_inputs + ubm.n_inputs])
            if op in self.upper_bounds:
                highs = [self.forms.const(self.upper_bounds[op])]
            inner = nest.loop(lows, highs, step)
        except (NotAffine, isl.Error, ValueError):
            inner = nest.loops([([], [], 1)])  # the variable is free: a superset of its values
        self.forms.bind(op.regions[0].blocks[0].arguments[0], inner.var(nest.depth))
        return inner

    def _statement(self, op, nest: Nest, loops: list, opaque: bool) -> None:
        try:
            acc = access_of(op)
        except NotAffine:  # an access it cannot read: any element of any memref it names
            self.statements.append(Statement(op, None, True, tuple(loops), self._order, nest.domain, None))
            return
        if acc is None:
            return  # a transfer on a tensor: no memory
        relation = None
        if not opaque:
            try:
                relation = self._access_relation(acc, nest)
            except (NotAffine, isl.Error, ValueError):
                relation = None
        self.statements.append(Statement(op, acc.memref, acc.writes, tuple(loops), self._order,
                                         nest.domain, relation))

    def _access_relation(self, acc, nest: Nest) -> isl.Map:
        if acc.amap is not None:
            forms = self.forms.map_results(acc.amap, acc.indices)
        else:
            forms = [self.forms.of(v) for v in acc.indices]
        if not forms:
            return isl.Map.from_domain_and_range(nest.domain, isl.Set.universe(isl.Space.set_alloc(self.ctx, 0, 0)))
        rel = None
        for pa in forms:
            m = isl.Map.from_pw_aff(lift(pa, nest.depth))
            rel = m if rel is None else rel.flat_range_product(m)
        if any(e > 1 for e in acc.extents):  # a vector access: every lane's element
            rel = rel.apply_range(self._map(_lanes_text(acc.extents)))
        return rel.intersect_domain(nest.domain)

    # -- questions
    def common(self, a: Statement, b: Statement) -> int:
        """How many loops enclose both (a common prefix of their loops)."""
        n = 0
        for x, y in zip(a.loops, b.loops):
            if x != y:
                break
            n += 1
        return n

    def touching(self, a: Statement, b: Statement) -> isl.Map | None:
        """Pairs (iteration of a, iteration of b) in one execution of root that touch one
        element (None: unknown)."""
        if a.access is None or b.access is None:
            return None
        same = a.access.apply_range(b.access.reverse())
        return same & self._map(_equal_text(len(a.loops), len(b.loops), self.outer))

    def ordered(self, a: Statement, b: Statement) -> isl.Map | None:
        """`touching` pairs where a's instance runs before b's."""
        rel = self.touching(a, b)
        if rel is None:
            return None
        common = self.common(a, b)
        return rel & self._map(_before_text(len(a.loops), len(b.loops), self.outer, common,
                                            a.order < b.order))

    def dependences(self) -> list:
        """Every dependence (source before sink) between two statements under root."""
        out = []
        for a in self.statements:
            for b in self.statements:
                if not (a.writes or b.writes) or not _may_alias(a.memref, b.memref):
                    continue
                rel = self.ordered(a, b)
                if rel is None or not rel.is_empty():
                    out.append(Dependence(KINDS[a.writes, b.writes], a, b, rel, self))
        return out

    def element_ranges(self, op) -> list | None:
        """(min, max) per memref dimension of the elements access ``op`` touches over every
        iteration under root; None when unknown, [] when it never runs."""
        st = self.statement(op)
        if st.access is None:
            return None
        elements = st.access.range()
        if elements.is_empty():
            return []
        if not elements.is_bounded():
            return None
        n = elements.dim(isl.dim_type.set)
        return [(elements.dim_min_val(k).to_python(), elements.dim_max_val(k).to_python()) for k in range(n)]

    def inside(self, op, shape: list) -> bool:
        """Is every element access ``op`` touches (over every iteration under root) inside a
        memref of static ``shape``? False when unknown."""
        st = self.statement(op)
        if st.access is None or min(shape, default=0) < 0:
            return False
        box = " and ".join(f"0 <= e{k} < {n}" for k, n in enumerate(shape)) or "0 = 0"
        return st.access.range().is_subset(self._set(f"{{ [{_vars('e', len(shape))}] : {box} }}"))

    def statement(self, op) -> Statement:
        """The statement of access ``op`` (under root)."""
        op = op.operation
        return next(s for s in self.statements if s.op == op)

    def distances(self, a: Statement, b: Statement, rel, loops: list, below: int | None):
        """Distance vectors of ``rel`` (a → b pairs) over ``loops`` (None: unknown)."""
        if rel is None:
            return None
        pos = [a.loops.index(loop.operation) for loop in loops]
        deltas = rel.wrap().apply(self._map(_delta_text(len(a.loops), len(b.loops), pos)))
        if below is not None and loops:
            deltas = deltas & self._set(f"{{ [{_vars('d', len(loops))}] : d0 < {below} }}")
        return deltas

    def signs_of(self, deltas, n: int) -> list:
        """The sign vectors of the points of ``deltas`` (every vector when it is None)."""
        if deltas is None:
            return [tuple(v) for v in _product(n)]
        out = []
        self._split(deltas, n, 0, [], out)
        return out

    def _split(self, s: isl.Set, n: int, k: int, prefix: list, out: list) -> None:
        if s.is_empty():
            return
        if k == n:
            out.append(tuple(prefix))
            return
        for sign in SIGNS:
            cmp = {-1: "<", 0: "=", 1: ">"}[sign]
            cell = self._set(f"{{ [{_vars('d', n)}] : d{k} {cmp} 0 }}")
            self._split(s & cell, n, k + 1, prefix + [sign], out)

    def _map(self, text: str) -> isl.Map:
        m = self._texts.get(text)
        if m is None:
            m = self._texts[text] = isl.Map.read_from_str(self.ctx, text)
        return m

    def _set(self, text: str) -> isl.Set:
        s = self._texts.get(text)
        if s is None:
            s = self._texts[text] = isl.Set.read_from_str(self.ctx, text)
        return s


_PER_THREAD = threading.local()


def _context():
    """This thread's isl context and its parsed relations by text (an isl context is not
    thread-safe; the relations `Model` parses — orders, deltas, sign cells — repeat across
    calls, and parsing them costs more than using them)."""
    if not hasattr(_PER_THREAD, "ctx"):
        _PER_THREAD.ctx, _PER_THREAD.texts = isl.Context(), {}
    return _PER_THREAD.ctx, _PER_THREAD.texts


def _ancestors(op) -> list:
    """``op`` and the ops around it up to (and with) its function or module, outermost first."""
    chain = [op]
    p = op.parent
    while p is not None:
        chain.append(p.operation)
        if op_name(p) in ("func.func", "builtin.module"):
            break
        p = p.parent
    return chain[::-1]


def _may_alias(x, y) -> bool:
    return x is None or y is None or x == y


def _vars(prefix: str, n: int) -> str:
    return ", ".join(f"{prefix}{k}" for k in range(n))


def _relation_text(na: int, nb: int, body: str) -> str:
    return f"{{ [{_vars('a', na)}] -> [{_vars('b', nb)}] : {body} }}"


def _equal_text(na: int, nb: int, outer: int) -> str:
    return _relation_text(na, nb, " and ".join(f"a{k} = b{k}" for k in range(outer)) or "0 = 0")


def _before_text(na: int, nb: int, outer: int, common: int, textual: bool) -> str:
    """a's instance strictly before b's: first differing common loop, else the text."""
    terms = []
    for k in range(outer, common):
        terms.append(" and ".join([f"a{m} = b{m}" for m in range(k)] + [f"a{k} < b{k}"]))
    if textual:
        terms.append(" and ".join(f"a{m} = b{m}" for m in range(common)) or "0 = 0")
    return _relation_text(na, nb, " or ".join(f"({t})" for t in terms) if terms else "1 = 0")


def _delta_text(na: int, nb: int, pos: list) -> str:
    diffs = ", ".join(f"b{p} - a{p}" for p in pos)
    return f"{{ [[{_vars('a', na)}] -> [{_vars('b', nb)}]] -> [{diffs}] }}"


def _lanes_text(extents: list) -> str:
    n = len(extents)
    cons = " and ".join(f"e{k} <= f{k} < e{k} + {x}" for k, x in enumerate(extents))
    return f"{{ [{_vars('e', n)}] -> [{_vars('f', n)}] : {cons} }}"


def _product(n: int) -> list:
    out = [[]]
    for _ in range(n):
        out = [v + [s] for v in out for s in SIGNS]
    return out

