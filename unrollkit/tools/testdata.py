"""Test data, one source for the tests, the benchmark, the cost-model validation, the fuzzer and
the CLI: reproducible random arguments for any kernel (`make_args`), numpy references for the
built-in kernels (`REFERENCES`, `reference`), and the tolerance a floating-point result is held
to (`tolerance`, `mismatch`).

The callers differ only in parameters: the value ranges (the CLI draws floats in [0, 1), the
benchmark and the validation in [-0.5, 0.5), the fuzzer in [-1, 1) with random scalars), where an
array is allocated (the benchmark places each argument at a fixed page offset) and what a missing
size defaults to (the CLI: 64).
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np

from unrollkit.core.dtypes import BY_NAME, element_of
from unrollkit.kernels import ALL

# ---------------------------------------------------------------- arguments


def element_type(dtype):
    """The `ElementType` of ``dtype``: a name (``"f32"``), a numpy dtype or scalar type."""
    if isinstance(dtype, str) and dtype in BY_NAME:
        return BY_NAME[dtype]
    return element_of(dtype)


def _value(rng, spec, draw):
    """A constant ``spec``, or one value drawn from the range ``spec = (lo, hi)``."""
    return draw(rng, *spec) if isinstance(spec, tuple) else spec


def _low(et, lo: int) -> int:
    """The lower end of an integer range for element type ``et`` (0 at least when unsigned)."""
    return max(lo, 0) if et.is_unsigned else lo


def make_args(kernel, sizes: dict, dtype="f32", *, seed: int = 0,
              floats: tuple = (0.0, 1.0), ints: tuple = (-5, 5),
              scalar_float=0.5, scalar_int=3, default_size: int | None = None,
              empty: Callable | None = None) -> list:
    """Arguments of ``kernel`` (a descriptor or a built-in name) in its parameter order, random
    but reproducible (one ``numpy.random.default_rng(seed)`` stream, drawn in parameter order).

    - ``sizes``: size name → value (``{"N": 1000}``); a name missing from it is ``default_size``
      (a KeyError when that is None).
    - ``dtype``: the element type of the generic (``T``) parameters, as a name (``"f32"``) or a
      numpy type; a typed parameter keeps its own.
    - arrays: floats uniform in ``floats = [lo, hi)``, integers uniform in ``ints = [lo, hi)``
      (from 0 for an unsigned type).
    - scalars: ``scalar_float`` / ``scalar_int``: a constant, or a ``(lo, hi)`` range to draw
      one value from (floats uniform in [lo, hi), integers in [lo, hi)); an integer scalar
      named in ``sizes`` (a loop bound such as ``tsteps``) takes that value.
    - ``empty(index, shape, numpy dtype)``: allocates array ``index`` before it is filled
      (default ``numpy.empty``, C-contiguous).
    """
    if isinstance(kernel, str):
        kernel = ALL[kernel]
    rng = np.random.default_rng(seed)
    generic = element_type(dtype)
    out = []
    for i, p in enumerate(kernel.params):
        et = generic if p.elem.is_generic else p.elem
        if not p.is_array and not et.is_float and p.name in sizes:
            out.append(int(sizes[p.name]))  # an integer scalar in bounds (tsteps) given like a size
            continue
        if not p.is_array:
            out.append(float(_value(rng, scalar_float, lambda r, lo, hi: r.uniform(lo, hi))) if et.is_float
                       else int(_value(rng, scalar_int, lambda r, lo, hi: r.integers(_low(et, lo), hi))))
            continue
        shape = tuple(s if isinstance(s, int) else
                      (sizes[s] if default_size is None else sizes.get(s, default_size)) for s in p.shape)
        a = empty(i, shape, et.numpy) if empty is not None else np.empty(shape, et.numpy)
        a[...] = rng.uniform(*floats, shape) if et.is_float else rng.integers(_low(et, ints[0]), ints[1], shape)
        out.append(a)
    return out


def sizes_of_args(kernel, args: list) -> dict:
    """The sizes ``{name: value}`` that ``args`` bind (the inverse of `make_args`)."""
    if isinstance(kernel, str):
        kernel = ALL[kernel]
    out = {}
    for p, a in zip(kernel.params, args):
        if p.is_array:
            out.update({s: n for s, n in zip(p.shape, np.shape(a)) if not isinstance(s, int)})
    return out


def uneven_sizes(name: str, n: int) -> dict:
    """Sizes of built-in kernel ``name`` from one number, the other dimensions small and odd
    (remainders in every loop): GEMM is n × (n % 13 + 3) × (n % 29 + 5), GEMV n × (n % 17 + 2)."""
    if name == "gemm" or name.startswith("gemm_"):
        return {"M": n, "K": n % 13 + 3, "N": n % 29 + 5}
    if name == "gemv":
        return {"M": n, "N": n % 17 + 2}
    return {"N": n}


# ---------------------------------------------------------------- references


def _mac(a, b, c):
    return {2: c + a * b}


def _dot(x, y, out):
    return {2: out + np.dot(x, y)}


def _gemm(A, B, C):
    return {2: C + A @ B}


def _gemv(A, x, y):
    return {2: y + A @ x}


def _jacobi1d(a, b):
    want = b.copy()
    want[1:-1] = (a[:-2] + a[1:-1] + a[2:]) / 3
    return {1: want}


def _iir(a, x, y):
    want = y.copy()
    for t in range(1, len(x)):
        want[t] = a * want[t - 1] + x[t]
    return {2: want}


def _prefix_sum(x, y):
    want = y.copy()
    if len(y):
        want[1:] = y[0] + np.cumsum(x[1:], dtype=y.dtype)
    return {1: want}


#: built-in name → reference(*args) → {argument position: expected output}. Written with
#: + - * / @ only, so that the same function on the arguments' absolute values is the scale
#: rounding errors are relative to (see `reference`).
REFERENCES = {"mac": _mac, "dot": _dot, "gemm": _gemm, "gemv": _gemv, "jacobi1d": _jacobi1d,
              "iir": _iir, "prefix_sum": _prefix_sum}


def reference_for(name: str):
    """The reference of built-in ``name``; GEMM in another loop order (``gemm_kij``) is GEMM."""
    return REFERENCES["gemm" if name.startswith("gemm_") else name]


def reference(name: str, args: list) -> dict:
    """``{argument position: (expected, scale)}`` of built-in ``name`` on ``args`` (not modified).

    Floats: expected in float64 (exact inputs, one rounding per operation); the scale is the
    same computation over absolute values, which bounds how far rounding in any order can move
    each element. Integers: computed in the arguments' own type, wrapping like machine code
    (int32 overflow wraps modulo 2**32); the scale is 1 (integers must match exactly)."""
    fn = reference_for(name)
    is_int = any(isinstance(a, np.ndarray) and a.dtype.kind in "iu" for a in args)
    if is_int:
        with np.errstate(over="ignore"):
            want = fn(*[a.copy() if isinstance(a, np.ndarray) else a for a in args])
        return {pos: (w.astype(args[pos].dtype), np.ones(w.shape)) for pos, w in want.items()}
    wide = [a.astype(np.float64) if isinstance(a, np.ndarray) else float(a) for a in args]
    want = fn(*wide)
    scale = fn(*[np.abs(a) for a in wide])
    return {pos: (want[pos], scale[pos]) for pos in want}


def chain_length(name: str, sizes: dict) -> int:
    """Operations along the longest chain of roundings that feed one output element of
    built-in ``name`` (a sum of N terms, a recurrence over N steps, GEMM's K)."""
    name = "gemm" if name.startswith("gemm_") else name
    return {"mac": 1, "dot": sizes.get("N", 1), "gemm": sizes.get("K", 1), "gemv": sizes.get("N", 1),
            "jacobi1d": 3, "iir": sizes.get("N", 1), "prefix_sum": sizes.get("N", 1)}[name]


# ---------------------------------------------------------------- tolerances

#: Relative tolerances for results whose computation is not known (a generated kernel compared
#: with the reference interpreter in the same element type; it may call tanh/exp/sqrt, which the
#: compiled code approximates within 3 ulp (f32) and 4 ulp (f64), see ir/math_approx.py, and may
#: reorder sums). Not derived from a chain: they are the fuzzer's bounds, f32 2e-4 (~1700 ulp)
#: and f64 1e-9 (~4.5e6 ulp, room for an approximation amplified by exp and by cancellation),
#: far below the error of a wrong element or a skipped iteration (order 1 for values in [-1, 1)).
UNKNOWN_CHAIN = {"f16": 2e-2, "f32": 2e-4, "f64": 1e-9}  # (f16: reassociated sums in half precision)


def tolerance(dtype, terms: int | None = None) -> float:
    """The largest error a result of element type ``dtype`` may have, relative to its scale.

    - integers (i32, i64): 0. Integer arithmetic is exact and wraps identically in numpy and in
      machine code, in any order; any difference is a bug.
    - floats with a known chain of ``terms`` roundings per output, against a float64 reference:
      ``16 * eps * sqrt(terms)``. Each rounding moves a result by at most eps/2 of the scale (the
      same computation over absolute values), and errors of a reordered sum (unrolled, multiple
      accumulators, vector lanes) grow like a random walk, so as sqrt(terms); 16 is the margin
      for fused multiply-adds and the worst of many outputs. f32 eps 1.19e-7, f64 eps 2.2e-16.
    - floats, ``terms=None`` (the computation is unknown): `UNKNOWN_CHAIN`.
    """
    et = element_type(dtype)
    if not et.is_float:
        return 0.0
    if terms is None:
        return UNKNOWN_CHAIN[et.name]
    return 16 * float(np.finfo(et.numpy).eps) * math.sqrt(max(terms, 1))


def mismatch(got, want, scale=None, dtype=None, terms: int | None = None, tol: float | None = None) -> str:
    """"" if array ``got`` matches ``want`` within `tolerance` (``dtype``: of ``got`` unless
    given; ``tol`` overrides it), else what differs. ``scale``: per element or one number
    (default: the largest of 1 and ``|want|``, the scale of a result whose inputs lie in
    [-1, 1)). Equal elements (infinities too) always match; NaN never does."""
    got = np.asarray(got)
    tol = tolerance(got.dtype if dtype is None else dtype, terms) if tol is None else tol
    if tol == 0.0:
        return "" if np.array_equal(got, want) else "integers differ"
    if scale is None:
        scale = max(1.0, float(np.max(np.abs(want), initial=0.0)))
    g, w = got.astype(np.float64), np.asarray(want, np.float64)
    with np.errstate(invalid="ignore"):
        err = np.where(g == w, 0.0, np.abs(g - w) / np.maximum(scale, 1e-300))
    worst = float(np.max(err, initial=0.0))
    if np.all(np.isfinite(err)) and worst <= tol:
        return ""
    return f"relative error {worst:.3g} > {tol:.3g}"


def check_outputs(name: str, args: list, expected: dict) -> str:
    """"" if the outputs in ``args`` match ``expected`` (`reference` of built-in ``name``, taken
    before the call) within the tolerance of ``name``'s chain at these sizes, else what differs."""
    terms = chain_length(name, sizes_of_args(ALL.get(name) or ALL["gemm"], args))
    for pos, (want, scale) in expected.items():
        why = mismatch(args[pos], want, scale, terms=terms)
        if why:
            return f"{name} output {pos}: {why}"
    return ""
