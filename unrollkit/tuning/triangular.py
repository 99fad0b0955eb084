"""Triangular contractions (issue 12): syrk's rank-k update of a lower triangle,

    for i in range(N): for k in range(K): for j in range(i + 1):
        C[i, j] += alpha * A[i, k] * A[j, k]

(and syr2k's rank-2k update, ``A[j, k] * alpha * B[i, k] + B[j, k] * alpha * A[i, k]``)
recognised from its accesses and rewritten, at the call's sizes, into nests whose big parts
have constant, rectangular loops, so that the GEMM schedule (`gemm_schedule`) runs them.

Recognised: the kernel's last statement is ``O[i, j] (+|-)= p1 + p2 + ...``, each product
``c · X[i, k] · Y[j, k]`` (the two loads in either order, ``c`` a product of scalar parameters
and constants, X and Y the same array or not, never O), only ``O`` written; its loops are
exactly ``i`` and ``k`` rectangular (``range(e)``,
``e`` affine in the sizes) and ``j`` over ``range(i + 1)``, in any order that lets ``j``'s
bound see ``i``; earlier statements may initialise or scale ``O`` (``C[i, j] *= beta``) as
`contraction` allows for GEMM (they are moved into a nest of their own, loops ``<name>.init``).

The rewrite at block size ``B`` (the register tile's columns), ``NB = N // B`` full blocks of
rows and columns, ``R = N - NB·B`` rows left over (all sizes constants), shown for one product
``X · Xᵀ`` (each further product gets GEMM nests of its own, loops ``<name>_1``, ..., and an
accumulator of its own in the corner's dots; the diagonal blocks share the buffer):

    off    for jb < NB - 1, k < K, ib in (jb, NB), i < B, j < B:        (loops j.blk, k, i.blk, i, j)
               C[ib·B + i, jb·B + j] += X[ib·B + i, k] · (alpha · X[jb·B + j, k])
           every block strictly below the diagonal: a GEMM of constant B × B × K tiles; the
           column panel X[jb·B.., kc..] is packed once per (jb, kc) and serves every row
           block below it (`Contraction.inner`: the row blocks sit inside the K blocks)
    diag   for D < NB: zero the buffer T (a B × B local array); for k, i < B, j < B:
               T[i, j] += X[D·B + i, k] · (alpha · X[D·B + j, k])       (loops i.diag, k_t, i_t, j_t)
           then C[D·B + i, D·B + j] += T[i, j] for j ≤ i: the diagonal blocks as whole B × B
           products, a GEMM nest at the GEMM's speed (the upper half, a share B/N of the
           work, computed and dropped), their lower triangles added into C
    strip  (R > 0) for k < K, i < R, j < NB·B:  C[NB·B + i, j] += ...   a GEMM (loops *_s)
    corner (R > 0) for NB·B ≤ j ≤ i < N:  acc = Σ_k X[i, k] · X[j, k];  C[i, j] += alpha · acc
           one dot product per element, vectorised with vector accumulators (loops *_d;
           below one block, N < B, this is the whole triangle)

Together they cover each element ``j ≤ i`` once, with the products of the source (the sum
over k reassociated, alpha applied per product by B's packing or once per dot: the
reassociations ``factor="auto"`` allows in reductions). Measured on a loaded 2-core znver4
(CPU time per call, f32/f64 at 512 and f32 at 1024): 1.13–1.19× numpy's bare ``A @ A.T``
(which numpy hands to BLAS's syrk), 81–86% of the speed of this schedule's own GEMM.

The other triangular forms of PolyBench's blas are their own modules: trmm (``B[i, j] +=
A[k, i] · B[k, j]`` for ``k in range(i + 1, M)``, the output also the operand, updated in
place) is `triangular_trmm`'s, symm (the scattered ``C[k, j] += ...`` beside a carried
``temp2``) `triangular_symm`'s, both through `triangular_product`'s blocked product with a
triangular operand.
"""
from __future__ import annotations

import dataclasses

from unrollkit.frontend import descriptor as d
from unrollkit.tuning.contraction import (MADE, Contraction, _factors, _initialises, _product,
                                          _rectangular, _split, _statements, _trip)


@dataclasses.dataclass(frozen=True)
class Term:
    """One product of the update: ``coeff · X[i, k] · Y[j, k]`` (argument positions of the rows'
    operand X and the columns' operand Y: the same array for syrk)."""
    row: int
    col: int
    coeff: tuple           # the product's scalar and constant factors

    @property
    def scale(self) -> str | None:
        """The one scalar parameter multiplying the product (folded into the packing), or None."""
        c = self.coeff
        return c[0].name if len(c) == 1 and isinstance(c[0], d.Scalar) else None


@dataclasses.dataclass(frozen=True)
class Triangular:
    """A recognised triangular rank-k update (see the module docstring): loop names, the
    products, argument positions, trip counts and the statements that run before it."""
    i: str                 # O's rows (rectangular)
    j: str                 # O's columns, j ≤ i
    k: str                 # the reduction
    terms: tuple           # of Term: syrk one, syr2k two
    c: int                 # argument position of the output
    n: object              # trip counts of i and k: size names, constants or Aff
    kk: object
    op: str                # "+" or "-": the update
    before: tuple          # the initialisation, in nests of its own (loops renamed <name>.init)
    kernel: d.Kernel = dataclasses.field(compare=False, repr=False)

    def trips(self, sizes: dict) -> tuple:
        """(N, K) at the call's sizes."""
        return tuple(x if isinstance(x, int) else sizes[x] if isinstance(x, str) else d.aff_eval(x, sizes)
                     for x in (self.n, self.kk))

    def name(self, pos: int) -> str:
        """The parameter name at argument position ``pos``."""
        return self.kernel.params[pos].name


def recognise_triangular(kernel: d.Kernel) -> Triangular | None:
    """The triangular rank-k update of ``kernel`` (see the module docstring), or None."""
    stmts = list(_statements(kernel.body, ()))
    if not stmts or not all(isinstance(s, d.Store) for _, s in stmts):
        return None
    path, st = stmts[-1]
    products = _products(st)
    if products is None or len(path) != 3 or kernel.written != {st.array} \
            or any(ld.array == st.array for loads, _ in products for ld in loads):
        return None
    loops = {lp.var: lp for lp in path}
    found = {_roles(st, *loads, loops) for loads, _ in products}
    if len(found) != 1 or None in found or len({lp.name for lp in path}) != 3:
        return None
    i, j, k = found.pop()
    if not (_rectangular(loops[i], loops) and _rectangular(loops[k], loops) and _lower_triangle(loops[j], i)):
        return None
    if not all(_initialises(q, s, path, st) for q, s in stmts[:-1]):
        return None
    split = _split(kernel, path, st, st)
    if split is None:
        return None
    pos = {p.name: n for n, p in enumerate(kernel.params)}
    terms = []
    for (a, b), coeff in products:
        row, col = (a, b) if a.index[0] == d.Var(i) else (b, a)
        terms.append(Term(pos[row.array], pos[col.array], coeff))
    return Triangular(loops[i].name, loops[j].name, loops[k].name, tuple(terms), pos[st.array],
                      _trip(loops[i]), _trip(loops[k]), st.value.op, split.body[:-1], kernel)


def _products(st: d.Store) -> list | None:
    """``[((load, load), coefficients), ...]``: the summands of ``O[..] (+|-)= p1 + p2 + ...``,
    each a product of two loads and scalars or constants; None for any other statement."""
    prod = _product(st)
    if prod is None:
        return None
    out = []
    for term in _summands(prod):
        factors = _factors(term)
        loads = tuple(f for f in factors if isinstance(f, d.Load))
        if len(loads) != 2 or not all(isinstance(f, (d.Load, d.Scalar, d.Const)) for f in factors):
            return None
        out.append((loads, tuple(f for f in factors if not isinstance(f, d.Load))))
    return out


def _summands(e) -> list:
    if isinstance(e, d.BinOp) and e.op == "+":
        return _summands(e.lhs) + _summands(e.rhs)
    return [e]


def _roles(st: d.Store, x_ld: d.Load, y_ld: d.Load, loops: dict) -> tuple | None:
    """(i, j, k) loop variables of ``O[i, j] ... X[i, k] · Y[j, k]`` (the loads in either
    order), or None when the subscripts are not exactly these."""
    if len(st.index) != 2 or len(x_ld.index) != 2 or len(y_ld.index) != 2:
        return None
    if not all(isinstance(e, d.Var) and e.name in loops for e in st.index + x_ld.index + y_ld.index):
        return None
    (i, j), k = (e.name for e in st.index), x_ld.index[1].name
    if len({i, j, k}) != 3 or y_ld.index[1].name != k \
            or {x_ld.index[0].name, y_ld.index[0].name} != {i, j}:
        return None
    return i, j, k


def _lower_triangle(lp: d.Loop, i: str) -> bool:
    """``for j in range(i + 1)``: step 1 from 0 to the row's own index."""
    return lp.step == 1 and lp.lower == (d.Lit(0),) and len(lp.upper) == 1 \
        and d.aff_linear(lp.upper[0]) == ({i: 1}, 1)


# ---------------------------------------------------------------- the rewrite into nests


@dataclasses.dataclass(frozen=True)
class Nests:
    """`block_nests`: the rewritten kernel, the GEMM contractions of its rectangular nests
    (per product: below the diagonal, the diagonal blocks, the strip; absent when empty) and
    the corner's dot loop name."""
    kernel: d.Kernel
    gemms: tuple           # of Contraction
    dot: str | None        # the corner's k loop (vectorised); None: no corner
    block: int
    rows: tuple = ()       # column loops of triangles vectorised along the rows (trmm's, symm's)


def block_nests(tri: Triangular, sizes: dict, block: int) -> Nests | None:
    """``tri`` rewritten into the off-diagonal, diagonal-block, strip and corner nests at
    ``sizes`` with blocks of ``block`` rows and columns (see the module docstring), one set of
    GEMM nests per product; None when a loop name it makes is taken."""
    n, kk = tri.trips(sizes)
    nb, rest = n // block, n % block
    names = [(tri.i, tri.j, tri.k)] + [(f"{tri.i}_{t}", f"{tri.j}_{t}", f"{tri.k}_{t}")
                                       for t in range(1, len(tri.terms))]
    body, gemms, local = list(tri.before), [], ()
    if nb >= 2:
        for term, (i, j, k) in zip(tri.terms, names):
            jb, ib = j + ".blk", i + ".blk"
            body.append(_nest(((jb, 0, nb - 1), (k, 0, kk), (ib, d.aff_add(d.Var(jb), d.Lit(1)), nb),
                               (i, 0, block), (j, 0, block)),
                              (_update(tri, term, _at(ib, i, block), _at(jb, j, block), d.Var(k)),)))
            gemms.append(_contraction(tri, term, (jb, k, ib, i, j), block, block, kk, outer=(jb,), inner=(ib,)))
    if nb >= 1:
        buf = _block_buffer(tri, block)
        local = (buf,)
        body.append(_diagonal_blocks(tri, names, buf.name, block, nb, kk))
        for term, (i, j, k) in zip(tri.terms, names):
            order = (tri.i + ".diag", k + "_t", i + "_t", j + "_t")
            gemms.append(dataclasses.replace(_contraction(tri, term, order, block, block, kk, outer=order[:1]),
                                             c=None))
    if nb >= 1 and rest:
        for term, (i, j, k) in zip(tri.terms, names):
            si, sj, sk = i + "_s", j + "_s", k + "_s"
            row = d.aff_add(d.Var(si), d.Lit(nb * block))
            body.append(_nest(((sk, 0, kk), (si, 0, rest), (sj, 0, nb * block)),
                              (_update(tri, term, row, d.Var(sj), d.Var(sk)),)))
            gemms.append(_contraction(tri, term, (sk, si, sj), rest, nb * block, kk))
    dk = tri.k + "_d" if rest or not nb else None
    if dk:
        body.append(_corner(tri, (tri.i + "_d", tri.j + "_d", dk), nb * block, n, kk))
    new = dataclasses.replace(tri.kernel.with_body(tuple(body)), local_arrays=local)
    gemms = [dataclasses.replace(g, kernel=new) for g in gemms]
    loops = [lp.name for lp in new.loops()]
    made = {f.format(i=g.i, j=g.j, k=g.k) for g in gemms for f in MADE}
    if len(set(loops)) != len(loops) or made & set(loops):
        return None
    return Nests(new, tuple(gemms), dk, block)


def _at(blk: str, var: str, block: int):
    """``blk·B + var``."""
    return d.aff_add(d.aff_mul(d.Var(blk), block), d.Var(var))


def _nest(loops: tuple, body: tuple) -> d.Loop:
    """Loops ``(name, lower, upper)`` (bounds affine, or ints), outermost first, around
    ``body`` (each loop's variable is its name)."""
    for name, lo, hi in reversed(loops):
        lo, hi = (d.Lit(x) if isinstance(x, int) else x for x in (lo, hi))
        body = (d.Loop(name, (lo,), (hi,), 1, body, name),)
    return body[0]


def _update(tri: Triangular, term: Term, row, col, kv, out=None) -> d.Store:
    """``O[row, col] (+|-)= X[row, k] · (alpha · Y[col, k])`` (the coefficients by the columns'
    read when there is one scalar, for B's packing; else in the source's place); ``out``:
    ``(array, index)`` accumulating ``+=`` instead (the diagonal block's buffer)."""
    o, where, op = out + ("+",) if out else (tri.name(tri.c), (row, col), tri.op)
    xr, xc = d.Load(tri.name(term.row), (row, kv)), d.Load(tri.name(term.col), (col, kv))
    if term.scale:
        prod = d.BinOp("*", xr, d.BinOp("*", term.coeff[0], xc))
    else:
        prod = d.BinOp("*", _times(term.coeff, xr), xc)
    return d.Store(o, where, d.BinOp(op, d.Load(o, where), prod))


def _block_buffer(tri: Triangular, block: int) -> d.LocalArray:
    """A B × B array of the output's type for the diagonal blocks' products (a name no
    parameter has)."""
    out = tri.kernel.params[tri.c]
    taken = {p.name for p in tri.kernel.params}
    name = next(f"diag{n}" for n in range(len(taken) + 1) if f"diag{n}" not in taken)
    return d.LocalArray(name, out.elem, (d.Lit(block), d.Lit(block)),
                        like=out.name if out.elem.is_generic else None)


def _diagonal_blocks(tri: Triangular, names: list, buf: str, block: int, nb: int, kk: int) -> d.Loop:
    """For each diagonal block: the buffer zeroed, the block's whole B × B products into it
    (a GEMM nest per product, loops ``*_t``: twice the triangle's work at the GEMM's speed),
    then its lower triangle added into the output."""
    i, j, o = tri.i, tri.j, tri.name(tri.c)
    blk, zi, zj, ci, cj = i + ".diag", i + ".zero", j + ".zero", i + ".copy", j + ".copy"
    zero = _nest(((zi, 0, block), (zj, 0, block)), (d.Store(buf, (d.Var(zi), d.Var(zj)), d.Const(0.0)),))
    products = []
    for term, (pi, pj, pk) in zip(tri.terms, names):
        ti, tj, tk = pi + "_t", pj + "_t", pk + "_t"
        products.append(_nest(((tk, 0, kk), (ti, 0, block), (tj, 0, block)),
                              (_update(tri, term, _at(blk, ti, block), _at(blk, tj, block), d.Var(tk),
                                       (buf, (d.Var(ti), d.Var(tj)))),)))
    where = (_at(blk, ci, block), _at(blk, cj, block))
    add = d.Store(o, where, d.BinOp(tri.op, d.Load(o, where), d.Load(buf, (d.Var(ci), d.Var(cj)))))
    copy = _nest(((ci, 0, block), (cj, 0, d.aff_add(d.Var(ci), d.Lit(1)))), (add,))
    return _nest(((blk, 0, nb),), (zero, *products, copy))


def _times(coeff: tuple, e):
    """``c1 · c2 · ... · e``."""
    for c in reversed(coeff):
        e = d.BinOp("*", c, e)
    return e


def _corner(tri: Triangular, names: tuple, start: int, n: int, kk: int) -> d.Loop:
    """The corner ``start ≤ j ≤ i < n`` (the rows after the last full block): one dot
    product along k per element and product."""
    di, dj, dk = names
    o = tri.name(tri.c)
    taken = {p.name for p in tri.kernel.params}
    accs = [f"acc{n}" for n in range(len(taken) + len(tri.terms)) if f"acc{n}" not in taken][:len(tri.terms)]
    dots = tuple(d.Let(acc, d.BinOp("+", d.Local(acc), d.BinOp("*", d.Load(tri.name(t.row), (d.Var(di), d.Var(dk))),
                                                                d.Load(tri.name(t.col), (d.Var(dj), d.Var(dk))))))
                 for acc, t in zip(accs, tri.terms))
    total = None
    for acc, t in zip(accs, tri.terms):
        part = _times(t.coeff, d.Local(acc))
        total = part if total is None else d.BinOp("+", total, part)
    where = (d.Var(di), d.Var(dj))
    store = d.Store(o, where, d.BinOp(tri.op, d.Load(o, where), total))
    zeros = tuple(d.Let(acc, d.Const(0.0)) for acc in accs)
    inner = zeros + (_nest(((dk, 0, kk),), dots), store)
    return _nest(((di, start, n), (dj, start, d.aff_add(d.Var(di), d.Lit(1)))), inner)


def _contraction(tri: Triangular, term: Term, order: tuple, m: int, n: int, kk: int, outer=(),
                 inner=()) -> Contraction:
    """The GEMM contraction of product ``term`` in a rectangular nest of loops ``order``
    (.., k, .., i, j last)."""
    k, i, j = order[-3 - len(inner)], order[-2], order[-1]
    roles = tuple((x, "reduction" if x == k else "block" if x in outer + inner else "N" if x == j else "M")
                  for x in order)
    return Contraction(i, j, k, order, term.row, term.col, tri.c, m, n, kk, outer, roles,
                       b_transposed=True, split=bool(tri.before), scale=term.scale, inner=inner)
