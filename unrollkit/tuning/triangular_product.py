"""A product with a strictly triangular operand, rewritten into GEMM nests (issue 12): the
common part of trmm (`triangular_trmm`) and symm (`triangular_symm`),

    O[i, j] (+|-)= c · X[k, i] · Y[k, j]   for k > i   ("below", X read transposed: Lᵀ · Y)
    O[i, j] (+|-)= c · X[i, k] · Y[k, j]   for k < i   ("above", X read as is:      L · Y)

over ``M`` rows and reduction rows (a square triangle) and ``N`` columns. Y may be O itself
only below (trmm, in place): row i then reads rows k > i before their own turn, so the blocks
run top to bottom and each block's own triangle runs as the source does, row by row.

At block size ``b``, ``NB = M // b`` blocks and ``R = M % b`` rows left over (at the top
below, at the bottom above: where no full block reads them as a reduction range that varies):

    head/tail  the R rows' own triangle (loops *_h: ``for i, k in (i, R) or k < i, j``, j in
               tiles of b columns kept in registers over k, and the rest)
    strip      (NB ≥ 1) the R rows against the rows of the blocks: a GEMM R × N × NB·b (*_s)
    blocks     for each block I (loop ``<i>.blk``): its own triangle (loops *_t) and, against
               every block on the reduction's side, a GEMM of b × N × b tiles (loops
               ``<k>.blk``, k, i, j): the block's rows of X read in place, Y's panel packed
               (`pack{along=k}` when Y is O: isl proves the rows it reads never written there)

A triangle is ``for i < size, k in (i, size) (or k < i), j < N`` (j inside k, vectorised
along j): every element sums its products in the source's order; the GEMM nests reassociate
the sum over k as ``factor="auto"`` allows in reductions. No product the source does not form
is computed (no zero-padded triangle: an infinite Y gives no NaN from ``0 · inf``).
"""
from __future__ import annotations

import dataclasses

from unrollkit.frontend import descriptor as d
from unrollkit.tuning.contraction import MADE, Contraction
from unrollkit.tuning.triangular import Nests, _nest, _times


@dataclasses.dataclass(frozen=True)
class Product:
    """One triangular product (see the module docstring): argument positions and names of the
    output O, the triangle X and the operand Y, the coefficients, the update's operator, the
    side of the triangle and the base names (i, j, k) of the loops it makes."""
    o: tuple               # (position, name)
    x: tuple
    y: tuple
    coeff: tuple           # scalar and constant factors
    op: str                # "+" or "-"
    below: bool            # k > i, X read at [k, i]; else k < i, X read at [i, k]
    names: tuple           # (i, j, k)

    @property
    def scale(self) -> str | None:
        """The one scalar parameter multiplying the product (folded into Y's packing), or None."""
        c = self.coeff
        return c[0].name if len(c) == 1 and isinstance(c[0], d.Scalar) else None


def product_nests(p: Product, m: int, n: int, block: int) -> tuple:
    """(nests, GEMM contractions without their kernel, the triangles' column loops) of ``p``
    at ``m`` rows, ``n`` columns, blocks of ``block`` rows (see the module docstring)."""
    if p.o == p.y and not p.below:
        raise ValueError("a product in place reads the rows below only")
    i, j, k = p.names
    nb, rest = m // block, m % block
    first = 0 if p.below else nb * block   # the rows left over: on top below, at the bottom above
    start = rest if p.below else 0         # the first block's first row
    body, gemms, rows = [], [], []
    if rest > 1:
        body.append(_triangle(p, (i + "_h", k + "_h", j + "_h"), d.Lit(first), rest, n, block))
        rows.append(_row_loops(k + "_h", j + "_h", n, block))
    if rest:
        if nb:
            si, sj, sk = i + "_s", j + "_s", k + "_s"
            row = d.aff_add(d.Var(si), d.Lit(first))
            body.append(_nest(((sk, 0, nb * block), (si, 0, rest), (sj, 0, n)),
                              (_update(p, row, d.Var(sj), d.aff_add(d.Var(sk), d.Lit(start))),)))
            gemms.append(_contraction(p, (sk, si, sj), rest, n, nb * block))
    if nb:
        blk, kblk = i + ".blk", k + ".blk"
        r0 = d.aff_add(d.aff_mul(d.Var(blk), block), d.Lit(start))
        parts = [_triangle(p, (i + "_t", k + "_t", j + "_t"), r0, block, n, block)]
        rows.append(_row_loops(k + "_t", j + "_t", n, block))
        if nb >= 2:
            blocks = (kblk, d.aff_add(d.Var(blk), d.Lit(1)), nb) if p.below else (kblk, 0, d.Var(blk))
            red = d.aff_add(d.aff_add(d.aff_mul(d.Var(kblk), block), d.Lit(start)), d.Var(k))
            parts.append(_nest((blocks, (k, 0, block), (i, 0, block), (j, 0, n)),
                               (_update(p, d.aff_add(r0, d.Var(i)), d.Var(j), red),)))
            gemms.append(_contraction(p, (blk, kblk, k, i, j), block, n, block, outer=(blk, kblk)))
        body.append(_nest(((blk, 0, nb),), tuple(parts)))
    return body, gemms, rows


def finish(kernel: d.Kernel, body: list, gemms: list, rows: list, block: int) -> Nests | None:
    """`Nests` of ``kernel`` with ``body``, its GEMM contractions pointing at it; None when two
    loops share a name or one takes a name the GEMM schedule makes."""
    new = kernel.with_body(tuple(body))
    gemms = [dataclasses.replace(g, kernel=new) for g in gemms]
    loops = [lp.name for lp in new.loops()]
    made = {f.format(i=g.i, j=g.j, k=g.k) for g in gemms for f in MADE}
    if len(set(loops)) != len(loops) or made & set(loops):
        return None
    return Nests(new, tuple(gemms), None, block, tuple(rows))


def _update(p: Product, row, col, red, packed: bool = True) -> d.Store:
    """``O[row, col] (+|-)= X[red, row] (or X[row, red]) · (alpha · Y[red, col])`` (the
    coefficient by Y's read when it is one scalar and Y is ``packed``, for its packing; else
    in front, by X's read: once per k in a triangle's row, not once per column)."""
    xl = d.Load(p.x[1], (red, row) if p.below else (row, red))
    yl = d.Load(p.y[1], (red, col))
    if p.scale and packed:
        prod = d.BinOp("*", xl, d.BinOp("*", p.coeff[0], yl))
    else:
        prod = d.BinOp("*", _times(p.coeff, xl), yl)
    where = (row, col)
    return d.Store(p.o[1], where, d.BinOp(p.op, d.Load(p.o[1], where), prod))


def _triangle(p: Product, names: tuple, base, size: int, n: int, nr: int) -> d.Loop:
    """Rows ``base ≤ r < base + size`` against the rows of the same range on the triangle's
    side, as the source computes them (row by row, top to bottom, each element's sum in k's
    order; the row without any, last below or first above, left out), j inside k: in place
    (below), a row writes only itself and reads only rows after it, which change in their own
    turn, later. The columns in tiles of ``nr`` (loops ``<j>.blk``, k, j: each tile's row
    kept in registers over k) and the rest (loops ``<k>_r``, ``<j>_r``)."""
    ti, tk, tj = names
    row = d.aff_add(base, d.Var(ti))
    rows = (ti, 0, size - 1) if p.below else (ti, 1, size)
    ks = (d.aff_add(d.Var(ti), d.Lit(1)), size) if p.below else (0, d.Var(ti))
    full, parts = n // nr * nr, []
    if full:
        col = d.aff_add(d.aff_mul(d.Var(tj + ".blk"), nr), d.Var(tj))
        parts.append(_nest(((tj + ".blk", 0, n // nr), (tk, *ks), (tj, 0, nr)),
                           (_update(p, row, col, d.aff_add(base, d.Var(tk)), False),)))
    if n > full:
        kr, jr = tk + "_r", tj + "_r"
        parts.append(_nest(((kr, *ks), (jr, full, n)), (_update(p, row, d.Var(jr), d.aff_add(base, d.Var(kr)), False),)))
    return _nest((rows,), tuple(parts))


def _row_loops(k: str, j: str, n: int, nr: int) -> tuple:
    """(k loop of the column tiles, their j loop, the rest's j loop) of a triangle (None: absent)."""
    return (k, j if n >= nr else None, j + "_r" if n % nr else None)


def _contraction(p: Product, order: tuple, m: int, n: int, kk: int, outer=()) -> Contraction:
    """The GEMM contraction of a rectangular nest of loops ``order`` (outer..., k, i, j): the
    rows' operand X (read transposed below), the columns' operand Y (O itself in place)."""
    k, i, j = order[-3:]
    roles = tuple((x, "reduction" if x == k else "block" if x in outer else "N" if x == j else "M")
                  for x in order)
    return Contraction(i, j, k, order, p.x[0], p.y[0], p.o[0], m, n, kk, outer, roles,
                       a_transposed=p.below, a_packable=True, scale=p.scale)
