"""The benchmark harness behind ``unrollkit bench`` (DESIGN §6).

For one kernel (mac, dot or gemm), every size, variant and factor becomes a `Row`: compiled
(its compile time, machine-code bytes, and the facts of its hot loop from the assembly),
verified against numpy, then timed. Timing is native: IR kernels through the generated
``<kernel>_repeat(args..., reps)`` loop, C kernels through their C timing loop, so a Python call
(microseconds) does not hide a kernel that runs in nanoseconds. Each sample is one call of the
repeat loop lasting at least ``target`` seconds; the rows take their samples in a shuffled
order, round after round, so that drift of the machine (frequency, a neighbour's load) spreads
over every row instead of biasing the ones measured last. Buffers are page-aligned plus a
fixed offset per argument (the same layout for every row, see `PAGE_OFFSETS`); BLAS runs
single-threaded.
"""
from __future__ import annotations

import dataclasses
import math
import os
import platform
import random
import statistics
import time

import numpy as np

from . import asm_facts
from .errors import UnrollkitError

KERNELS = ("mac", "dot", "gemm")
IR_VARIANTS = ("none", "llvm-auto", "pragma", "macro", "manual", "affine", "multi-acc", "vector-acc")
#: variants that choose their own schedule, measured when asked for (--variants): ``auto``
#: (the cost model; GEMM nests get the BLAS-style schedule) and ``blas`` (GEMM nests only)
CHOOSING_VARIANTS = ("auto", "blas")
C_VARIANTS = ("c-plain", "c-pragma", "c-manual", "c-macro")
DEFAULT_SIZES = {"gemm": "128,512", "mac": "4096,262144", "dot": "4096,262144"}
DEFAULT_FACTORS = (1, 2, 4, 8)
ALIGN = 64


class BenchMismatch(UnrollkitError):
    """A variant computed a different result from numpy's."""


# ---------------------------------------------------------------- data


#: where each argument's data starts within a 4 KiB page: the output (last argument) at 0,
#: the inputs 1 and 2 KiB in. The same for every row and every run, so that rows compare the
#: code and not where malloc put the buffers: two streams whose addresses agree modulo 4096
#: (a load of ``a[i + k]`` just after a store to ``c[i]``) stall on 4K aliasing, which alone
#: can swing a memory-bound kernel by tens of percent.
PAGE = 4096
PAGE_OFFSETS = (1024, 2048, 0)


def aligned_empty(shape, dtype, align: int = ALIGN, offset: int = 0) -> np.ndarray:
    """An uninitialised C-contiguous array whose data starts ``offset`` bytes past an
    ``align``-byte boundary: an over-sized byte buffer, sliced at that point."""
    dtype = np.dtype(dtype)
    n = int(np.prod(shape)) * dtype.itemsize
    raw = np.empty(n + align + offset, dtype=np.uint8)
    off = (-raw.ctypes.data) % align + offset
    return raw[off:off + n].view(dtype).reshape(shape)


def placed(k: int, shape, dtype) -> np.ndarray:
    """Buffer for argument ``k``: 64-byte aligned, at its fixed offset in a page."""
    return aligned_empty(shape, dtype, PAGE, PAGE_OFFSETS[k % len(PAGE_OFFSETS)])


def alignment(a: np.ndarray) -> int:
    """The largest power of two (up to 4096) dividing the array's address."""
    addr = a.ctypes.data
    return min(PAGE, addr & -addr) if addr else PAGE


def parse_size(kernel: str, text: str) -> dict:
    """``"512"`` → gemm M=N=K=512 (mac, dot: N=512); gemm also takes ``"MxNxK"``."""
    parts = [int(p) for p in text.lower().split("x")]
    if any(p < 1 for p in parts):
        raise UnrollkitError(f"sizes must be positive, got {text!r}")
    if kernel == "gemm":
        if len(parts) == 1:
            parts *= 3
        if len(parts) != 3:
            raise UnrollkitError(f"a gemm size is N or MxNxK, got {text!r}")
        return dict(zip("MNK", parts))
    if len(parts) != 1:
        raise UnrollkitError(f"a {kernel} size is one number N, got {text!r}")
    return {"N": parts[0]}


def make_inputs(kernel: str, dims: dict, dtype: str, seed: int = 0) -> list:
    """Aligned arrays in the kernel's argument order, filled with reproducible values."""
    rng = np.random.default_rng(seed)
    dt = np.float32 if dtype == "f32" else np.float64
    if kernel == "gemm":
        shapes = [(dims["M"], dims["K"]), (dims["K"], dims["N"]), (dims["M"], dims["N"])]
    elif kernel == "dot":
        shapes = [(dims["N"],), (dims["N"],), (1,)]
    else:
        shapes = [(dims["N"],)] * 3
    out = []
    for k, s in enumerate(shapes):
        a = placed(k, s, dt)
        a[...] = rng.random(s) - 0.5
        out.append(a)
    return out


def fresh(arrays: list) -> list:
    """Copies, each placed like the original argument."""
    out = []
    for k, a in enumerate(arrays):
        b = placed(k, a.shape, a.dtype)
        b[...] = a
        out.append(b)
    return out


def reference(kernel: str, arrays: list) -> tuple:
    """(expected output, its scale): numpy in float64, and the same sums over absolute values,
    which bound how far rounding can move a float result."""
    a, b, c = (x.astype(np.float64) for x in arrays)
    if kernel == "mac":
        return c + a * b, np.abs(c) + np.abs(a * b)
    return c + a @ b, np.abs(c) + np.abs(a) @ np.abs(b)


def tolerance(kernel: str, dims: dict, dtype: str) -> float:
    """Relative (to the scale) error allowed: a few ulps times sqrt(length of each sum), the
    typical growth of rounding error, which is also what reassociating the sum costs."""
    eps = float(np.finfo(np.float32 if dtype == "f32" else np.float64).eps)
    length = 1 if kernel == "mac" else dims["K"] if kernel == "gemm" else dims["N"]
    return 8 * eps * math.sqrt(length)


def work(kernel: str, dims: dict, dtype: str) -> tuple:
    """(amount, unit) per call: FLOPs for gemm and dot, bytes for mac (a, b, c once each)."""
    if kernel == "gemm":
        return 2.0 * dims["M"] * dims["N"] * dims["K"], "GFLOP/s"
    if kernel == "dot":
        return 2.0 * dims["N"], "GFLOP/s"
    return 3.0 * dims["N"] * (4 if dtype == "f32" else 8), "GB/s"


# ---------------------------------------------------------------- rows


@dataclasses.dataclass
class Row:
    kernel: str
    size: str
    dtype: str
    variant: str
    factor: int
    toolchain: str = "mlir"      # "mlir", "gcc", "clang", "numpy"
    order: str = ""              # gemm's loop order when not the default i-k-j
    label: str = ""
    policy: str = ""             # how the row's code was made (plan, or compiler and flags)
    llvm_policy: str = ""        # LLVMPolicy.describe() of IR rows
    flags: str = ""
    compile_s: float | None = None
    code_bytes: int | None = None
    facts: dict = dataclasses.field(default_factory=dict)
    unroll_seen: float | None = None
    unroll_ok: bool | None = None
    verified: bool | None = None
    max_error: float | None = None
    error: str | None = None
    reps: int = 0
    samples: list = dataclasses.field(default_factory=list)   # seconds per call
    rate: float | None = None
    speedup: float | None = None
    alignment: list = dataclasses.field(default_factory=list)     # per buffer, bytes
    page_offsets: list = dataclasses.field(default_factory=list)  # address mod 4096
    note: str = ""
    runner: object = dataclasses.field(default=None, repr=False)

    @property
    def median(self) -> float | None:
        return statistics.median(self.samples) if self.samples else None

    @property
    def spread(self) -> float | None:
        """Interquartile range over the median (0.05 = ±5% around it, roughly)."""
        if len(self.samples) < 2:
            return None
        q = np.percentile(self.samples, [25, 75])
        return float((q[1] - q[0]) / self.median)

    def record(self) -> dict:
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "runner"}
        d.update(median_s=self.median, spread=self.spread,
                 min_s=min(self.samples) if self.samples else None)
        return d


class IRRunner:
    """An unrollkit variant: compiled through MLIR, timed by its native repeat loop."""

    def __init__(self, row: Row, kernel_desc, arrays):
        import unrollkit as uk
        self.jk = uk.jit(kernel_desc, factor=row.factor, variant=row.variant)
        self.ck = self.jk.compiled(*arrays)
        row.policy = self.jk.plan.describe()
        row.llvm_policy = self.jk.plan.policy.describe()
        row.compile_s = self.ck.compile_seconds
        self.symbol = self.ck.symbol

    def asm(self) -> str:
        return asm_facts.encode(self.ck.ir("asm"))

    def call(self, arrays) -> None:
        self.jk(*arrays)

    def time(self, arrays, reps: int) -> float:
        return self.ck.time_native(arrays, reps)


class CRunner:
    """A C variant from `unrollkit.cvariants`, timed by its C repeat loop."""

    def __init__(self, row: Row, kernel_name: str):
        from . import cvariants
        self.ck = cvariants.build(kernel_name, row.variant, row.factor, row.dtype, row.toolchain)
        row.compile_s = self.ck.compile_seconds
        row.flags = " ".join(self.ck.flags)
        row.policy = f"{self.ck.compiler_version}: {row.flags}"
        self.symbol = f"uk_{kernel_name}"

    def asm(self) -> str:
        return asm_facts.disassemble(self.ck.so_path)

    def call(self, arrays) -> None:
        self.ck(*arrays)

    def time(self, arrays, reps: int) -> float:
        return self.ck.time(*arrays, reps=reps)


class NumpyRunner:
    """numpy, single-threaded: the reference row. Timed in a Python loop (its call overhead is
    part of what numpy costs, and shows at small sizes)."""

    def __init__(self, row: Row, kernel_name: str):
        self.kernel = kernel_name
        row.policy = f"numpy {np.__version__}, BLAS threads 1"
        self.symbol = None

    def call(self, arrays) -> None:
        a, b, c = arrays
        if self.kernel == "gemm":
            c += a @ b
        elif self.kernel == "dot":
            c[0] += np.dot(a, b)
        else:
            c += a * b

    def time(self, arrays, reps: int) -> float:
        t0 = time.perf_counter_ns()
        for _ in range(reps):
            self.call(arrays)
        return (time.perf_counter_ns() - t0) * 1e-9


def kernel_descriptor(kernel: str, order: str = ""):
    from .kernels import ALL, gemm_order
    return gemm_order(order) if order else ALL[kernel]


def plan_rows(kernel: str, sizes: list, variants: list, factors: list, dtype: str,
              compilers: dict) -> list:
    """Every (size, variant, factor, toolchain) to measure, with the reference rows first.

    Factor 1 of an unrolling variant is the same code as ``none``: only ``none``, ``llvm-auto``
    (LLVM picks its own factor), ``c-plain`` and ``c-pragma`` (the C baseline) run at 1."""
    rows = []
    for size in sizes:
        rows.append(Row(kernel, size, dtype, "numpy", 1, toolchain="numpy", label="numpy"))
        rows.append(Row(kernel, size, dtype, "none", 1, label="none"))
        for v in variants:
            if v in ("none", "numpy"):
                continue
            if v == "multi-acc" and kernel == "mac":
                continue  # no reduction to split
            order = ""
            if v == "multi-acc" and kernel == "gemm":
                # accumulators need the reduction (k) innermost: the i-j-k order, with its own
                # rolled baseline so that the unroll seen in its asm compares like with like
                order = "ijk"
                rows.append(Row(kernel, size, dtype, "none", 1, label="none (i-j-k)", order=order))
            tools = [c for c in compilers] if v in C_VARIANTS else ["mlir"]
            for tool in tools:
                for f in factors:
                    single = v in ("llvm-auto", "c-plain", "blas", "auto")  # choose their own
                    # vector-acc × 1 is not `none`: one full-width register per trip, ours
                    own_one = v in ("c-pragma", "vector-acc")
                    if (single and f != 1) or (not single and f == 1 and not own_one):
                        continue
                    if v == "manual" and f not in (2, 4, 8):
                        continue
                    label = v if tool == "mlir" else f"{v} {tool}"
                    if order:
                        label += " (i-j-k)"
                    rows.append(Row(kernel, size, dtype, v, f, toolchain=tool, label=label, order=order))
    return rows


def prepare(row: Row, inputs: dict) -> None:
    """Compile the row's code, read its assembly, verify its result. Errors stay in the row."""
    dims = parse_size(row.kernel, row.size)
    arrays = inputs[row.size]
    try:
        if row.toolchain == "numpy":
            row.runner = NumpyRunner(row, row.kernel)
        elif row.toolchain == "mlir":
            row.runner = IRRunner(row, kernel_descriptor(row.kernel, row.order), arrays)
        else:
            row.runner = CRunner(row, row.kernel)
    except UnrollkitError as exc:
        row.error = f"{type(exc).__name__}: {exc}"
        return
    if row.runner.symbol:
        asm = row.runner.asm()
        try:
            row.facts = asm_facts.function_facts(asm, row.runner.symbol)
            row.code_bytes = row.facts.get("function_bytes")
        except KeyError as exc:
            row.note = (row.note + "; " if row.note else "") + str(exc)
    check(row, arrays, dims)


def check(row: Row, arrays: list, dims: dict) -> None:
    """Run once on fresh copies and compare the output with numpy's (float64) result."""
    work_arrays = fresh(arrays)
    row.alignment = [alignment(a) for a in work_arrays]
    row.page_offsets = [a.ctypes.data % PAGE for a in work_arrays]
    row.runner.call(work_arrays)
    want, scale = reference(row.kernel, arrays)
    got = work_arrays[2].astype(np.float64)
    # error relative to the scale of each element's sum (the rounding an element can suffer)
    err = float(np.max(np.abs(got - want) / np.maximum(scale, np.finfo(np.float64).tiny)))
    row.max_error = err
    row.verified = bool(np.isfinite(err) and err <= tolerance(row.kernel, dims, row.dtype))


def judge_unroll(rows: list) -> None:
    """``unroll_seen``: body copies per hot-loop trip against the same toolchain's factor-1
    code; ``unroll_ok``: whether the requested factor is there."""
    base = {}
    for r in rows:
        if r.facts.get("found") and r.factor == 1 and r.variant in ("none", "c-pragma"):
            base[(r.size, r.toolchain, r.order)] = r.facts
    for r in rows:
        b = base.get((r.size, r.toolchain, r.order))
        if not r.facts or b is None:
            continue
        r.unroll_seen = asm_facts.unroll_seen(r.facts, b)
        if r.factor > 1 and r.unroll_seen is not None:
            r.unroll_ok = r.unroll_seen >= r.factor - 1e-9


def calibrate(row: Row, arrays: list, target: float) -> None:
    """Reps so that one sample lasts at least ``target`` seconds (after a warm-up)."""
    row.runner.time(arrays, 1)
    t = row.runner.time(arrays, 1)
    reps = 1
    while t < target / 4 and reps < 1 << 30:  # grow until a sample is long enough to scale
        reps *= 8
        t = row.runner.time(arrays, reps)
    row.reps = max(1, math.ceil(reps * target / max(t, 1e-9)))


def measure(rows: list, inputs: dict, repeat: int, target: float, progress=None, seed: int = 0) -> None:
    """``repeat`` rounds; in each, every live row takes one sample, in a shuffled order."""
    live = [r for r in rows if r.runner is not None and r.verified]
    timing = {id(r): fresh(inputs[r.size]) for r in live}
    for r in live:
        calibrate(r, timing[id(r)], target)
        if progress:
            progress()
    rnd = random.Random(seed)
    for _ in range(repeat):
        order = live[:]
        rnd.shuffle(order)
        for r in order:
            r.samples.append(r.runner.time(timing[id(r)], r.reps) / r.reps)
            if progress:
                progress()


def summarise(rows: list) -> None:
    """Rates and speedups against ``none`` at factor 1 of the same size."""
    base = {r.size: r.median for r in rows
            if r.variant == "none" and r.factor == 1 and not r.order and r.samples}
    for r in rows:
        if not r.samples:
            continue
        amount, _ = work(r.kernel, parse_size(r.kernel, r.size), r.dtype)
        r.rate = amount / r.median / 1e9
        if base.get(r.size):
            r.speedup = base[r.size] / r.median


def environment(pin, repeat: int, target: float, compilers: dict) -> dict:
    from . import backend
    from .versions import versions
    triple, cpu, features = backend.host()
    env = {"cpu": cpu, "cpu_model": _cpu_model(), "triple": triple, "features": features,
           "versions": versions(), "numpy": np.__version__, "python": platform.python_version(),
           "machine": platform.machine(), "cpus": os.cpu_count(), "pinned_cpu": pin,
           "repeat": repeat, "target_sample_s": target, "alignment_bytes": ALIGN,
           "page_offsets": PAGE_OFFSETS,
           "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
           "blas": _blas_info(), "compilers": {}}
    try:
        from . import cvariants
        for name, path in compilers.items():
            env["compilers"][name] = {"path": path, "version": cvariants.compiler_version(path)}
    except ImportError:
        pass
    return env


def _cpu_model() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def _blas_info() -> list:
    from threadpoolctl import threadpool_info
    return [{k: i.get(k) for k in ("internal_api", "version", "num_threads")} for i in threadpool_info()]


def available_compilers(wanted=None) -> dict:
    """C compilers to use: what cvariants finds (empty if the module is missing)."""
    try:
        from . import cvariants
    except ImportError:
        return {}
    found = cvariants.compilers()
    return {k: v for k, v in found.items() if wanted is None or k in wanted}


def run(kernel: str, sizes: list, variants: list, factors: list, dtype: str = "f32",
        repeat: int = 11, target: float = 0.02, pin=None, progress_factory=None,
        compilers: dict | None = None, use_cache: bool = False) -> dict:
    """The whole benchmark; returns ``{"environment": ..., "rows": [Row, ...]}``.

    ``progress_factory(total, description)`` returns a callable to advance a progress bar.
    Without ``use_cache`` every row is compiled afresh, so compile times are real ones."""
    from threadpoolctl import threadpool_limits
    if kernel not in KERNELS:
        raise UnrollkitError(f"unknown kernel {kernel!r}; bench takes {list(KERNELS)}")
    unknown = [v for v in variants if v not in IR_VARIANTS + CHOOSING_VARIANTS + C_VARIANTS + ("numpy",)]
    if unknown:
        raise UnrollkitError(f"unknown variant(s) {unknown}; the variants are "
                             f"{list(IR_VARIANTS + CHOOSING_VARIANTS + C_VARIANTS)}")
    if dtype not in ("f32", "f64"):
        raise UnrollkitError(f"--dtype must be f32 or f64, got {dtype!r}")
    if pin is not None:
        os.sched_setaffinity(0, {pin})
    compilers = available_compilers() if compilers is None else compilers
    rows = plan_rows(kernel, sizes, variants, factors, dtype, compilers)
    inputs = {s: make_inputs(kernel, parse_size(kernel, s), dtype) for s in sizes}
    noop = lambda: None  # noqa: E731
    saved = os.environ.get("UNROLLKIT_CACHE")
    if not use_cache:
        os.environ["UNROLLKIT_CACHE"] = "0"  # read by unrollkit.cache and cvariants at each build
    try:
        with threadpool_limits(limits=1):
            env = environment(pin, repeat, target, compilers)  # records BLAS at 1 thread
            _prepare_and_measure(rows, inputs, repeat, target, progress_factory or (lambda n, d: noop))
    finally:
        if saved is None:
            os.environ.pop("UNROLLKIT_CACHE", None)
        else:
            os.environ["UNROLLKIT_CACHE"] = saved
    summarise(rows)
    return {"environment": env, "rows": rows}


def _prepare_and_measure(rows, inputs, repeat, target, progress_factory) -> None:
    step = progress_factory(len(rows), "compile + verify")
    for r in rows:
        prepare(r, inputs)
        step()
    judge_unroll(rows)
    live = sum(1 for r in rows if r.verified)
    measure(rows, inputs, repeat, target, progress_factory(live * (repeat + 1), "time"))


def format_time(s) -> str:
    """Seconds as a short human string: 2.5 ms, 310 ns; "-" for None."""
    if s is None:
        return "-"
    for unit, k in (("s", 1), ("ms", 1e-3), ("µs", 1e-6)):
        if s >= k:
            return f"{s / k:.3g} {unit}"
    return f"{s / 1e-9:.3g} ns"
