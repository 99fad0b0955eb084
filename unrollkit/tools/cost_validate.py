"""Validation of the cost model against measured sweeps: ``unrollkit validate``.

For each case of the corpus (kernel × size × element type), every configuration — MLIR
unrolling by 1…16, for reductions 2…16 independent accumulators, for loops unrollkit
vectorises 1, 2, 4, 8 vector registers per trip (vector accumulators), LLVM's unroller and
interleaver off — is compiled, verified against numpy, and timed with the benchmark harness
(`unrollkit.tools.bench`: native repeat loop, calibrated sample length, samples taken round-robin in
a shuffled order, medians). ``llvm-auto`` (LLVM's own unroller and interleaver) is timed as a
reference. Then the cost model's choice for the same signature is scored against the
measured best: exact hit (within max(2%, the best's noise)), within 5%, slowdown.
"""
from __future__ import annotations

import math
import os
import statistics
import tempfile
import time

import numpy as np

from unrollkit.tools import bench, testdata
from unrollkit.tools.bench_environment import environment
from unrollkit.tuning.cost_model import Candidate, JAM_FACTORS, VECTOR_REGISTERS
import unrollkit as uk
from unrollkit.tuning import cost_model
from unrollkit.kernels import ALL
from unrollkit.core.target import host_target
from rich.table import Table
from threadpoolctl import threadpool_limits

from unrollkit.core.errors import UnrollkitError

# name, kernel, sizes, dtype, where the data lives (by the cost model's footprint rule, with
# this machine's 48 KiB L1d and 2 MiB L2; "mem": tens of MB, beyond L2 — the VM reports a
# 480 MiB L3, so no size that runs in milliseconds is truly DRAM-resident)
CORPUS = [
    ("mac-L1-f32", "mac", {"N": 2000}, "f32", "L1"),
    ("mac-L1-f64-odd", "mac", {"N": 1001}, "f64", "L1"),
    ("mac-L2-f32-odd", "mac", {"N": 30001}, "f32", "L2"),
    ("mac-L2-f64", "mac", {"N": 40000}, "f64", "L2"),
    ("mac-mem-f32", "mac", {"N": 4 << 20}, "f32", "mem"),
    ("mac-mem-f64-odd", "mac", {"N": (3 << 20) + 1}, "f64", "mem"),
    ("dot-L1-f32", "dot", {"N": 4000}, "f32", "L1"),
    ("dot-L1-f64-odd", "dot", {"N": 1999}, "f64", "L1"),
    ("dot-L2-f32-odd", "dot", {"N": 60001}, "f32", "L2"),
    ("dot-L2-f64", "dot", {"N": 50000}, "f64", "L2"),
    ("dot-mem-f32", "dot", {"N": 8 << 20}, "f32", "mem"),
    ("dot-mem-f64-odd", "dot", {"N": (4 << 20) + 3}, "f64", "mem"),
    ("gemm-L1-f32", "gemm", {"M": 48, "N": 48, "K": 48}, "f32", "L1"),
    ("gemm-L1-f64-odd", "gemm", {"M": 45, "N": 61, "K": 43}, "f64", "L1"),
    ("gemm-L2-f32", "gemm", {"M": 128, "N": 256, "K": 256}, "f32", "L2"),
    ("gemm-L2-f64-odd", "gemm", {"M": 64, "N": 199, "K": 201}, "f64", "L2"),
    ("gemm-mem-f32", "gemm", {"M": 16, "N": 1024, "K": 1024}, "f32", "mem"),
    ("gemv-L1-f32", "gemv", {"M": 16, "N": 500}, "f32", "L1"),
    ("gemv-L2-f64-odd", "gemv", {"M": 101, "N": 999}, "f64", "L2"),
    ("gemv-mem-f32", "gemv", {"M": 1000, "N": 4000}, "f32", "mem"),
    ("jacobi1d-L1-f32", "jacobi1d", {"N": 4000}, "f32", "L1"),
    ("jacobi1d-L2-f64-odd", "jacobi1d", {"N": 50001}, "f64", "L2"),
    ("jacobi1d-mem-f32", "jacobi1d", {"N": 4 << 20}, "f32", "mem"),
    ("iir-L1-f32", "iir", {"N": 4000}, "f32", "L1"),
    ("iir-L2-f64-odd", "iir", {"N": 80001}, "f64", "L2"),
    ("prefix_sum-L1-f32-odd", "prefix_sum", {"N": 3001}, "f32", "L1"),
    ("prefix_sum-mem-f64", "prefix_sum", {"N": 1 << 20}, "f64", "mem"),
]

#: a pick this much slower than the best is "on a cliff"
CLIFF = 1.5


def select(corpus: list, names: str | None) -> list:
    """The cases of ``corpus`` named in ``names`` (comma-separated case or kernel names; every case
    when empty); an `UnrollkitError` when none matches."""
    if not names:
        return list(corpus)
    want = [n.strip() for n in names.split(",") if n.strip()]
    out = [c for c in corpus if c[0] in want or c[1] in want]
    if not out:
        raise UnrollkitError(f"no case matches {want}; the cases are {[c[0] for c in corpus]}")
    return out


# ---------------------------------------------------------------- checking (data and tolerances: testdata)


def verify(ck, name: str, args: list, sizes: dict, dtype: str, expected: dict) -> str:
    """"" if the compiled kernel's outputs match numpy's on fresh copies, else what differs."""
    work = [bench.fresh([a])[0] if isinstance(a, np.ndarray) else a for a in args]
    ck.cfunc(*[a.ctypes.data if isinstance(a, np.ndarray) else a for a in work])
    terms = testdata.chain_length(name, sizes)
    for pos, (want, scale) in expected.items():
        why = testdata.mismatch(work[pos], want, scale, dtype, terms)
        if why:
            return f"output {pos}: {why}"
    return ""


class _Runner:
    """A compiled configuration as `bench.measure` times it: arrays in, scalars merged back."""

    def __init__(self, ck, args):
        self.ck = ck
        self.template = args

    def _merge(self, arrays):
        it = iter(arrays)
        return [next(it) if isinstance(a, np.ndarray) else a for a in self.template]

    def time(self, arrays, reps: int) -> float:
        return self.ck.time_native(self._merge(arrays), reps)


# ---------------------------------------------------------------- the sweep


#: unroll factors swept together with each unroll-and-jam factor of the enclosing loop
JAM_SWEEP = (1, 2, 4, 8)


def configs(profile, max_factor: int) -> list:
    """Every configuration measured for a case, as cost-model candidates, then llvm-auto."""
    out = [Candidate("affine", u) for u in range(1, max_factor + 1)]
    if profile.reduction:
        out += [Candidate("multi-acc", k) for k in range(2, max_factor + 1)]
    if profile.vector_reducible:  # the family: powers of two (see cost_model.VECTOR_REGISTERS)
        out += [Candidate("vector-acc", k) for k in VECTOR_REGISTERS]
    if profile.parent:
        out += [Candidate("affine", u, f, profile.parent) for f in JAM_FACTORS
                if f <= profile.parent_trip for u in JAM_SWEEP if u <= max_factor]
    return out + [Candidate("llvm-auto", 1)]


def run_case(case, repeat: int, sample_seconds: float, max_factor: int, seed: int, dry_run: bool = False) -> dict:
    """One case: the cost model's choice, then every configuration (`configs`) compiled, verified
    against numpy and timed, as its `score` (``dry_run``: nothing timed)."""
    name, kname, sizes, dtype, level = case
    k = ALL[kname]
    args = testdata.make_args(k, sizes, dtype, seed=seed, floats=(-0.5, 0.5),  # aligned, scalars 0.5
                              empty=lambda i, shape, dt: bench.aligned_empty(shape, dt))
    sig, _ = uk.jit(k).signature(args)
    t0 = time.perf_counter()
    choice = cost_model.choose(k, sig, keep=False)
    choose_s = time.perf_counter() - t0
    expected = testdata.reference(kname, args)
    rows, mismatch = [], []
    sweep = configs(choice.profile, max_factor)
    if choice.candidate not in sweep:  # the pick is always measured
        sweep.insert(-1, choice.candidate)
    for cand in sweep:
        row = bench.Row(kname, name, dtype, cand.variant, cand.factor, label=cand.label)
        row.candidate = cand
        try:
            pipe = cand.pipeline()
            ck = uk.jit(k, factor=cand.factor, variant=cand.variant,
                        pipeline=pipe if pipe.passes else None).compiled(*args)
        except Exception as exc:  # a configuration a pass refuses: recorded, not timed
            row.error = f"{type(exc).__name__}: {exc}"
            rows.append(row)
            continue
        row.llvm_policy = ck.plan.policy.describe()
        why = verify(ck, kname, args, sizes, dtype, expected)
        row.verified = not why
        if why:
            row.error = why
            mismatch.append(f"{row.label}: {why}")
        else:
            row.runner = _Runner(ck, args)
        rows.append(row)
    arrays = [a for a in args if isinstance(a, np.ndarray)]
    if dry_run:  # compile, verify and choose only: nothing is timed
        return {"name": name, "pick": {"variant": choice.variant, "factor": choice.factor,
                                       "label": choice.candidate.label, "reason": choice.reason},
                "configs": len(rows), "errors": [f"{r.label}: {r.error}" for r in rows if r.error],
                "mismatch": "; ".join(mismatch), "choose_s": choose_s, "model_level": choice.profile.level}
    bench.measure(rows, {name: arrays}, repeat, sample_seconds, seed=seed)
    for r in rows:
        r.runner = None  # the machine code is released with the last reference to it
    return score(case, choice, rows, choose_s, mismatch)


def _pred(choice, cand):
    for r in choice.rows:
        if r["candidate"] == cand:
            return r
    return None


def score(case, choice, rows, choose_s, mismatch) -> dict:
    """One case's result: the slowdowns of the pick, factor 1 and llvm-auto against the measured
    best, exact hit within the noise, rank agreement, every row."""
    name, kname, sizes, dtype, level = case
    timed = [r for r in rows if r.samples]
    sweep = [r for r in timed if r.variant != "llvm-auto"]
    best = min(sweep, key=lambda r: r.median)
    noise = max(0.02, (best.spread or 0.0) / 2)

    def slow(r):
        return None if r is None or not r.samples else r.median / best.median

    def find(cand):
        return next((r for r in timed if r.candidate == cand), None)

    pick = find(choice.candidate)
    out_rows = []
    for r in rows:
        pr = _pred(choice, r.candidate)
        out_rows.append({
            "variant": r.variant, "factor": r.factor, "jam": r.candidate.jam, "jam_loop": r.candidate.jam_loop,
            "label": r.label, "median_s": r.median, "spread": r.spread,
            "samples": len(r.samples), "reps": r.reps, "verified": r.verified, "error": r.error,
            "slowdown": slow(r), "llvm_policy": r.llvm_policy,
            "predicted": pr["cycles"] if pr and pr["checked"] else None,
            "analytical": pr["prediction"].cycles if pr else None,
            "accepted": pr["accepted"] if pr else None, "why": pr["why"] if pr else None})
    s = slow(pick)
    # rank agreement of checked predictions with measurements (Spearman, ties averaged)
    pairs = [(o["predicted"], o["median_s"]) for o in out_rows
             if o["predicted"] is not None and o["median_s"] is not None and o["accepted"]]
    rho = _spearman(pairs) if len(pairs) >= 3 else None
    return {
        "name": name, "kernel": kname, "sizes": sizes, "dtype": dtype, "level": level,
        "model_level": choice.profile.level, "footprint": choice.profile.footprint,
        "pick": {"variant": choice.variant, "factor": choice.factor, "label": choice.candidate.label,
                 "predicted": choice.predicted, "reason": choice.reason},
        "best": {"variant": best.variant, "factor": best.factor, "label": best.label,
                 "median_s": best.median},
        "noise": noise, "pick_slowdown": s,
        "exact": s is not None and s <= 1 + noise,
        "same_config": pick is best,
        "within5": s is not None and s <= 1.05,
        "cliff": s is not None and s >= CLIFF,
        "factor1_slowdown": slow(find(Candidate("affine", 1))),
        "llvm_auto_slowdown": slow(find(Candidate("llvm-auto", 1))),
        "spearman": rho, "choose_s": choose_s,
        "mismatch": "; ".join(mismatch), "rows": out_rows}


def _spearman(pairs) -> float | None:
    a = np.array([p[0] for p in pairs], dtype=float)
    b = np.array([p[1] for p in pairs], dtype=float)

    def ranks(x):
        order = x.argsort(kind="stable")
        r = np.empty(len(x))
        r[order] = np.arange(len(x))
        for v in np.unique(x):  # average the ranks of ties
            m = x == v
            r[m] = r[m].mean()
        return r
    ra, rb = ranks(a), ranks(b)
    if ra.std() == 0 or rb.std() == 0:
        return None
    return float(np.corrcoef(ra, rb)[0, 1])


def summary(cases: list) -> dict:
    """Over the scored ``cases``: for ``auto``, factor 1 and llvm-auto, the share within 5% of the
    best, the geometric-mean and worst slowdowns and the cliffs; and which targets are met."""
    def stats(key):
        xs = [c[key] for c in cases if c[key] is not None]
        if not xs:
            return {}
        return {"n": len(xs), "within5": sum(x <= 1.05 for x in xs) / len(xs),
                "geomean": math.exp(statistics.fmean(math.log(x) for x in xs)),
                "worst": max(xs), "cliffs": sum(x >= CLIFF for x in xs)}
    out = {"cases": len(cases),
           "auto": dict(stats("pick_slowdown"),
                        exact=sum(c["exact"] for c in cases) / len(cases),
                        same_config=sum(c["same_config"] for c in cases) / len(cases)),
           "factor1": stats("factor1_slowdown"), "llvm_auto": stats("llvm_auto_slowdown")}
    out["targets"] = {"within5>=0.90": out["auto"].get("within5", 0) >= 0.90,
                      "geomean<=1.03": out["auto"].get("geomean", 9) <= 1.03,
                      "worst<=1.15": out["auto"].get("worst", 9) <= 1.15,
                      "no_cliff": out["auto"].get("cliffs", 1) == 0}
    return out


def run(corpus: list, repeat: int = 9, sample_seconds: float = 0.01, pin=None, max_factor: int = 16,
        progress=None, dry_run: bool = False) -> dict:
    """Validate the cost model on ``corpus`` (`run_case` per case, one BLAS thread, a private disk
    cache, pinned to CPU ``pin`` if given): the environment, the `summary` and the cases."""

    if pin is not None:
        os.sched_setaffinity(0, {pin})
    t0 = time.perf_counter()
    saved = {k: os.environ.get(k) for k in ("UNROLLKIT_CACHE", "UNROLLKIT_CACHE_DIR")}
    # a private cache: the sweep reuses the cost model's compiles, the user's cache is untouched
    tmp = tempfile.TemporaryDirectory(prefix="unrollkit-validate-")
    os.environ["UNROLLKIT_CACHE"] = "1"
    os.environ["UNROLLKIT_CACHE_DIR"] = tmp.name
    cases = []
    try:
        with threadpool_limits(limits=1):
            for n, case in enumerate(corpus):
                cases.append(run_case(case, repeat, sample_seconds, max_factor, seed=n, dry_run=dry_run))
                if progress:
                    progress(case[0])
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        tmp.cleanup()
    env = environment(pin, repeat, sample_seconds, {})
    env["target"] = host_target().as_dict()
    env["seconds"] = time.perf_counter() - t0
    env["max_factor"] = max_factor
    if dry_run:
        return {"environment": env, "dry_run": True, "cases": cases}
    return {"environment": env, "summary": summary(cases), "cases": cases}


# ---------------------------------------------------------------- reports


def _cfg(d) -> str:
    return d.get("label") or f"{d['variant']}×{d['factor']}"


def _x(v) -> str:
    return "-" if v is None else f"{v:.3f}"


def case_table(result):
    """The per-case result of `run` as a rich table: best and pick, the pick's slowdown, factor 1
    and llvm-auto, rank agreement, time to choose."""
    t = Table(title="factor=\"auto\" against the measured best (slowdown = time / best time)",
              title_justify="left")
    for col in ("case", "level", "best", "best time", "pick", "pick", "factor 1", "llvm-auto", "ρ", "choose"):
        t.add_column(col, justify="left" if col in ("case", "level", "best", "pick") else "right")
    for c in result["cases"]:
        s = c["pick_slowdown"]
        color = "green" if c["exact"] else "yellow" if c["within5"] else "red"
        t.add_row(c["name"], f"{c['level']}/{c['model_level']}", _cfg(c["best"]),
                  bench.format_time(c["best"]["median_s"]), _cfg(c["pick"]),
                  f"[{color}]{_x(s)}[/{color}]", _x(c["factor1_slowdown"]), _x(c["llvm_auto_slowdown"]),
                  _x(c["spearman"]), f"{c['choose_s']:.1f} s")
    return t




def summary_table(result):
    """The `summary` of a `run` result as a rich table."""
    s = result["summary"]
    t = Table(title=f"summary over {s['cases']} cases", title_justify="left")
    for col in ("", "exact hit", "within 5%", "geomean slowdown", "worst", f"≥{CLIFF}× (cliff)"):
        t.add_column(col, justify="right")
    for key, label in (("auto", "factor=auto"), ("factor1", "factor 1"), ("llvm_auto", "llvm-auto")):
        x = s[key]
        if not x:
            continue
        t.add_row(label, f"{x['exact']:.0%}" if "exact" in x else "-", f"{x['within5']:.0%}",
                  f"{x['geomean']:.3f}", f"{x['worst']:.3f}", str(x["cliffs"]))
    return t


def markdown(result) -> str:
    """A `run` result as Markdown: the setup, the summary against the targets, and a row per case."""
    s, env = result["summary"], result["environment"]
    lines = ["## Validation of `factor=\"auto\"` (generated by `unrollkit validate`)", "",
             f"{env.get('cpu_model')} ({env.get('cpu')}), LLVM {env['versions'].get('llvmlite_llvm')}, "
             f"{env['repeat']} samples of ≥ {env['target_sample_s'] * 1000:g} ms per configuration, "
             f"factors 1–{env['max_factor']} (+ accumulators for reductions, 1/2/4/8 vector registers "
             f"per trip where unrollkit vectorises, unroll-and-jam for nests), LLVM unroller off; "
             f"{s['cases']} cases in {env['seconds']:.0f} s.", "",
             "| | exact hit | within 5% | geomean slowdown | worst | cliffs (≥1.5×) |",
             "|---|---:|---:|---:|---:|---:|"]
    for key, label in (("auto", "`factor=\"auto\"`"), ("factor1", "factor 1"), ("llvm_auto", "llvm-auto")):
        x = s[key]
        if x:
            lines.append(f"| {label} | {x['exact']:.0%} | " if "exact" in x else f"| {label} | - | ")
            lines[-1] += f"{x['within5']:.0%} | {x['geomean']:.3f} | {x['worst']:.3f} | {x['cliffs']} |"
    lines += ["", "Targets: " + ", ".join(f"{k} {'met' if v else 'MISSED'}" for k, v in s["targets"].items()),
              "", "| case | level (ours/model) | best | pick | pick slowdown | factor 1 | llvm-auto | ρ(pred, time) |",
              "|---|---|---|---|---:|---:|---:|---:|"]
    for c in result["cases"]:
        lines.append(f"| {c['name']} | {c['level']}/{c['model_level']} | {_cfg(c['best'])} | {_cfg(c['pick'])} | "
                     f"{_x(c['pick_slowdown'])} | {_x(c['factor1_slowdown'])} | {_x(c['llvm_auto_slowdown'])} | "
                     f"{_x(c['spearman'])} |")
    return "\n".join(lines) + "\n"
