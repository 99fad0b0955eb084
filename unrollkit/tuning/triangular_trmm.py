"""trmm (issue 12): PolyBench's triangular matrix product, updated in place,

    for i in range(M): for j in range(N):
        for k in range(i + 1, M): B[i, j] += A[k, i] * B[k, j]
        B[i, j] = alpha * B[i, j]

recognised from its accesses and rewritten, at the call's sizes, into nests whose big parts
are rectangular GEMM nests (`gemm_schedule` runs them). Row i reads the rows k > i, which the
earlier rows never write: they still hold the input, so the result is
``alpha · (B + Lᵀ · B)`` with L the strict lower triangle of A (A's diagonal and upper
triangle are not read).

Recognised: the update ``O[i, j] (+|-)= c · X[k, i] · O[k, j]`` (the loads in either order,
``c`` a product of scalar parameters and constants, X not O, only O written) in loops
``i`` (outermost, ``range(e)``), ``j`` (``range(e)``) and ``k`` over ``range(i + 1, e_i)``
(``e_i`` i's own bound), in the order i-j-k or i-k-j; optionally followed, inside the loop
``i``, by one elementwise statement of O's row (``O[i, j] = alpha · O[i, j]``: it reads
only O at the element it writes, scalars and constants). Every other form (``k < i``, a
descending ``i``, rows read after they change) returns None and takes the ordinary path.

The rewrite at block size ``b`` (the register tile's columns), ``NB = M // b`` blocks of
rows under ``R = M % b`` rows on top, top to bottom (a block reads only the rows below it,
which still hold the input):

    head   (R > 0) the top R rows' own triangle, in place, as the source computes it but
           with j inside k (loops *_h):  for i < R, k in (i, R), j < N: O[i, j] += X[k, i]·O[k, j]
    strip  (R > 0) for k < M - R, i < R, j < N: O[i, j] += X[R + k, i] · O[R + k, j]
           a GEMM R × N × (M - R) (loops *_s): reads rows ≥ R, writes rows < R
    blocks for each block I (loop ``<i>.blk``, rows r0 = R + I·b ...):
           diag  its own triangle in place, as the head (loops *_t)
           below for K in (I, NB), k < b, i < b, j < N:
                     O[r0 + i, j] += X[R + K·b + k, r0 + i] · O[R + K·b + k, j]
                 a GEMM of b × N × b tiles (loops ``<k>.blk``, k, i, j): B's panel of the
                 rows below is packed (`pack{along=k}`: only the operand's read, proved by
                 isl never to touch the rows the nest writes), A's transposed block read in place
    scale  the final statement over all rows (loops ``<i>.scale``, ``<j>.scale``): no row is
           read after it is scaled, in the source or here

Within a row every element still sums its products in the source's order in the triangles;
the GEMM nests reassociate the sum over k as ``factor="auto"`` allows in reductions. Unlike
a triangular product through a zero-padded block (BLAS's, and numpy's ``tril(A, -1).T @ B``),
no product the source does not compute is formed: an infinite B gives no NaN from ``0 · inf``.
The legality of every reorder inside the nests is the passes' own (exact dependences on
isl); the transformed IR's bounds proof runs as for any kernel.
"""
from __future__ import annotations

import dataclasses

from unrollkit.frontend import descriptor as d
from unrollkit.tuning.contraction import (MADE, Contraction, _factors, _product, _rectangular, _statements,
                                          _trip)
from unrollkit.tuning.triangular import Nests, _nest, _times


@dataclasses.dataclass(frozen=True)
class Trmm:
    """A recognised trmm (see the module docstring): loop names, argument positions of the
    triangle X and the output O, the product's coefficients, trip counts and the final
    elementwise statement (with the source's loop variables ``ivar``, ``jvar``)."""
    i: str
    j: str
    k: str
    x: int                 # argument position of the triangle's array (read at [k, i])
    c: int                 # argument position of the output, also the operand (read at [k, j])
    coeff: tuple           # the product's scalar and constant factors
    op: str                # "+" or "-"
    m: object              # trip counts of i and j: size names, constants or Aff
    n: object
    final: d.Store | None  # the row's elementwise statement after its update, or None
    final_loops: tuple     # (i loop, j loop) of ``final``
    kernel: d.Kernel = dataclasses.field(compare=False, repr=False)

    def trips(self, sizes: dict) -> tuple:
        """(M, N) at the call's sizes."""
        return tuple(x if isinstance(x, int) else sizes[x] if isinstance(x, str) else d.aff_eval(x, sizes)
                     for x in (self.m, self.n))

    def name(self, pos: int) -> str:
        """The parameter name at argument position ``pos``."""
        return self.kernel.params[pos].name

    @property
    def scale(self) -> str | None:
        """The one scalar parameter multiplying the product (folded into the packing), or None."""
        c = self.coeff
        return c[0].name if len(c) == 1 and isinstance(c[0], d.Scalar) else None

    def describe(self, block: int) -> str:
        """The blocking in one line."""
        return (f"triangular product in place ({self.i}: rows, {self.k} > {self.i}: reduction over the rows "
                f"below, {self.j}: columns) in blocks of {block} rows, top to bottom: each block's own "
                f"triangle in place, the rows below it as GEMM nests")


def recognise_trmm(kernel: d.Kernel) -> Trmm | None:
    """The trmm of ``kernel`` (see the module docstring), or None."""
    stmts = list(_statements(kernel.body, ()))
    if not 1 <= len(stmts) <= 2 or not all(isinstance(s, d.Store) for _, s in stmts):
        return None
    path, st = stmts[0]
    roles = _update_roles(st, kernel)
    if roles is None or len(path) != 3 or kernel.written != {st.array}:
        return None
    (i, j, k), x_ld, coeff = roles
    loops = {lp.var: lp for lp in path}
    if set(loops) != {i, j, k} or path[0].var != i or len({lp.name for lp in path}) != 3:
        return None
    if not (_rectangular(loops[i], loops) and _rectangular(loops[j], loops) and _below(loops[k], loops[i])):
        return None
    final, final_loops = None, ()
    if len(stmts) == 2:
        q, final = stmts[1]
        if not _elementwise(q, final, path, st):
            return None
        final_loops = q
    pos = {p.name: n for n, p in enumerate(kernel.params)}
    return Trmm(loops[i].name, loops[j].name, loops[k].name, pos[x_ld.array], pos[st.array], coeff,
                st.value.op, _trip(loops[i]), _trip(loops[j]), final, final_loops, kernel)


def _update_roles(st: d.Store, kernel: d.Kernel):
    """((i, j, k), X's load, coefficients) of ``O[i, j] (+|-)= c · X[k, i] · O[k, j]``, or None."""
    prod = _product(st)
    if prod is None or len(st.index) != 2 or not all(isinstance(e, d.Var) for e in st.index):
        return None
    factors = _factors(prod)
    loads = [f for f in factors if isinstance(f, d.Load)]
    if len(loads) != 2 or not all(isinstance(f, (d.Load, d.Scalar, d.Const)) for f in factors):
        return None
    own = [ld for ld in loads if ld.array == st.array]
    other = [ld for ld in loads if ld.array != st.array]
    if len(own) != 1 or len(other) != 1:
        return None
    (o_ld,), (x_ld,) = own, other
    i, j = (e.name for e in st.index)
    if len(o_ld.index) != 2 or len(x_ld.index) != 2 or not isinstance(o_ld.index[0], d.Var):
        return None
    k = o_ld.index[0].name
    if o_ld.index[1] != d.Var(j) or x_ld.index != (d.Var(k), d.Var(i)) or len({i, j, k}) != 3:
        return None
    return (i, j, k), x_ld, tuple(f for f in factors if not isinstance(f, d.Load))


def _below(k: d.Loop, i: d.Loop) -> bool:
    """``for k in range(i + 1, e)``, ``e`` the bound of i: the rows after row i."""
    return k.step == 1 and len(k.lower) == 1 and len(k.upper) == 1 and k.upper == i.upper \
        and d.aff_linear(k.lower[0]) == ({i.var: 1}, 1)


def _elementwise(q: tuple, s: d.Store, path: tuple, st: d.Store) -> bool:
    """Whether ``s`` (in loops ``q``) is the row's last statement of its own element: inside
    the update's loop i (and its j, or a rectangular loop of its own), it writes O at
    ``[i, j']`` and reads only O there, scalars and constants."""
    if s.array != st.array or len(q) != 2 or q[0] is not path[0]:
        return False
    if q[1] is path[1] and q[1].var != st.index[1].name:
        return False  # inside the update's k loop (i-k-j): it would change the row mid-update
    if q[1] is not path[1] and not (_rectangular(q[1], {lp.var: lp for lp in q}) and q[1].var not in
                                    {lp.var for lp in path}):
        return False
    if s.index != (d.Var(q[0].var), d.Var(q[1].var)):
        return False
    return all(not isinstance(e, (d.Local, d.Index)) and not (isinstance(e, d.Load) and
                                                              (e.array != s.array or e.index != s.index))
               for e in d.walk_expr(s.value))


# ---------------------------------------------------------------- the rewrite into nests


def trmm_nests(tri: Trmm, sizes: dict, block: int) -> Nests | None:
    """``tri`` rewritten into the head, strip, block and scaling nests at ``sizes`` with blocks
    of ``block`` rows (see the module docstring); None when a loop name it makes is taken."""
    m, n = tri.trips(sizes)
    nb, rest = m // block, m % block
    i, j, k = tri.i, tri.j, tri.k
    body, gemms, tails = [], [], []
    if rest:
        body.append(_triangle(tri, (i + "_h", k + "_h", j + "_h"), d.Lit(0), rest, n))
        tails.append(j + "_h")
        if nb:
            si, sj, sk = i + "_s", j + "_s", k + "_s"
            below = d.aff_add(d.Var(sk), d.Lit(rest))
            body.append(_nest(((sk, 0, m - rest), (si, 0, rest), (sj, 0, n)),
                              (_update(tri, d.Var(si), d.Var(sj), below),)))
            gemms.append(_contraction(tri, (sk, si, sj), rest, n, m - rest))
    if nb:
        blk, kblk = i + ".blk", k + ".blk"
        r0 = d.aff_add(d.aff_mul(d.Var(blk), block), d.Lit(rest))
        parts = [_triangle(tri, (i + "_t", k + "_t", j + "_t"), r0, block, n)]
        tails.append(j + "_t")
        if nb >= 2:
            row = d.aff_add(r0, d.Var(i))
            below = d.aff_add(d.aff_add(d.aff_mul(d.Var(kblk), block), d.Lit(rest)), d.Var(k))
            parts.append(_nest(((kblk, d.aff_add(d.Var(blk), d.Lit(1)), nb), (k, 0, block), (i, 0, block),
                                (j, 0, n)), (_update(tri, row, d.Var(j), below),)))
            gemms.append(_contraction(tri, (blk, kblk, k, i, j), block, n, block, outer=(blk, kblk)))
        body.append(_nest(((blk, 0, nb),), tuple(parts)))
    if tri.final is not None:
        qi, qj = tri.final_loops
        inner = dataclasses.replace(qj, name=j + ".scale", body=(tri.final,))
        body.append(dataclasses.replace(qi, name=i + ".scale", body=(inner,)))
    new = tri.kernel.with_body(tuple(body))
    gemms = [dataclasses.replace(g, kernel=new) for g in gemms]
    loops = [lp.name for lp in new.loops()]
    made = {f.format(i=g.i, j=g.j, k=g.k) for g in gemms for f in MADE}
    if len(set(loops)) != len(loops) or made & set(loops):
        return None
    return Nests(new, tuple(gemms), None, block, tuple(tails))


def _update(tri: Trmm, row, col, below) -> d.Store:
    """``O[row, col] (+|-)= X[below, row] · (alpha · O[below, col])`` (the coefficient by the
    operand's read when it is one scalar, for its packing; else in front)."""
    o = tri.name(tri.c)
    xl, ol = d.Load(tri.name(tri.x), (below, row)), d.Load(o, (below, col))
    if tri.scale:
        prod = d.BinOp("*", xl, d.BinOp("*", tri.coeff[0], ol))
    else:
        prod = d.BinOp("*", _times(tri.coeff, xl), ol)
    where = (row, col)
    return d.Store(o, where, d.BinOp(tri.op, d.Load(o, where), prod))


def _triangle(tri: Trmm, names: tuple, base, size: int, n: int) -> d.Loop:
    """Rows ``base ≤ r < base + size``: each row's products with the rows after it in the
    same range, in place, as the source computes them (row by row, top to bottom, each
    element's sum in k's order), j inside k: a row writes only itself and reads only rows
    after it, which change in their own turn, later."""
    ti, tk, tj = names
    row, below = d.aff_add(base, d.Var(ti)), d.aff_add(base, d.Var(tk))
    upd = _update(tri, row, d.Var(tj), below)
    return _nest(((ti, 0, size), (tk, d.aff_add(d.Var(ti), d.Lit(1)), size), (tj, 0, n)), (upd,))


def _contraction(tri: Trmm, order: tuple, m: int, n: int, kk: int, outer=()) -> Contraction:
    """The GEMM contraction of a rectangular nest of loops ``order`` (outer..., k, i, j): rows'
    operand X read transposed (``X[k, i]``), columns' operand the output array itself."""
    k, i, j = order[-3:]
    roles = tuple((x, "reduction" if x == k else "block" if x in outer else "N" if x == j else "M")
                  for x in order)
    return Contraction(i, j, k, order, tri.x, tri.c, tri.c, m, n, kk, outer, roles,
                       a_transposed=True, a_packable=True, scale=tri.scale)
