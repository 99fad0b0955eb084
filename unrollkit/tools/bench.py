"""The benchmark harness behind ``unrollkit bench`` (how it measures: bench/README.md).

For one kernel (any built-in, or a user's ``file.py:function``), every size, variant and factor
becomes a `Row`: compiled (its compile time, machine-code bytes, and the facts of its hot loop
from the assembly), verified against numpy or the reference interpreter (float64), then timed.
Timing is native: IR kernels through the generated ``<kernel>_repeat(args..., reps)`` loop, C
kernels through their C timing loop, so a Python call (microseconds) does not hide a kernel
that runs in nanoseconds; numpy's equivalent (`bench_workload.NUMPY`, into preallocated
outputs) in a Python loop, which is what calling numpy costs. Every row, numpy's included, gets
the same discipline: a warm-up, then samples of at least ``sample_seconds`` seconds taken round after
round in a shuffled order, so that drift of the machine (frequency, a neighbour's load) spreads
over every row; medians are reported, and each row's ratio to numpy is the median of its
per-round ratios (paired samples). Buffers are page-aligned plus a fixed offset per argument
(the same layout for every row); BLAS runs single-threaded (threadpoolctl). Every row is also
shown as a % of the machine's peak (`unrollkit.tools.peak`): the FMA peak or the bandwidth of the
level its data streams from, whichever bounds the kernel.
"""
from __future__ import annotations

import dataclasses
import math
import os
import random
import statistics
import time

import numpy as np

from unrollkit.tuning import asm_facts
from unrollkit.tools.bench_environment import environment
from unrollkit.tools.bench_workload import (ALIGN, PAGE, PAGE_OFFSETS, Workload, aligned_empty,  # noqa: F401
                             alignment, fresh, parse_size, placed)
from unrollkit.core.errors import UnrollkitError
from unrollkit.kernels import gemm_order
from unrollkit.tools.kernel_ref import resolve_kernel
from unrollkit.frontend import descriptor as d
from unrollkit.tools.bench_workload import NUMPY, is_builtin
from unrollkit.tuning.gemm_schedule import match_gemm
from unrollkit.tuning.cost_loop import carried_scalars
from unrollkit.core.target import host_target
from unrollkit.tuning.variants import VARIANTS
from unrollkit.kernels.manual import MANUAL
from unrollkit.tools import peak
from unrollkit.codegen import cvariants
import unrollkit as uk
from threadpoolctl import threadpool_limits

IR_VARIANTS = VARIANTS  # the unrolling variants of every kernel (tuning/variants.py)
#: variants that choose their own schedule: ``auto`` (the cost model; GEMM nests get the
#: BLAS-style schedule) and ``blas`` (GEMM nests only)
CHOOSING_VARIANTS = ("auto", "blas")
C_VARIANTS = ("c-plain", "c-pragma", "c-manual", "c-macro", "cxx-template")
DEFAULT_SIZES = {"gemm": "128,512", "mac": "4096,262144", "dot": "4096,262144",
                 "gemv": "128,1024", "jacobi1d": "4096,262144", "iir": "4096,65536",
                 "prefix_sum": "4096,65536", "dot_scalar": "4096,262144", "softmax": "1024",
                 "layernorm": "1024"}
#: variants with one row (they choose their own factor, or have none)
SINGLE = ("llvm-auto", "c-plain", "blas", "auto", "numpy")


class BenchMismatch(UnrollkitError):
    """A variant computed a different result from the reference."""


# ---------------------------------------------------------------- rows


@dataclasses.dataclass
class Row:
    """One row of ``unrollkit bench``: a kernel at one size, dtype, variant and factor, with how it
    was made, its machine-code facts, its check against the reference and its timings."""
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
    #: numpy's time over this row's, per round (paired samples); vs_numpy is their median
    paired_numpy: list = dataclasses.field(default_factory=list)
    vs_numpy: float | None = None
    peak_pct: float | None = None    # % of the bound's peak (see `unrollkit.tools.peak.roofline`)
    alignment: list = dataclasses.field(default_factory=list)     # per buffer, bytes
    page_offsets: list = dataclasses.field(default_factory=list)  # address mod 4096
    note: str = ""
    runner: object = dataclasses.field(default=None, repr=False)

    @property
    def median(self) -> float | None:
        """The median of ``samples`` (seconds per call), None before timing."""
        return statistics.median(self.samples) if self.samples else None

    @property
    def spread(self) -> float | None:
        """Interquartile range over the median (0.05 = ±5% around it, roughly)."""
        if len(self.samples) < 2:
            return None
        q = np.percentile(self.samples, [25, 75])
        return float((q[1] - q[0]) / self.median)

    def record(self) -> dict:
        """The row as a JSON-ready dict (every field but ``runner``, plus ``median_s``, ``spread``
        and ``min_s``), as ``--json`` writes it."""
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "runner"}
        d.update(median_s=self.median, spread=self.spread,
                 min_s=min(self.samples) if self.samples else None)
        return d


class IRRunner:
    """An unrollkit variant: compiled through MLIR, timed by its native repeat loop."""

    def __init__(self, row: Row, kernel_desc, arrays):
        self.jk = uk.jit(kernel_desc, factor=row.factor, variant=row.variant)
        t0 = time.perf_counter()
        self.ck = self.jk.compiled(*arrays)
        row.policy = self.jk.plan.describe()
        row.llvm_policy = self.jk.plan.policy.describe()
        row.compile_s = self.ck.compile_seconds
        if row.variant == "auto":
            # the decision is part of what auto costs: its compile time is the wall time
            row.compile_s = time.perf_counter() - t0
        if self.ck.choice is not None:
            row.policy = self.ck.choice.describe() + "; " + row.policy
            if row.variant == "auto":
                row.note = "=" + self.ck.choice.candidate.label
        self.symbol = self.ck.symbol

    def asm(self) -> str:
        """The assembly of the compiled kernel, encoded for `asm_facts`."""
        return asm_facts.encode(self.ck.ir("asm"))

    def call(self, arrays) -> None:
        """Run the kernel once on ``arrays``, through the native entry point that is timed."""
        # once through the very entry point that is timed (the checked signature's machine
        # code, on this thread), so that what is verified is what is measured
        self.ck.time_native(arrays, 1)

    def time(self, arrays, reps: int) -> float:
        """Seconds for ``reps`` calls on ``arrays``, looped in native code."""
        return self.ck.time_native(arrays, reps)


class CRunner:
    """A C variant from `unrollkit.codegen.cvariants`, timed by its C repeat loop."""

    def __init__(self, row: Row, kernel_name: str):
        self.ck = cvariants.build(kernel_name, row.variant, row.factor, row.dtype, row.toolchain)
        row.compile_s = self.ck.compile_seconds
        row.flags = " ".join(self.ck.flags)
        row.policy = f"{self.ck.compiler_version}: {row.flags}"
        self.symbol = f"uk_{kernel_name}"

    def asm(self) -> str:
        """The disassembly of the C variant's shared object."""
        return asm_facts.disassemble(self.ck.so_path)

    def call(self, arrays) -> None:
        """Run the C kernel once on ``arrays``."""
        self.ck(*arrays)

    def time(self, arrays, reps: int) -> float:
        """Seconds for ``reps`` calls on ``arrays``, looped by the C variant's timing loop."""
        return self.ck.time(*arrays, reps=reps)


class NumpyRunner:
    """numpy's equivalent (`bench_workload.NUMPY`), single-threaded, into preallocated outputs:
    the reference row. Timed in a Python loop (its call overhead is part of what numpy costs,
    and shows at small sizes)."""

    def __init__(self, row: Row, work: Workload):
        self.fn, row.policy = work.numpy_form()
        row.policy += f" (numpy {np.__version__}, BLAS threads 1)"
        self.symbol = None

    def call(self, arrays) -> None:
        """Run numpy's equivalent once on ``arrays``."""
        self.fn(arrays)

    def time(self, arrays, reps: int) -> float:
        """Seconds for ``reps`` calls of numpy's equivalent on ``arrays``, looped in Python."""
        fn = self.fn
        t0 = time.perf_counter_ns()
        for _ in range(reps):
            fn(arrays)
        return (time.perf_counter_ns() - t0) * 1e-9


def kernel_descriptor(kernel, order: str = ""):
    """The descriptor of a kernel given by name (built-in) or as a descriptor; gemm in ``order``."""
    k = resolve_kernel(kernel) if isinstance(kernel, str) else kernel
    return gemm_order(order) if order else k


def has_reduction(kernel) -> bool:
    """Some innermost loop stores to a location that does not move with the loop, or carries a
    scalar as ``acc = acc op e`` (a reduction)."""
    for lp in kernel.loops():
        if any(isinstance(s, d.Loop) for s in lp.body):
            continue
        if carried_scalars(lp.body, host_target())[0]:
            return True
        for s in lp.body:
            if isinstance(s, d.Store) and not any(lp.var in d.aff_vars(e) for e in s.index):
                return True
    return False


def default_variants(kernel, compilers: dict) -> list:
    """The variants that apply to ``kernel``: numpy's equivalent where one exists, every IR
    variant that can take it, ``blas`` on GEMM nests, ``auto``, and the C variants where
    kernels/c has the kernel and a compiler is installed."""
    out = ["numpy"] if is_builtin(kernel) and kernel.name in NUMPY else []
    for v in IR_VARIANTS:
        if v == "manual" and not any(n == kernel.name for n, _ in MANUAL):
            continue
        if v == "multi-acc" and not (has_reduction(kernel) or kernel.name == "gemm"):
            continue
        out.append(v)
    if match_gemm(kernel) is not None:
        out.append("blas")
    out.append("auto")
    if compilers and is_builtin(kernel) and kernel.name in ("mac", "dot", "gemm"):
        out += list(C_VARIANTS)
    return out


def _tool_label(variant: str, tool: str) -> str:
    if variant.startswith("cxx"):
        tool = {"gcc": "g++", "clang": "clang++"}.get(tool, tool)
    return f"{variant} {tool}"


def plan_rows(kernel, sizes: list, variants: list, factors: list, dtype: str,
              compilers: dict) -> list:
    """Every (size, variant, factor, toolchain) to measure, with the reference rows first.

    Factor 1 of an unrolling variant is the same code as ``none``: only ``none``, ``llvm-auto``
    (LLVM picks its own factor), ``c-plain`` and ``c-pragma`` (the C baseline) run at 1."""
    kname = kernel if isinstance(kernel, str) else kernel.name
    rows = []
    for size in sizes:
        if "numpy" in variants:
            rows.append(Row(kname, size, dtype, "numpy", 1, toolchain="numpy", label="numpy"))
        rows.append(Row(kname, size, dtype, "none", 1, label="none"))
        for v in variants:
            if v in ("none", "numpy"):
                continue
            if v == "multi-acc" and kname == "mac":
                continue  # no reduction to split
            order = ""
            if v == "multi-acc" and kname == "gemm":
                # accumulators need the reduction (k) innermost: the i-j-k order, with its own
                # rolled baseline so that the unroll seen in its asm compares like with like
                order = "ijk"
                rows.append(Row(kname, size, dtype, "none", 1, label="none (i-j-k)", order=order))
            tools = list(compilers) if v in C_VARIANTS else ["mlir"]
            for tool in tools:
                for f in factors:
                    single = v in SINGLE
                    # vector-acc × 1 is not `none`: one full-width register per trip, ours
                    own_one = v in ("c-pragma", "vector-acc")
                    if (single and f != 1) or (not single and f == 1 and not own_one):
                        continue
                    if v in ("manual", "c-manual") and f not in (2, 4, 8):
                        continue
                    label = v if tool == "mlir" else _tool_label(v, tool)
                    if order:
                        label += " (i-j-k)"
                    rows.append(Row(kname, size, dtype, v, f, toolchain=tool, label=label, order=order))
    return rows


def prepare(row: Row, work: Workload, args: list, expected: tuple) -> None:
    """Compile the row's code, read its assembly, verify its result. Errors stay in the row."""
    try:
        if row.toolchain == "numpy":
            row.runner = NumpyRunner(row, work)
        elif row.toolchain == "mlir":
            row.runner = IRRunner(row, kernel_descriptor(work.kernel, row.order), args)
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
    check(row, work, args, expected)


def check(row: Row, work: Workload, args: list, expected: tuple) -> None:
    """Run once on fresh copies and compare the outputs with the float64 reference."""
    copies = work.fresh(args)
    arrays = [a for a in copies if isinstance(a, np.ndarray)]
    row.alignment = [alignment(a) for a in arrays]
    row.page_offsets = [a.ctypes.data % PAGE for a in arrays]
    row.runner.call(copies)
    want, scale = expected
    err = work.error(work.result(copies), want, scale)
    row.max_error = err
    row.verified = bool(np.isfinite(err) and err <= work.tolerance())


def judge_unroll(rows: list) -> None:
    """``unroll_seen``: body copies per hot-loop trip against the same toolchain's factor-1
    code; ``unroll_ok``: whether the requested factor is there."""
    base = {}
    for r in rows:
        if r.facts.get("found") and r.factor == 1 and r.variant in ("none", "c-pragma"):
            base[(r.size, r.toolchain, r.order)] = r.facts
    for r in rows:
        b = base.get((r.size, r.toolchain, r.order))
        if not r.facts or b is None or r.variant in ("auto", "blas"):
            continue
        r.unroll_seen = asm_facts.unroll_seen(r.facts, b)
        if r.factor > 1 and r.unroll_seen is not None:
            r.unroll_ok = r.unroll_seen >= r.factor - 1e-9


def calibrate(row: Row, arrays: list, sample_seconds: float) -> None:
    """Reps so that one sample lasts at least ``sample_seconds`` seconds (after a warm-up)."""
    row.runner.time(arrays, 1)
    t = row.runner.time(arrays, 1)
    reps = 1
    while t < sample_seconds / 4 and reps < 1 << 30:  # grow until a sample is long enough to scale
        reps *= 8
        t = row.runner.time(arrays, reps)
    row.reps = max(1, math.ceil(reps * sample_seconds / max(t, 1e-9)))


def measure(rows: list, inputs: dict, repeat: int, sample_seconds: float, progress=None, seed: int = 0,
            copy=fresh) -> None:
    """``repeat`` rounds; in each, every live row takes one sample, in a shuffled order.
    ``copy(inputs[size])`` gives each row its own buffers."""
    live = [r for r in rows if r.runner is not None and r.verified]
    timing = {id(r): copy(inputs[r.size]) for r in live}
    for r in live:
        calibrate(r, timing[id(r)], sample_seconds)
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


def summarise(rows: list, works: dict, peaks: dict | None) -> None:
    """Rates, speedups against ``none`` at factor 1 of the same size, ratios to numpy (per
    round, paired), and the % of the peak that bounds the kernel."""
    base = {r.size: r.median for r in rows
            if r.variant == "none" and r.factor == 1 and not r.order and r.samples}
    ref = {r.size: r for r in rows if r.variant == "numpy" and r.samples}
    for r in rows:
        if not r.samples:
            continue
        w = works[r.size]
        amount = w.bytes() if w.streaming() else w.flops()
        r.rate = amount / r.median / 1e9
        if base.get(r.size):
            r.speedup = base[r.size] / r.median
        n = ref.get(r.size)
        if n is not None and len(n.samples) == len(r.samples):
            r.paired_numpy = [a / b for a, b in zip(n.samples, r.samples)]
            r.vs_numpy = statistics.median(r.paired_numpy)
        if peaks:
            roof = peak.roofline(w.flops(), w.bytes(), r.dtype, peaks)
            r.peak_pct = 100.0 * roof["seconds"] / r.median


def available_compilers(wanted=None) -> dict:
    """C compilers to use: what cvariants finds (empty if the module is missing)."""
    found = cvariants.compilers()
    return {k: v for k, v in found.items() if wanted is None or k in wanted}


def run(kernel, sizes: list, variants: list | None, factors: list, dtype: str = "f32",
        repeat: int = 11, sample_seconds: float = 0.02, pin=None, progress_factory=None,
        compilers: dict | None = None, use_cache: bool = False, peaks: bool = True,
        remeasure_peak: bool = False) -> dict:
    """The whole benchmark; returns ``{"environment": ..., "rows": [Row, ...], "works": ...}``.

    ``kernel``: a built-in name, ``file.py:function`` or a descriptor; ``sizes``: size texts
    (`bench_workload.parse_size`); ``variants`` None: `default_variants`.
    ``progress_factory(total, description)`` returns a callable to advance a progress bar.
    Without ``use_cache`` every row is compiled afresh, so compile times are real ones."""

    k = kernel_descriptor(kernel)
    if dtype not in ("f32", "f64"):
        raise UnrollkitError(f"--dtype must be f32 or f64, got {dtype!r}")
    works = {s: Workload(k, s, parse_size(k, s, is_builtin(k)), dtype) for s in sizes}
    compilers = available_compilers() if compilers is None else compilers
    if variants is None:
        variants = default_variants(k, compilers)
    elif works[sizes[0]].numpy_form() is not None and "numpy" not in variants:
        variants = ["numpy"] + list(variants)  # the reference row, like `none`, is always there
    every = IR_VARIANTS + CHOOSING_VARIANTS + C_VARIANTS + ("numpy",)
    unknown = [v for v in variants if v not in every]
    if unknown:
        raise UnrollkitError(f"unknown variant(s) {unknown}; the variants are {list(every)}")
    if "numpy" in variants and works[sizes[0]].numpy_form() is None:
        raise UnrollkitError(f"kernel {k.name!r} has no numpy equivalent; the built-ins with one "
                             f"are {sorted(NUMPY)}")
    if any(v in C_VARIANTS for v in variants) and not (is_builtin(k) and k.name in ("mac", "dot", "gemm")):
        raise UnrollkitError(f"the C variants exist for mac, dot and gemm only, not {k.name!r}")
    if pin is not None:
        os.sched_setaffinity(0, {pin})
    machine = None
    if peaks:
        machine = peak.peaks(remeasure_peak)  # before the cache is turned off below: measured once per CPU
    rows = plan_rows(k, sizes, variants, factors, dtype, compilers)
    inputs = {s: works[s].inputs() for s in sizes}
    noop = lambda: None  # noqa: E731
    saved = os.environ.get("UNROLLKIT_CACHE")
    if not use_cache:
        os.environ["UNROLLKIT_CACHE"] = "0"  # read by unrollkit.core.cache and cvariants at each build
    try:
        with threadpool_limits(limits=1):
            env = environment(pin, repeat, sample_seconds, compilers)  # records BLAS at 1 thread
            _prepare_and_measure(rows, works, inputs, repeat, sample_seconds,
                                 progress_factory or (lambda n, d: noop))
    finally:
        if saved is None:
            os.environ.pop("UNROLLKIT_CACHE", None)
        else:
            os.environ["UNROLLKIT_CACHE"] = saved
    env["peaks"] = machine
    env["numpy_reference"] = {s: (w.numpy_form() or (None, None))[1] for s, w in works.items()}
    summarise(rows, works, machine)
    return {"environment": env, "rows": rows, "works": works}


def _prepare_and_measure(rows, works, inputs, repeat, sample_seconds, progress_factory) -> None:
    step = progress_factory(len(rows), "compile + verify")
    expected = {s: works[s].reference(inputs[s]) for s in works}
    for r in rows:
        prepare(r, works[r.size], inputs[r.size], expected[r.size])
        step()
    judge_unroll(rows)
    live = sum(1 for r in rows if r.verified)
    copy = next(iter(works.values())).fresh
    measure(rows, inputs, repeat, sample_seconds, progress_factory(live * (repeat + 1), "time"), copy=copy)


def format_time(s) -> str:
    """Seconds as a short human string: 2.5 ms, 310 ns; "-" for None."""
    if s is None:
        return "-"
    for unit, k in (("s", 1), ("ms", 1e-3), ("µs", 1e-6)):
        if s >= k:
            return f"{s / k:.3g} {unit}"
    return f"{s / 1e-9:.3g} ns"
