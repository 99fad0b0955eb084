"""The cost model behind ``factor="auto"``: predict, then check the machine code.

For a kernel and a call signature, every candidate — MLIR unrolling (``affine``) by u = 1…16;
for reductions, k = 2…16 independent accumulators (``multi-acc``); for loops unrollkit's own
vectoriser takes, k = 1, 2, 4, 8 vector registers per trip (``vector-acc``: k vector
accumulators for a reduction); for nests, unroll-and-jam of the loop around the innermost one
by 2, 4 or 8 (``unroll-jam``) with unrolling by u — gets

1. an analytical prediction from the descriptor (`unrollkit.tuning.cost_loop`) and the host
   (`unrollkit.core.target`): live vector and scalar registers, uops and bytes of the loop body,
   and cycles per original iteration::

       c(u)   = max(‖core(u), L1(u)‖₄ + near,  far,  parent(u))  + tail(u) / trip
       core   = max(ResMII + back-edge, RecMII, FE) / iters(u)
       ResMII = max over port groups of uops per trip / ports      (loads, stores, FMA, divide, issue)
       RecMII = chain latency · u / k                              (k independent accumulators)
       FE     = (uops + 2) / issue width while the loop fits the decoded-uop cache, else bytes / 16

   assuming the code LLVM ought to produce (W-lane vectors where the loop vectorises); spill(u)
   (live vector values over the register file) adds a store and a reload per excess value;
   back-edge: the fetch cycles a taken back-edge costs beyond the ports (`Target`); L1(u),
   near, far is the ECM memory model: the L1 port cycles of the trip's loads and stores (a
   soft maximum with the core, `overlap`), the L2→L1 transfers (not overlapping the core) and
   the transfers from beyond L2 (overlapping all of it, see `combine`); parent(u): the chain
   through memory across the enclosing loop (`parent_chain`: gemm's C row at every k); a
   ``vector-acc`` candidate that swallows its whole inner loop keeps that row in registers
   instead (one FMA latency per enclosing iteration);
2. for the leading candidates, a check of the code LLVM really produced (`unrollkit.tuning.machine_check`):
   the hot loop's spills, gathers, bytes and uops, and llvm-mca's cycles per trip, which
   replace the analytical core estimate. A candidate that spills more than the rolled loop,
   gathers where the rolled loop does not, or overflows the uop cache is rejected.

The smallest factor whose checked prediction is within `TIE` of the best wins (`choose`).
"""
from __future__ import annotations

import dataclasses
import math

from unrollkit.tuning import cost_loop
from unrollkit.tuning.cost_loop import LoopProfile
from unrollkit.tuning.cost_terms import (combine, l1_cycles, memory_cycles, memory_parts, parent_chain,
                         tail_cycles)
from unrollkit.core.target import Target, host_target
from unrollkit.frontend.signature import sizes_of
from unrollkit.tuning import check_floor, machine_check
from unrollkit.codegen.compiler import compile_kernel
from unrollkit.codegen.pipeline import Pipeline
from unrollkit.tuning.variants import plan
from unrollkit.passes.unroll_jam import UnrollJam
from unrollkit.core.dtypes import BY_NAME
from unrollkit.core.errors import UnrollkitError

#: a candidate within this fraction of the best prediction ties with it; the smallest tying
#: factor wins (less code, shorter remainder, no benefit lost)
TIE = 0.02
#: candidates whose analytical prediction is within this ratio of the best are machine-checked
LEAD = 2.5
#: at most this many of the leading candidates are compiled and checked (each ~0.1–0.2 s)
MAX_CHECKED = 20
MAX_FACTOR = 16


@dataclasses.dataclass(frozen=True)
class Candidate:
    """One configuration ``factor="auto"`` considers: a variant (``affine``, ``multi-acc``,
    ``vector-acc``) and its factor, with unroll-and-jam of ``jam_loop`` by ``jam``."""
    variant: str          # "affine" (unroll by factor) or "multi-acc" (factor accumulators)
    factor: int
    jam: int = 1          # unroll-and-jam of the enclosing loop `jam_loop` by this factor
    jam_loop: str = ""

    @property
    def accumulators(self) -> int:
        """Independent accumulators (registers: vector ones for ``vector-acc``)."""
        return self.factor if self.variant in ("multi-acc", "vector-acc") else 1

    @property
    def copies(self) -> int:
        """Copies of the loop body in the unrolled code: what "the smallest factor" means."""
        return self.factor * self.jam

    @property
    def label(self) -> str:
        """The candidate in short: ``affine×4``, ``multi-acc×8``, ``affine×2 jam k×4``."""
        return f"{self.variant}×{self.factor}" + (f" jam {self.jam_loop}×{self.jam}" if self.jam > 1 else "")

    def pipeline(self, user=None):
        """Extra passes after the variant's own (unroll-and-jam, then the user's)."""
        extra = Pipeline()
        if self.jam > 1:
            extra = Pipeline((UnrollJam(loop=self.jam_loop, factor=self.jam),))
        return extra + user if user is not None else extra

    def plan(self, kernel, user=None, policy=None):
        """The `Plan` compiling ``kernel`` as this candidate, the user's pipeline ``user`` after its
        own passes, under LLVM ``policy``."""
        pipe = self.pipeline(user)
        return plan(kernel, variant=self.variant, factor=self.factor,
                    pipeline=pipe if pipe.passes else None, policy=policy)


#: constant-trip loops LLVM still unrolls fully with its unroller "off" (full unrolling of a
#: tiny constant trip count stays on): seen here for 2 trips of 8 zmm (gemm 256 columns), not
#: for 4 trips of 4 zmm
MAX_FULL_TRIPS = 2
#: unroll-and-jam factors tried for the loop around the innermost one
JAM_FACTORS = (2, 4, 8)
#: vector registers per trip tried for ``vector-acc``: powers of two (a 3- or 6-register
#: vector is legalised by LLVM into shuffles and spills here: dot f32 ×3 spilled 16 zmm,
#: ×6 66), up to 8 (beyond, loads + accumulators of a two-stream reduction exceed 32 registers)
VECTOR_REGISTERS = (1, 2, 4, 8)


@dataclasses.dataclass(frozen=True)
class Prediction:
    """Analytical estimate for one candidate (per trip of the unrolled loop unless noted)."""
    candidate: Candidate
    lanes: int             # elements per vector register assumed
    iters: int             # original iterations per trip
    uops: float
    code_bytes: int
    vec_regs: int          # live vector registers
    gp_regs: int           # live general registers (pointers, index, bound)
    spill_regs: int        # live vector values over the register file
    res_mii: float
    rec_mii: float
    fe: float
    bound: str             # which of res/rec/fe/mem bounds it
    core: float            # core cycles per original iteration
    mem: float             # cycles per original iteration of line transfers into L1 (0 when in L1)
    tail: float            # remainder + loop entry, per original iteration
    cycles: float          # predicted cycles per original iteration


def candidates(p: LoopProfile, max_factor: int = MAX_FACTOR) -> list:
    """Every candidate for loop profile ``p``: ``affine`` by 1 to ``max_factor``; ``multi-acc`` for
    a reduction; ``vector-acc`` where unrollkit vectorises; and unroll-and-jam of the parent loop."""
    out = [Candidate("affine", u) for u in range(1, max_factor + 1)]
    if p.reduction:
        out += [Candidate("multi-acc", k) for k in range(2, max_factor + 1)]
    if p.vector_reducible:
        out += [Candidate("vector-acc", k) for k in VECTOR_REGISTERS]
    if p.parent:
        out += [Candidate("affine", u, f, p.parent) for f in JAM_FACTORS if f <= p.parent_trip
                for u in range(1, max_factor + 1)]
    return out


#: LLVM's loop vectoriser forms interleave groups of at most this many accesses
#: (``-max-interleave-group-factor``); a body unrolled further is gathered/scattered element-wise
MAX_INTERLEAVE = 8


def shape(p: LoopProfile, c: Candidate, t: Target) -> tuple:
    """How LLVM vectorises the candidate's loop: (original iterations per trip, vector
    instructions per scalar operation per trip, register bits, predicted gather cliff).

    * rolled and vectorisable: the preferred width (256 bits on AVX-512 Intel tuning);
    * unrolled by u ≤ 8: the u accesses to each array form one interleave group, loaded wide
      and split into full-width registers; the group spans at most two of them (seen here:
      mac u = 2 → one zmm per stream, u = 4 or 8 → two zmm, 32 f32 elements per trip);
    * unrolled by u > 8: no interleave group, element-wise gathers (mac, gemm u = 16);
    * not vectorisable: scalar, except that k accumulators are packed by the SLP vectoriser;
    * ``vector-acc`` × k: k registers of the widest width per trip (unrollkit vectorises).
    """
    bits = 8 * p.elem_bytes
    w = t.vector_lanes(p.elem_bytes)
    u = c.factor
    if c.variant == "vector-acc":  # our own vectoriser: k full-width registers per trip
        lanes = t.vector_lanes(p.elem_bytes, t.vector_bits)
        return u * lanes, float(u), t.vector_bits, False
    if p.vectorizable:
        if u == 1:
            return w, 1.0, t.preferred_vector_bits, False
        if u <= MAX_INTERLEAVE:
            iters = min(u * w, 2 * t.vector_bits // bits)
            return iters, math.ceil(iters * bits / t.vector_bits), t.vector_bits, False
        return u, float(u), bits, True
    if p.reduction and c.accumulators > 1 and not p.strided:
        lanes = 1 << int(math.log2(min(c.accumulators, w)))
        return u, u / lanes, lanes * bits, False
    return u, float(u), bits, False


def registers(p: LoopProfile, c: Candidate, per: float) -> tuple:
    """(live vector registers, live general registers): loop-invariant values +
    u · values live per copy, + the accumulators (one register per vector of them)."""
    acc = math.ceil(per) if p.reduction and c.accumulators > 1 else (1 if p.reduction else 0)
    if c.variant == "vector-acc":
        acc = c.factor if p.reduction else 0
    rec = 1 if p.recurrence else 0
    f = c.jam  # jammed copies each hold their own invariants, accumulators and shared values
    vec = p.invariant_values * f + acc * f + rec + math.ceil(per) * (p.regs_per_copy + f - 1)
    # one pointer per distinct stream (at most loads + stores, one per jammed row), index, bound
    gp = p.loads + p.stores + (f - 1) * (p.loads - p.shared_loads) + 2
    return vec, gp


def predict(p: LoopProfile, c: Candidate, t: Target) -> Prediction:
    """The analytical `Prediction` for candidate ``c`` of loop profile ``p`` on ``t``: resource,
    recurrence, front-end and memory bounds, in cycles per original iteration."""
    iters, per, reg_bits, cliff = shape(p, c, t)
    lanes = max(1, reg_bits // (8 * p.elem_bytes))
    wide = reg_bits > 256
    # vector-acc covering the whole inner loop in at most MAX_FULL_TRIPS trips of its main
    # loop and one of its one-register remainder, in whole registers (gemm 48 columns at
    # 2 × 16 lanes: 32 + 16; 256 columns at 8 × 16: 2 trips): LLVM drops both loops, the trip is the whole row, and it hoists the accesses
    # invariant in the enclosing loop (C[i, j] over k: the row lives in registers); the values
    # stored there become chains across that loop's iterations, one link per row
    hoisted = (c.variant == "vector-acc" and bool(p.parent) and p.trip > 0 and p.trip % lanes == 0
               and p.trip // iters <= MAX_FULL_TRIPS and (p.trip % iters) // lanes <= 1)
    if hoisted:
        iters, per = p.trip, p.trip / lanes
    # `per` vector (or scalar) instructions for each operation of the body, per trip; jammed
    # copies share the accesses invariant in the jammed loop (gemm i-k-j jammed on k: C[i, j])
    f = c.jam
    iters *= f
    loads = per * (f * (p.loads - p.shared_loads) + p.shared_loads)
    stores = per * (f * (p.stores - p.shared_stores) + p.shared_stores)
    fp = (p.fma + p.add + p.mul) * per * f
    div = p.div * per * f
    if hoisted:
        loads -= per * p.shared_loads
        stores -= per * p.shared_stores
    if cliff:  # a gather/scatter costs about one load/store uop per element, plus the insert
        loads, stores = 2 * loads, 2 * stores
    vec, gp = registers(p, c, per)
    spill = max(0, vec - t.vector_registers)
    overhead = 2  # index update + fused compare-and-branch
    uops = loads + stores + fp + div + overhead + 2 * spill
    fma_units = t.fma_units_512 if wide else t.fma_units
    load_ports = t.load_ports_512 if wide else t.load_ports
    res = max((loads + spill) / load_ports, (stores + spill) / t.store_ports,
              fp / fma_units, div * t.div_rthroughput, uops / t.issue_width,
              1.0 / t.taken_branches_per_cycle) + t.back_edge_cycles
    rec = _recurrence_cycles(p, c, t, iters, hoisted)
    insn_bytes = 6 if lanes > 1 or p.elem_bytes == 8 else 5
    code_bytes = int(round((uops - overhead) * insn_bytes)) + 10
    if uops <= t.uop_cache_uops:
        fe = (uops + 2) / t.issue_width
    else:
        fe = code_bytes / t.legacy_decode_bytes
    core_trip = max(res, rec, fe)
    bound = ("res", "rec", "fe")[[res, rec, fe].index(core_trip)] + ("/gathers" if cliff else "")
    core = core_trip / iters
    mem = memory_cycles(p, t)
    cycles = combine(core, l1_cycles(loads + spill, stores + spill, wide, t) / iters, memory_parts(p, t))
    across = 0.0 if hoisted else parent_chain(p, f, t)
    if across > cycles:
        cycles, bound = across, "rec/parent"
    if mem > core:
        bound = "mem"
    # (hoisted: no loop of its own left to enter, no remainder)
    tail = 0.0 if hoisted else tail_cycles(p, iters // f, t, f, lanes if c.variant == "vector-acc" else 0)
    return Prediction(c, lanes, iters, uops, code_bytes, vec, gp, spill, res, rec, fe, bound,
                      core, mem, tail, cycles + tail)


def _recurrence_cycles(p: LoopProfile, c: Candidate, t: Target, iters: int, hoisted: bool) -> float:
    """Cycles per trip of the loop-carried chain: a reduction's over its accumulators, a
    recurrence's over its distance, and, for a row kept in registers (``hoisted``), one link
    per trip across the enclosing loop."""
    copies = c.factor
    if p.reduction:
        rec = p.chain_latency * copies / c.accumulators
    elif p.recurrence:
        # unrolled, LLVM keeps y[t] in a register within a trip but reloads y[t-1] from memory
        # at the start of the next (seen in iir × 2): one store-to-load forwarding per trip
        rec = p.chain_latency * copies / p.recurrence + (t.store_forward_latency if copies > 1 else 0)
    else:
        rec = 0.0
    if hoisted and p.shared_stores:
        link = t.fma_latency if p.fma else t.add_latency
        rec = max(rec, link * iters / p.trip)
    return rec


def leading(preds: list, ratio: float = LEAD) -> list:
    """The candidates worth compiling: within ``ratio`` of the best analytical prediction,
    always including factor 1 (the baseline the machine-code check compares against)."""
    best = min(x.cycles for x in preds)
    top = max(x.candidate.factor for x in preds if x.candidate.variant == "affine")
    # factor 1 is the baseline; the largest factor grounds the top of the range (a predicted
    # cliff, or a spill, is then seen in real code rather than assumed)
    fixed = [x for x in preds if x.candidate.variant == "affine" and x.candidate.jam == 1
             and x.candidate.factor in (1, top)]
    near = [x for x in preds if x.cycles <= ratio * best and x not in fixed]
    # at most MAX_CHECKED of them, best first; predictions within TIE of each other rank as
    # equals, fewest copies first (what `pick` would prefer among them): a memory-bound loop
    # ties every candidate, and checking all 60 of a gemm nest took 19 s for one signature
    near.sort(key=lambda x: (math.floor(math.log(x.cycles / best) / math.log(1 + TIE)) if best > 0 else 0,
                             x.candidate.copies, x.candidate.jam))
    return fixed + near[:MAX_CHECKED]


def pick(rows: list, key=lambda r: r["cycles"], tie: float = TIE):
    """The smallest candidate within ``tie`` of the best ``key`` among accepted rows.
    Rows are dicts with "candidate" and "accepted"; order: fewest body copies, fewest uops
    per iteration, then affine."""
    ok = [r for r in rows if r["accepted"]]
    if not ok:
        return None
    best = min(key(r) for r in ok)
    near = [r for r in ok if key(r) <= best * (1 + tie)]
    # among as many copies, the fewest uops per original iteration (full-width vectors over
    # half-width ones: when the memory system sets the pace, fewer instructions still leave
    # it more room — dot, mac, jacobi1d at 16–64 MB ran 4–6% faster with 512-bit vectors)
    return min(near, key=preference)


def preference(row) -> tuple:
    """How `pick` orders rows that tie: fewest body copies, fewest jammed rows, fewest uops per
    original iteration, then affine. Known before the machine-code check (analytical only)."""
    c = row["candidate"]
    return c.copies, c.jam, round(_uops_per_iteration(row), 3), c.variant != "affine"


def _uops_per_iteration(row) -> float:
    p = row.get("prediction")
    return p.uops / max(1, p.iters) if p is not None else 0.0


def settled(checked: list, unchecked: list, prof: LoopProfile, t: Target) -> bool:
    """Whether checking the ``unchecked`` rows cannot change what `pick` chooses (then
    `machine_check.check_all` stops early, and the pick is the full check's).

    The proof: each unchecked row's cycles after a check are at least its floor
    (`check_floor.row_floor`: the loop-carried chain and the memory transfers, or its
    prediction), a jammed row's blend with its un-jammed self at least the same blend of
    floors (`jam_remainders`, with the values `choose` would use). An unchecked row cannot
    change the pick if its floor is above the checked best by more than `TIE` (it can neither
    lower the best nor enter the tie band), or if it comes after the checked pick in
    `preference` and the pick is within `TIE` of its floor (whatever it lowers the best to, the
    pick stays in the band, and is preferred to it there). A checked jammed row whose
    un-jammed self is still unchecked has no final cycles yet: not settled. Memory-bound loops
    (mac, dot, saxpy, jacobi1d beyond L2) are settled by their one-copy candidates; reductions
    jammed into their parent (correlation, covariance, gramschmidt) once the smallest candidate
    within the tie of the chain's floor is checked."""
    pending = {r["candidate"] for r in unchecked}
    if not unchecked or any(r["candidate"].jam > 1 and _unjammed(r["candidate"]) in pending
                            for r in checked):
        return False
    rows = [dict(r) for r in checked] + [dict(r, cycles=check_floor.row_floor(r, prof, t),
                                              checked=True, accepted=True) for r in unchecked]
    known = {r["candidate"] for r in rows}
    # the un-jammed rows `choose` did not lead with: their analytical prediction, as there
    outside = {_unjammed(r["candidate"]) for r in rows if r["candidate"].jam > 1} - known
    rows += [{"candidate": c, "prediction": x, "cycles": x.cycles, "checked": False, "accepted": False}
             for c in outside for x in [predict(prof, c, t)]]
    jam_remainders(rows, prof)
    done, floors = rows[:len(checked)], rows[len(checked):len(checked) + len(unchecked)]
    win = pick(done)
    if win is None:
        return False
    band = min(r["cycles"] for r in done if r["accepted"]) * (1 + TIE)
    return all(f["cycles"] > band or (preference(f) > preference(win)
                                      and win["cycles"] <= f["cycles"] * (1 + TIE)) for f in floors)


def _unjammed(c: Candidate) -> Candidate:
    """The candidate without its unroll-and-jam (whose speed a jammed one's remainder runs at)."""
    return Candidate(c.variant, c.factor)


# ---------------------------------------------------------------- the decision


@dataclasses.dataclass
class Choice:
    """What ``factor="auto"`` chose for one signature, and why."""
    candidate: Candidate
    predicted: float          # cycles per original iteration
    reason: str
    profile: LoopProfile
    rows: list                # one dict per candidate: prediction, machine facts, verdict
    target: Target
    compiled: object = dataclasses.field(default=None, repr=False)  # the winner's CompiledKernel

    @property
    def variant(self) -> str:
        """The chosen candidate's variant."""
        return self.candidate.variant

    @property
    def factor(self) -> int:
        """The chosen candidate's factor."""
        return self.candidate.factor

    @property
    def accumulators(self) -> int:
        """The chosen candidate's independent accumulators."""
        return self.candidate.accumulators

    def describe(self) -> str:
        """The choice in one line: ``<label>: <reason>``."""
        return f"{self.candidate.label}: {self.reason}"


def analyse(kernel, signature, target: Target | None = None) -> tuple:
    """(profile, [Prediction]) for a kernel at a call signature."""
    t = target or host_target()
    elem = max((BY_NAME[ty].bits // 8 for _, ty in signature.types), default=4)
    prof = cost_loop.profile(kernel, sizes_of(kernel, signature), elem, t)
    return prof, [predict(prof, c, t) for c in candidates(prof)]


def choose(kernel, signature, pipeline=None, policy=None, target: Target | None = None,
           check: bool = True, keep: bool = True) -> Choice:
    """Choose the variant and factor for ``kernel`` at ``signature`` (a `frontend.signature.Signature`).

    ``check=False`` skips the machine-code check (analytical prediction only). With ``keep``
    the winner's compiled kernel is kept on the Choice (``.compiled``) for the caller to use.
    """
    t = target or host_target()
    if not kernel.loops():
        return Choice(Candidate("affine", 1), 0.0, "no loop to unroll", None, [], t)
    prof, preds = analyse(kernel, signature, t)
    rows = [{"candidate": x.candidate, "prediction": x, "checked": False, "accepted": True,
             "why": "", "cycles": x.cycles, "facts": {}} for x in preds]
    if not check:
        win = pick(rows)
        return Choice(win["candidate"], win["cycles"],
                      f"analytical prediction {win['cycles']:.3g} cycles/iteration "
                      f"({win['prediction'].bound}-bound); machine code not checked",
                      prof, rows, t)
    lead = {id(x) for x in leading(preds)}
    checked = [r for r in rows if id(r["prediction"]) in lead]
    for r in rows:
        if id(r["prediction"]) not in lead:
            r["accepted"] = False
            r["why"] = "not leading (analytical prediction > {:.1f}× the best)".format(LEAD)
    machine_check.check_all(kernel, signature, prof, checked, t, pipeline, policy, settled=settled)
    jam_remainders(rows, prof)
    win, compiled = _proved_pick(kernel, signature, rows)
    unsure = [r for r in checked if not r["checked"]]
    near = [r for r in rows if r["accepted"] and r["cycles"] <= min(
        x["cycles"] for x in rows if x["accepted"]) * (1 + TIE)]
    reason = (f"predicted {win['cycles']:.3g} cycles/iteration ({win.get('bound', '?')}-bound"
              f"{', llvm-mca' if win['facts'].get('mca_cycles') else ''}); "
              f"{len(near)} candidate(s) within {TIE:.0%} of the best, the smallest wins; "
              f"{sum(1 for r in checked if r['checked'] and not r['accepted'])} of "
              f"{sum(1 for r in checked if r['checked'])} checked rejected"
              + (f", {len(unsure)} left unchecked (they cannot be picked)" if unsure else ""))
    for r in rows:
        r.pop("plan", None)
    return Choice(win["candidate"], win["cycles"], reason, prof, rows, t, compiled if keep else None)


def _proved_pick(kernel, signature, rows: list) -> tuple:
    """(winning row, its CompiledKernel or None): `pick`, then machine code for the winner only
    (the check compiled every candidate to assembly, without the bounds proof: a candidate
    that loses is never run). The winner's compile proves it; one the proof refuses is
    rejected, saying why, and the pick is made again."""
    while True:
        win = pick(rows)
        if win is None:
            # every candidate failed to compile or was rejected: the rolled loop is the safe
            # answer (its own compile, by the caller, proves it or names the refused access)
            base = next(r for r in rows if r["candidate"] == Candidate("affine", 1))
            base.update(accepted=True, why=base["why"] + "; fallback: every candidate was rejected")
            return base, None
        if win.get("plan") is None:
            return win, None
        try:
            return win, compile_kernel(kernel, signature, win["plan"])
        except UnrollkitError as exc:
            win.update(accepted=False, why=f"does not compile: {exc}")


def jam_remainders(rows: list, p: LoopProfile) -> None:
    """Unroll-and-jam by f leaves (parent trip mod f) iterations of the enclosing loop to an
    un-jammed cleanup nest: that fraction of the work runs at the speed of the same candidate
    without jam (its checked estimate when there is one, else its analytical one)."""
    by = {r["candidate"]: r for r in rows}
    for r in rows:
        c = r["candidate"]
        if c.jam <= 1 or not p.parent_trip:
            continue
        rem = (p.parent_trip % c.jam) / p.parent_trip
        if not rem:
            continue
        plain = by.get(Candidate(c.variant, c.factor))
        if plain is None:
            continue
        other = plain["cycles"] if plain["accepted"] or plain["checked"] else plain["prediction"].cycles
        r["cycles"] = (1 - rem) * r["cycles"] + rem * other
