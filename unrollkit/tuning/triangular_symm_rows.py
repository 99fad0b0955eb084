"""symm's rows through one GEMM each (issue 12, `triangular_symm`): when the three products
of the source have the same coefficients (``C[i, j] = s · C[i, j] + c · B[i, j] · A[i, i] +
c · temp2`` beside the scattered ``C[k, j] += c · B[i, j] · A[i, k]`` and ``temp2 += B[k, j] ·
A[i, k]``), every element is ``s · C[i, j] + c · Σ_k S[i, k] · B[k, j]`` with S the symmetric
matrix A's lower triangle stands for (``S[i, k] = A[max(i, k), min(i, k)]``). At block size
``b`` (``NB = M // b`` blocks, ``R = M % b`` rows left over at the bottom):

    scale   for i, j: C[i, j] = s · C[i, j]            (loops ``<i>.init``, ``<j>.init``; 0
            when the source has no scaling term: its C is then overwritten, never read)
    blocks  for each block I (loop ``<i>.blk``): its b rows of S rebuilt into a b × M buffer
            (loops ``<i>.row``, ``<k>.low``: A[r, q] for q ≤ r; ``<k>.up.strip``, ``<i>.col``,
            ``<k>.up``: A[q, r] for q > r, in strips of `STRIP` rows of A), then one GEMM
            b × N × M (loops k, i, j): C[I·b + i, j] += T[i, k] · (c · B[k, j])
    rest    the R rows the same way (loops ``*_s``; b is `row_block`'s: M in equal blocks)

The buffer holds exactly the values of A the source reads, each once per row that uses it:
every product ``S[i, k] · B[k, j]`` is one the source forms (k < i its accumulation's, k > i
its scattered update's, k = i its diagonal term's), with the same coefficient, and A's upper
triangle is never read (a NaN there stays out). The sums are reassociated as ``factor="auto"``
allows in reductions. One or two GEMM nests and their copies instead of the distributed
form's four GEMM nests and eight triangles (which ran at a fraction of the GEMM's speed).
The buffer lives on the stack: `ROWS_BUFFER` bounds it (larger M: the distributed form).
Measured (one core of a 2-core znver4 shared with other work, CPU time, min of 7): 0.92–1.03×
numpy's full ``A @ B`` at 512 and 1024 in f32 and f64 (the distributed form: 0.76–0.81×),
cold compile 0.2–0.35 s (1.04–1.17 s).
"""
from __future__ import annotations

from unrollkit.frontend import descriptor as d
from unrollkit.tuning.contraction import Contraction
from unrollkit.tuning.gemm_blocks import _balanced
from unrollkit.tuning.triangular import Nests, _nest, _times
from unrollkit.tuning.triangular_product import finish

#: rows of A whose columns are copied together into the buffer (a line of f64)
STRIP = 8

#: the most elements of the rows' buffer (a stack array: 1 MiB at f64)
ROWS_BUFFER = 1 << 17


def row_block(m: int, block: int) -> int:
    """The rows per block: M in equal blocks (multiples of a line of f64) of at most 4·``block``
    rows (``block``: the register tile's columns) or as many as `ROWS_BUFFER` holds at ``m``
    columns, but at least ``block`` (then M must be small enough: `triangular_symm`). Equal
    blocks leave fewer rows over (1024: 8 × 128, one GEMM nest, not 8 × 120 and 64 in two)."""
    return _balanced(m, max(block, min(4 * block, ROWS_BUFFER // m)), STRIP)


def symmetric_nests(s, m: int, n: int, rows: int) -> Nests | None:
    """The nests of symm ``s`` (a `triangular_symm.Symm` whose ``plain`` is set) at ``m``
    rows and ``n`` columns in blocks of ``rows`` rows (see the module docstring); None when a
    loop name they make is taken."""
    kernel = s.kernel
    out, x = kernel.params[s.c], kernel.params[s.a]
    taken = {p.name for p in kernel.params}
    buf = d.LocalArray(next(f"rows{q}" for q in range(len(taken) + 1) if f"rows{q}" not in taken),
                       out.elem, (d.Lit(rows), d.Lit(m)), like=out.name if out.elem.is_generic else None)
    body, gemms = [s.plain], []
    nb, rest = m // rows, m % rows
    i, j, k = s.i, s.j, s.k
    if nb:
        blk = i + ".blk"
        base = d.aff_mul(d.Var(blk), rows)
        first = d.aff_mul(d.Var(blk), rows // STRIP) if rows % STRIP == 0 else d.Lit(0)
        parts = _rebuild(x.name, buf.name, (i + ".row", k + ".low", k + ".up", i + ".col"), base, rows, m, first)
        parts.append(_nest(((k, 0, m), (i, 0, rows), (j, 0, n)), (_update(s, buf.name, base, (i, j, k)),)))
        body.append(_nest(((blk, 0, nb),), tuple(parts)))
        gemms.append(_contraction(s, (blk, k, i, j), rows, n, m, outer=(blk,)))
    if rest:
        names = (i + "_s", j + "_s", k + "_s")
        base = d.Lit(nb * rows)
        body += _rebuild(x.name, buf.name, (i + ".row_s", k + ".low_s", k + ".up_s", i + ".col_s"), base, rest, m,
                         d.Lit(nb * rows // STRIP))
        body.append(_nest(((names[2], 0, m), (names[0], 0, rest), (names[1], 0, n)),
                          (_update(s, buf.name, base, names),)))
        gemms.append(_contraction(s, (names[2], names[0], names[1]), rest, n, m))
    return finish(kernel, body, gemms, [], rows, local=(buf,))


def _rebuild(a: str, buf: str, names: tuple, base, size: int, m: int, first_strip) -> list:
    """``buf[r, q] = S[base + r, q]`` for r < size, q < m: A's rows up to the diagonal (loops
    r, low), then below it A's columns in strips of `STRIP` rows (loops ``<up>.strip``, r2, up):
    each strip's lines of A serve the next rows of the buffer (read down A's columns row by
    row, every element a line of its own M·e bytes from the last: at M = 1024 f64 that copy
    took ~12% of the time)."""
    r, low, up, r2 = names  # (first_strip: the strip of row ``base``, or one before it)
    row = d.aff_add(base, d.Var(r))
    low_half = _nest(((r, 0, size), (low, 0, d.aff_add(row, d.Lit(1)))),
                     (d.Store(buf, (d.Var(r), d.Var(low)), d.Load(a, (row, d.Var(low)))),))
    strip = up + ".strip"
    first = d.aff_mul(d.Var(strip), STRIP)
    store = d.Store(buf, (d.Var(r2), d.Var(up)), d.Load(a, (d.Var(up), d.aff_add(base, d.Var(r2)))))
    cols = d.Loop(up, (first, d.aff_add(d.aff_add(base, d.Var(r2)), d.Lit(1))),
                  (d.aff_add(first, d.Lit(STRIP)), d.Lit(m)), 1, (store,), up)
    return [low_half, _nest(((strip, first_strip, -(-m // STRIP)), (r2, 0, size)), (cols,))]


def _update(s, buf: str, base, names: tuple) -> d.Store:
    """``C[base + i, j] += buf[i, k] · (c · B[k, j])`` (the coefficient by B's read when it is
    one scalar, for B's packing; else in front)."""
    i, j, k = (d.Var(v) for v in names)
    c, b = s.kernel.params[s.c].name, s.kernel.params[s.b].name
    xl, yl = d.Load(buf, (i, k)), d.Load(b, (k, j))
    scale = _scale(s.lower)
    prod = d.BinOp("*", xl, d.BinOp("*", s.lower[0], yl)) if scale else d.BinOp("*", _times(s.lower, xl), yl)
    where = (d.aff_add(base, i), j)
    return d.Store(c, where, d.BinOp("+", d.Load(c, where), prod))


def _scale(coeff: tuple) -> str | None:
    return coeff[0].name if len(coeff) == 1 and isinstance(coeff[0], d.Scalar) else None


def _contraction(s, order: tuple, m: int, n: int, kk: int, outer=()) -> Contraction:
    """The GEMM contraction of a nest of loops ``order`` (outer..., k, i, j). Its rows' operand
    is the buffer, not a parameter: ``a`` names A (whose values it holds) and it is never packed
    (`a_packable` false) — the schedule reads ``a`` only to pack or to size a transposed A."""
    k, i, j = order[-3:]
    roles = tuple((v, "reduction" if v == k else "block" if v in outer else "N" if v == j else "M")
                  for v in order)
    return Contraction(i, j, k, order, s.a, s.b, s.c, m, n, kk, outer, roles, scale=_scale(s.lower))
