"""`unrollkit bench runtime`: what the runtime costs and gives, measured side by side.

Five tables, written to ``bench/RUNTIME.md`` by ``unrollkit bench runtime --out bench/RUNTIME.md``:

* **call overhead**: a jitted saxpy on 8 float32 through the public call (the native fast path,
  `unrollkit.runtime.dispatch`), the same call through the full Python checks (a `Fraction` scalar
  takes that path), a raw ctypes call of the same machine code, and numpy's ``y += a * x``
  with a preallocated temporary; MAC at 4096 through the public call against numpy.
* **a returned scalar**: dot written ``return acc`` against the ``out[0] +=`` form, per call,
  from 1,000 to 4M elements.
* **parallel scaling**: GEMM, an elementwise kernel and a 2-D stencil (each of the last two
  within the last-level cache and from DRAM) at 1 thread and at every core
  (`unrollkit.runtime.parallel`), against numpy at 1 thread and at its default threads.
* **small calls**: mac around the size from which ``factor="auto"`` splits, its default
  against ``parallel=False`` (a call too small to split must not get slower).
* **auto compile time**: the first ``factor="auto"`` call of each built-in, cache empty.

Every sample is a call through Python (the runtime is what is measured); samples alternate
between the contenders in random order each round (paired rounds), the ratio is the median
of the per-round ratios, and every result is checked against numpy before timing.
"""
from __future__ import annotations

import fractions
import os
import random
import statistics
import tempfile
import time

import numpy as np
from threadpoolctl import ThreadpoolController, threadpool_limits

import unrollkit as uk

from unrollkit.runtime import parallel
from unrollkit.tools.bench import format_time
from unrollkit.tools.bench_environment import environment
from unrollkit.kernels import dot, dot_scalar, gemm, gemv, iir, jacobi1d, layernorm, mac, softmax


@uk.kernel
def saxpy(a: uk.f32, x: uk.f32["N"], y: uk.f32["N"]):
    """y += a x, in place: the kernel whose call overhead is measured."""
    for i in range(N):
        y[i] += a * x[i]


@uk.kernel
def heat(A: uk.f64["N", "M"], B: uk.f64["N", "M"]):
    """One step of a 2-D 5-point stencil (Jacobi-2D), the interior of B from A."""
    for i in range(1, N - 1):
        for j in range(1, M - 1):
            B[i, j] = 0.2 * (A[i, j] + A[i - 1, j] + A[i + 1, j] + A[i, j - 1] + A[i, j + 1])


def _per_call(fn, seconds: float) -> tuple:
    """(calls per sample, seconds per call) so that one sample lasts about ``seconds``."""
    n = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        dt = time.perf_counter() - t0
        if dt >= seconds / 4 or n >= 1 << 24:
            return max(1, int(n * seconds / max(dt, 1e-9))), dt / n
        n *= 4


def paired(contenders: dict, rounds: int, seconds: float, seed: int = 0, settle: float = 0.0) -> dict:
    """Median seconds per call of each contender over ``rounds`` paired rounds, and the
    per-round ratio of each to the first contender: {name: (median, ratio to the first)}.
    ``settle``: seconds slept (untimed) before each sample, so that threads a contender left
    spinning (OpenBLAS's busy-wait after a call) do not take a core from the next one."""
    rng = random.Random(seed)
    names = list(contenders)
    for fn in contenders.values():  # warm-up: compile, caches, pages
        fn()
    calls = {n: _per_call(contenders[n], seconds)[0] for n in names}
    samples = {n: [] for n in names}
    for _ in range(rounds):
        order = names[:]
        rng.shuffle(order)
        for n in order:
            fn, k = contenders[n], calls[n]
            if settle:
                time.sleep(settle)
            t0 = time.perf_counter()
            for _ in range(k):
                fn()
            samples[n].append((time.perf_counter() - t0) / k)
    first = samples[names[0]]
    return {n: (statistics.median(s), statistics.median(a / b for a, b in zip(s, first)))
            for n, s in samples.items()}


def call_overhead(rounds: int, seconds: float) -> list:
    """Rows (what, seconds per call, × the fast path) for the call-overhead table."""
    x, y, tmp = np.ones(8, np.float32), np.zeros(8, np.float32), np.empty(8, np.float32)
    f = uk.jit(saxpy)
    f(2.0, x, y)
    np.testing.assert_array_equal(y, 2.0)
    ck, px, py = f.last, x.ctypes.data, y.ctypes.data
    two = fractions.Fraction(2)  # a real number the fast path leaves to the full checks
    rows = paired({
        "unrollkit f(a, x, y) (fast path)": lambda: f(2.0, x, y),
        "unrollkit f(a, x, y), full checks (a Fraction scalar)": lambda: f(two, x, y),
        "raw ctypes call of the same machine code": lambda: ck.cfunc(2.0, px, py),
        "numpy y += a * x (preallocated temporary)":
            lambda: (np.multiply(x, 2.0, out=tmp), np.add(y, tmp, out=y)),
    }, rounds, seconds)
    out = [("saxpy, 8 × f32: " + n, t, r) for n, (t, r) in rows.items()]
    a, b, c = (np.random.default_rng(i).random(4096).astype(np.float32) for i in range(3))
    t4 = np.empty_like(c)
    g = uk.jit(mac, factor="auto", parallel=False)
    want = c + a * b
    g(a, b, c)
    np.testing.assert_allclose(c, want, rtol=1e-6)
    with threadpool_limits(1):
        rows = paired({"unrollkit mac(a, b, c), factor=auto": lambda: g(a, b, c),
                       "numpy c += a * b (preallocated temporary)":
                           lambda: (np.multiply(a, b, out=t4), np.add(c, t4, out=c))},
                      rounds, seconds)
    out += [("mac, 4096 × f32: " + n, t, r) for n, (t, r) in rows.items()]
    return out


def returned_scalar(rounds: int, seconds: float, quick: bool = False) -> list:
    """Rows (elements, {contender: (seconds, ratio to the first)}) of a dot product written
    with a returned scalar (`kernels.dot_scalar`, ``s = f(x, y)``) against the ``out[0] +=``
    form (`kernels.dot`), both ``factor="auto"`` on one thread, float32: the natural
    spelling must cost no more than the memory accumulator. The out form is timed bare
    (``g(x, y, out)``, its sum then wrong after the first call) and as a caller uses it
    (``out[0] = 0`` first)."""
    out = []
    for n in ((1000, 65536) if quick else (1000, 4096, 65536, 262144, 1 << 20, 1 << 22)):
        x, y = (np.random.default_rng(i).random(n).astype(np.float32) for i in range(2))
        f = uk.jit(dot_scalar, factor="auto", parallel=False)
        g = uk.jit(dot, factor="auto", parallel=False)
        acc = np.zeros(1, np.float32)
        want = float(x.astype(np.float64) @ y)
        g(x, y, acc)
        # float32 sums of positive terms: rounding grows like sqrt(n) (a sequential sum at 4M
        # is ~1e-5 off); a wrong sum is off by whole terms
        np.testing.assert_allclose([f(x, y), acc[0]], [want, want], rtol=1e-5 * max(1.0, (n / 1000) ** 0.5))

        def zeroed():
            acc[0] = 0.0
            g(x, y, acc)
        rows = paired({"s = f(x, y)": lambda: f(x, y), "g(x, y, out)": lambda: g(x, y, acc),
                       "out[0] = 0; g(x, y, out)": zeroed}, rounds, seconds)
        out.append((n, rows))
    return out


def scaling_cases(quick: bool) -> list:
    """(name, kernel, arguments, numpy reference writing into the outputs, flops) per case.

    The elementwise kernel and the stencil run at two sizes: one beyond L2 but within the
    last-level cache (where two cores have bandwidth to share) and one from DRAM (where one
    core already draws most of it); each name gives the working set."""
    rng = np.random.default_rng(0)
    n = 256 if quick else 2048
    A, B = (rng.random((n, n)).astype(np.float32) for _ in range(2))
    C, T = np.zeros((n, n), np.float32), np.empty((n, n), np.float32)
    cases = [(f"gemm {n}³ f32", gemm, (A, B, C), lambda: (np.matmul(A, B, out=T), np.add(C, T, out=C)),
              2.0 * n ** 3)]
    for m in ((1 << 16,) if quick else (1 << 20, 1 << 24)):
        a, b, c, t = (rng.random(m).astype(np.float32) for _ in range(4))
        cases.append((f"mac {m} f32 ({_megabytes(3 * a.nbytes)})", mac, (a, b, c),
                      lambda a=a, b=b, c=c, t=t: (np.multiply(a, b, out=t), np.add(c, t, out=c)), 2.0 * m))
    for h in ((256,) if quick else (1024, 4096)):
        H, G = rng.random((h, h)), np.zeros((h, h))

        def heat_ref(H=H, G=G):
            G[1:-1, 1:-1] = 0.2 * (H[1:-1, 1:-1] + H[:-2, 1:-1] + H[2:, 1:-1] + H[1:-1, :-2] + H[1:-1, 2:])
        cases.append((f"2-D 5-point stencil {h}² f64 ({_megabytes(2 * H.nbytes)})", heat, (H, G), heat_ref,
                      5.0 * h * h))
    return cases


def _megabytes(nbytes: int) -> str:
    return f"{nbytes / 2 ** 20:.0f} MiB"


_BLAS = {}


def blas_threads(n) -> None:
    """Set the BLAS libraries' thread count (None: their default) with one native call each:
    `threadpool_limits` as a context costs milliseconds, too much inside a timed sample."""
    if not _BLAS:
        _BLAS["libs"] = [(c, c.num_threads) for c in ThreadpoolController().lib_controllers]
    for lib, default in _BLAS["libs"]:
        lib.set_num_threads(default if n is None else n)


def numpy_threads() -> int:
    """The threads numpy's BLAS uses by default (the most of its libraries')."""
    if not _BLAS:
        blas_threads(None)
    return max((default for _, default in _BLAS["libs"]), default=1)


def scaling(rounds: int, seconds: float, quick: bool = False) -> list:
    """Rows (case, {contender: (seconds, ratio to unrollkit 1 thread)}, flops, threads)."""
    threads = parallel.default_threads()
    out = []
    for name, kernel, args, ref, flops in scaling_cases(quick):
        one = uk.jit(kernel, factor="auto", parallel=False)
        many = uk.jit(kernel, factor="auto", parallel=True, threads=threads)
        outs = [x for p, x in zip(kernel.params, args) if p.name in kernel.written]
        for f in (one, many):  # every result checked before timing
            for o in outs:
                o[...] = 0
            f(*args)
            got = [o.copy() for o in outs]
            for o in outs:
                o[...] = 0
            ref()
            for g, o in zip(got, outs):
                np.testing.assert_allclose(g, o, rtol=1e-3, atol=1e-3)

        def numpy_with(n):
            def call():
                blas_threads(n)
                ref()
            return call
        rows = paired({"unrollkit, 1 thread": lambda: one(*args),
                       f"unrollkit, {threads} threads": lambda: many(*args),
                       "numpy, 1 thread": numpy_with(1),
                       f"numpy, default threads ({numpy_threads()})": numpy_with(None)}, rounds, seconds,
                      settle=0.0 if quick else 0.2)
        blas_threads(None)
        out.append((name, rows, flops, threads))
    return out


def small_calls(rounds: int, seconds: float, quick: bool = False) -> list:
    """Rows (size, {contender: (seconds, ratio to one thread)}) of mac under ``factor="auto"``
    with its default ``parallel`` (split only from `parallel.AUTO_MIN_ITERATIONS` on) against
    ``parallel=False``, at sizes around that threshold: a call too small to split must not
    get slower."""
    out = []
    threshold = parallel.AUTO_MIN_ITERATIONS
    for m in ((1 << 12, threshold) if quick else (1 << 12, 1 << 16, threshold // 2, threshold, 4 * threshold)):
        a, b, c = (np.random.default_rng(i).random(m).astype(np.float32) for i in range(3))
        one = uk.jit(mac, factor="auto", parallel=False)
        auto = uk.jit(mac, factor="auto")
        want = c + 2 * (a * b)
        one(a, b, c)
        auto(a, b, c)
        np.testing.assert_allclose(c, want, rtol=1e-5)
        rows = paired({"parallel=False": lambda: one(a, b, c), "default (auto decides)": lambda: auto(a, b, c)},
                      rounds, seconds)
        out.append((m, auto._last_blocks is not None, rows))
    return out


def auto_compile_times() -> list:
    """(kernel and size, seconds of the first ``factor="auto"`` call, the choice) with an
    empty disk cache, one fresh process-level state per kernel (new JitKernel)."""
    rng = np.random.default_rng(0)
    # (name, kernel, shapes, parallel): parallel None is the default (blocks of rows for a
    # large call: their signature is what is chosen and compiled)
    cases = [("mac 4,000,000", mac, [(4_000_000,)] * 3, False),
             ("mac 4,000,000, default parallel", mac, [(4_000_000,)] * 3, None),
             ("mac 4096", mac, [(4096,)] * 3, False), ("saxpy 4096", saxpy, [(), (4096,), (4096,)], False),
             ("dot 4096", dot, [(4096,), (4096,), (1,)], False),
             ("gemv 512²", gemv, [(512, 512), (512,), (512,)], False),
             ("jacobi1d 100,000", jacobi1d, [(100_000,)] * 2, False),
             ("iir 100,000", iir, [(), (100_000,), (100_000,)], False),
             ("softmax 1024², default parallel", softmax, [(1024, 1024)] * 2, None),
             ("layernorm 1024², default parallel", layernorm, [(1024, 1024), (1024,), (1024,), (), (1024, 1024)], None),
             ("gemm 256³", gemm, [(256, 256)] * 3, False), ("gemm 1000³", gemm, [(1000, 1000)] * 3, False)]
    old = os.environ.get("UNROLLKIT_CACHE_DIR")
    out = []
    try:
        for name, kernel, shapes, par in cases:
            os.environ["UNROLLKIT_CACHE_DIR"] = tempfile.mkdtemp(prefix="unrollkit-auto-")
            dtype = np.float32 if kernel in (saxpy, softmax, layernorm) else np.float64
            args = [dtype(0.5) if s == () else rng.random(s).astype(dtype) for s in shapes]
            f = uk.jit(kernel, factor="auto", parallel=par)
            t0 = time.perf_counter()
            f(*args)
            choice = getattr(f.last, "choice", None)
            out.append((name, time.perf_counter() - t0,
                        choice.candidate.label if choice is not None else f.last.plan.variant))
    finally:
        if old is None:
            os.environ.pop("UNROLLKIT_CACHE_DIR", None)
        else:
            os.environ["UNROLLKIT_CACHE_DIR"] = old
    return out


def markdown(overhead: list, returns: list, scale: list, small: list, compiles: list, env: dict,
             command: str) -> str:
    """The three tables as ``bench/RUNTIME.md``."""
    lines = ["# Runtime: call overhead, parallel scaling, auto compile time", "",
             f"`{command}` on {env['cpu_model']} (LLVM cpu `{env['cpu']}`, {env['cpus']} CPUs), "
             f"{env['time']}; unrollkit {env['versions'].get('unrollkit', '?')}, "
             f"MLIR {env['versions'].get('mlir', '?')}, LLVM {env['versions'].get('llvmlite_llvm', '?')} "
             f"(llvmlite {env['versions'].get('llvmlite', '?')}), numpy {env['numpy']} "
             f"({', '.join(str(b.get('internal_api')) + ' ' + str(b.get('version')) for b in env['blas'])}). "
             "LLVM's own unroller is off (unrollkit's default policy). Medians of paired rounds; every "
             "result checked against numpy first.", "",
             "## Call overhead (one call through Python, single thread)", "",
             "| call | time per call | × the fast path |", "|---|---:|---:|"]
    lines += [f"| {n} | {format_time(t)} | {r:.2f} |" for n, t, r in overhead]
    lines += ["", "## A returned scalar against `out[0] +=` (dot, f32, `factor=\"auto\"`, one thread)", "",
              "| elements | s = f(x, y) | g(x, y, out) | out[0] = 0; g(x, y, out) | g / f | zeroed g / f |",
              "|---:|---:|---:|---:|---:|---:|"]
    for n, rows in returns:
        (tf, _), (tg, rg), (tz, rz) = rows.values()
        lines.append(f"| {n:,} | {format_time(tf)} | {format_time(tg)} | {format_time(tz)} | {rg:.2f} | {rz:.2f} |")
    lines += ["", "## Parallel scaling (`parallel=True` vs 1 thread; numpy at 1 and at its default threads)", "",
              "| case | contender | time | GFLOP/s | × unrollkit 1 thread |", "|---|---|---:|---:|---:|"]
    for name, rows, flops, _ in scale:
        for who, (t, r) in rows.items():
            lines.append(f"| {name} | {who} | {format_time(t)} | {flops / t / 1e9:.1f} | {1 / r:.2f} |")
    lines += ["", "## Calls too small to split stay on one thread (mac, `factor=\"auto\"`, default `parallel`)", "",
              "| elements | split? | parallel=False | default | × parallel=False |", "|---:|---|---:|---:|---:|"]
    for m, split, rows in small:
        (t1, _), (t2, r) = rows["parallel=False"], rows["default (auto decides)"]
        lines.append(f"| {m:,} | {'yes' if split else 'no'} | {format_time(t1)} | {format_time(t2)} | {1 / r:.2f} |")
    lines += ["", "## First `factor=\"auto\"` call (empty cache: choose, check the candidates' machine code, "
              "compile)", "", "| kernel | first call | choice |", "|---|---:|---|"]
    lines += [f"| {n} | {t:.2f} s | {c} |" for n, t, c in compiles]
    return "\n".join(lines) + "\n"


def run(rounds: int = 15, seconds: float = 0.02, quick: bool = False, command: str = "unrollkit bench runtime"):
    """All three measurements; returns (markdown text, raw rows)."""
    env = environment(None, rounds, seconds, {})
    overhead = call_overhead(rounds, seconds)
    returns = returned_scalar(rounds, seconds, quick)
    scale = scaling(rounds, seconds, quick)
    small = small_calls(rounds, seconds, quick)
    compiles = auto_compile_times()
    return markdown(overhead, returns, scale, small, compiles, env, command), {
        "environment": env, "overhead": overhead,
        "returned_scalar": [(n, {k: list(v) for k, v in rows.items()}) for n, rows in returns],
        "scaling": [(n, {k: list(v) for k, v in rows.items()}, fl, th) for n, rows, fl, th in scale],
        "small_calls": [(m, split, {k: list(v) for k, v in rows.items()}) for m, split, rows in small],
        "auto_compile": compiles}
