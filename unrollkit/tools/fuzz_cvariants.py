"""Fuzz cases of the C variants (`unrollkit.codegen.cvariants`, kernels/c), differential against
the reference interpreter.

A case names the C kernel by its ``def`` (``mac``, ``dot``, ``gemm``: the unrollkit kernel the C
source implements, which the interpreter runs), the C variant in ``variant`` (c-plain, c-pragma,
c-manual, c-macro, cxx-template), the unroll factor in ``factor`` and the compiler in its
scenario, ``c:<compiler>``. Sizes are drawn around multiples of the factor and of the vector
lanes (16 f32, 8 f64 on AVX-512), so the unrolled loop's remainder and the compiler's vector
epilogue each see every class. The output lies in a larger buffer whose cells past its end are
checked afterwards: a C loop that writes one element too far is a failing case, not luck. A
case runs in a child process (it has a scenario, see `Case.isolated`), where a crash of the C
code is a failing case too.
"""
from __future__ import annotations

import numpy as np

from unrollkit.codegen import cvariants as cv
from unrollkit.runtime.interpreter import interpret
from unrollkit.tools.fuzz_case import Case, Mismatch, check_result, make_data

#: the C kernels as unrollkit kernels (the same parameters in the same order as kernels/c)
SOURCES = {
    "mac": ('def mac(a: {T}["N"], b: {T}["N"], c: {T}["N"]):\n'
            "    for i in range(N):\n"
            "        c[i] += a[i] * b[i]\n"),
    "dot": ('def dot(x: {T}["N"], y: {T}["N"], out: {T}[1]):\n'
            "    for i in range(N):\n"
            "        out[0] += x[i] * y[i]\n"),
    "gemm": ('def gemm(A: {T}["M", "K"], B: {T}["K", "N"], C: {T}["M", "N"]):\n'
             "    for i in range(M):\n"
             "        for k in range(K):\n"
             "            for j in range(N):\n"
             "                C[i, j] += A[i, k] * B[k, j]\n"),
}
#: cells after the output that the C code must leave alone
GUARD = 16
SENTINEL = -7.25


def _factor(ch, variant: str) -> int:
    if variant == "c-manual":
        return ch.choice(cv.MANUAL_FACTORS)
    if variant == "c-plain":
        return 1  # the compiler decides; the factor is not in its build
    return ch.choice((1, 2, 3, 4, 5, 7, 8, 16, 32) + ((64, 127) if variant == "c-macro" else (256,)))


def gen_cvariant(ch, compiler: str) -> Case:
    """A `Case` running a C variant built by ``compiler`` ("gcc" or "clang")."""
    kernel = ch.choice(cv.C_KERNELS)
    dtype = ch.choice(tuple(cv.DTYPES))
    variant = ch.choice(cv.CVARIANTS)
    factor = _factor(ch, variant)
    lanes = 16 if dtype == "f32" else 8
    # a multiple of the factor or of the lanes, then an offset below it: every remainder class
    n = max(0, ch.choice((factor, lanes, 1)) * ch.int(0, 3) + ch.int(-1, max(factor, lanes) - 1))
    sizes = (("M", ch.int(0, 5)), ("N", n), ("K", ch.int(0, 6))) if kernel == "gemm" else (("N", n),)
    source = SOURCES[kernel].format(T="uk." + dtype)
    return Case(source, dtype, sizes, "", variant, ch.int(0, 2**16), factor, "c:" + compiler)


def _guarded(a: np.ndarray) -> tuple:
    """(a copy of ``a`` at the front of a buffer with `GUARD` sentinel cells after it, the buffer)."""
    buffer = np.full(a.size + GUARD, SENTINEL, dtype=a.dtype)
    view = buffer[:a.size].reshape(a.shape)
    view[...] = a
    return view, buffer


def run_cvariant(case: Case) -> str:
    """Build and run ``case``'s C variant; "ok" if every array equals the interpreter's and no
    cell past the output was written, else `Mismatch`."""
    kernel, args = make_data(case)
    expected = [a.copy() for a in args]
    interpret(kernel, *expected)
    ck = cv.build(kernel.name, case.variant, case.factor, case.dtype, case.scenario.split(":", 1)[1])
    output = [name for name, _ in cv.SIGNATURES[kernel.name].arrays].index(cv.SIGNATURES[kernel.name].output)
    got = list(args)
    got[output], buffer = _guarded(args[output])
    ck(*got)
    if not (buffer[args[output].size:] == SENTINEL).all():
        raise Mismatch(f"{ck!r} wrote past the end of its output\n{case.describe()}\n"
                       f"guard cells {buffer[args[output].size:]!r}")
    check_result(case, kernel, got, expected)
    return "ok"
