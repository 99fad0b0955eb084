"""Triangular contractions (issue 12): syrk's rank-k update of a lower triangle,

    for i in range(N): for k in range(K): for j in range(i + 1):
        C[i, j] += alpha * A[i, k] * A[j, k]

recognised from its accesses and rewritten, at the call's sizes, into nests whose big parts
have constant, rectangular loops, so that the GEMM schedule (`gemm_schedule`) runs them.

Recognised: the kernel's last statement is ``O[i, j] (+|-)= c · X[i, k] · X[j, k]`` (the two
loads in either order, ``c`` a product of scalar parameters and constants), one array read
twice, only ``O`` written; its loops are exactly ``i`` and ``k`` rectangular (``range(e)``,
``e`` affine in the sizes) and ``j`` over ``range(i + 1)``, in any order that lets ``j``'s
bound see ``i``; earlier statements may initialise or scale ``O`` (``C[i, j] *= beta``) as
`contraction` allows for GEMM (they are moved into a nest of their own, loops ``<name>.init``).

The rewrite at block size ``B`` (the register tile's columns), ``NB = N // B`` full blocks of
rows and columns, ``R = N - NB·B`` rows left over (``⌊·⌋`` by constants, all sizes constants):

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
"""
from __future__ import annotations

import dataclasses

from unrollkit.frontend import descriptor as d
from unrollkit.tuning.contraction import (MADE, Contraction, _factors, _initialises, _product,
                                          _product_loads, _rectangular, _split, _statements, _trip)


@dataclasses.dataclass(frozen=True)
class Triangular:
    """A recognised triangular rank-k update (see the module docstring): loop names, argument
    positions, trip counts, the product's coefficients and the statements that run before it."""
    i: str                 # O's rows (rectangular)
    j: str                 # O's columns, j ≤ i
    k: str                 # the reduction
    x: int                 # argument position of the operand read twice
    c: int                 # argument position of the output
    n: object              # trip counts of i and k: size names, constants or Aff
    kk: object
    op: str                # "+" or "-": the update
    coeff: tuple           # the product's scalar and constant factors
    before: tuple          # the initialisation, in nests of its own (loops renamed <name>.init)
    kernel: d.Kernel = dataclasses.field(compare=False, repr=False)

    @property
    def scale(self) -> str | None:
        """The one scalar parameter multiplying the product (folded into the packing), or None."""
        c = self.coeff
        return c[0].name if len(c) == 1 and isinstance(c[0], d.Scalar) else None

    def trips(self, sizes: dict) -> tuple:
        """(N, K) at the call's sizes."""
        return tuple(x if isinstance(x, int) else sizes[x] if isinstance(x, str) else d.aff_eval(x, sizes)
                     for x in (self.n, self.kk))


def recognise_triangular(kernel: d.Kernel) -> Triangular | None:
    """The triangular rank-k update of ``kernel`` (see the module docstring), or None."""
    stmts = list(_statements(kernel.body, ()))
    if not stmts or not all(isinstance(s, d.Store) for _, s in stmts):
        return None
    path, st = stmts[-1]
    loads = _product_loads(st)
    if loads is None or len(path) != 3 or kernel.written != {st.array}:
        return None
    x_ld, y_ld = loads
    if x_ld.array != y_ld.array or x_ld.array == st.array:
        return None
    loops = {lp.var: lp for lp in path}
    names = _roles(st, x_ld, y_ld, loops)
    if names is None or len({lp.name for lp in path}) != 3:
        return None
    i, j, k = names
    if not (_rectangular(loops[i], loops) and _rectangular(loops[k], loops) and _lower_triangle(loops[j], i)):
        return None
    if not all(_initialises(q, s, path, st) for q, s in stmts[:-1]):
        return None
    split = _split(kernel, path, st, st)
    if split is None:
        return None
    pos = {p.name: n for n, p in enumerate(kernel.params)}
    coeff = tuple(f for f in _factors(_product(st)) if not isinstance(f, d.Load))
    return Triangular(loops[i].name, loops[j].name, loops[k].name, pos[x_ld.array], pos[st.array],
                      _trip(loops[i]), _trip(loops[k]), st.value.op, coeff, split.body[:-1], kernel)


def _roles(st: d.Store, x_ld: d.Load, y_ld: d.Load, loops: dict) -> tuple | None:
    """(i, j, k) loop variables of ``O[i, j] ... X[i, k] · X[j, k]`` (the loads in either
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
    (``off``, then ``strip``; absent when empty) and the diagonal's dot loop name."""
    kernel: d.Kernel
    gemms: tuple           # of Contraction
    dot: str | None        # the corner's k loop (vectorised); None: no corner
    block: int


def block_nests(tri: Triangular, sizes: dict, block: int) -> Nests | None:
    """``tri`` rewritten into the off-diagonal, strip and diagonal nests at ``sizes`` with
    blocks of ``block`` rows and columns (see the module docstring); None when a loop name it
    makes is taken."""
    n, kk = tri.trips(sizes)
    nb, rest = n // block, n % block
    x = tri.kernel.params[tri.x].name
    i, j, k = tri.i, tri.j, tri.k
    body, gemms = list(tri.before), []
    if nb >= 2:
        jb, ib = j + ".blk", i + ".blk"
        row, col = _at(ib, i, block), _at(jb, j, block)
        nest = _nest(((jb, d.Lit(0), d.Lit(nb - 1)), (k, d.Lit(0), d.Lit(kk)),
                      (ib, d.aff_add(d.Var(jb), d.Lit(1)), d.Lit(nb)), (i, d.Lit(0), d.Lit(block)),
                      (j, d.Lit(0), d.Lit(block))), (_update(tri, x, row, col, d.Var(k)),))
        body.append(nest)
        gemms.append(_contraction(tri, (jb, k, ib, i, j), block, block, kk, outer=(jb,), inner=(ib,)))
    local = ()
    if nb >= 1:
        buf = _block_buffer(tri, block)
        local = (buf,)
        body.append(_diagonal_blocks(tri, x, buf.name, block, nb, kk))
        ti, tj, tk = i + "_t", j + "_t", k + "_t"
        gemms.append(dataclasses.replace(_contraction(tri, (i + ".diag", tk, ti, tj), block, block, kk,
                                                      outer=(i + ".diag",)), c=None))
    if nb >= 1 and rest:
        si, sj, sk = i + "_s", j + "_s", k + "_s"
        row = d.aff_add(d.Var(si), d.Lit(nb * block))
        body.append(_nest(((sk, d.Lit(0), d.Lit(kk)), (si, d.Lit(0), d.Lit(rest)), (sj, d.Lit(0), d.Lit(nb * block))),
                          (_update(tri, x, row, d.Var(sj), d.Var(sk)),)))
        gemms.append(_contraction(tri, (sk, si, sj), rest, nb * block, kk))
    dk = k + "_d" if rest or not nb else None
    if dk:
        body.append(_diagonal(tri, x, (i + "_d", j + "_d", dk), nb * block, n, kk))
    new = dataclasses.replace(tri.kernel.with_body(tuple(body)), local_arrays=local)
    gemms = [dataclasses.replace(g, kernel=new) for g in gemms]
    names = [lp.name for lp in new.loops()]
    made = {f.format(i=g.i, j=g.j, k=g.k) for g in gemms for f in MADE}
    if len(set(names)) != len(names) or made & set(names):
        return None
    return Nests(new, tuple(gemms), dk, block)


def _at(blk: str, var: str, block: int):
    """``blk·B + var``."""
    return d.aff_add(d.aff_mul(d.Var(blk), block), d.Var(var))


def _nest(loops: tuple, body: tuple) -> d.Loop:
    """Loops ``(name, lower, upper)``, outermost first, around ``body`` (each loop's variable
    is its name)."""
    for name, lo, hi in reversed(loops):
        body = (d.Loop(name, (lo,), (hi,), 1, body, name),)
    return body[0]


def _update(tri: Triangular, x: str, row, col, kv, out=None) -> d.Store:
    """``O[row, col] (+|-)= X[row, k] · (alpha · X[col, k])`` (the coefficients by the columns'
    read when there is one scalar, for B's packing; else in the source's place); ``out``:
    ``(array, index)`` accumulating ``+=`` instead (the diagonal block's buffer)."""
    o, where, op = out + ("+",) if out else (tri.kernel.params[tri.c].name, (row, col), tri.op)
    xr, xc = d.Load(x, (row, kv)), d.Load(x, (col, kv))
    if tri.scale:
        prod = d.BinOp("*", xr, d.BinOp("*", tri.coeff[0], xc))
    else:
        prod = d.BinOp("*", _times(tri.coeff, xr), xc)
    return d.Store(o, where, d.BinOp(op, d.Load(o, where), prod))


def _block_buffer(tri: Triangular, block: int) -> d.LocalArray:
    """A B × B array of the output's type for the diagonal blocks' products (a name no
    parameter has)."""
    out = tri.kernel.params[tri.c]
    taken = {p.name for p in tri.kernel.params}
    name = next(f"diag{n}" for n in range(len(taken) + 1) if f"diag{n}" not in taken)
    return d.LocalArray(name, out.elem, (d.Lit(block), d.Lit(block)),
                        like=out.name if out.elem.is_generic else None)


def _diagonal_blocks(tri: Triangular, x: str, buf: str, block: int, nb: int, kk: int) -> d.Loop:
    """For each diagonal block: the buffer zeroed, the block's whole B × B product into it (a
    GEMM nest, loops ``*_t``: twice the triangle's work at the GEMM's speed), then its lower
    triangle added into the output."""
    i, j, k, o = tri.i, tri.j, tri.k, tri.kernel.params[tri.c].name
    blk, ti, tj, tk, zi, zj = i + ".diag", i + "_t", j + "_t", k + "_t", i + ".zero", j + ".zero"
    zero = _nest(((zi, d.Lit(0), d.Lit(block)), (zj, d.Lit(0), d.Lit(block))),
                 (d.Store(buf, (d.Var(zi), d.Var(zj)), d.Const(0.0)),))
    t = (d.Var(ti), d.Var(tj))
    product = _nest(((tk, d.Lit(0), d.Lit(kk)), (ti, d.Lit(0), d.Lit(block)), (tj, d.Lit(0), d.Lit(block))),
                    (_update(tri, x, _at(blk, ti, block), _at(blk, tj, block), d.Var(tk), (buf, t)),))
    ci, cj = i + ".copy", j + ".copy"
    where = (_at(blk, ci, block), _at(blk, cj, block))
    add = d.Store(o, where, d.BinOp(tri.op, d.Load(o, where), d.Load(buf, (d.Var(ci), d.Var(cj)))))
    copy = d.Loop(ci, (d.Lit(0),), (d.Lit(block),), 1,
                  (d.Loop(cj, (d.Lit(0),), (d.aff_add(d.Var(ci), d.Lit(1)),), 1, (add,), cj),), ci)
    return d.Loop(blk, (d.Lit(0),), (d.Lit(nb),), 1, (zero, product, copy), blk)


def _times(coeff: tuple, e):
    """``c1 · c2 · ... · e``."""
    for c in reversed(coeff):
        e = d.BinOp("*", c, e)
    return e


def _diagonal(tri: Triangular, x: str, names: tuple, start: int, n: int, kk: int) -> d.Loop:
    """The corner ``start ≤ j ≤ i < n`` (the rows after the last full block): one dot
    product along k per element."""
    di, dj, dk = names
    o = tri.kernel.params[tri.c].name
    taken = {p.name for p in tri.kernel.params}
    acc = next(f"acc{n}" for n in range(len(taken) + 1) if f"acc{n}" not in taken)
    dot = d.Let(acc, d.BinOp("+", d.Local(acc), d.BinOp("*", d.Load(x, (d.Var(di), d.Var(dk))),
                                                        d.Load(x, (d.Var(dj), d.Var(dk))))))
    where = (d.Var(di), d.Var(dj))
    total = _times(tri.coeff, d.Local(acc))
    store = d.Store(o, where, d.BinOp(tri.op, d.Load(o, where), total))
    inner = (d.Let(acc, d.Const(0.0)), _nest(((dk, d.Lit(0), d.Lit(kk)),), (dot,)), store)
    return d.Loop(di, (d.Lit(start),), (d.Lit(n),), 1,
                  (d.Loop(dj, (d.Lit(start),), (d.aff_add(d.Var(di), d.Lit(1)),), 1, inner, dj),), di)


def _contraction(tri: Triangular, order: tuple, m: int, n: int, kk: int, outer=(), inner=()) -> Contraction:
    """The GEMM contraction of a rectangular nest of loops ``order`` (.., k, .., i, j last)."""
    k, i, j = order[-3 - len(inner)], order[-2], order[-1]
    roles = tuple((x, "reduction" if x == k else "block" if x in outer + inner else "N" if x == j else "M")
                  for x in order)
    return Contraction(i, j, k, order, tri.x, tri.x, tri.c, m, n, kk, outer, roles,
                       b_transposed=True, split=bool(tri.before), scale=tri.scale, inner=inner)
