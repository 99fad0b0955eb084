"""A product with a strictly triangular operand, rewritten into GEMM nests (issue 12): the
common part of trmm (`triangular_trmm`) and symm (`triangular_symm`),

    O[i, j] (+|-)= c · X[k, i] · Y[k, j]   for k > i   ("below", X read transposed: Lᵀ · Y)
    O[i, j] (+|-)= c · X[i, k] · Y[k, j]   for k < i   ("above", X read as is:      L · Y)

over ``M`` rows and reduction rows (a square triangle) and ``N`` columns. Y may be O itself
only below (trmm, in place): row i then reads rows k > i before their own turn, so the blocks
run top to bottom and each block's own triangle runs as the source does, row by row.

At block size ``b``, ``NB = M // b`` blocks and ``R = M % b`` rows left over (at the top
below, at the bottom above: where no full block reads them as a reduction range that varies):

    head/tail  the R rows' own triangle (loops *_h: ``for i, k in (i, R) or k < i, j``)
    strip      (NB ≥ 1) the R rows against the rows of the blocks: a GEMM R × N × NB·b (*_s)
    blocks     for each block I (loop ``<i>.blk``): its own triangle (loops *_t) and, against
               every block on the reduction's side, a GEMM of b × N × b tiles (loops
               ``<k>.blk``, k, i, j): the block's rows of X read in place, Y's panel packed
               (`pack{along=k}` when Y is O: isl proves the rows it reads never written there)

A triangle is ``for i < size, k in (i, size) (or k < i), j < N`` with j inside k, in
tiles of b columns (vectorised, unrolled, the tile of O's row in registers over k:
`row_steps`): every element sums its products in the source's order; the GEMM nests
reassociate the sum over k as ``factor="auto"`` allows in reductions. No product the source
does not form is computed (no zero-padded triangle: an infinite Y gives no NaN from
``0 · inf``). The triangles do a share b/M of the work at a fraction of the GEMM's speed
(measured at 512 f64 on a loaded znver4: trmm's ~10% of its time, symm's two ~15%).
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
        body += _triangle(p, (i + "_h", k + "_h", j + "_h"), d.Lit(first), rest, n, block)
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
        parts = _triangle(p, (i + "_t", k + "_t", j + "_t"), r0, block, n, block)
        rows.append(_row_loops(k + "_t", j + "_t", n, block))
        if nb >= 2:
            blocks = (kblk, d.aff_add(d.Var(blk), d.Lit(1)), nb) if p.below else (kblk, 0, d.Var(blk))
            red = d.aff_add(d.aff_add(d.aff_mul(d.Var(kblk), block), d.Lit(start)), d.Var(k))
            parts.append(_nest((blocks, (k, 0, block), (i, 0, block), (j, 0, n)),
                               (_update(p, d.aff_add(r0, d.Var(i)), d.Var(j), red),)))
            gemms.append(_contraction(p, (blk, kblk, k, i, j), block, n, block, outer=(blk, kblk)))
        body.append(_nest(((blk, 0, nb),), tuple(parts)))
    return body, gemms, rows


def finish(kernel: d.Kernel, body: list, gemms: list, rows: list, block: int, local: tuple = ()) -> Nests | None:
    """`Nests` of ``kernel`` with ``body`` (and the ``local`` arrays), its GEMM contractions
    pointing at it; None when two loops share a name or one takes a name the GEMM schedule makes."""
    new = dataclasses.replace(kernel.with_body(tuple(body)), local_arrays=local) if local else kernel.with_body(tuple(body))
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


def _triangle(p: Product, names: tuple, base, size: int, n: int, nr: int) -> list:
    """Rows ``base ≤ r < base + size`` against the rows of the same range on the triangle's
    side, as the source computes them (each element's sum in k's order; the row without any,
    last below or first above, left out), j inside k, columns in tiles of ``nr`` (loops i,
    ``<j>.blk``, k, j: the tile's row kept in registers over k; the rows read stream whole,
    a tile of them in L1 would share a few cache sets when a row is 4 KiB), then the rest of
    the columns (loops ``<i>_r``, ``<k>_r``, ``<j>_r``: in registers over k too). In place
    (below), the rows run top to bottom: a row writes only itself and reads only rows after
    it, which change in their own turn, later; the columns are independent."""
    ti, tk, tj = names
    rows = (0, size - 1) if p.below else (1, size)
    parts = []
    for cols, (i, k, j) in (((tj + ".blk", 0, n // nr), (ti, tk, tj)), (None, (ti + "_r", tk + "_r", tj + "_r"))):
        ks = (d.aff_add(d.Var(i), d.Lit(1)), size) if p.below else (0, d.Var(i))
        if cols and cols[2]:
            col = d.aff_add(d.aff_mul(d.Var(cols[0]), nr), d.Var(j))
            loops = ((i, *rows), cols, (k, *ks), (j, 0, nr))
        elif not cols and n % nr:
            col, loops = d.Var(j), ((i, *rows), (k, *ks), (j, n // nr * nr, n))
        else:
            continue
        parts.append(_nest(loops, (_update(p, d.aff_add(base, d.Var(i)), col, d.aff_add(base, d.Var(k)), False),)))
    return parts


def _row_loops(k: str, j: str, n: int, nr: int) -> tuple:
    """(k and j loops of the column tiles, k and j loops of the rest, how many columns the
    rest has) of a triangle (None: absent)."""
    tiles = (k, j) if n >= nr else (None, None)
    return tiles + ((k + "_r", j + "_r", n % nr) if n % nr else (None, None, 0))


def row_steps(rows: tuple, w: int) -> list:
    """The passes of the triangles whose loops are ``rows`` (`_row_loops` each): each tile of
    columns, and the rest of the columns, vectorised ``w`` wide, unrolled and kept in
    registers over its k loop."""
    steps = []
    for k, j, kr, jr, rest in rows:
        if j:
            steps += [f"vectorize{{loop={j},width={w}}}", f"unroll{{loop={j},full=true}}",
                      f"promote-to-registers{{loop={k},strict=false}}"]
        if jr:  # whole vectors, then a scalar tail (``.rem`` of the vectorised loop)
            wide, tail = rest >= w, rest % w > 0
            steps += [f"vectorize{{loop={jr},width={w}}}"] * wide
            steps += [f"unroll{{loop={x},full=true}}" for x in [jr] * wide + [jr + ".rem" * wide] * tail]
            steps.append(f"promote-to-registers{{loop={kr},strict=false}}")
    return steps


def _contraction(p: Product, order: tuple, m: int, n: int, kk: int, outer=()) -> Contraction:
    """The GEMM contraction of a rectangular nest of loops ``order`` (outer..., k, i, j): the
    rows' operand X (read transposed below), the columns' operand Y (O itself in place)."""
    k, i, j = order[-3:]
    roles = tuple((x, "reduction" if x == k else "block" if x in outer else "N" if x == j else "M")
                  for x in order)
    return Contraction(i, j, k, order, p.x[0], p.y[0], p.o[0], m, n, kk, outer, roles,
                       a_transposed=p.below, a_packable=True, scale=p.scale)
