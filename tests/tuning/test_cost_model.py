"""The cost model (issue 5): host facts, analytical estimates on hand-checked loops, the
machine-code check on code built to spill and to gather, and ``factor="auto"`` end to end.
No timing assertions: speed targets live in ``unrollkit validate``."""
from __future__ import annotations

import json

import numpy as np
import pytest

import unrollkit as uk
from unrollkit.tuning import asm_facts, cost_loop, llvm_mca, machine_check, cost_model, cost_terms
from unrollkit.core import target
from unrollkit.tuning.cost_model import Candidate
from unrollkit.kernels import dot, gemm, gemv, iir, jacobi1d, mac, prefix_sum
from unrollkit.runtime.jit_kernel import JitKernel

AVX512 = {"avx", "avx2", "fma", "avx512f", "avx512vl"}


@pytest.fixture
def spr():
    """A fixed Sapphire-Rapids-class target, independent of the host running the tests."""
    return target.make_target("sapphirerapids", AVX512,
                              {"l1d": 48 << 10, "l1i": 32 << 10, "l2": 2 << 20, "l3": 64 << 20, "line": 64,
                               "l3_sharers": 1})


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch):
    """A private disk cache: `factor="auto"` keeps its decisions there, and these tests need
    to see a decision being made."""
    monkeypatch.setenv("UNROLLKIT_CACHE_DIR", str(tmp_path))


def sig_of(kernel, *args):
    return JitKernel(kernel).signature(list(args))[0]


def vec(n, dt=np.float32, seed=0):
    return (np.random.default_rng(seed).random(n) - 0.5).astype(dt)


# ---------------------------------------------------------------- target


def test_target_registers_follow_features():
    t512 = target.make_target("skylake-avx512", AVX512)
    assert (t512.vector_registers, t512.vector_bits, t512.preferred_vector_bits) == (32, 512, 256)
    t256 = target.make_target("haswell", {"avx", "avx2", "fma"})
    assert (t256.vector_registers, t256.vector_bits, t256.family) == (16, 256, "generic")


def test_vm_cpu_name_with_amx_is_sapphire_rapids():
    # this machine: the KVM guest says rocketlake, the features say Sapphire Rapids
    assert target.family_of("rocketlake", {"avx512f"}) == "icelake"
    assert target.family_of("rocketlake", {"avx512f", "amx-tile"}) == "sapphirerapids"
    t = target.make_target("rocketlake", AVX512 | {"amx-tile"})
    assert t.mca_cpu == "sapphirerapids" and t.load_ports == 3


def test_target_overrides(monkeypatch, spr):
    assert spr.replace(fma_units=1).fma_units == 1
    with pytest.raises(ValueError, match="unknown target field"):
        spr.replace(fma_unit=1)
    monkeypatch.setenv(target.ENV_VAR, json.dumps({"fma_latency": 7, "l2_bytes": 12345}))
    t = target.host_target()
    assert (t.fma_latency, t.l2_bytes) == (7, 12345)
    assert target.host_target({"issue_width": 3}).issue_width == 3


def test_read_caches_from_a_sysfs_tree(tmp_path):
    for n, (level, kind, size) in enumerate([(1, "Data", "48K"), (1, "Instruction", "32K"),
                                             (2, "Unified", "2048K"), (3, "Unified", "60M")]):
        d = tmp_path / f"index{n}"
        d.mkdir()
        for name, val in (("level", level), ("type", kind), ("size", size), ("coherency_line_size", 64)):
            (d / name).write_text(f"{val}\n")
    c = target.read_caches(str(tmp_path))
    assert c == {"l1d": 48 << 10, "l1i": 32 << 10, "l2": 2 << 20, "l3": 60 << 20, "line": 64}


# ---------------------------------------------------------------- loop profiles (hand-checked)


def test_profiles_of_the_builtin_kernels(spr):
    m = cost_loop.profile(mac, {"N": 1000}, 4, spr)
    assert (m.loads, m.stores, m.fma, m.reduction, m.recurrence, m.regs_per_copy) == (3, 1, 1, False, 0, 2)
    assert m.vectorizable and m.chain_latency == 0 and m.level == "L1"
    d = cost_loop.profile(dot, {"N": 1000}, 4, spr)
    # the accumulator out[0] lives in a register: its load/store are not per iteration
    assert (d.loads, d.stores, d.reduction, d.chain_latency) == (2, 0, True, spr.fma_latency)
    assert not d.vectorizable
    r = cost_loop.profile(iir, {"N": 1000}, 4, spr)
    assert (r.recurrence, r.chain_latency, r.loads, r.stores) == (1, spr.fma_latency, 1, 1)
    p = cost_loop.profile(prefix_sum, {"N": 1000}, 8, spr)
    assert (p.recurrence, p.chain_latency) == (1, spr.add_latency)
    j = cost_loop.profile(jacobi1d, {"N": 1000}, 4, spr)
    assert (j.loads, j.add, j.div, j.fma) == (3, 2, 1, 0)
    g = cost_loop.profile(gemm, {"M": 64, "N": 64, "K": 64}, 4, spr)
    # A[i, k] is invariant in j (one broadcast register); C[i, j] is shared by copies jammed on k
    assert (g.loop, g.parent, g.invariant_values, g.shared_loads, g.shared_stores) == ("j", "k", 1, 1, 1)
    assert (g.trip, g.instances) == (64, 64 * 64)


def test_cache_level_by_reuse_footprint(spr):
    # gemm i-k-j: B is reused across i, so it is served from where all of B fits
    small = cost_loop.profile(gemm, {"M": 8, "N": 64, "K": 64}, 4, spr)        # B 16 KiB
    mid = cost_loop.profile(gemm, {"M": 8, "N": 256, "K": 256}, 4, spr)        # B 256 KiB
    l3 = cost_loop.profile(gemm, {"M": 8, "N": 768, "K": 768}, 4, spr)         # B 2.25 MiB
    big = cost_loop.profile(gemm, {"M": 8, "N": 2048, "K": 2048}, 4, spr)      # B 16 MiB
    # one core's usable L3 share: 2 MiB per sharing CPU (1 here), not all 64 MiB
    assert spr.l3_usable_bytes == 2 << 20
    assert (small.level, mid.level, big.level) == ("L1", "L2", "DRAM")
    wide = spr.replace(l3_usable_bytes=8 << 20)
    assert cost_loop.profile(gemm, {"M": 8, "N": 768, "K": 768}, 4, wide).level == "L3"
    assert l3.level == "DRAM"
    assert cost_loop.profile(mac, {"N": 10 << 20}, 8, spr).level == "DRAM"
    # stores beyond L1 cost the line twice (read for ownership + write-back)
    assert dict(cost_loop.profile(mac, {"N": 100000}, 4, spr).traffic) == {"L2": 4 * 3 + 4 * 2}


# ---------------------------------------------------------------- analytical estimates


def test_registers_and_bytes_hand_checked(spr):
    m = cost_loop.profile(mac, {"N": 4096}, 4, spr)
    p1 = cost_model.predict(m, Candidate("affine", 1), spr)
    # rolled: 8 f32 lanes (256-bit preferred), 3 loads + 1 store + 1 FMA + 2 loop uops
    assert (p1.iters, p1.uops, p1.vec_regs, p1.code_bytes) == (8, 7, 2, (7 - 2) * 6 + 10)
    p4 = cost_model.predict(m, Candidate("affine", 4), spr)
    # unrolled by 4: one interleave group of 32 elements = two zmm per stream, 2 regs each
    assert (p4.iters, p4.vec_regs, p4.uops) == (32, 4, 12)
    g = cost_loop.profile(gemm, {"M": 64, "N": 64, "K": 64}, 4, spr)
    pj = cost_model.predict(g, Candidate("affine", 1, 4, "k"), spr)
    # jam k by 4: 4 broadcasts of A[i, k..k+3] + (2 + 3) per vector copy; C loaded once per 4 FMAs
    assert pj.vec_regs == 4 + 5
    assert pj.uops == 4 + 1 + 1 + 4 + 2  # B ×4, C load, C store, 4 FMAs, loop
    assert cost_model.predict(g, Candidate("affine", 16, 8, "k"), spr).spill_regs > 0


def test_recurrence_bound_dot_vs_mac(spr):
    d = cost_loop.profile(dot, {"N": 4096}, 4, spr)
    m = cost_loop.profile(mac, {"N": 4096}, 4, spr)
    for u in (1, 2, 4, 8):
        pd = cost_model.predict(d, Candidate("affine", u), spr)
        # one accumulator: RecMII(u) = latency · u / 1 per trip of u iterations, whatever u
        assert pd.rec_mii == pytest.approx(spr.fma_latency * u)
        assert pd.rec_mii / pd.iters == pytest.approx(spr.fma_latency)
        assert pd.bound == "rec"
        assert cost_model.predict(m, Candidate("affine", u), spr).rec_mii == 0
    for k in (2, 4, 8):
        pk = cost_model.predict(d, Candidate("multi-acc", k), spr)
        assert pk.rec_mii / pk.iters == pytest.approx(spr.fma_latency / k)
    # iir unrolled: the chain runs through a store-to-load forwarding once per trip
    r = cost_loop.profile(iir, {"N": 4096}, 4, spr)
    assert cost_model.predict(r, Candidate("affine", 1), spr).rec_mii == spr.fma_latency
    assert cost_model.predict(r, Candidate("affine", 4), spr).rec_mii == \
        4 * spr.fma_latency + spr.store_forward_latency


def test_memory_bound_makes_factors_tie(spr):
    # mac streaming from far memory: every factor is bandwidth-bound, within the tie margin
    m = cost_loop.profile(mac, {"N": 8 << 20}, 4, spr)
    preds = [cost_model.predict(m, Candidate("affine", u), spr) for u in (1, 2, 4, 8)]
    assert all(p.bound == "mem" for p in preds)
    assert max(p.cycles for p in preds) <= min(p.cycles for p in preds) * 1.2


def test_pick_smallest_within_tie_and_never_rejected():
    def row(f, cyc, ok=True, jam=1):
        return {"candidate": Candidate("affine", f, jam, "k" if jam > 1 else ""), "cycles": cyc, "accepted": ok}
    rows = [row(2, 1.00), row(4, 0.99), row(8, 1.20), row(16, 0.50, ok=False)]
    assert cost_model.pick(rows)["candidate"].factor == 2
    assert cost_model.pick([row(2, 1.1), row(4, 1.0)])["candidate"].factor == 4
    assert cost_model.pick([row(4, 1.0), row(2, 1.0, jam=2)])["candidate"].jam == 1
    assert cost_model.pick([row(16, 0.5, ok=False)]) is None


# ---------------------------------------------------------------- machine-code check


def test_asm_helpers_on_hand_written_loops():
    chained = """\t.type\tf,@function
f:
.L1:
\tvmovss\t4(%rsi,%rax,4), %xmm1
\tvfmadd213ss\t8(%rdi,%rax,4), %xmm0, %xmm1
\tvmovss\t%xmm1, 8(%rsi,%rax,4)
\taddq\t$1, %rax
\tcmpq\t$100, %rax
\tjne\t.L1
\t.size\tf, .-f
"""
    lp = asm_facts.hot_loop(asm_facts.functions(chained)["f"])
    assert machine_check.reloads_stored(lp)          # loads 4(%rsi,…) after storing 8(%rsi,…)
    assert machine_check._mem_ops(lp)[:2] == (2, 1)
    text = llvm_mca.loop_text(lp)
    assert text.startswith(".L1:") and "jne\t.L1" in text
    spilled = asm_facts.functions(chained.replace("vmovss\t4(%rsi,%rax,4), %xmm1",
                                                  "vmovss\t16(%rsp), %xmm1  # 4-byte Reload"))["f"]
    facts = asm_facts.loop_facts(asm_facts.hot_loop(spilled))
    facts["vector_spills"] = machine_check.vector_stack_ops(asm_facts.hot_loop(spilled))
    base = asm_facts.loop_facts(lp)
    base["vector_spills"] = machine_check.vector_stack_ops(lp)
    assert (facts["vector_spills"], base["vector_spills"]) == (1, 0)
    # a general register reloaded (a pointer) is a plain load llvm-mca prices: not rejected
    gp = asm_facts.functions(chained.replace("\taddq\t$1, %rax", "\tmovq\t8(%rsp), %r8\n\taddq\t$1, %rax"))["f"]
    gfacts = asm_facts.loop_facts(asm_facts.hot_loop(gp))
    gfacts["vector_spills"] = machine_check.vector_stack_ops(asm_facts.hot_loop(gp))
    assert gfacts["reloads"] == 1 and machine_check.verdict(gfacts, base, target.host_target()) == ""
    assert "spills" in machine_check.verdict(facts, base, target.host_target())
    assert machine_check.verdict(base, base, target.host_target()) == ""
    t = target.host_target()
    assert machine_check.divider_cycles(lp, t) == 0
    div = asm_facts.functions(chained.replace("vfmadd213ss\t8(%rdi,%rax,4), %xmm0, %xmm1",
                                              "vdivps\t%ymm2, %ymm3, %ymm3"))["f"]
    assert machine_check.divider_cycles(asm_facts.hot_loop(div), t) == t.div_rthroughput


@pytest.mark.needs_llvm_mca
@pytest.mark.skipif(llvm_mca.mca_path() is None, reason="llvm-mca not installed")
def test_mca_sees_a_register_chain():
    chain = ".L1:\n" + "".join("\tvaddss\t%xmm1, %xmm0, %xmm0\n" for _ in range(4)) + "\tjne\t.L1\n"
    free = ".L1:\n" + "".join(f"\tvaddss\t%xmm1, %xmm{n + 2}, %xmm{n + 2}\n" for n in range(4)) + "\tjne\t.L1\n"
    a, b = llvm_mca.run_mca(chain, "sapphirerapids"), llvm_mca.run_mca(free, "sapphirerapids")
    assert a["cycles"] >= 4 * 2.5 > b["cycles"]


def _facts(kernel, cand, *args):
    sig = sig_of(kernel, *args)
    ck = uk.jit(kernel, factor=cand.factor, variant=cand.variant,
                pipeline=cand.pipeline() if cand.jam > 1 else None).compiled(*args)
    t = target.host_target()
    return machine_check.facts_of(ck, t), machine_check.facts_of(uk.jit(kernel).compiled(*args), t), sig


def test_check_detects_gathers_of_mac_and_gemm_at_16():
    t = target.host_target()
    a = [vec(4096, seed=s) for s in range(3)]
    f16, f1, _ = _facts(mac, Candidate("affine", 16), *a)
    assert f1["gathers"] == 0 and f16["gathers"] > 0          # verified on this machine first
    assert machine_check.verdict(f16, f1, t).startswith("vectoriser cliff")
    A, B, C = (np.random.default_rng(s).random((64, 64)).astype(np.float32) for s in range(3))
    g16, g1, _ = _facts(gemm, Candidate("affine", 16), A, B, C)
    assert g1["gathers"] == 0 and g16["gathers"] > 0
    assert machine_check.verdict(g16, g1, t) != ""


def test_check_detects_spills_of_a_wide_jam():
    # gemm unrolled by 16 and jammed on k by 8: far more live values than 32 registers
    A, B, C = (np.random.default_rng(s).random((64, 64)).astype(np.float32) for s in range(3))
    f, base, _ = _facts(gemm, Candidate("affine", 16, 8, "k"), A, B, C)
    assert f["spills"] + f["reloads"] > base["spills"] + base["reloads"]
    assert machine_check.verdict(f, base, target.host_target()).startswith("spills")


# ---------------------------------------------------------------- factor="auto"


def test_choose_never_returns_a_rejected_candidate():
    a = [vec(4096, seed=s) for s in range(3)]
    ch = cost_model.choose(mac, sig_of(mac, *a), keep=False)
    rows = {r["candidate"]: r for r in ch.rows}
    assert rows[ch.candidate]["accepted"] and rows[ch.candidate]["checked"]
    rejected = [r for r in ch.rows if r["checked"] and not r["accepted"]]
    assert rejected and all(r["why"] for r in rejected)  # mac × 16 gathers here
    assert ch.candidate not in {r["candidate"] for r in rejected}
    best = min(r["cycles"] for r in ch.rows if r["accepted"])
    assert ch.predicted <= best * (1 + cost_model.TIE)


def test_choose_falls_back_to_the_rolled_loop_when_everything_is_rejected(monkeypatch):
    def reject_all(kernel, signature, prof, rows, t, pipeline=None, policy=None, settled=None):
        for r in rows:
            r.update(checked=True, accepted=False, why="test: rejected")
    monkeypatch.setattr(machine_check, "check_all", reject_all)
    a = [vec(100, seed=s) for s in range(3)]
    ch = cost_model.choose(mac, sig_of(mac, *a), keep=False)
    assert ch.candidate == Candidate("affine", 1) and "fallback" in [
        r for r in ch.rows if r["candidate"] == ch.candidate][0]["why"]


@pytest.mark.parametrize("kernel,make", [
    (mac, lambda: [vec(1001, seed=s) for s in range(3)]),
    (dot, lambda: [vec(999), vec(999, seed=1), np.zeros(1, np.float32)]),
    (gemv, lambda: [np.random.default_rng(0).random((13, 301)), vec(301, np.float64), vec(13, np.float64)]),
    (iir, lambda: [0.5, vec(777), vec(777, seed=1)]),
    (prefix_sum, lambda: [vec(555, np.float64), vec(555, np.float64, seed=1)]),
    (jacobi1d, lambda: [vec(1003), np.zeros(1003, np.float32)]),
    (gemm, lambda: [np.random.default_rng(s).random(sh).astype(np.float32)
                    for s, sh in enumerate([(9, 37), (37, 45), (9, 45)])]),
])
def test_auto_is_correct_against_numpy(kernel, make, fresh_cache):
    args = make()
    want = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    f = uk.jit(kernel, factor="auto")
    f(*args)
    ch = f.last.choice
    assert ch is not None and f.last.plan.variant == ch.variant
    assert {r["candidate"]: r for r in ch.rows}[ch.candidate]["accepted"]
    out = {mac: 2, dot: 2, gemv: 2, iir: 2, prefix_sum: 1, jacobi1d: 1, gemm: 2}[kernel]
    w = [x.astype(np.float64) if isinstance(x, np.ndarray) else x for x in want]
    if kernel is mac:
        ref = w[2] + w[0] * w[1]
    elif kernel is dot:
        ref = w[2] + w[0] @ w[1]
    elif kernel is gemv or kernel is gemm:
        ref = w[2] + w[0] @ w[1]
    elif kernel is iir:
        ref = w[2].copy()
        for t in range(1, len(ref)):
            ref[t] = w[0] * ref[t - 1] + w[1][t]
    elif kernel is prefix_sum:
        ref = w[1].copy()
        ref[1:] = ref[0] + np.cumsum(w[0][1:])
    else:
        ref = w[1].copy()
        ref[1:-1] = (w[0][:-2] + w[0][1:-1] + w[0][2:]) / 3
    rtol = 1e-4 if args[out].dtype == np.float32 else 1e-10
    np.testing.assert_allclose(args[out], ref, rtol=rtol, atol=rtol * 10)


def test_auto_resolves_per_signature(fresh_cache):
    f = uk.jit(iir, factor="auto")
    f(0.5, vec(300), vec(300, seed=1))
    small = f.last
    f(0.5, vec(300, np.float64), vec(300, np.float64, seed=1))
    assert f.last is not small and f.last.choice is not small.choice
    assert f.last.choice.profile.elem_bytes == 8 and small.choice.profile.elem_bytes == 4
    assert uk.jit(iir, factor=2).compiled(0.5, vec(300), vec(300)).choice is None


def test_explain_and_validate_commands(capsys):
    from unrollkit.cli import main
    main(["explain", "dot", "--size", "N=1001", "--no-check"])
    out = capsys.readouterr().out
    assert "multi-acc×8" in out and "choice:" in out and "not checked" in out
    main(["explain", "mac", "--size", "N=4096"])
    out = capsys.readouterr().out
    assert "CHOSEN" in out and "rejected" in out  # factor 16 gathers
    main(["validate", "--dry-run", "--cases", "mac-L1-f32"])
    assert "mac-L1-f32" in capsys.readouterr().out


def test_validation_scoring_with_a_synthetic_clock(monkeypatch):
    """The sweep's bookkeeping, timed by a fake clock (no real timing): a configuration's
    time per call is set by its label, so the best, the pick's slowdown and the summary
    are known in advance."""
    from unrollkit.tools import cost_validate

    def fake_time(self, arrays, reps):
        c = self.ck.plan
        # factor 4 is the fastest; slower the further from it; llvm-auto in between
        f = dict(c.factors).get("", 1) if c.variant != "llvm-auto" else 3
        return reps * 1e-6 * (1 + 0.1 * abs(f - 4))
    monkeypatch.setattr(cost_validate._Runner, "time", fake_time)
    case = ("mac-test", "mac", {"N": 1001}, "f32", "L1")
    res = cost_validate.run_case(case, repeat=3, sample_seconds=1e-4, max_factor=6, seed=0)
    assert res["best"]["label"] == "affine×4" and not res["mismatch"]
    f = res["pick"]["factor"]
    assert res["pick_slowdown"] == pytest.approx(1 + 0.1 * abs(f - 4))
    assert res["factor1_slowdown"] == pytest.approx(1.3)
    assert res["llvm_auto_slowdown"] == pytest.approx(1.1)
    s = cost_validate.summary([res])
    assert s["factor1"]["geomean"] == pytest.approx(1.3) and s["factor1"]["within5"] == 0
    assert s["auto"]["within5"] == (1.0 if f == 4 else 0.0)
    assert "| mac-test |" in cost_validate.markdown({"summary": s, "cases": [res], "environment": {
        "cpu_model": "x", "cpu": "y", "versions": {}, "repeat": 3, "target_sample_s": 1e-4,
        "max_factor": 6, "seconds": 1.0}})


def test_without_llvm_mca_the_check_uses_port_counts(monkeypatch):
    monkeypatch.setattr(llvm_mca, "mca_path", lambda: None)  # (where the runner looks it up)
    a = [vec(2048, seed=s) for s in range(3)]
    ch = cost_model.choose(mac, sig_of(mac, *a), keep=False)
    checked = [r for r in ch.rows if r["checked"] and r["facts"].get("found")]
    assert checked and all(r["facts"]["mca_cycles"] is None for r in checked)
    assert all(r["bound"] != "mca" for r in checked)
    assert {r["candidate"]: r for r in ch.rows}[ch.candidate]["accepted"]


def test_auto_decision_is_kept_in_the_disk_cache(monkeypatch, fresh_cache):
    args = [vec(1234, seed=s) for s in range(3)]
    first = uk.jit(mac, factor="auto").compiled(*args).choice
    assert first.rows  # decided here: candidates were checked

    def boom(*a, **k):
        raise AssertionError("choose() ran again")
    monkeypatch.setattr(cost_model, "choose", boom)
    again = uk.jit(mac, factor="auto").compiled(*args).choice
    assert again.candidate == first.candidate and not again.rows
    assert "disk cache" in again.reason


def test_transfers_beyond_l2_overlap_the_core(spr):
    # from L2: ECM's sum (core + L1 ports, then the L2→L1 transfer); from DRAM: the far
    # transfers run behind the core, so a faster loop body gains nothing once they dominate
    assert cost_terms.combine(1.0, 0.5, (0.25, 0.0)) == pytest.approx(cost_terms.overlap(1.0, 0.5) + 0.25)
    assert cost_terms.overlap(1.0, 0.0) == 1.0 and cost_terms.overlap(1.0, 0.1) < 1.001
    assert cost_terms.overlap(1.0, 1.0) == pytest.approx(2 ** 0.25)  # close bottlenecks cost more
    assert cost_terms.combine(0.2, 0.1, (0.25, 2.0)) == 2.0
    assert cost_terms.combine(0.1, 0.1, (0.25, 2.0)) == 2.0
    p = cost_loop.profile(dot, {"N": 8 << 20}, 4, spr)
    near, far = cost_terms.memory_parts(p, spr)
    assert p.level == "DRAM"
    assert near == pytest.approx(8 / spr.l2_bytes_per_cycle)
    assert far == pytest.approx(8 / spr.l3_bytes_per_cycle + 8 / spr.dram_bytes_per_cycle)


def test_vector_accumulators_are_candidates_for_unit_stride_loops_only(spr):
    d = cost_loop.profile(dot, {"N": 4000}, 4, spr)
    labels = [c.label for c in cost_model.candidates(d)]
    assert [x for x in labels if x.startswith("vector-acc")] == [f"vector-acc×{k}" for k in (1, 2, 4, 8)]
    r = cost_loop.profile(iir, {"N": 1000}, 4, spr)
    assert not any(c.variant == "vector-acc" for c in cost_model.candidates(r))
    # k vector accumulators: one chain link per trip of k·16 lanes, so ×4 breaks dot's chain
    one = cost_model.predict(d, cost_model.Candidate("vector-acc", 1), spr)
    four = cost_model.predict(d, cost_model.Candidate("vector-acc", 4), spr)
    assert (one.iters, four.iters) == (16, 64)
    assert one.bound == "rec" and one.rec_mii == spr.fma_latency
    assert four.cycles < one.cycles / 2


def test_grounding_counts_the_whole_row_when_one_trip_covers_the_inner_loop():
    # gemv rows of 2·W elements at vector-acc × 2: LLVM drops the inner loop, the hot loop is
    # the row loop (step 1 in the asm) and one of its trips does a whole row of 2·W iterations
    t = target.host_target()
    w = t.vector_lanes(4, t.vector_bits)
    a = np.random.default_rng(0).random((64, 2 * w)).astype(np.float32)
    ch = cost_model.choose(gemv, sig_of(gemv, a, vec(2 * w), vec(64)), keep=False)
    row = next(r for r in ch.rows if r["candidate"] == Candidate("vector-acc", 2))
    assert row["checked"] and row.get("iters") == 2 * w
    assert row["cycles"] < 1.0  # not the cycles of a whole row charged to one iteration


def test_chain_across_the_enclosing_loop_bounds_short_rows(spr):
    # gemm i-k-j, 48 columns: C[i, j] is stored at every k and loaded at the next — per
    # jammed block of f k's: forwarding + f FMA latencies, over f · 48 iterations
    short = cost_loop.profile(gemm, {"M": 48, "N": 48, "K": 48}, 4, spr)
    chain = cost_terms.parent_chain(short, 4, spr)
    assert chain == pytest.approx((spr.store_forward_latency + 4 * spr.fma_latency) / (4 * 48))
    assert cost_terms.parent_chain(short, 1, spr) > cost_terms.parent_chain(short, 8, spr)
    long = cost_loop.profile(gemm, {"M": 8, "N": 4096, "K": 64}, 4, spr)
    assert cost_terms.parent_chain(long, 1, spr) < 0.01
    assert cost_terms.parent_chain(cost_loop.profile(dot, {"N": 100}, 4, spr), 1, spr) == 0.0
    jam = cost_model.predict(short, Candidate("affine", 1, 4, "k"), spr)
    assert jam.bound == "rec/parent" and jam.cycles >= chain


def test_a_row_in_registers_is_a_chain_over_the_enclosing_loop(spr):
    # vector-acc × 2 on 48 f32 columns: 32 + 16 lanes, both loops of one trip: the C row is
    # hoisted out of k into 3 registers, so each k adds one FMA latency for the whole row
    p = cost_loop.profile(gemm, {"M": 48, "N": 48, "K": 48}, 4, spr)
    two = cost_model.predict(p, Candidate("vector-acc", 2), spr)
    assert (two.iters, two.tail, two.bound) == (48, 0.0, "rec")
    assert two.cycles == pytest.approx(spr.fma_latency / 48, rel=0.05)
    # 4 registers (64 lanes) leave a 3-trip one-register loop: not hoisted, C goes to memory
    four = cost_model.predict(p, Candidate("vector-acc", 4), spr)
    assert four.iters == 64 and four.tail > 0 and four.cycles > two.cycles


def test_ties_go_to_fewer_uops_per_iteration(spr):
    p = cost_loop.profile(mac, {"N": 1 << 24}, 4, spr)  # 192 MiB: DRAM, every width ties
    rows = [{"candidate": x.candidate, "prediction": x, "accepted": True, "cycles": x.cycles}
            for x in (cost_model.predict(p, c, spr) for c in
                      (Candidate("affine", 1), Candidate("vector-acc", 1), Candidate("affine", 2)))]
    assert abs(rows[0]["cycles"] / rows[1]["cycles"] - 1) < cost_model.TIE
    assert cost_model.pick(rows)["candidate"] == Candidate("vector-acc", 1)


def test_bench_validate_runs_the_validation(monkeypatch, tmp_path, capsys):
    from unrollkit.cli import explain as cli_explain
    from unrollkit.cli import main
    seen = {}
    monkeypatch.setattr(cli_explain, "validate_cmd", lambda **kw: seen.update(kw))
    main(["bench", "validate", "--pin", "1", "--json", str(tmp_path / "v.json")])
    assert (seen["repeat"], seen["target_ms"], seen["pin"]) == (15, 10.0, 1)
    assert seen["json_out"] == tmp_path / "v.json" and seen["cases"] is None
    with pytest.raises(SystemExit) as exc:
        main(["bench", "validate", "--sizes", "5"])
    assert exc.value.code == 2
    assert "takes `unrollkit validate`'s options" in capsys.readouterr().out
    main(["bench", "validate", "--cases", "mac,dot", "--out", str(tmp_path)])  # the same options
    assert seen["cases"] == "mac,dot" and seen["out"] == tmp_path


def test_leading_candidates_are_capped_fewest_copies_first_among_ties(spr):
    # gemm beyond L2: memory-bound, so every candidate ties; only MAX_CHECKED are compiled
    # (plus factor 1 and the largest factor), the ones `pick` would prefer among equals
    p = cost_loop.profile(gemm, {"M": 16, "N": 1024, "K": 1024}, 4, spr)
    preds = [cost_model.predict(p, c, spr) for c in cost_model.candidates(p)]
    lead = cost_model.leading(preds)
    assert len(preds) > cost_model.MAX_CHECKED + 2
    assert len(lead) <= cost_model.MAX_CHECKED + 2
    labels = {x.candidate.label for x in lead}
    assert {"affine×1", "affine×16"} <= labels
    best = min(x.cycles for x in preds)
    ties = [x for x in preds if x.cycles <= best * (1 + cost_model.TIE)]
    fewest = min(x.candidate.copies for x in ties)
    assert any(x.candidate.copies == fewest for x in lead if x in ties)


# ---------------------------------------------------------------- a faster check, the same pick


@pytest.mark.needs_llvm_mca
@pytest.mark.skipif(llvm_mca.mca_path() is None, reason="llvm-mca not installed")
def test_mca_regions_match_runs_alone():
    body = "".join(f"\tvaddss\t%xmm1, %xmm{n}, %xmm{n}\n" for n in (0, 0, 2, 3))
    snippets = [".L1:\n" + "".join("\tvaddss\t%xmm1, %xmm0, %xmm0\n" for _ in range(4)) + "\tjne\t.L1\n",
                ".L1:\n" + body + "\tjne\t.L1\n",
                ".L1:\n\tvfmadd231ps\t(%rdi,%rax,4), %zmm1, %zmm0\n\taddq\t$16, %rax\n\tjne\t.L1\n"]
    lps = [asm_facts.hot_loop(asm_facts.functions("f:\n" + s)["f"]) for s in snippets]
    lps.append(lps[0])  # the same loop twice: simulated once
    for cpu in ("sapphirerapids", target.host_target().mca_cpu):
        together = llvm_mca.run_mca_loops(lps, cpu)
        assert together == [llvm_mca.run_mca(llvm_mca.loop_text(lp), cpu) for lp in lps]
        assert all(m is not None for m in together) and together[0]["cycles"] > together[1]["cycles"]


def _rows(prof, t):
    preds = [cost_model.predict(prof, c, t) for c in cost_model.candidates(prof)]
    return [{"candidate": x.candidate, "prediction": x, "checked": True, "accepted": True,
             "why": "", "cycles": x.cycles, "facts": {}} for x in preds]


def test_settled_only_when_the_rest_provably_cannot_be_picked(spr):
    far = cost_loop.profile(mac, {"N": 4_000_000}, 4, spr)  # beyond L2: memory-bound
    rows = _rows(far, spr)
    one = [r for r in rows if r["candidate"].copies == 1]
    rest = [r for r in rows if r["candidate"].copies > 1]
    assert cost_model.settled(one, rest, far, spr)
    win = cost_model.pick(one)
    # the pick 5% above the memory floor: a faster unchecked candidate could push it out
    slow = [dict(r, cycles=r["cycles"] * 1.05) for r in one]
    assert not cost_model.settled(slow, rest, far, spr)
    # an unchecked candidate preferred to the pick (fewer copies) could win
    assert not cost_model.settled([r for r in rows if r["candidate"].copies == 2],
                                  [r for r in rows if r["candidate"].copies != 2], far, spr)
    # nothing accepted, nothing left, or a jammed row checked before its un-jammed self
    # (whose cycles its remainder runs at): not settled
    assert not cost_model.settled([dict(r, accepted=False) for r in one], rest, far, spr)
    assert not cost_model.settled(one, [], far, spr)
    assert win["cycles"] <= max(cost_terms.memory_parts(far, spr)) * (1 + cost_model.TIE)
    g = cost_loop.profile(gemv, {"M": 4099, "N": 4096}, 4, spr)
    grows = _rows(g, spr)
    jam = [r for r in grows if r["candidate"].copies == 1 or r["candidate"].jam > 1 and r["candidate"].factor == 2]
    assert any(r["candidate"].jam > 1 for r in jam) and g.parent_trip % 2
    assert not cost_model.settled(jam, [r for r in grows if r not in jam], g, spr)
    plain = [r for r in grows if r["candidate"] == Candidate("affine", 2)]
    assert cost_model.settled(jam + plain, [r for r in grows if r not in jam + plain], g, spr)
    # in cache there is no floor to reach
    near = cost_loop.profile(mac, {"N": 512}, 4, spr)
    nrows = _rows(near, spr)
    assert not cost_model.settled([r for r in nrows if r["candidate"].copies == 1],
                                  [r for r in nrows if r["candidate"].copies > 1], near, spr)


@pytest.mark.parametrize("kernel,make,shortcut", [
    (mac, lambda: [vec(4_000_000, seed=s) for s in range(3)], "settled"),
    (dot, lambda: [vec(1_000_000), vec(1_000_000, seed=1), np.zeros(1, np.float32)], "settled"),
    (mac, lambda: [vec(4096, seed=s) for s in range(3)], "not simulated"),
    (gemv, lambda: [np.ones((100, 37), np.float32), vec(37), vec(100)], "not simulated"),
])
def test_shortcuts_do_not_change_the_pick(kernel, make, shortcut, monkeypatch):
    # the check with its shortcuts (early stop, no llvm-mca for rejected code) against the
    # full check: the same pick and prediction, and every row checked by both judged alike
    sig = sig_of(kernel, *make())
    fast = cost_model.choose(kernel, sig, keep=False)
    monkeypatch.setattr(cost_model, "settled", lambda *a: False)
    monkeypatch.setattr(machine_check, "SIMULATE_REJECTED", True)
    full = cost_model.choose(kernel, sig, keep=False)
    assert (fast.candidate, fast.predicted) == (full.candidate, full.predicted)
    rows = {r["candidate"]: r for r in full.rows}
    used = False
    for r in fast.rows:
        o = rows[r["candidate"]]
        if not r["checked"] and o["checked"]:
            used |= shortcut == "settled"
            assert not r["accepted"] and r["why"].startswith("not checked")
            continue
        assert (r["checked"], r["accepted"], r["why"]) == (o["checked"], o["accepted"], o["why"])
        if r["facts"].get("found") and not r["facts"]["mca"] and o["facts"].get("mca"):
            used |= shortcut == "not simulated"
            assert not r["accepted"] and r["why"].startswith(("spills", "vectoriser cliff"))
        else:
            assert r["cycles"] == o["cycles"] and r["facts"] == o["facts"]
    assert used  # the shortcut was taken here
