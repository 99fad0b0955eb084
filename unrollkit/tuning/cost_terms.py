"""The time terms of the cost model (`unrollkit.tuning.cost_model`): how a loop's core time, L1
port time, cache transfers, remainder and loop-carried chains add up to cycles per original
iteration. Pure functions of a `LoopProfile` and a `Target`; `cost_model.predict` (analytical)
and `machine_check.grounded` (from the machine code) both compose them.
"""
from __future__ import annotations

import math

from unrollkit.tuning.cost_loop import LoopProfile
from unrollkit.core.target import Target

#: cycles to enter and leave one instance of the inner loop (setup, exit branch, remainder test)
LOOP_ENTRY = 6.0


def parent_chain(p: LoopProfile, jam: int, t: Target) -> float:
    """Cycles per original iteration of the chain through memory across the enclosing loop.

    A value the inner loop stores and the next iteration of the enclosing loop loads again
    (gemm i-k-j: C[i, j] at every k) is a chain per element: store-to-load forwarding, then
    the ``jam`` dependent FMAs of one jammed block, then the store. The row's elements run in
    parallel, so per enclosing instance the path is (its trip / jam) · (forwarding + jam ·
    latency), spread over trip · its trip iterations. Negligible for long rows; for short ones
    it is the bound (measured, gemm 48³ f32: 0.23 / 0.15 / 0.11 cycles per iteration for
    jam ×1 / ×2 / ×4 where this gives 0.19 / 0.135 / 0.11 and the ports 0.03–0.06)."""
    if not p.parent or not p.shared_stores or p.trip <= 0:
        return 0.0
    link = t.fma_latency if p.fma else t.add_latency
    return (t.store_forward_latency + jam * link) / (jam * p.trip)


def combine(core: float, l1: float, transfers: tuple) -> float:
    """Cycles per iteration from the in-core time, the L1 port time and the line transfers
    ``(near, far)`` (see `memory_parts`).

    ECM overlaps the in-core work with nothing but itself: T = max(T_core, T_L1) + T_L2→L1.
    (Textbook ECM lets arithmetic overlap the transfers; on this machine the committed
    benchmarks rank like the sum: gemm 512 i-k-j, B from L2, runs 0.36 / 0.22 / 0.17 cycles
    per iteration at factors 1 / 2 / 4, where an overlapping model predicts a tie.) Transfers
    from beyond L2 run behind the core, driven by the L2 streamer prefetcher, so they overlap
    all of it: T = max(that, T_far). Measured here: dot at 64 MB ran within 8% of itself from
    4 to 128 lanes per trip (the sum predicted 27% between them), gemv at 16 MB within 4%."""
    near, far = transfers
    return max(overlap(core, l1) + near, far)


#: exponent of `overlap`: 4 fitted to mac in L1 here (1, 2, 4, 8 zmm per trip measured
#: 1.13 / 1.09 / 1.02 / 1.00 of the best; the 4-norm gives 1.19 / 1.06 / 1.02 / 1.00, a plain
#: max 1.12 / 1.00 / 1.00 / 1.00)
OVERLAP_NORM = 4


def overlap(a: float, b: float) -> float:
    """Two bottlenecks of one instruction stream (the core's issue and the L1 ports) overlap,
    but not perfectly when they are close: a soft maximum, the 4-norm, equal to max(a, b)
    when one dominates and 19% above it when they are equal."""
    return (a ** OVERLAP_NORM + b ** OVERLAP_NORM) ** (1 / OVERLAP_NORM) if a > 0 or b > 0 else 0.0


def memory_parts(p: LoopProfile, t: Target) -> tuple:
    """(near, far) cycles per iteration to bring its data into L1: ``near`` the L2→L1 line
    transfers of everything served beyond L1, ``far`` the transfers into L2 from L3 or DRAM.

    The ECM model (Hager, Treibig et al.): on Intel cores, transfers between cache levels do
    not overlap with each other nor with the L1 loads and stores, so a line from L3 pays the
    L3→L2 and the L2→L1 transfer; data in L1 costs nothing here (the load/store ports are in
    the core estimate)."""
    near = far = 0.0
    for level, nbytes in p.traffic:
        if level == "L1":
            continue
        near += nbytes / t.l2_bytes_per_cycle
        if level in ("L3", "DRAM"):
            far += nbytes / t.l3_bytes_per_cycle
        if level == "DRAM":
            far += nbytes / t.dram_bytes_per_cycle
    return near, far


def memory_cycles(p: LoopProfile, t: Target) -> float:
    """Cycles per iteration the transfers take alone (``near + far`` of `memory_parts`)."""
    return sum(memory_parts(p, t))


def l1_cycles(loads: float, stores: float, wide: bool, t: Target) -> float:
    """Cycles the L1 ports are busy with a trip's loads and stores (ECM's non-overlapping part)."""
    lp = t.load_ports_512 if wide else t.load_ports
    sp = 1 if wide else t.store_ports  # one 64-byte store per cycle
    return max(loads / lp, stores / sp)


def scalar_cycles(p: LoopProfile, t: Target) -> float:
    """One iteration of the rolled scalar remainder loop."""
    uops = p.uops + 2
    return max(uops / t.issue_width, p.chain_latency / max(1, p.recurrence or 1),
               p.div * t.div_rthroughput, 1.0)


def tail_cycles(p: LoopProfile, iters: int, t: Target, jam: int = 1, lanes: int = 0) -> float:
    """Per original iteration: the remainder iterations (trip mod iterations per trip) run one
    at a time, and each loop instance pays its entry and exit, shared by ``jam`` jammed rows.

    With ``lanes`` (``vector-acc``): the remainder runs ``lanes`` at a time in a one-register
    loop (a chain link per vector for a reduction), then the rest one at a time; a reduction's
    vector accumulators are then added up (a tree: log2 of the lanes, each an add latency).

    Shapes are static, so every trip count is a constant: a remainder of one trip is straight
    code (LLVM drops the loop), and only a remainder loop of two or more trips pays an entry
    of its own (measured: mac, 2000 f32 at 4 registers, 1 remainder trip, ran 12% faster than
    at 1 register, which a second entry per call would have hidden)."""
    if p.trip <= 0:
        return 0.0
    rem = p.trip % max(1, iters)
    if not lanes:
        entry = LOOP_ENTRY * (2 if rem > 1 else 1)
        return (rem * scalar_cycles(p, t) + entry / jam) / p.trip
    vec, scalar = rem // lanes, rem % lanes
    entry = LOOP_ENTRY * (1 + (vec > 1) + (scalar > 1))
    link = max(1.0, p.chain_latency if p.reduction else (p.loads + p.stores) / t.load_ports)
    levels = math.ceil(math.log2(max(2, iters))) if p.reduction else 0
    # one instance (dot): the tree's latency is on the critical path; several (gemv rows):
    # the next row's loop does not wait for it, so only its uops (shuffle + add per level) count
    tree = levels * t.add_latency if p.instances <= 1 else levels * 2 / t.issue_width
    return (vec * link + scalar * scalar_cycles(p, t) + tree + entry) / p.trip
