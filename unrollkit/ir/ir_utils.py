"""Small helpers over MLIR operations shared by passes and the cost model.

Loop rewrites here (`new_loop`, `rebuild_loop`, `split_loop`, `reorder_band`) build fresh
``affine.for`` ops and move bodies into them: the bindings cannot change an op's operand
count in place, and a fresh op keeps every handle the caller holds either valid or erased.
"""
from __future__ import annotations

import contextvars

from mlir import ir
from mlir.dialects import affine, arith

import math

from unrollkit.analysis.trip_counts import bound_span
from unrollkit.core.errors import TransformError
from unrollkit.ir.lower_affine import LOOP_NAME_ATTR

#: attributes of affine.for that describe its bounds; everything else (uk.name, ...) is copied
_INHERENT = {"lowerBoundMap", "upperBoundMap", "step", "operandSegmentSizes"}


def walk_ops(root, name: str | None = None) -> list:
    """Every operation under ``root`` (pre-order), optionally only those named ``name``."""
    out = []

    def visit(op):
        if name is None or op.name == name:
            out.append(op)
        return ir.WalkResult.ADVANCE

    (root.operation if hasattr(root, "operation") else root).walk(visit, ir.WalkOrder.PRE_ORDER)
    return out


def loop_name(op) -> str | None:
    """The source name of a loop (its ``uk.name`` attribute), None when it has none."""
    attrs = op.attributes
    return ir.StringAttr(attrs[LOOP_NAME_ATTR]).value if LOOP_NAME_ATTR in attrs else None


def set_loop_name(op, name: str) -> None:
    """Give loop ``op`` the source name ``name`` (its ``uk.name`` attribute)."""
    op.attributes[LOOP_NAME_ATTR] = ir.StringAttr.get(name)


def affine_loops(module) -> list:
    """Every ``affine.for`` under ``module``, outer first (pre-order)."""
    return walk_ops(module, "affine.for")


#: the loop names of the nests parked while the running pass works on the others
#: (`unrollkit.codegen.nest_scope`): still loops of the module, for `loop_names`
PARKED_LOOP_NAMES: contextvars.ContextVar = contextvars.ContextVar("unrollkit_parked_loop_names",
                                                                   default=frozenset())


def loop_names(module) -> list:
    """The source names of the loops of ``module``, sorted, each once (those of nests parked
    meanwhile included: `PARKED_LOOP_NAMES`)."""
    return sorted({n for n in map(loop_name, affine_loops(module)) if n} | PARKED_LOOP_NAMES.get())


#: loop names that a pass of the running `Pipeline` unrolled away (see `vanished`)
UNROLLED_AWAY: contextvars.ContextVar = contextvars.ContextVar("unrollkit_unrolled_away", default=None)


def vanished(module, name: str) -> bool:
    """Was loop ``name`` in the module earlier in the running pipeline, and is it gone now?

    Unrolling by a factor at least the trip count (``unroll{factor=8}`` of a 5-trip loop,
    ``unroll-jam`` by the trip count) or canonicalizing an empty loop removes the loop at that
    size only; a later pass that names it then has nothing to do (like ``i.rem`` when the
    factor divides the trip count) instead of failing at some sizes and not others. Only
    passes that remove loops as a side effect of their work count (``Pass.removes_loops``:
    unroll, unroll-jam, canonicalize, mlir): a name that ``rename`` took away is still an
    error to use."""
    gone = UNROLLED_AWAY.get()
    return gone is not None and name in gone and name not in loop_names(module)


def is_innermost(loop_op) -> bool:
    """Whether no ``affine.for`` is nested in ``loop_op``."""
    return not any(o.name == "affine.for" for o in walk_ops(loop_op)[1:])


def count_ops(op) -> int:
    """Operations nested under ``op`` (``op`` itself not counted)."""
    return len(walk_ops(op)) - 1


def constant_trip_count(loop_op) -> int | None:
    """Trip count of an ``affine.for`` when it is a compile-time constant, else None.

    Constant when the bounds are constants, or when ``ub − lb`` is (a full tile: ``%t`` to
    ``%t + 8``). Bound operands that are constants (``arith.constant``, an ``affine.apply`` of
    constants: what full unrolling leaves, e.g. ``affine.for %j = #map(%c1) to 8``) are folded
    first, as upstream's ``getConstantTripCount`` does: if upstream saw a constant trip count
    where we see none, the two would disagree about what to unroll (and upstream fails on a
    loop shorter than the factor)."""
    step = step_of(loop_op)
    lbs, ubs, space = _bounds_in_one_space(loop_op)
    lo_c, hi_c = [_const_of(e) for e in lbs], [_const_of(e) for e in ubs]
    if None not in lo_c and None not in hi_c:
        return max(0, -(-(min(hi_c) - max(lo_c)) // step))
    if len(lbs) != 1 or space is None:
        return None
    diffs = [_const_of(ir.AffineExpr.simplify_affine_expr(u - lbs[0], *space)) for u in ubs]
    if None in diffs:
        return None
    return max(0, -(-min(diffs) // step))


def _const_of(expr):
    try:
        return ir.AffineConstantExpr(expr).value
    except (ValueError, TypeError):
        return None


def const_index(v):
    """The integer an index value always has (an ``arith.constant``, or an ``affine.apply``
    of such), else None."""
    owner = v.owner if isinstance(v, ir.OpResult) else None
    if owner is None:
        return None
    if owner.name == "arith.constant":
        try:
            return ir.IntegerAttr(owner.attributes["value"]).value
        except (ValueError, TypeError):
            return None
    if owner.name == "affine.apply":
        amap = ir.AffineMapAttr(owner.attributes["map"]).value
        vals = [const_index(x) for x in owner.operands]
        if amap.n_symbols or None in vals or len(amap.results) != 1:
            return None
        sub = ir.AffineMap.get(0, 0, [ir.AffineConstantExpr.get(c) for c in vals])
        return _const_of(ir.AffineExpr.simplify_affine_expr(amap.results[0].compose(sub), 0, 0))
    return None


def _bounds_in_one_space(loop_op):
    """The lower- and upper-bound results of ``loop_op`` over one list of distinct, non-constant
    operands (constants folded in), simplified: ``(lb exprs, ub exprs, (dims, symbols))``; the
    last is None when the two are over different operands (then they cannot be subtracted)."""
    lbm, ubm = bound_maps(loop_op)
    lbo, ubo = bound_operands(loop_op)
    if lbm.n_symbols or ubm.n_symbols:  # (only from raw mlir{...} steps) not folded
        same = list(lbo) == list(ubo) and (lbm.n_dims, lbm.n_symbols) == (ubm.n_dims, ubm.n_symbols)
        return list(lbm.results), list(ubm.results), (lbm.n_dims, lbm.n_symbols) if same else None
    uniq = []

    def subst(amap, operands):
        dims = []
        for v in operands:
            c = const_index(v)
            if c is not None:
                dims.append(ir.AffineConstantExpr.get(c))
                continue
            k = next((k for k, u in enumerate(uniq) if u == v), None)
            if k is None:
                k = len(uniq)
                uniq.append(v)
            dims.append(ir.AffineDimExpr.get(k))
        return dims

    ld, ud = subst(lbm, lbo), subst(ubm, ubo)
    n = max(len(uniq), 1)

    def fold(amap, dims):
        if not dims:
            return [ir.AffineExpr.simplify_affine_expr(e, n, 0) for e in amap.results]
        sub = ir.AffineMap.get(n, 0, dims)
        return [ir.AffineExpr.simplify_affine_expr(e.compose(sub), n, 0) for e in amap.results]

    return fold(lbm, ld), fold(ubm, ud), (n, 0)


def step_of(loop_op) -> int:
    """The constant step of an ``affine.for``."""
    return ir.IntegerAttr(loop_op.attributes["step"]).value


def bound_maps(loop_op):
    """(lower bound map, upper bound map) of an ``affine.for``, each an ``ir.AffineMap``."""
    return (ir.AffineMapAttr(loop_op.attributes["lowerBoundMap"]).value,
            ir.AffineMapAttr(loop_op.attributes["upperBoundMap"]).value)


def bound_operands(loop_op):
    """(lower-bound operands, upper-bound operands) of an affine.for."""
    lb, ub = bound_maps(loop_op)
    ops = list(loop_op.operands)
    return ops[:lb.n_inputs], ops[lb.n_inputs:lb.n_inputs + ub.n_inputs]


def has_iter_args(loop_op) -> bool:
    """Whether an ``affine.for`` carries values (``iter_args``): operands beyond its bound maps'
    inputs."""
    lb, ub = bound_maps(loop_op)
    return len(loop_op.operands) > lb.n_inputs + ub.n_inputs


def iv_of(loop_op):
    """The induction variable of a loop: its body's first block argument."""
    return loop_op.regions[0].blocks[0].arguments[0]


def body_ops(loop_op) -> list:
    """The ops of the loop body, without its terminator."""
    return list(loop_op.regions[0].blocks[0].operations)[:-1]


def loop_of_iv(value):
    """The affine.for whose induction variable ``value`` is, else None."""
    if isinstance(value, ir.BlockArgument):
        owner = value.owner.owner
        if owner is not None and owner.name == "affine.for" and value.arg_number == 0:
            return owner
    return None


def enclosing_loops(op) -> list:
    """affine.for ops around ``op``, outermost first."""
    out = []
    p = op.parent
    while p is not None and p.name != "func.func":
        if p.name == "affine.for":
            out.append(p)
        p = p.parent
    return out[::-1]


def copy_attributes(src, dst) -> None:
    """Copy the discardable attributes of loop ``src`` (its name, unroll marks, ...) onto ``dst``:
    not the bounds and step, nor the transform-script mark ``uk.target``."""
    for key in src.attributes:
        if key not in _INHERENT and key != "uk.target":
            dst.attributes[key] = src.attributes[key]


def new_loop(lb, lb_ops, ub, ub_ops, step, ip, name: str | None = None, like=None):
    """An empty ``affine.for`` (body = yield) at ``ip``; attributes copied from ``like``."""
    with ip, (like.location if like is not None else ir.Location.unknown()):
        op = affine.AffineForOp(lb, ub, step, lower_bound_operands=list(lb_ops),
                                upper_bound_operands=list(ub_ops))
        with ir.InsertionPoint(op.body):
            affine.AffineYieldOp([])
    op = op.operation
    if like is not None:
        copy_attributes(like, op)
    if name is not None:
        set_loop_name(op, name)
    return op


def move_body(src, dst) -> None:
    """Move the body of loop ``src`` into loop ``dst`` (before its yield); the IV follows."""
    term = list(dst.regions[0].blocks[0].operations)[-1]
    for op in body_ops(src):
        op.move_before(term)
    iv_of(src).replace_all_uses_with(iv_of(dst))


def rebuild_loop(loop_op, lb=None, ub=None, step=None, ip=None, name=None):
    """Replace ``loop_op`` by a loop with new bounds (``(map, operands)``) and the same body.

    Returns the new op; ``loop_op`` is erased."""
    if has_iter_args(loop_op):
        raise TransformError(f"loop {loop_name(loop_op) or '<unnamed>'!r} carries values "
                             "(iter_args); this rewrite supports plain loops only")
    lbm, ubm = bound_maps(loop_op)
    lbo, ubo = bound_operands(loop_op)
    lb = lb or (lbm, lbo)
    ub = ub or (ubm, ubo)
    new = new_loop(lb[0], lb[1], ub[0], ub[1], step or step_of(loop_op),
                   ip or ir.InsertionPoint(loop_op), name=name, like=loop_op)
    move_body(loop_op, new)
    loop_op.erase()
    return new


def shifted(amap, offset: int):
    """Results of ``amap`` with dims renumbered from ``offset``; symbols must be absent."""
    if amap.n_symbols:
        raise TransformError("bounds with symbols are not supported by this rewrite")
    return [e.shift_dims(amap.n_dims, offset) if offset else e for e in amap.results]


def split_point(loop_op, multiple: int, front: bool):
    """The bound that splits ``loop_op`` so one part's trip count is a multiple of ``multiple``.

    back: main = [lb, lb + floor(T/m)·m·step); front: remainder = [lb, lb + (T mod m)·step).
    Needs a single-result lower and upper bound (no min/max)."""
    lbm, ubm = bound_maps(loop_op)
    lbo, ubo = bound_operands(loop_op)
    name = loop_name(loop_op) or "<unnamed>"
    if len(lbm.results) != 1 or len(ubm.results) != 1:
        raise TransformError(f"cannot split loop {name!r}: its bounds are a max/min of several "
                             "expressions (a partial tile); choose tile sizes that divide the trip count")
    st = step_of(loop_op)
    lo = shifted(lbm, 0)[0]
    hi = shifted(ubm, lbm.n_dims)[0]
    trips = ir.AffineExpr.get_ceil_div(hi - lo, ir.AffineConstantExpr.get(st))
    m = ir.AffineConstantExpr.get(multiple)
    count = ir.AffineExpr.get_mod(trips, m) if front else ir.AffineExpr.get_floor_div(trips, m) * m
    e = lo + count * st
    return dedup_operands(ir.AffineMap.get(lbm.n_dims + ubm.n_dims, 0, [e]), list(lbo) + list(ubo))


def dedup_operands(amap, operands):
    """``(amap, operands)`` with each distinct operand once and the results simplified.

    A map over ``(%t, %t)`` (a bound built from the lower and the upper bound of a tile's point
    loop, both ``%t``) hides that ``d1 - d0`` is 0: upstream then finds a constant trip count
    that ours (`constant_trip_count`) missed, and the two disagree (upstream's unroller fails
    on a loop it sees as shorter than the factor)."""
    if amap.n_symbols:
        return amap, list(operands)
    uniq, index = [], []
    for v in operands:
        for k, u in enumerate(uniq):
            if u == v:
                index.append(k)
                break
        else:
            index.append(len(uniq))
            uniq.append(v)
    if len(uniq) == len(operands):
        exprs = list(amap.results)
    else:
        sub = ir.AffineMap.get(len(uniq), 0, [ir.AffineDimExpr.get(k) for k in index])
        exprs = [e.compose(sub) for e in amap.results]
    exprs = [ir.AffineExpr.simplify_affine_expr(e, len(uniq), 0) for e in exprs]
    return ir.AffineMap.get(len(uniq), 0, exprs), uniq


def split_loop(loop_op, at, first_name=None, second_name=None, clamp: str = ""):
    """Split ``loop_op`` at bound ``at`` (map, operands) into [lb, at) and [at, ub); both returned.

    ``clamp``: "first" makes the first part [lb, min(at, ub)), "second" makes the second part
    [max(at, lb), ub) — needed when ``at`` may fall outside [lb, ub] (a loop that may have a
    negative raw trip count, where ``at`` computed from it lands outside the loop's range)."""
    lbm, ubm = bound_maps(loop_op)
    lbo, ubo = bound_operands(loop_op)
    first_ub, second_lb = at, at
    if clamp == "first":
        first_ub = _bound_union(at, (ubm, ubo))
    elif clamp == "second":
        second_lb = _bound_union(at, (lbm, lbo))
    second = loop_op.clone(ir.InsertionPoint(loop_op))
    second.move_after(loop_op)
    first = rebuild_loop(loop_op, ub=first_ub, name=first_name)
    second = rebuild_loop(second, lb=second_lb, name=second_name)
    return first, second


def _bound_union(a, b):
    """One bound map with the results of both (map, operands) pairs (a min for an upper bound,
    a max for a lower bound); symbols must be absent."""
    am, ao = a
    bm, bo = b
    exprs = shifted(am, 0) + shifted(bm, am.n_dims)
    return dedup_operands(ir.AffineMap.get(am.n_dims + bm.n_dims, 0, exprs), list(ao) + list(bo))


def trip_count_nonnegative(loop_op) -> bool:
    """Is ``ub − lb ≥ 0`` provable for every execution of ``loop_op`` (over the ranges of the
    loops around it)? A loop such as ``for j in range(i + 1, M - 1)`` has a negative raw trip
    count ``ceildiv(ub − lb, step)`` for large ``i``; anything computed from that trip count
    (a split point, a cleanup bound) must then be clamped to the loop's range."""
    if constant_trip_count(loop_op) is not None:
        return True  # constant: already clamped at 0 by whoever asks
    span = _bound_span(loop_op)
    return span is not None and span[0] >= 0


def trip_count_divisor(loop_op) -> int:
    """The largest integer known to divide the trip count of ``loop_op`` for every execution
    (its constant trip count, or e.g. 4 for a main loop that `peel` cut to a multiple of 4;
    0 divides nothing but is divided by everything: an always-empty loop gives 0)."""
    trips = constant_trip_count(loop_op)
    if trips is not None:
        return trips
    lbs, ubs, space = _bounds_in_one_space(loop_op)
    if len(lbs) != 1 or len(ubs) != 1 or space is None:
        return 1
    t = ir.AffineExpr.get_ceil_div(ubs[0] - lbs[0], ir.AffineConstantExpr.get(step_of(loop_op)))
    return _known_divisor(ir.AffineExpr.simplify_affine_expr(t, *space))


def _known_divisor(e) -> int:
    e = e.maybe_downcast() if hasattr(e, "maybe_downcast") else e
    if isinstance(e, ir.AffineConstantExpr):
        return abs(e.value)
    if isinstance(e, ir.AffineMulExpr):
        return _known_divisor(e.lhs) * _known_divisor(e.rhs)
    if isinstance(e, ir.AffineAddExpr):
        return math.gcd(_known_divisor(e.lhs), _known_divisor(e.rhs))
    return 1  # a dim, floordiv, ceildiv, mod: nothing known


def never_runs(loop_op) -> bool:
    """Is ``ub − lb ≤ 0`` provable wherever ``loop_op`` is reached (the loop never iterates)?"""
    if constant_trip_count(loop_op) is not None:
        return constant_trip_count(loop_op) == 0
    span = _bound_span(loop_op)
    return span is not None and span[1] <= 0


def always_runs(loop_op) -> bool:
    """Is ``ub − lb ≥ 1`` provable wherever ``loop_op`` is reached (at least one iteration)?"""
    trips = constant_trip_count(loop_op)
    if trips is not None:
        return trips >= 1
    span = _bound_span(loop_op)
    return span is not None and span[0] >= 1


def _bound_span(loop_op):
    """(min, max) of ``ub − lb`` over the iterations of the enclosing loops (exact, isl), or
    None (several bound expressions, not affine, or never reached)."""
    return bound_span(loop_op)


def clone_into(ops, mapping: dict, ip) -> dict:
    """Clone ``ops`` at ``ip``, replacing operands per ``mapping`` (old value → new value).

    Returns the mapping extended with the clones' results."""
    mapping = dict(mapping)
    for op in ops:
        new = op.clone(ip)
        for inner in walk_ops(new):
            for v in list(inner.operands):
                if v in mapping:
                    inner.replace_uses_of_with(v, mapping[v])
        for old_r, new_r in zip(op.results, new.results):
            mapping[old_r] = new_r
    return mapping


def bound_results(loop_op) -> tuple:
    """(results of the lower-bound map, results of the upper-bound map) of an ``affine.for``."""
    lb = ir.AffineMapAttr(loop_op.attributes["lowerBoundMap"]).value
    ub = ir.AffineMapAttr(loop_op.attributes["upperBoundMap"]).value
    return len(lb.results), len(ub.results)


def distinct_inits(loop_op) -> None:
    """Give every iter_arg of ``loop_op`` its own init value.

    MLIR 22's affine unroller maps the loop's init values to results when it builds the
    cleanup iteration, so two iter_args with one init value (e.g. a shared 0.0 constant after
    CSE) both end up reading the last one: a silent miscompile. A duplicated constant or load
    is cloned per use; any other duplicate is refused."""
    lbm, ubm = bound_maps(loop_op)
    first = lbm.n_inputs + ubm.n_inputs
    seen = set()
    for i, v in enumerate(list(loop_op.operands)[first:]):
        if v not in seen:
            seen.add(v)
            continue
        owner = v.owner if isinstance(v, ir.OpResult) else None
        if owner is None or owner.name not in ("arith.constant", "affine.load"):
            raise TransformError(
                f"cannot unroll loop {loop_name(loop_op) or '<unnamed>'!r}: two of its iter_args "
                "start from the same value, which MLIR 22's unroller miscompiles")
        copy = owner.clone(ir.InsertionPoint(loop_op))
        loop_op.operands[first + i] = copy.result


def yields_from_body(loop_op) -> None:
    """Make every value ``loop_op``'s body yields one computed in the body.

    MLIR 22's affine unroller (``generateUnrolledLoop``) leaves a yielded *block argument*
    as it is in the unrolled loop's yield, where it should become the last copy's value: for
    ``ym2 = ym1; ym1 = y[i, j]`` (``affine.yield %y, %ym1``) the unrolled loop yields the
    first copy's ``%ym1``, a silent miscompile (so for a yielded induction variable). Such a
    value is passed through ``arith.select true, %v, %v`` in the body, which the unroller
    clones per copy (canonicalization folds it away afterwards)."""
    body = loop_op.regions[0].blocks[0]
    term = body.operations[len(body.operations) - 1]
    args = list(body.arguments)
    for i, v in enumerate(list(term.operands)):
        if isinstance(v, ir.BlockArgument) and any(v == a for a in args):
            with ir.InsertionPoint(term), loop_op.location:
                true = arith.ConstantOp(ir.IntegerType.get_signless(1), 1).result
                term.operands[i] = arith.SelectOp(true, v, v).result
