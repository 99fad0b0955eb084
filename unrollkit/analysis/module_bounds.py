"""The in-bounds proof of an MLIR module: every element access inside its memref, exactly.

The walk gives every block its iteration domain (`Nest`): ``affine.for`` and ``scf.for``
(bounds, ``min``/``max``, steps), ``affine.parallel``/``scf.parallel`` bands, and the
conditions of ``affine.if`` and of ``scf.if`` on comparisons (another condition keeps both
branches' full domains: a superset, so the proof stays sound). Each access's indices become
isl functions of the loop variables (`ValueForms`) and their exact range over the domain is
compared with the memref's static shape, lane by lane for vector accesses. An index the
analysis cannot express, a dynamic shape, or an operation that touches a memref in a way the
walk does not know is "not proved": the caller refuses it.
"""
from __future__ import annotations

import dataclasses
import gc

import islpy as isl
from mlir import ir

from .affine_to_isl import NotAffine, ValueForms, for_bounds, op_name
from .memory_ops import ACCESS_OPS, Access, access_of, foreign_memory_op, is_pure
from .nest import Nest, Unbounded, constant_of


@dataclasses.dataclass
class Refusal:
    """Why the access ``op`` is not proved in bounds. ``dim``/``lo``/``hi``/``size``: the
    index range found in that memref dimension (lanes included), when it leaves the shape."""
    op: object
    memref: object | None
    reason: str
    dim: int | None = None
    lo: int | None = None
    hi: int | None = None
    size: int | None = None

    @property
    def out_of_range(self) -> bool:
        """Whether the access was found leaving the shape (``dim`` and its range are known), not
        refused for another reason."""
        return self.dim is not None


def first_refusal(module) -> Refusal | None:
    """The first access of ``module`` not proved in bounds (None: every access is).

    Python's cyclic garbage collector is paused for the proof: it allocates tens of thousands
    of small objects (tuples, dicts, isl handles), none of them in cycles that outlive it, and
    each collection they trigger walks the whole heap of the process, a cost that grows with
    whatever else the process holds (a test session, an application) rather than with the
    module. A 7,000-operation module took 19–25 ms with it and 15–19 ms without."""
    was = gc.isenabled()
    gc.disable()
    try:
        return _first_refusal(module)
    finally:
        if was:
            gc.enable()


def _first_refusal(module) -> Refusal | None:
    found = []

    def visit(walk, op, acc, nest):
        r = walk.prove(op, acc, nest)
        if r is not None:
            found.append(r)
            raise _Stop()

    try:
        _Walk(visit).module(module)
    except _Stop:
        pass
    return found[0] if found else None


def transfers_in_bounds(module) -> list:
    """The ``vector.transfer_read/write`` ops of ``module`` whose every lane, masked or not,
    is proved inside the memref (they may be marked ``in_bounds``)."""
    proved = []

    def visit(walk, op, acc, nest):
        if isinstance(acc, Access) and op_name(op).startswith("vector.transfer_") and acc.masked:
            if walk.prove(op, dataclasses.replace(acc, masked=frozenset()), nest) is None:
                proved.append(op)

    _Walk(visit).module(module)
    return proved


def access_domains(module, ops) -> tuple:
    """``(forms, {operation: (access, nest)})`` for the element accesses ``ops`` of ``module``:
    each one's `Access` (or the reason it has none, a string; None for an operation that
    touches memory the walk cannot see) and its iteration domain, with the `ValueForms` that
    give its index values (and those of any access in an enclosing block) as isl functions
    of the same loop variables. One walk of the module, as the proof makes."""
    wanted = {op.operation for op in ops}
    around = set()  # the operations that hold a wanted one: only their blocks are walked
    for op in wanted:
        p = op.parent
        while p is not None and p.operation not in around:
            around.add(p.operation)
            p = p.parent
    found = {}

    def visit(walk, op, acc, nest):
        if op.operation in wanted:
            found[op.operation] = (acc, nest)

    walk = _Walk(visit, around)
    walk.module(module)
    return walk.forms, found


class _Stop(Exception):
    pass


_ADVANCE, _SKIP, _INTERRUPT = ir.WalkResult.ADVANCE, ir.WalkResult.SKIP, ir.WalkResult.INTERRUPT
_PRE_ORDER = ir.WalkOrder.PRE_ORDER


class _Walk:
    """One walk of a module: every operation visited once, in its iteration domain.

    The walk goes through MLIR's own (C++) walker, one per loop body, rather than Python loops
    over ``block.operations``: that list makes a Python view of each operation, which cost
    about 3 µs an operation, a third of the proof of a fully unrolled micro-kernel. A callback
    cannot raise through the walker (it would come out as a RuntimeError), so an exception is
    kept, the walk interrupted, and the exception raised again once the walker returns."""

    def __init__(self, visit, only=None):
        self.ctx = isl.Context()
        self.visit = visit
        self.only = only  # operations with regions to enter (None: all)
        self.forms = ValueForms(self.ctx)
        self.type_facts = {}  # memref type -> facts, for `access_of`
        #: operation name -> whether the walk passes it by: pure, and holding no accesses (per
        #: walk, not per process: no state outlives a proof)
        self.passed = {}
        self.error = None  # an exception raised in a callback, raised again after the walk

    def module(self, module) -> None:
        root = Nest.root(self.ctx)
        for op in module.body.operations:
            self.walk(op.operation, root, skip_root=False)

    def block(self, block, nest: Nest) -> None:
        for op in block.operations:
            self.walk(op.operation, nest, skip_root=False)

    def inside(self, op, nest: Nest) -> None:
        """Visit everything nested in ``op``'s regions in ``nest``."""
        self.walk(op.operation, nest, skip_root=True)

    def walk(self, root, nest: Nest, skip_root: bool) -> None:
        """Visit ``root`` (unless ``skip_root``) and what it holds, in ``nest``; a region
        operation met on the way gives its own walk its own domain."""
        first = [skip_root]
        passed, visit_op, visit_access = self.passed, self.op, self.access

        def callback(op):
            # (called for every operation of the module: the common case, a pure operation
            # without regions, is answered here without a further call)
            name = op.name
            if passed.get(name):
                return _SKIP
            if first[0]:
                first[0] = False
                return _ADVANCE
            try:
                if name in ACCESS_OPS:  # (the most common operation to prove: one call less)
                    return visit_access(op, name, nest)
                return visit_op(op, name, nest)
            except BaseException as exc:  # (re-raised below, once the walker has returned)
                self.error = exc
                return _INTERRUPT

        root.walk(callback, _PRE_ORDER)
        if self.error is not None:
            raise self.error

    def op(self, op, name: str, nest: Nest):
        """Visit one operation (an `ir.Operation` named ``name``); the walker's next step: skip
        its regions (they were walked, or hold nothing to prove) or enter them in the same
        domain."""
        passed = self.passed.get(name)
        if passed is None:  # (asked of every operation: remembered by name)
            passed = self.passed[name] = is_pure(name) and name not in _REGION_OPS
        if passed:
            return _SKIP
        if self.only is not None and len(op.regions) and op not in self.only:
            return _SKIP
        handler = _REGION_OPS.get(name)
        if handler is not None:
            handler(self, op, nest)
            return _SKIP
        if foreign_memory_op(op):
            self.visit(self, op, None, nest)
        return _ADVANCE  # any other op: its regions in the same domain

    def access(self, op, name: str, nest: Nest):
        """Visit the element access ``op`` (named ``name``, one of `ACCESS_OPS`); the walker's
        next step."""
        try:
            acc = access_of(op, self.type_facts, name)
        except NotAffine as exc:
            acc = str(exc)
        if acc is not None:
            self.visit(self, op, acc, nest)
        return _SKIP  # (an element access has no regions: MLIR's verifier holds it to none)

    # -- the proof of one access
    def prove(self, op, acc, nest: Nest) -> Refusal | None:
        if acc is None:
            return Refusal(op, None, f"{op_name(op)} touches a memref or pointer in a way the bounds "
                                     "proof cannot see (only loads, stores and vector transfers are proved)")
        if isinstance(acc, str):
            return Refusal(op, None, acc)
        shape = acc.shape
        if min(shape, default=0) < 0:
            return Refusal(op, acc.memref, "the memref has a dynamic shape")
        forms, known = self.forms, nest.ranges
        try:
            indices = forms.index_shapes(acc.amap, acc.indices)
            for dim, (n, ext, index) in enumerate(zip(shape, acc.extents, indices)):
                if index is None:  # a division or modulo: its own isl form
                    rng, offset = self.divided_range(acc, dim, nest), 0
                else:  # sum(c * v) + offset: the range of sum(c * v) is shared by unrolled copies
                    lin, offset = index
                    rng = known.get(lin.key, False)  # (the common case: known, no call)
                    if rng is False:
                        rng = nest.linear_range(lin.frozen, forms, forms.shape_key(lin))
                if rng is None:
                    return None  # the access is never executed
                lo, hi = rng[0] + offset, rng[1] + offset + ext - 1
                if dim in acc.masked:
                    hi = min(hi, n - 1)  # lanes past the end are masked off, not the start
                if lo < 0 or hi >= n:
                    return Refusal(op, acc.memref, "out of range", dim, lo, hi, n)
        except NotAffine as exc:
            return Refusal(op, acc.memref, str(exc))
        except (Unbounded, isl.Error) as exc:
            return Refusal(op, acc.memref, f"the integer set library could not bound it ({exc})")
        return None

    def divided_range(self, acc, dim: int, nest: Nest):
        """Exact (min, max) of index ``dim`` of ``acc`` over ``nest`` (None: never reached),
        an index that divides (no linear shape): its own isl form."""
        forms = [self.forms.of(v) for v in acc.indices]
        return nest.range_of(self.forms.expr(acc.amap.results[dim], forms, acc.amap.n_dims))

    # -- domains
    def loop_body(self, op, nest: Nest, bounds: list, ivs: list) -> None:
        """Walk region 0 of ``op`` in ``nest`` extended by ``bounds`` (one per IV), or with
        the IVs unknown (``bounds`` is a reason string)."""
        if isinstance(bounds, str):
            for iv in ivs:
                self.forms.unknown(iv, bounds)
            inner = nest
        else:
            try:
                inner = nest.loops(bounds)
            except isl.Error as exc:
                return self.loop_body(op, nest, f"the integer set library failed on its bounds ({exc})", ivs)
            for k, iv in enumerate(ivs):
                self.forms.bind(iv, inner.var(nest.depth + k), nest.depth + k)
        self.inside(op, inner)  # (each of these operations has one region)


def _affine_for(walk: _Walk, op, nest: Nest) -> None:
    ops = list(op.operation.operands)
    lbm, ubm, step = for_bounds(op)
    iv = op.regions[0].blocks[0].arguments[0]
    try:
        lows = walk.forms.map_results(lbm, ops[:lbm.n_inputs])
        highs = walk.forms.map_results(ubm, ops[lbm.n_inputs:lbm.n_inputs + ubm.n_inputs])
        bounds = [(lows, highs, step)]
    except NotAffine as exc:
        bounds = f"the bounds of its affine.for are not affine: {exc}"
    walk.loop_body(op, nest, bounds, [iv])


def _scf_for(walk: _Walk, op, nest: Nest) -> None:
    lb, ub, step = list(op.operation.operands)[:3]
    iv = op.operation.regions[0].blocks[0].arguments[0]
    try:
        if "unsignedCmp" in op.attributes:
            raise NotAffine("it compares unsigned")
        s = walk.forms.of(step)
        c = constant_of(s)
        if c is None or c < 1:
            raise NotAffine("its step is not a positive constant")
        bounds = [([walk.forms.of(lb)], [walk.forms.of(ub)], c)]
    except NotAffine as exc:
        bounds = f"the bounds of its scf.for cannot be followed: {exc}"
    walk.loop_body(op, nest, bounds, [iv])


def _affine_parallel(walk: _Walk, op, nest: Nest) -> None:
    ops = list(op.operation.operands)
    lbm = ir.AffineMapAttr(op.attributes["lowerBoundsMap"]).value
    ubm = ir.AffineMapAttr(op.attributes["upperBoundsMap"]).value
    lgroups = list(ir.DenseIntElementsAttr(op.attributes["lowerBoundsGroups"]))
    ugroups = list(ir.DenseIntElementsAttr(op.attributes["upperBoundsGroups"]))
    steps = [ir.IntegerAttr(s).value for s in ir.ArrayAttr(op.attributes["steps"])]
    ivs = list(op.operation.regions[0].blocks[0].arguments)
    try:
        lows = walk.forms.map_results(lbm, ops[:lbm.n_inputs])
        highs = walk.forms.map_results(ubm, ops[lbm.n_inputs:lbm.n_inputs + ubm.n_inputs])
        bounds, li, ui = [], 0, 0
        for nl, nu, s in zip(lgroups, ugroups, steps):
            bounds.append((lows[li:li + nl], highs[ui:ui + nu], s))
            li, ui = li + nl, ui + nu
    except NotAffine as exc:
        bounds = f"the bounds of its affine.parallel are not affine: {exc}"
    walk.loop_body(op, nest, bounds, ivs)


def _scf_parallel(walk: _Walk, op, nest: Nest) -> None:
    ivs = list(op.operation.regions[0].blocks[0].arguments)
    n = len(ivs)
    ops = list(op.operation.operands)
    try:
        bounds = []
        for k in range(n):
            c = constant_of(walk.forms.of(ops[2 * n + k]))
            if c is None or c < 1:
                raise NotAffine("a step is not a positive constant")
            bounds.append(([walk.forms.of(ops[k])], [walk.forms.of(ops[n + k])], c))
    except NotAffine as exc:
        bounds = f"the bounds of its scf.parallel cannot be followed: {exc}"
    walk.loop_body(op, nest, bounds, ivs)


def _branches(walk: _Walk, op, nest: Nest, cond) -> None:
    then_nest, else_nest = (nest, nest) if cond is None else (nest.restrict(cond), nest.exclude(cond))
    regions = op.operation.regions
    for region, inner in zip(regions, (then_nest, else_nest)):
        for b in region.blocks:
            walk.block(b, inner)


def _affine_if(walk: _Walk, op, nest: Nest) -> None:
    try:
        cond = walk.forms.integer_set(str(op.attributes["condition"]), list(op.operation.operands))
    except NotAffine:
        cond = None  # both branches keep the whole domain: a superset of where they run
    _branches(walk, op, nest, cond)


def _scf_if(walk: _Walk, op, nest: Nest) -> None:
    _branches(walk, op, nest, walk.forms.condition(op.operation.operands[0]))


def _same_domain(walk: _Walk, op, nest: Nest) -> None:
    # a region op that is pure itself (scf.execute_region, scf.reduce) but may hold accesses
    walk.inside(op, nest)


def _func(walk: _Walk, op, nest: Nest) -> None:
    walk.inside(op, Nest.root(walk.ctx))


_REGION_OPS = {"affine.for": _affine_for, "scf.for": _scf_for, "affine.parallel": _affine_parallel,
               "scf.parallel": _scf_parallel, "affine.if": _affine_if, "scf.if": _scf_if,
               "func.func": _func, "scf.execute_region": _same_domain, "scf.reduce": _same_domain}
