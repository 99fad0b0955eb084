"""What one original iteration of a kernel's innermost loop does, read from the descriptor.

The cost model (`unrollkit.tuning.cost_model`) needs, per iteration of the loop it unrolls: the
memory accesses (unit-stride, strided, invariant), the floating-point work (FMAs after LLVM
contracts ``a*b + c``), whether it is a reduction (an accumulator kept in a register) or a
recurrence through memory (``y[t] = f(y[t-1])``) and the latency of that loop-carried chain,
the register need of one copy of the body, and where in the memory hierarchy its data lives.
Pure functions over frozen descriptors.
"""
from __future__ import annotations

import dataclasses
import math

from unrollkit.frontend import descriptor as d
from unrollkit.core.target import Target
from unrollkit.analysis.iteration_counts import nest_counts


@dataclasses.dataclass(frozen=True)
class LoopProfile:
    """What one iteration of the innermost loop ``loop`` of ``kernel`` does at a call signature
    (`profile`): accesses, FP work, chains, registers, where its data lives."""
    kernel: str
    loop: str               # the source name of the innermost loop the factor applies to
    trip: int               # its trip count (per instance)
    instances: int          # how many times it runs per call (product of the enclosing trips)
    elem_bytes: int
    loads: int              # per iteration: loads that move with the loop (not hoistable)
    stores: int
    strided: int            # loads/stores whose address moves by more than one element
    invariant_values: int   # loop-invariant values held in registers (hoisted loads, scalars, constants)
    parent: str             # the enclosing loop worth unroll-and-jam (an access is invariant in it), or ""
    parent_trip: int
    shared_loads: int       # loads/stores invariant in the parent: shared by jammed copies
    shared_stores: int
    fma: int                # per iteration, after contraction of a*b+c
    add: int                # other add/sub/min/max
    mul: int
    div: int
    reduction: bool         # an accumulator M[idx] ⊕= x with idx invariant in the loop, or a
                            # scalar the loop carries as acc = acc ⊕ x (iter_args)
    recurrence: int         # distance of a memory recurrence y[t] ← y[t-d] (0: none)
    chain_latency: int      # latency of the loop-carried chain per link (0: none)
    regs_per_copy: int      # register need of one copy of the body (Sethi-Ullman number)
    traffic: tuple          # ((level, bytes per iteration), ...): where each access is served from
    footprint: int          # the largest reuse footprint (bytes touched between two uses)
    level: str              # the deepest level any access is served from

    @property
    def vectorizable(self) -> bool:
        """Would LLVM's loop vectoriser take it? Not with a recurrence, not with an FP reduction
        (it does not reassociate without fast-math), not with strided accesses (gathers)."""
        return not self.recurrence and not self.reduction and not self.strided

    @property
    def vector_reducible(self) -> bool:
        """Can unrollkit's own `vectorize` (reductions=true) take it: unit-stride accesses and
        no recurrence through memory; a reduction gets vector accumulators (``vector-acc``)."""
        return not self.recurrence and not self.strided

    @property
    def fp_ops(self) -> int:
        """Floating-point operations per iteration: FMAs, adds, multiplies and divides."""
        return self.fma + self.add + self.mul + self.div

    @property
    def uops(self) -> int:
        """Fused-domain uops of one scalar copy (a load folded into an FP op still costs its
        load-port uop, so loads are counted once here and not in the FP ops)."""
        return self.loads + self.stores + self.fp_ops


def innermost_nests(body, outer=()) -> list:
    """[(enclosing loops outer→inner, innermost loop)] of a body."""
    out = []
    for s in body:
        if isinstance(s, d.Loop):
            if any(isinstance(x, d.Loop) for x in s.body):
                out += innermost_nests(s.body, outer + (s,))
            else:
                out.append((outer, s))
    return out


def trip_count(lp: d.Loop, env: dict) -> int:
    """Iterations of loop ``lp`` with its bounds evaluated in ``env`` (sizes and outer loop
    variables)."""
    lo = max(d.aff_eval(e, env) for e in lp.lower)
    hi = min(d.aff_eval(e, env) for e in lp.upper)
    return max(0, math.ceil((hi - lo) / lp.step))


def _coeff(index: tuple, var: str) -> tuple:
    """(coefficient of ``var`` in the last subscript, whether it appears in any other)."""
    last, others = 0, False
    for n, e in enumerate(index):
        lin = d.aff_linear(e)
        c = (lin[0].get(var, 0) if lin else (1 if var in d.aff_vars(e) else 0))
        if n == len(index) - 1:
            last = c
        elif c:
            others = True
    return last, others


def _su(e) -> int:
    """Registers to evaluate an expression (Sethi-Ullman): leaves need one, a binary op the
    larger of its children's needs, or one more when both need the same."""
    if isinstance(e, d.BinOp):
        a, b = _su(e.lhs), _su(e.rhs)
        return a + 1 if a == b else max(a, b)
    if isinstance(e, d.Neg):
        return _su(e.operand)
    return 1


def _flops(e, counts: dict) -> None:
    """Count FP ops, contracting a multiply that feeds an add/sub into one FMA (LLVM does)."""
    if isinstance(e, d.BinOp):
        if e.op in ("+", "-"):
            muls = [c for c in (e.lhs, e.rhs) if isinstance(c, d.BinOp) and c.op == "*"]
            if muls:
                counts["fma"] += 1
                m = muls[0]
                for c in (m.lhs, m.rhs, e.rhs if m is e.lhs else e.lhs):
                    _flops(c, counts)
                return
            counts["add"] += 1
        elif e.op == "*":
            counts["mul"] += 1
        elif e.op == "/":
            counts["div"] += 1
        else:
            counts["add"] += 1
        _flops(e.lhs, counts)
        _flops(e.rhs, counts)
    elif isinstance(e, d.Neg):
        _flops(e.operand, counts)


def _path_latency(e, target_load, t: Target) -> int | None:
    """Latency from ``target_load`` to the value of ``e`` (None if ``e`` does not use it)."""
    if e == target_load:
        return 0
    if isinstance(e, d.Neg):
        return _path_latency(e.operand, target_load, t)
    if not isinstance(e, d.BinOp):
        return None
    kids = [(c, _path_latency(c, target_load, t)) for c in (e.lhs, e.rhs)]
    if e.op in ("+", "-") and any(isinstance(c, d.BinOp) and c.op == "*" for c, _ in kids):
        # contracted into an FMA: the path through the multiply or the addend is one FMA
        best = None
        for c, lat in kids:
            if isinstance(c, d.BinOp) and c.op == "*":
                for cc in (c.lhs, c.rhs):
                    x = _path_latency(cc, target_load, t)
                    if x is not None:
                        best = x if best is None else max(best, x)
            elif lat is not None:
                best = lat if best is None else max(best, lat)
        return None if best is None else best + t.fma_latency
    lats = [lat for _, lat in kids if lat is not None]
    if not lats:
        return None
    own = {"*": t.mul_latency, "/": 4 * t.mul_latency}.get(e.op, t.add_latency)
    return max(lats) + own


def _loads(e) -> list:
    return [x for x in d.walk_expr(e) if isinstance(x, d.Load)]


def profile(kernel: d.Kernel, sizes: dict, elem_bytes: int, t: Target) -> LoopProfile:
    """The profile of the innermost loop with the most iterations per call."""
    outer, lp, trip, inst = _hottest_nest(kernel, sizes)
    v = lp.var
    stores = [s for s in lp.body if isinstance(s, d.Store)]
    lets = [s for s in lp.body if isinstance(s, d.Let)]
    values = [s.value for s in stores] + [s.value for s in lets]
    counts = {"fma": 0, "add": 0, "mul": 0, "div": 0}
    for e in values:
        _flops(e, counts)
    reduction, rec_dist, chain, skip = _carried(stores, v, t)
    scalar_red, scalar_rec, scalar_chain = carried_scalars(lp.body, t)
    if scalar_rec and not rec_dist:
        rec_dist = 1
    reduction = (reduction or scalar_red) and not scalar_rec
    chain = max(chain, scalar_chain)
    # the loop around it: unroll-and-jam candidate when some access is invariant in it
    parent = outer[-1] if outer else None
    pv = parent.var if parent is not None else None

    def in_parent(index) -> bool:
        return pv is not None and any(pv in d.aff_vars(e) for e in index)

    loads = strided = shared_loads = shared_stores = 0
    invariant = set()
    for e in values:
        for ld in _loads(e):
            if id(ld) in skip:
                continue
            last, others = _coeff(ld.index, v)
            if not last and not others:
                invariant.add(ld)
                continue
            loads += 1
            shared_loads += not in_parent(ld.index)
            strided += last != 1 or others
        invariant |= {x for x in d.walk_expr(e) if isinstance(x, (d.Scalar, d.Const))}
    nstores = 0
    for s in stores:
        if id(s) in skip:
            continue
        nstores += 1
        shared_stores += not in_parent(s.index)
        last, others = _coeff(s.index, v)
        strided += last != 1 or others
    mem, foot = traffic(kernel, outer, lp, sizes, elem_bytes, t, skip)
    return LoopProfile(
        kernel=kernel.name, loop=lp.name, trip=trip, instances=inst, elem_bytes=elem_bytes,
        parent=parent.name if parent is not None and (shared_loads or shared_stores or reduction) else "",
        parent_trip=trip_count(parent, {**sizes, **{o.var: 0 for o in outer}}) if parent is not None else 0,
        shared_loads=shared_loads, shared_stores=shared_stores,
        loads=loads, stores=nstores, strided=int(strided), invariant_values=len(invariant),
        reduction=reduction, recurrence=rec_dist, chain_latency=chain,
        regs_per_copy=max([_su(e) for e in values] or [1]),
        traffic=mem, footprint=foot, level=mem[-1][0] if mem else "L1", **counts)


def _hottest_nest(kernel: d.Kernel, sizes: dict) -> tuple:
    """(enclosing loops, innermost loop, its mean trip count, instances per call) of the
    innermost loop with the most iterations per call: exact counts from isl
    (`iteration_counts.nest_counts`: triangular bounds give their mean trip), or, where isl
    would take too long, the trip count at the first iteration of the loops around."""
    nests = innermost_nests(kernel.body)
    if not nests:
        raise ValueError(f"kernel {kernel.name!r} has no loop")
    best = None
    for outer, lp in nests:
        counts = nest_counts(outer, lp, sizes)
        if counts is not None:
            inst, total = counts
            trip = round(total / inst) if inst else 0
        else:
            env, inst = dict(sizes), 1
            for o in outer:
                inst *= trip_count(o, env)
                env[o.var] = max(d.aff_eval(e, env) for e in o.lower)
            trip = trip_count(lp, env)
            total = trip * inst
        if best is None or total > best[0]:
            best = (total, outer, lp, trip, inst)
    return best[1:]


def _carried(stores: list, v: str, t: Target) -> tuple:
    """(reduction?, recurrence distance, chain latency, ids of the accesses LLVM keeps in
    registers) of the values carried across iterations of loop ``v`` through memory."""
    reduction, rec_dist, chain, skip = False, 0, 0, set()
    for s in stores:
        sl, so = _coeff(s.index, v)
        for ld in _loads(s.value):
            if ld.array != s.array:
                continue
            if not sl and not so and ld.index == s.index:
                # M[idx] ⊕= x: LLVM keeps the accumulator in a register (load/store hoisted)
                reduction = True
                chain = max(chain, _path_latency(s.value, ld, t) or t.add_latency)
                skip |= {id(ld), id(s)}
            elif sl == 1 and not so:
                dist = _distance(s.index, ld.index, v)
                if dist and dist > 0:
                    # y[t] = f(y[t-d]): GVN forwards the stored value; the chain is f's latency
                    rec_dist = dist if not rec_dist else min(rec_dist, dist)
                    chain = max(chain, _path_latency(s.value, ld, t) or t.add_latency)
                    skip.add(id(ld))
    return reduction, rec_dist, chain, skip


#: the operators of a carried scalar that ``multi-acc`` and ``vector-acc`` may reassociate
#: (`unrollkit.codegen.macro_unroll.split_carried`'s rule)
SCALAR_REDUCTIONS = ("+", "*", "min", "max")


def carried_scalars(body: tuple, t: Target) -> tuple:
    """(reduction?, other carried chain?, chain latency) of the scalars a loop body carries
    in registers (``iter_args``): a local read before the body assigns it. Each carried one is
    a reduction when the body assigns it once as ``acc = acc ⊕ e`` (⊕ in `SCALAR_REDUCTIONS`)
    and reads it nowhere else; any other (``acc = acc * c + x``, a value read in the body) is
    a chain through every iteration that no accumulator splitting may break."""
    assigned, carried, lets, reads = set(), set(), {}, {}
    for s in body:
        for e in d.statement_values(s):
            for x in d.walk_expr(e):
                if isinstance(x, d.Local):
                    reads[x.name] = reads.get(x.name, 0) + 1
                    if x.name not in assigned:
                        carried.add(x.name)
        if isinstance(s, d.Let):
            assigned.add(s.name)
            lets.setdefault(s.name, []).append(s.value)
    carried &= set(lets)
    reduction, other, chain = False, False, 0
    for name in carried:
        values = lets[name]
        v = values[0]
        acc = d.Local(name)
        ok = (len(values) == 1 and isinstance(v, d.BinOp) and v.op in SCALAR_REDUCTIONS
              and acc in (v.lhs, v.rhs) and reads[name] == 1)
        reduction, other = reduction or ok, other or not ok
        chain = max(chain, _path_latency(v, acc, t) or t.add_latency)
    return reduction, other, chain


def _distance(store_idx: tuple, load_idx: tuple, v: str) -> int | None:
    """How many iterations back ``load_idx`` reads what ``store_idx`` writes (same coefficients)."""
    if len(store_idx) != len(load_idx):
        return None
    dist = None
    for a, b in zip(store_idx, load_idx):
        la, lb = d.aff_linear(a), d.aff_linear(b)
        if la is None or lb is None or la[0] != lb[0]:
            return None
        diff = la[1] - lb[1]
        if la[0].get(v):
            dist = diff // la[0][v] if diff % la[0][v] == 0 else None
        elif diff:
            return None
    return dist


def traffic(kernel: d.Kernel, outer: tuple, lp: d.Loop, sizes: dict, elem_bytes: int,
            t: Target, skip: set) -> tuple:
    """((level, bytes per iteration), ...) and the largest reuse footprint.

    Each access that moves with the loop is served by the level that holds the data between
    two uses of it: for an access invariant in some enclosing loop (gemm i-k-j: B[k, j] is
    reused across i), everything the nest touches in one iteration of the innermost such loop
    (all of B plus a row of A and C); for data used once, the whole working set (it streams
    from wherever the arrays live). Stores beyond L1 cost twice (read for ownership + write back).
    """
    loops = list(outer) + [lp]
    env, trips = dict(sizes), {}
    for o in loops:
        trips[o.var] = trip_count(o, env)
        env[o.var] = max(d.aff_eval(e, env) for e in o.lower)
    accesses = []  # (array, index, is_store)
    for s in lp.body:
        if isinstance(s, d.Store) and id(s) not in skip:
            accesses.append((s.array, s.index, True))
        if isinstance(s, (d.Store, d.Let)):
            accesses += [(x.array, x.index, False) for x in _loads(s.value) if id(x) not in skip]

    def used(idx) -> set:
        return set().union(*[d.aff_vars(e) for e in idx]) if idx else set()

    def touched(inner_vars) -> int:
        seen = {}
        for arr, idx, _ in accesses:
            n = 1
            for var in used(idx) & set(inner_vars):
                n *= max(1, trips[var])
            seen[arr] = max(seen.get(arr, 0), n)
        return sum(seen.values()) * elem_bytes

    whole = touched([o.var for o in loops])
    out, biggest = {}, 0
    for arr, idx, is_store in accesses:
        u = used(idx)
        if lp.var not in u:
            continue  # invariant in the loop: a register
        reuse = [n for n, o in enumerate(loops) if o.var not in u]
        foot = whole if not reuse else touched([o.var for o in loops[reuse[-1] + 1:]])
        biggest = max(biggest, foot)
        level = cache_level(foot, t)
        # a store beyond L1 costs its line twice: read for ownership, then the write-back
        nbytes = elem_bytes * (2 if is_store and level != "L1" else 1)
        out[level] = out.get(level, 0) + nbytes
    return tuple(sorted(out.items(), key=lambda kv: LEVELS.index(kv[0]))), biggest


LEVELS = ("L1", "L2", "L3", "DRAM")


def cache_level(nbytes: int, t: Target) -> str:
    """The level of ``t``'s memory hierarchy a streaming loop touching ``nbytes`` is served from:
    ``L1``, ``L2``, ``L3`` or ``DRAM`` (L2 and L3 count at 3/4)."""
    # a streaming loop keeps its data in a level when it fits in about 3/4 of it (the rest is
    # taken by other lines and by the lower level's inclusive copies)
    if nbytes <= t.l1d_bytes:
        return "L1"
    if nbytes <= 0.75 * t.l2_bytes:
        return "L2"
    if nbytes <= 0.75 * (t.l3_usable_bytes or t.l3_bytes):
        return "L3"
    return "DRAM"
