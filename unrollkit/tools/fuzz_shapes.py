"""Kernel shapes the fuzzer grew for the hard cases of legality, remainders and bounds.

* `gen_siblings`: an outer loop around two sibling inner loops whose statements read and write
  the same arrays at ``i - 1``, ``i`` and ``i + 1``: flow, anti and output dependences carried by
  the outer loop with "=" on the inner ones, in either textual order (unroll-and-jam must refuse
  exactly the ones a later statement's copy would overtake).
* `gen_contraction`: ``out[..] += A[..] * B[..]`` over three loops in any order, with the
  operands' subscripts drawn from the loops (gemm, gemv, transposed operands, outer products).
* `gen_gemm`: ``C[i, j] += A[i, k] * B[k, j]`` with the BLAS schedule or the cost model, N drawn
  to hit every remainder class modulo 16 (f32) and 8 (f64) lanes, M around the register tile.
* `gen_conv`: a direct NCHW convolution (1×1, 2×2 or 3×3 taps), the reduction loops before or
  after the pixels', with the BLAS schedule (coalesced pixels and reduction, B packed by
  iterations) or the cost model, pixels per row around the lanes' remainders.
* `gen_triangular`: syrk's and syr2k's rank-k updates of a lower triangle ``j <= i`` in any
  loop order that lets j's bound see i, with the BLAS schedule (its blocks below the diagonal,
  diagonal blocks, strip and corner: N around one and two blocks) or the cost model; and
  trmm's product in place (``B[i, j] += A[k, i] * B[k, j]``, ``k in range(i + 1, M)``, rows
  scaled after their update; or ``range(i)``, rows read after they change: the cost model's),
  and symm's (``temp2``, the scattered update, either order, ``+=`` or ``-=``; or
  ``range(i + 1)``, which reaches the row its final statement reads: the cost model's).
* `gen_types`: the small element types (f16, i8, u8, i16) with conversions to and from a
  wider array, and a carried scalar updated by loads, literals and loop indices (the
  ``acc += j`` that multi-acc mistyped) — wrap-around, rounding and saturation against the
  interpreter.
* `gen_divmod`: ``//`` and ``%`` in subscripts, in and out of bounds
  (`unrollkit.tools.fuzz_case.out_of_bounds` tells which, and those must be refused), and loops
  with negative steps, ``//``/``%`` or an integer scalar parameter in their bounds.
"""
from __future__ import annotations

import textwrap

from unrollkit.core.dtypes import BY_NAME
from unrollkit.tools.fuzz_case import DTYPES, Case, choose_variant, lit, pipeline_steps

_T = {name: repr(BY_NAME[name]) for name in DTYPES}  # "f32" → "uk.f32"


def _def(params: str, body: list) -> str:
    return "def fuzz_kernel(" + params + "):\n" + textwrap.indent("\n".join(body), "    ") + "\n"


def _off(v: str, c: int) -> str:
    return v if c == 0 else f"{v} + {c}" if c > 0 else f"{v} - {-c}"


def gen_siblings(ch) -> Case:
    """A `Case` of two sibling inner loops in an outer ``i`` loop, reading and writing rows ``i-1``,
    ``i``, ``i+1`` of the same arrays (see the module docstring)."""
    dtype = ch.choice(DTYPES)
    T = _T[dtype]
    body = ["for i in range(1, N - 1):"]
    for j in ("j", "j2"):
        out, src = ch.choice((("p", "q"), ("q", "p"), ("p", "p")))
        w, r = ch.choice((0, 0, -1, 1)), ch.choice((0, -1, 1))
        rj = ch.choice((0, 0, -1, 1)) if out != src else 0
        op = ch.choice(("=", "+=", "="))
        other = ch.choice((f"z[i, {j}]", lit(ch, dtype), "s"))
        body += [f"    for {j} in range(1, M - 1):",
                 f"        {out}[{_off('i', w)}, {j}] {op} {src}[{_off('i', r)}, {_off(j, rj)}] * "
                 f"{lit(ch, dtype)} + {other}"]
    params = f'p: {T}["N", "M"], q: {T}["N", "M"], z: {T}["N", "M"], s: {T}'
    first = [f"unroll-jam{{loop=i,factor={ch.choice((2, 3, 4))}}}"] if ch.int(0, 1) else []
    variant, factor = choose_variant(ch)
    return Case(_def(params, body), dtype, (("N", ch.int(0, 11)), ("M", ch.int(2, 9))),
                pipeline_steps(ch, ["i", "j", "j2"], first), variant, ch.int(0, 2**16), factor)


#: (out subscript, A subscript, B subscript) over loops i, j, k (k the reduction)
CONTRACTIONS = (
    (("i", "j"), ("i", "k"), ("k", "j")),   # gemm
    (("i", "j"), ("k", "i"), ("k", "j")),   # Aᵀ B
    (("i", "j"), ("i", "k"), ("j", "k")),   # A Bᵀ
    (("i",), ("i", "k"), ("k",)),           # gemv
    (("j",), ("k", "j"), ("k",)),           # xᵀ A
    (("i", "j"), ("i",), ("j",)),           # outer product (no reduction)
    ((), ("k",), ("k",)),                   # dot
)
_SIZE = {"i": "M", "j": "N", "k": "K"}


def gen_contraction(ch) -> Case:
    """A `Case` of ``C[..] += A[..] * B[..]`` over up to three loops in a random order, the
    operands' subscripts drawn from the loops (see the module docstring)."""
    dtype = ch.choice(DTYPES)
    T = _T[dtype]
    out, a, b = ch.choice(CONTRACTIONS)
    used = sorted(set(out) | set(a) | set(b))
    order = list(used)
    for n in range(len(order) - 1, 0, -1):  # a random loop order (Fisher-Yates by the chooser)
        m = ch.int(0, n)
        order[n], order[m] = order[m], order[n]

    def shape(sub):
        return ", ".join(f'"{_SIZE[v]}"' for v in sub) if sub else "1"

    def ref(name, sub):
        return f"{name}[{', '.join(sub) if sub else '0'}]"

    body = [("    " * d) + f"for {v} in range({_SIZE[v]}):" for d, v in enumerate(order)]
    body.append("    " * len(order) + f"{ref('C', out)} += {ref('A', a)} * {ref('B', b)}")
    params = f"A: {T}[{shape(a)}], B: {T}[{shape(b)}], C: {T}[{shape(out)}]"
    sizes = tuple((_SIZE[v], ch.int(1, 9)) for v in ("i", "j", "k") if v in used)
    first = []
    if ch.int(0, 2) == 0 and len(order) == 3:
        first = [f"permute{{order={':'.join(ch.choice((('i', 'k', 'j'), ('i', 'j', 'k'), ('k', 'i', 'j'))))}}}"]
    variant, factor = choose_variant(ch, ("blas",) if dtype != "i32" else ())  # (blas: floats only)
    return Case(_def(params, body), dtype, sizes, pipeline_steps(ch, order, first), variant,
                ch.int(0, 2**16), factor)


def gen_gemm(ch) -> Case:
    """The BLAS schedule's remainders: N = 16·q + r covers every r mod 16 and mod 8."""
    dtype = ch.choice(("f32", "f64"))
    T = _T[dtype]
    order = ch.choice((("i", "k", "j"), ("i", "j", "k"), ("k", "i", "j"), ("j", "k", "i")))
    body = [("    " * d) + f"for {v} in range({_SIZE[v]}):" for d, v in enumerate(order)]
    body.append("    " * 3 + "C[i, j] += A[i, k] * B[k, j]")
    params = f'A: {T}["M", "K"], B: {T}["K", "N"], C: {T}["M", "N"]'
    n = 16 * ch.int(0, 2) + ch.int(0, 15)
    sizes = (("M", ch.int(1, 12)), ("N", max(n, 1)), ("K", ch.int(1, 8)))
    variant = ch.choice(("blas", "blas", "blas", "auto"))
    pipeline = ch.choice(("", "", "canonicalize", "cse"))
    return Case(_def(params, body), dtype, sizes, pipeline, variant, ch.int(0, 2**16), 1)


#: the update of `gen_triangular`: syrk with alpha, syrk subtracted without a coefficient, syr2k
TRIANGULAR_UPDATES = ("C[i, j] += alpha * A[i, k] * A[j, k]", "C[i, j] -= A[j, k] * A[i, k]",
                      "C[i, j] += A[j, k] * alpha * B[i, k] + B[j, k] * alpha * A[i, k]")


def gen_triangular(ch) -> Case:
    """A triangular rank-k update (see the module docstring), an optional ``C[i, j] *= beta``
    nest first; N up to 73: the blocks are the register tile's columns (32 f64, 64 f32 with
    AVX-512), so f64 runs every nest of the rewrite and f32 all but the off-diagonal one.
    One case in three is a trmm or a symm (`gen_trmm`, `gen_symm`)."""
    dtype = ch.choice(("f32", "f64"))
    if ch.int(0, 2) == 0:
        return gen_symm(ch, dtype) if ch.int(0, 1) else gen_trmm(ch, dtype)
    T = _T[dtype]
    order = ch.choice((("i", "k", "j"), ("i", "j", "k"), ("k", "i", "j")))
    update = ch.choice(TRIANGULAR_UPDATES)
    bounds = {"i": "range(N)", "j": "range(i + 1)", "k": "range(K)"}
    body = ["for i in range(N):", "    for j in range(i + 1):", "        C[i, j] *= beta"] if ch.int(0, 1) else []
    body += [("    " * d) + f"for {v} in {bounds[v]}:" for d, v in enumerate(order)]
    body.append("    " * 3 + update)
    params = f'alpha: {T}, beta: {T}, C: {T}["N", "N"], A: {T}["N", "K"]' + (
        f', B: {T}["N", "K"]' if "B[" in update else "")
    n = ch.choice((ch.int(1, 9), 32 + ch.int(0, 9), 64 + ch.int(0, 9)))
    variant = ch.choice(("blas", "blas", "auto"))
    return Case(_def(params, body), dtype, (("N", n), ("K", ch.int(1, 4))), "", variant, ch.int(0, 2**16), 1)


#: the update of `gen_trmm`: PolyBench's, and subtracted with a coefficient (loads swapped)
TRMM_UPDATES = ("B[i, j] += A[k, i] * B[k, j]", "B[i, j] -= alpha * B[k, j] * A[k, i]")


def gen_trmm(ch, dtype: str) -> Case:
    """trmm in i-j-k or i-k-j order (see the module docstring), the row's scaling after its
    update or none; M around one and two blocks (as `gen_triangular`'s N), N small."""
    T = _T[dtype]
    order = ch.choice((("i", "j", "k"), ("i", "k", "j")))
    below = ch.choice(("range(i + 1, M)", "range(i + 1, M)", "range(i)"))
    bounds = {"i": "range(M)", "j": "range(N)", "k": below}
    body = [("    " * d) + f"for {v} in {bounds[v]}:" for d, v in enumerate(order)]
    body.append("    " * 3 + ch.choice(TRMM_UPDATES))
    if ch.int(0, 2):
        body += (["        B[i, j] = alpha * B[i, j]"] if order[1] == "j" else
                 ["    for j2 in range(N):", "        B[i, j2] *= alpha"])
    params = f'alpha: {T}, A: {T}["M", "M"], B: {T}["M", "N"]'
    m = ch.choice((ch.int(1, 9), 32 + ch.int(0, 9), 64 + ch.int(0, 9)))
    variant = ch.choice(("blas", "blas", "auto")) if below != "range(i)" else "auto"
    return Case(_def(params, body), dtype, (("M", m), ("N", ch.int(1, 9))), "", variant, ch.int(0, 2**16), 1)


def gen_symm(ch, dtype: str) -> Case:
    """PolyBench's symm (see the module docstring), its two inner statements in either order;
    M around one and two blocks (as `gen_triangular`'s N), N small."""
    T = _T[dtype]
    below = ch.choice(("range(i)", "range(i)", "range(i + 1)"))
    inner = [f"C[k, j] {ch.choice(('+=', '-='))} alpha * B[i, j] * A[i, k]",
             ch.choice(("temp2 += B[k, j] * A[i, k]", "temp2 += A[i, k] * B[k, j]"))]
    body = ["for i in range(M):", "    for j in range(N):", "        temp2 = 0.0", f"        for k in {below}:"]
    body += ["            " + x for x in (inner if ch.int(0, 1) else inner[::-1])]
    body.append("        C[i, j] = beta * C[i, j] + alpha * B[i, j] * A[i, i] + alpha * temp2")
    params = f'alpha: {T}, beta: {T}, C: {T}["M", "N"], A: {T}["M", "M"], B: {T}["M", "N"]'
    m = ch.choice((ch.int(1, 9), 32 + ch.int(0, 9), 64 + ch.int(0, 9)))
    variant = ch.choice(("blas", "blas", "auto")) if below == "range(i)" else "auto"
    return Case(_def(params, body), dtype, (("M", m), ("N", ch.int(1, 9))), "", variant, ch.int(0, 2**16), 1)


def gen_conv(ch) -> Case:
    """``O[n, co, h, w] += W[co, ci(, kh, kw)] * I[n, ci, h (+ kh), w (+ kw)]``."""
    dtype = ch.choice(("f32", "f64"))
    T = _T[dtype]
    taps = ch.choice((1, 2, 3))
    pixels, reduction = ["h", "w"], ["ci"] + (["kh", "kw"] if taps > 1 else [])
    order = ch.choice((["n", "co"], ["co", "n"])) + ch.choice((pixels + reduction, reduction + pixels))
    size = {"n": "P", "co": "M", "ci": "K", "h": "H", "w": "N", "kh": taps, "kw": taps}
    body = [("    " * d) + f"for {v} in range({size[v]}):" for d, v in enumerate(order)]
    tap = (" + kh", " + kw") if taps > 1 else ("", "")
    weight = "W[co, ci, kh, kw]" if taps > 1 else "W[co, ci]"
    body.append("    " * len(order) + f"O[n, co, h, w] += {weight} * I[n, ci, h{tap[0]}, w{tap[1]}]")
    params = (f'W: {T}["M", "K"' + (f", {taps}, {taps}]" if taps > 1 else "]")
              + f', I: {T}["P", "K", "HI", "NI"], O: {T}["P", "M", "H", "N"]')
    h, n = ch.int(1, 4), max(1, 16 * ch.int(0, 1) + ch.int(0, 15))
    sizes = (("P", ch.int(1, 2)), ("M", ch.int(1, 7)), ("K", ch.int(1, 4)), ("H", h), ("N", n),
             ("HI", h + taps - 1), ("NI", n + taps - 1))
    variant = ch.choice(("blas", "blas", "auto"))
    return Case(_def(params, body), dtype, sizes, "", variant, ch.int(0, 2**16), 1)


def gen_divmod(ch) -> Case:
    """``//`` and ``%`` subscripts, sometimes past either end, in a loop that may run backwards
    (``range(hi, lo, -s)``) or have ``//``/``%`` in its bounds."""
    dtype = ch.choice(DTYPES)
    T = _T[dtype]

    def sub():
        kind = ch.int(0, 9)
        d, c = ch.choice((1, 2, 3, 4)), ch.int(-2, 2)
        if kind == 0:
            return f"(i + N) // {d}"                    # the reproducer at d = 1
        if kind == 1:
            return f"i % {ch.choice((2, 3))}"
        if kind == 2:
            return f"(i * {ch.choice((2, 3))} + {c}) // {d}"
        return f"i // {d} + {c}" if c >= 0 else f"i // {d} - {-c}"

    lo = ch.choice(("0", "1", "2"))
    header = ch.choice((f"range({lo}, N)", f"range({lo}, N)", f"range(N - 1, {int(lo) - 1}, -{ch.int(1, 3)})",
                        f"range({lo}, N // {ch.int(1, 3)} + N % {ch.int(2, 4)})",
                        f"range(N - 1 - N % 2, {lo}, -2)", f"range({lo}, N - m)", f"range(m, N)"))
    body = [f"for i in {header}:",
            f"    y[{sub()}] = x[{sub()}] * {lit(ch, dtype)} + y[i]"]
    params = f'x: {T}["N"], y: {T}["N"]' + (", m: uk.i64" if "m" in header else "")  # m: -2 to 3
    variant, factor = choose_variant(ch)
    return Case(_def(params, body), dtype, (("N", ch.int(1, 24)),), pipeline_steps(ch, ["i"]),
                variant, ch.int(0, 2**16), factor)


#: the small element types and their literals (each fits its type)
SMALL_TYPES = ("f16", "i8", "u8", "i16")
_SMALL_LITS = {"f16": ("2.0", "0.5", "-1.5", "3.0"), "i8": ("2", "3", "-1"), "u8": ("2", "3", "1"),
               "i16": ("2", "3", "-1", "300")}


def gen_types(ch) -> Case:
    """A small-type kernel: ``acc`` carried across ``j`` (a sum, a product-free max, updates by
    a literal or an index), conversions from a wider array ``w`` and back into ``wout``."""
    dtype, wide = ch.choice(SMALL_TYPES), ch.choice(("f32", "f64", "i32"))
    T, W = f"uk.{dtype}", f"uk.{wide}"

    def lit():
        return ch.choice(_SMALL_LITS[dtype])

    term = ch.choice((f"x[i] * {lit()}", "z[i, j]", f"{T}(w[i])", "j", "-(-(j))", lit(),
                      f"{T}(w[i] * {'3.0' if wide != 'i32' else '3'})", "s"))
    update = ch.choice((f"acc += {term}", f"acc = max(acc, {term})", f"acc = min(acc, {term}) + {lit()}",
                        f"acc += {term} * {lit()}"))
    init = ch.choice(("x[i]", "0", f"{T}(w[i])", "s"))
    step = ch.choice(("", "", ", 2"))
    result = ch.choice(("acc", f"acc + x[i] * {lit()}", f"{T}({W}(acc) + w[i])" if dtype != "f16" or
                        wide != "i32" else "acc"))
    lines = ["for i in range(N):", f"    acc = {init}", f"    for j in range(1, M{step}):",
             f"        {update}", f"    out[i] = {result}"]
    # back to the wide type: an f16 result converts to an int only if exact on every path
    if dtype != "f16" or wide != "i32":
        lines.append(f"    wout[i] = {W}(out[i]) + wout[i]")
    params = (f'x: {T}["N"], z: {T}["N", "M"], w: {W}["N"], s: {T}, out: {T}["N"], '
              f'wout: {W}["N"]')
    variant, factor = choose_variant(ch)
    return Case(_def(params, lines), dtype, (("N", ch.int(1, 13)), ("M", ch.int(1, 9))),
                pipeline_steps(ch, ["i", "j"]), variant, ch.int(0, 2**16), factor)
