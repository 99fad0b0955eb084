"""The machine's peaks, measured once per CPU: the FMA throughput and the streaming bandwidth at
each level of the memory hierarchy. ``unrollkit bench`` shows every row as a % of them.

* **FMA peak**: a loop of ``k`` independent vector FMA chains (``acc = acc * m + c``, the
  accumulators in registers, no memory access), written as LLVM IR and JIT-compiled by
  unrollkit's own backend (`unrollkit.codegen.backend`); the best over vector widths (256 bits and the
  widest) and chain counts (enough to cover latency × FMA units, and more). 2 FLOPs per lane
  per FMA.
* **Bandwidth**: unrollkit's ``mac`` (``c[i] += a[i] * b[i]``, vectorised 4 registers wide by
  the ``vector-acc`` variant) streaming a footprint that fits L1, L2, L3, and one 4× the L3
  (DRAM); bytes = a, b and c once each per call, as the bench counts them.

Each figure is the best of a few short samples (a peak is a maximum). The result is kept in
``<unrollkit cache>/peak-<key>.json``, keyed on the CPU name and LLVM feature string (and this
module's `PEAK_VERSION`); with the cache off it is measured once per process.
"""
from __future__ import annotations

import ctypes
import functools
import json
import time

import numpy as np

from unrollkit.codegen import backend
from unrollkit.core import cache
from unrollkit.core.cache import atomic_write
from unrollkit.core.target import host, host_target
import unrollkit as uk
from unrollkit.kernels import mac

PEAK_VERSION = "peak-1"
#: samples per configuration (the best counts) and the minimum duration of one
SAMPLES = 3
SAMPLE_SECONDS = 0.01
LEVELS = ("L1", "L2", "L3", "DRAM")


def fma_loop_ir(lanes: int, chains: int, elem: str) -> str:
    """LLVM IR of ``double uk_fma_peak(i64 trips, elem m, elem c)``: ``chains`` independent
    ``<lanes x elem>`` FMA chains per trip; returns a lane of their sum (so nothing is dead)."""
    ty = f"<{lanes} x {elem}>"
    intr = f"@llvm.fma.v{lanes}{'f32' if elem == 'float' else 'f64'}"
    lines = [f"declare {ty} {intr}({ty}, {ty}, {ty})",
             f"define double @uk_fma_peak(i64 %n, {elem} %m, {elem} %c) {{",
             "entry:",
             f"  %m0 = insertelement {ty} poison, {elem} %m, i32 0",
             f"  %mv = shufflevector {ty} %m0, {ty} poison, <{lanes} x i32> zeroinitializer",
             f"  %c0 = insertelement {ty} poison, {elem} %c, i32 0",
             f"  %cv = shufflevector {ty} %c0, {ty} poison, <{lanes} x i32> zeroinitializer",
             "  br label %loop", "loop:",
             "  %i = phi i64 [ 0, %entry ], [ %i1, %loop ]"]
    for k in range(chains):
        # distinct starting values: no two chains are the same computation
        lines.append(f"  %a{k} = phi {ty} [ %cv, %entry ], [ %b{k}, %loop ]")
    for k in range(chains):
        lines.append(f"  %b{k} = call {ty} {intr}({ty} %a{k}, {ty} %mv, {ty} %cv)")
    lines += ["  %i1 = add i64 %i, 1", "  %done = icmp uge i64 %i1, %n",
              "  br i1 %done, label %exit, label %loop", "exit:"]
    prev = "%b0"
    for k in range(1, chains):
        lines.append(f"  %s{k} = fadd {ty} {prev}, %b{k}")
        prev = f"%s{k}"
    lines += [f"  %lane = extractelement {ty} {prev}, i32 0"]
    lines += ["  %r = fpext float %lane to double" if elem == "float" else "  %r = fadd double %lane, 0.0",
              "  ret double %r", "}"]
    return "\n".join(lines) + "\n"


def _best_rate(run, work_per_trip: float) -> float:
    """Best rate (work per second) over `SAMPLES` samples of at least `SAMPLE_SECONDS`."""
    trips = 1
    while True:  # calibrate (the first call also warms up)
        t0 = time.perf_counter()
        run(trips)
        dt = time.perf_counter() - t0
        if dt >= SAMPLE_SECONDS / 4 or trips >= 1 << 40:
            break
        trips *= 8
    trips = max(1, int(trips * SAMPLE_SECONDS / max(dt, 1e-9)))
    best = 0.0
    for _ in range(SAMPLES):
        t0 = time.perf_counter()
        run(trips)
        best = max(best, trips * work_per_trip / (time.perf_counter() - t0))
    return best


def fma_peak(dtype: str, target=None) -> dict:
    """{"gflops": best FLOP rate / 1e9, "lanes", "chains"} of the FMA loop for ``dtype``."""
    t = target or host_target()
    elem, size = ("float", 4) if dtype == "f32" else ("double", 8)
    ctype = ctypes.c_float if dtype == "f32" else ctypes.c_double
    best = {"gflops": 0.0}
    widths = sorted({256, t.vector_bits})
    for bits in widths:
        lanes = bits // (8 * size)
        need = t.fma_latency * max(t.fma_units, t.fma_units_512)
        for chains in sorted({need, need + need // 2, 2 * need}):
            if chains > t.vector_registers - 2:
                continue
            mod = backend.optimize(fma_loop_ir(lanes, chains, elem), backend.LLVMPolicy())
            fn = backend.Engine(mod).function("uk_fma_peak", ctypes.c_double,
                                              [ctypes.c_int64, ctype, ctype])
            rate = _best_rate(lambda n: fn(n, 0.999999, 1e-6), 2.0 * lanes * chains)
            if rate / 1e9 > best["gflops"]:
                best = {"gflops": rate / 1e9, "lanes": lanes, "chains": chains}
    return best


def level_footprints(target=None) -> dict:
    """Bytes streamed per call at each level: half of L1d, L2 and the core's L3 share, and 4×
    the L3 (at least 64 MiB) for DRAM."""
    t = target or host_target()
    l3 = t.l3_usable_bytes or t.l3_bytes
    return {"L1": t.l1d_bytes // 2, "L2": t.l2_bytes // 2, "L3": max(t.l2_bytes, l3 // 2),
            "DRAM": max(64 << 20, 4 * t.l3_bytes)}


def bandwidth(dtype: str, footprint: int) -> float:
    """GB/s of unrollkit's vectorised mac streaming ``footprint`` bytes (a, b, c)."""
    elem = 4 if dtype == "f32" else 8
    n = max(64, footprint // (3 * elem))
    dt = np.float32 if dtype == "f32" else np.float64
    a, b, c = (np.full(n, v, dt) for v in (1.0, 1e-3, 0.0))
    ck = uk.jit(mac, factor=4, variant="vector-acc").compiled(a, b, c)
    return _best_rate(lambda reps: ck.time_native([a, b, c], reps), 3.0 * n * elem) / 1e9


def measure(target=None) -> dict:
    """Every peak, for f32 and f64 (about a second)."""
    t = target or host_target()
    prints = level_footprints(t)
    out = {"version": PEAK_VERSION, "cpu": host()[1], "features": host()[2],
           "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "footprints": prints,
           "fma": {}, "bandwidth": {}}
    for dtype in ("f32", "f64"):
        out["fma"][dtype] = fma_peak(dtype, t)
    # bandwidth in bytes does not depend on the element type: measured once, in f32
    out["bandwidth"] = {lvl: bandwidth("f32", prints[lvl]) for lvl in LEVELS}
    return out


def _path():
    triple, cpu, features = host()
    return cache.directory() / f"peak-{cache.make_key(PEAK_VERSION, triple, cpu, features)[:24]}.json"


def _valid(d) -> bool:
    try:
        return (d["version"] == PEAK_VERSION and d["cpu"] == host()[1]
                and d["features"] == host()[2]
                and all(float(d["fma"][x]["gflops"]) > 0 for x in ("f32", "f64"))
                and all(float(d["bandwidth"][lvl]) > 0 for lvl in LEVELS))
    except (KeyError, TypeError, ValueError):
        return False


@functools.lru_cache(maxsize=None)
def _measured_once() -> str:
    return json.dumps(measure())


def peaks(remeasure: bool = False) -> dict:
    """The peaks of this machine: from the cache file when it holds this CPU's, else measured
    (and written, atomically, when the cache is on)."""
    if not cache.enabled():
        return json.loads(_measured_once())
    path = _path()
    if not remeasure:
        try:
            d = json.loads(path.read_text())
            if _valid(d):
                d["cached"] = True
                return d
        except (OSError, ValueError):
            pass  # missing or damaged: measure again
    d = measure()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, json.dumps(d, indent=1).encode(), ".tmp-peak-")
    except OSError:
        pass  # an unwritable cache only costs a measurement next time
    d["cached"] = False
    return d


def level_of(footprint: int, p: dict) -> str:
    """The level a working set of ``footprint`` bytes streams from."""
    fp = p["footprints"]
    for lvl in LEVELS[:-1]:
        if footprint <= 2 * fp[lvl]:  # the footprints are half of each level
            return lvl
    return "DRAM"


def roofline(flops: float, nbytes: float, dtype: str, p: dict) -> dict:
    """The bound of a kernel doing ``flops`` on ``nbytes`` of data: {"bound": "compute" or
    "memory", "level", "seconds": the least time the peaks allow, "peak": the peak's text}."""
    gflops = p["fma"][dtype]["gflops"]
    lvl = level_of(nbytes, p)
    gbs = p["bandwidth"][lvl]
    t_compute, t_memory = flops / (gflops * 1e9), nbytes / (gbs * 1e9)
    if t_compute >= t_memory:
        return {"bound": "compute", "level": lvl, "seconds": t_compute,
                "peak": f"FMA peak {gflops:.0f} GFLOP/s {dtype}"}
    return {"bound": "memory", "level": lvl, "seconds": t_memory,
            "peak": f"{lvl} bandwidth {gbs:.0f} GB/s"}
