"""`unrollkit bench contractions`: every contraction of kernels/contractions.py (and gemm) under
``factor="auto"`` beside numpy's equivalent, single-threaded, side by side (issue 12).

One table (``bench/CONTRACTIONS.md`` with ``--out bench``): kernel, size, dtype, unrollkit's
and numpy's time per call, the ratio (numpy's time / unrollkit's: ≥ 1 is as fast as numpy or
faster; the median of per-round ratios of paired, shuffled rounds), unrollkit's share of the
measured FMA peak (`unrollkit.tools.peak`), and the cold compile of that call signature (no cache).
Every unrollkit result is checked against numpy in float64 before anything is timed.

numpy's equivalents (`kernels.contractions.NUMPY`) are timed as the kernels are: every product
into a preallocated buffer (``np.matmul(A, B.T, out=prod)``, then ``np.add(C, prod, out=C)``),
no temporary allocated per call. unrollkit runs with ``parallel=False`` and numpy's BLAS with
one thread.
"""
from __future__ import annotations

import os
import platform
import time

import numpy as np

from unrollkit.tools.bench_runtime import blas_threads, paired
from unrollkit.core.dtypes import BY_NAME
from unrollkit.kernels import contractions as kc, gemm
import unrollkit as uk
from unrollkit.tuning.contraction import recognise_all
from unrollkit.tools import peak
from unrollkit.tools.bench_environment import blas_forced, blas_info, blas_text
import json
from pathlib import Path
from unrollkit.core.errors import UnrollkitError

#: square sizes (every size name = n; a batch of `BATCH` for the batched forms)
DEFAULT_SIZES = (256, 512, 1024)
DEFAULT_KERNELS = ("gemm", "gemm_bt", "gemm_bt_ikj", "gemm_at", "gemm_ct", "batched_matmul",
                   "batched_shared_b", "polybench_gemm", "polybench_2mm", "polybench_3mm", "doitgen",
                   "conv2d_1x1", "conv2d_3x3", "syrk", "syr2k", "trmm", "symm")
BATCH = 8
#: the batch loop's name of each batched form (8 of them: `BATCH`)
BATCHED = ("batched_matmul", "batched_shared_b", "doitgen")
#: convolutions at size n: one image of n/4 channels in and out (at least 16) and pixels
#: 14336/n square (7 to 56): n = 256, 512, 1024 are ResNet's 64@56², 128@28², 256@14²
CONVOLUTIONS = {"conv2d_1x1": 1, "conv2d_3x3": 3}  # the taps of a kernel row
#: the triangular forms: their share of a square n³ product (syrk: the lower triangle of
#: A Aᵀ; syr2k: of A Bᵀ and B Aᵀ; trmm: the strict lower triangle of A, Lᵀ B; symm: the
#: whole symmetric product), beside numpy's full ``A @ A.T`` (``A @ B.T`` and ``B @ A.T``;
#: ``A.T @ B``; ``A @ B``)
TRIANGULAR = {"syrk": 0.5, "syr2k": 1, "trmm": 0.5, "symm": 1}


def shape(name: str, n: int) -> tuple:
    """(sizes, label for the table, flops) of kernel ``name`` at size ``n``."""
    if name in CONVOLUTIONS:
        c, px = max(16, n // 4), max(7, min(56, 14336 // n))
        taps = CONVOLUTIONS[name]
        return ({"P": 1, "M": c, "K": c, "H": px, "N": px, "HI": px + taps - 1, "NI": px + taps - 1},
                f"{c}ch {px}² {taps}×{taps}", 2.0 * c * c * px * px * taps * taps)
    batch = BATCH if name in BATCHED else 1
    sizes = {"P": batch if batch > 1 else n, "M": n, "N": n, "K": n, "L": n}
    # 2mm, 3mm: two, three n³ products; syrk: the lower triangle of one (its useful flops)
    nests = TRIANGULAR.get(name) or len(recognise_all(_kernel(name)))
    return sizes, (f"{batch}×{n}³" if batch > 1 else f"{n}³"), 2.0 * batch * n ** 3 * nests


def _kernel(name: str):
    return gemm if name == "gemm" else kc.ALL[name]


def _arguments(name: str, sizes: dict, dtype):
    if name == "gemm":
        return kc.arguments("gemm_renamed", sizes, dtype)  # the same A (M×K), B (K×N), C (M×N)
    return kc.arguments(name, sizes, dtype)


def _numpy(name: str):
    return kc.NUMPY["gemm_renamed" if name == "gemm" else name]


def _check(name: str, sizes: dict, dtype) -> None:
    """One call of the compiled kernel against numpy in float64; an error if they disagree."""
    args = _arguments(name, sizes, dtype, )
    want = [np.array(a, np.float64) if isinstance(a, np.ndarray) else float(a) for a in args]
    _numpy(name)(*want)
    uk.jit(_kernel(name), factor="auto", parallel=False)(*args)
    tol = (1e-4 if np.dtype(dtype) == np.float32 else 1e-10) * sizes["K"]
    for got, w in zip(args, want):
        if isinstance(got, np.ndarray):
            scale = max(1.0, float(np.abs(w).max()))
            if np.abs(got - w).max() > tol * scale:
                raise AssertionError(f"{name} {sizes} {np.dtype(dtype).name}: unrollkit's result "
                                     "differs from numpy's")


def _cold_compile(name: str, sizes: dict, dtype) -> float:
    """Seconds to compile the call's signature with the disk cache off."""
    f = uk.jit(_kernel(name), factor="auto", parallel=False)
    sig, _ = f.signature(_arguments(name, sizes, dtype))
    old = os.environ.get("UNROLLKIT_CACHE")
    os.environ["UNROLLKIT_CACHE"] = "0"
    try:
        t = time.perf_counter()
        f._get(sig)
        return time.perf_counter() - t
    finally:
        if old is None:
            del os.environ["UNROLLKIT_CACHE"]
        else:
            os.environ["UNROLLKIT_CACHE"] = old


def measure(name: str, n: int, dtype, rounds: int, seconds: float, peaks: dict) -> dict:
    """One row: the kernel at M = N = K = n (and a batch of `BATCH` for the batched forms;
    convolutions: `shape`)."""
    sizes, label, flops = shape(name, n)
    _check(name, sizes, dtype)
    compile_s = _cold_compile(name, sizes, dtype)
    f = uk.jit(_kernel(name), factor="auto", parallel=False)
    ours, theirs = _arguments(name, sizes, dtype), _arguments(name, sizes, dtype)
    ref = _numpy(name)
    blas_threads(1)
    try:
        # (an in-place kernel timed call after call, trmm's B, grows to inf and then NaN on both
        # sides alike, which costs a vector FMA nothing; numpy's warnings about it are noise)
        with np.errstate(over="ignore", invalid="ignore"):
            got = paired({"numpy": lambda: ref(*theirs), "unrollkit": lambda: f(*ours)}, rounds, seconds)
    finally:
        blas_threads(None)
    t_uk, ratio = got["unrollkit"]
    peak = peaks.get("fma", {}).get("f32" if np.dtype(dtype) == np.float32 else "f64", {}).get("gflops")
    return {"kernel": name, "size": n, "label": label, "dtype": np.dtype(dtype).name,
            "unrollkit_s": t_uk, "numpy_s": got["numpy"][0], "ratio": 1.0 / ratio,
            "peak_share": flops / t_uk / 1e9 / peak if peak else None, "compile_s": compile_s,
            "variant": f.last.plan.variant}


def markdown(rows: list, env: dict, command: str) -> str:
    """The CONTRACTIONS.md table."""
    out = ["# Contractions beside numpy (single thread)", "",
           f"`{command}` on {env['cpu']} ({env['when']}); FMA peak {env['peak']}. ratio = numpy's "
           "time / unrollkit's (≥ 1: as fast or faster), the median of paired rounds; "
           f"compile = cold compile of the signature. numpy's BLAS: {env['blas']}.", "",
           *([f"**Warning**: {env['forced']}", ""] if env.get("forced") else []),
           "| kernel | size | dtype | unrollkit ms | numpy ms | ratio | % of peak | compile s |",
           "|---|---|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        size = r["label"]
        share = f"{r['peak_share']:.0%}" if r["peak_share"] else "–"
        out.append(f"| {r['kernel']} | {size} | {r['dtype']} | {r['unrollkit_s'] * 1e3:.2f} | "
                   f"{r['numpy_s'] * 1e3:.2f} | {r['ratio']:.2f} | {share} | {r['compile_s']:.2f} |")
    return "\n".join(out) + "\n"


def run(sizes=DEFAULT_SIZES, dtypes=("f32", "f64"), kernels=DEFAULT_KERNELS, rounds: int = 11,
        seconds: float = 0.05, command: str = "unrollkit bench contractions", progress=None):
    """(markdown text, rows): every kernel at every size and dtype, checked, then timed."""
    peaks = peak.peaks()
    rows = []
    for name in kernels:
        for dt in dtypes:
            for n in sizes:
                rows.append(measure(name, n, BY_NAME[dt].numpy.type, rounds,
                                    seconds, peaks))
                if progress:
                    progress(rows[-1])
    fma = peaks.get("fma", {})
    env = {"cpu": f"{platform.processor() or platform.machine()} ({peaks.get('cpu', '?')})",
           "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
           "peak": ", ".join(f"{k} {v['gflops']:.0f} GFLOP/s" for k, v in fma.items()),
           "blas": blas_text(blas_info()), "forced": blas_forced()}
    return markdown(rows, env, command), rows


def cli(sizes: str | None, dtype: str, repeat: int | None, target_ms: float | None, out_dir,
        md_out, json_out, kernels: str | None = None) -> None:
    """``unrollkit bench contractions [--sizes 256,512] [--dtype f32,f64] [--cases gemm,doitgen]
    [--out DIR]``: the table printed, and written to DIR/CONTRACTIONS.md (rows to
    DIR/contractions.json); ``--cases`` keeps the named kernels only."""
    names = tuple(x.strip() for x in kernels.split(",") if x.strip()) if kernels else DEFAULT_KERNELS
    unknown = [x for x in names if x != "gemm" and x not in kc.ALL]
    if unknown or not names:
        raise UnrollkitError(f"bench contractions: unknown kernel(s) {unknown}; the kernels are gemm, "
                             + ", ".join(kc.ALL))

    try:
        ns = tuple(int(x) for x in sizes.split(",")) if sizes else DEFAULT_SIZES
    except ValueError:
        raise UnrollkitError(f"--sizes takes comma-separated integers, got {sizes!r}") from None
    dts = tuple(x.strip() for x in dtype.split(","))
    if any(x not in ("f32", "f64") for x in dts) or any(n < 1 for n in ns):
        raise UnrollkitError("bench contractions: --dtype is f32, f64 or f32,f64; sizes are >= 1")
    if out_dir is not None:
        md_out, json_out = md_out or Path(out_dir) / "CONTRACTIONS.md", json_out or Path(out_dir) / "contractions.json"
    for path in (md_out, json_out):  # before the run: a missing folder must not lose its results
        if path is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    command = "unrollkit bench contractions --sizes " + ",".join(map(str, ns)) + f" --dtype {','.join(dts)}"
    if kernels:
        command += " --cases " + ",".join(names)
    text, rows = run(ns, dts, names, rounds=repeat or 11, seconds=(target_ms or 50.0) / 1000, command=command,
                     progress=lambda r: print(f"{r['kernel']} {r['size']} {r['dtype']}: ratio "
                                              f"{r['ratio']:.2f}", flush=True))
    print(text)
    if md_out is not None:
        Path(md_out).write_text(text)
    if json_out is not None:
        Path(json_out).write_text(json.dumps(rows, indent=1))
