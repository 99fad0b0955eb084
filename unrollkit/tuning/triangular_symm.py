"""symm (issue 12): PolyBench's product with a symmetric matrix stored in its lower triangle,

    for i in range(M): for j in range(N):
        temp2 = 0
        for k in range(i):
            C[k, j] += alpha * B[i, j] * A[i, k]
            temp2 += B[k, j] * A[i, k]
        C[i, j] = beta * C[i, j] + alpha * B[i, j] * A[i, i] + alpha * temp2

recognised from its accesses and distributed, at the call's sizes, into three parts:

    first  for i, j: C[i, j] = beta · C[i, j] + alpha · B[i, j] · A[i, i]   (loops ``<i>.init``,
           ``<j>.init``: the final statement without its ``temp2`` term)
    lower  C += alpha · L · B   (``C[i, j] += alpha · A[i, k] · B[k, j]`` for k < i)
    upper  C += alpha · Lᵀ · B  (the scattered ``C[k, j] += alpha · B[i, j] · A[i, k]``, k < i,
           read by its output rows: ``C[r, j] += alpha · A[s, r] · B[s, j]`` for s > r)

each product `triangular_product`'s (triangles vectorised along the rows, GEMM nests for
the blocks; lower: loops i, j, k and their ``_h``, ``_s``, ``_t``, ``.blk`` kin; upper: the
same with ``_u``), so ``C = beta · C + alpha · (L + D + Lᵀ) · B`` (L: A's strict lower
triangle, D its diagonal; its upper triangle is not read).

Why the distribution is legal: no iteration before i touches row i of C (iteration i' adds
into rows k < i' only), so the final statement at iteration i reads C's input; only the later
iterations add into row i, after it. Every element of C therefore gets ``beta · C + alpha ·
B · A_ii``, the lower part's products and the upper part's, as in the distributed nests; the
sums are reassociated (and ``alpha · Σ`` distributed into ``Σ alpha ·``) as ``factor="auto"``
allows in reductions.

When the three products have the same coefficients and the scattered update adds
(PolyBench's symm), `triangular_symm_rows` runs instead: blocks of rows of the symmetric
matrix rebuilt from A's lower triangle into a stack buffer, one GEMM nest per block (no
triangles), while that buffer fits `ROWS_BUFFER`; the distribution above is the form for
other coefficients and larger M.

Speed of the distributed form (512, one core of a loaded 2-core znver4, CPU time):
0.74–0.91× numpy's full ``A @ B`` into a preallocated buffer; the GEMM nests alone run at
about numpy's speed, the four triangles of every block (a share b/M of the work each side)
take ~15% of the time.

Recognised: exactly this nest (any names, each product's loads in either order, scalar and
constant coefficients, the ``temp2`` accumulation's and its use's): one loop ``i`` over
``range(e)`` holding one loop ``j`` over ``range(e)`` holding a scalar set to 0, the loop
``k`` over ``range(i)`` with the scattered update (``+=`` or ``-=``) and the accumulation
(in either order), then ``C[i, j] = [s · C[i, j] +] [d · B[i, j] · A[i, i] +] t · temp2``
(the summands in any order); C, A and B three arrays, only C written. Anything else is None.
"""
from __future__ import annotations

import dataclasses

from unrollkit.frontend import descriptor as d
from unrollkit.tuning.contraction import _factors, _product, _rectangular, _trip, two_loads
from unrollkit.tuning.triangular import Nests, _summands
from unrollkit.tuning.triangular_product import Product, finish, product_nests
from unrollkit.tuning.triangular_symm_rows import ROWS_BUFFER, row_block, symmetric_nests


@dataclasses.dataclass(frozen=True)
class Symm:
    """A recognised symm (see the module docstring): loop names, argument positions of the
    output C, the triangle A and the operand B, each product's coefficients, the scattered
    update's operator, the final statement without its accumulator's term, trip counts."""
    i: str
    j: str
    k: str
    c: int
    a: int
    b: int
    lower: tuple           # coefficients of the accumulator's products (its use's and its own)
    upper: tuple           # coefficients of the scattered update
    op: str                # the scattered update's "+" or "-"
    first: d.Loop          # the loops i, j around the final statement without the accumulator
    plain: d.Loop | None   # the same without the diagonal's term too, when `symmetric_nests` applies
    m: object
    n: object
    kernel: d.Kernel = dataclasses.field(compare=False, repr=False)

    def trips(self, sizes: dict) -> tuple:
        """(M, N) at the call's sizes."""
        return tuple(x if isinstance(x, int) else sizes[x] if isinstance(x, str) else d.aff_eval(x, sizes)
                     for x in (self.m, self.n))

    def nests(self, sizes: dict, block: int) -> Nests | None:
        """The distributed nests at ``sizes`` with blocks of ``block`` rows (see the module
        docstring); None when a loop name they make is taken."""
        m, n = self.trips(sizes)
        if self.plain is not None and m * row_block(m, block) <= ROWS_BUFFER:
            return symmetric_nests(self, m, n, row_block(m, block))
        arrays = {pos: (pos, self.kernel.params[pos].name) for pos in (self.c, self.a, self.b)}
        o, x, y = arrays[self.c], arrays[self.a], arrays[self.b]
        body = [self.first]
        rows = []
        gemms = []
        names = (self.i, self.j, self.k)
        for product in (Product(o, x, y, self.lower, "+", False, names),
                        Product(o, x, y, self.upper, self.op, True, tuple(v + "_u" for v in names))):
            more, g, r = product_nests(product, m, n, block)
            body += more
            gemms += g
            rows += r
        return finish(self.kernel, body, gemms, rows, block)

    def blocking(self, block: int, lanes: int) -> str:
        """Why the blocks, in one line."""
        if self.plain is not None:
            return (f"equal coefficients: M in equal blocks of up to {4 * block} rows (4 × the register tile's "
                    f"{block} columns, or as many as a {ROWS_BUFFER}-element stack buffer holds at M columns) of the "
                    "symmetric matrix rebuilt from A's lower triangle, one GEMM nest each; beyond it: "
                    f"blocks of {block} rows, their own triangles of L and Lᵀ vectorised {lanes} wide")
        return (f"blocks of {block} rows (the register tile's columns): each block's own triangles of L and "
                f"Lᵀ (a share {block}/M of the work) vectorised {lanes} wide along its rows")

    def describe(self, block: int) -> str:
        """The distribution and blocking in one line."""
        if self.plain is not None:
            return (f"symmetric product (C = s·C + d·B·diag(A) + L·B + Lᵀ·B, L: A's strict lower triangle; "
                    f"{self.i}: rows, {self.k}: reduction, {self.j}: columns; d, L and Lᵀ's coefficients equal): "
                    "the scaling in one nest, then per block of rows the rows of "
                    "S = L + D + Lᵀ rebuilt from A's lower triangle into a buffer and one GEMM S·B (as the "
                    "distributed form when the buffer would not fit the stack)")
        return (f"symmetric product (C = s·C + d·B·diag(A) + L·B + Lᵀ·B, L: A's strict lower triangle; "
                f"{self.i}: rows, {self.k} < {self.i}: reduction, {self.j}: columns) distributed: the scaling "
                f"and diagonal in one nest, L·B and Lᵀ·B in blocks of {block} rows, their own triangles "
                f"vectorised, the blocks beside them as GEMM nests")


def recognise_symm(kernel: d.Kernel) -> Symm | None:
    """The symm of ``kernel`` (see the module docstring), or None."""
    loops = _nest_of(kernel)
    if loops is None:
        return None
    li, lj, (init, lk, final) = loops
    i, j, k = li.var, lj.var, lk.var
    if not isinstance(init, d.Let) or init.value != d.Const(0.0) or not isinstance(init.value.value, float) \
            or not isinstance(lk, d.Loop) \
            or not isinstance(final, d.Store) or len(lk.body) != 2 or len({i, j, k}) != 3:
        return None
    if not (lk.step == 1 and lk.lower == (d.Lit(0),) and len(lk.upper) == 1
            and d.aff_linear(lk.upper[0]) == ({i: 1}, 0)):
        return None
    stores = [s for s in lk.body if isinstance(s, d.Store)]
    lets = [s for s in lk.body if isinstance(s, d.Let) and s.name == init.name]
    if len(stores) != 1 or len(lets) != 1 or stores[0].index != (d.Var(k), d.Var(j)):
        return None
    c = stores[0].array
    scattered = _product_of(_product(stores[0]), {("y", (i, j)), ("x", (i, k))})
    accumulated = _product_of(_accumulated(lets[0]), {("y", (k, j)), ("x", (i, k))})
    if scattered is None or accumulated is None or final.array != c or final.index != (d.Var(i), d.Var(j)):
        return None
    (xa, ya, up), (xb, yb, acc) = scattered, accumulated
    split = _final_terms(final, init.name, xa, ya, i, j)
    if (xa, ya) != (xb, yb) or len({c, xa, ya}) != 3 or kernel.written != {c} or split is None:
        return None
    use, rest, diagonal, scaling = split
    first, plain = (dataclasses.replace(li, name=li.name + ".init", body=(
        dataclasses.replace(lj, name=lj.name + ".init", body=(dataclasses.replace(final, value=v),)),))
        for v in (rest, scaling or d.Const(0.0)))
    same = diagonal is not None and stores[0].value.op == "+" \
        and len({tuple(sorted(map(repr, cs))) for cs in (use + acc, up, diagonal)}) == 1
    pos = {p.name: n for n, p in enumerate(kernel.params)}
    return Symm(li.name, lj.name, lk.name, pos[c], pos[xa], pos[ya], use + acc, up, stores[0].value.op,
                first, plain if same else None, _trip(li), _trip(lj), kernel)


def _nest_of(kernel: d.Kernel):
    """(loop i, loop j, the three statements of j's body) of a kernel that is one loop i over
    ``range(e)`` holding one loop j over ``range(e)``, or None."""
    if len(kernel.body) != 1 or not isinstance(kernel.body[0], d.Loop) or kernel.local_arrays:
        return None
    li = kernel.body[0]
    if len(li.body) != 1 or not isinstance(li.body[0], d.Loop):
        return None
    lj = li.body[0]
    if not (_rectangular(li, {}) and _rectangular(lj, {li.var: li})) or len(lj.body) != 3:
        return None
    return li, lj, lj.body


def _accumulated(let: d.Let):
    """The product of ``t = t + product`` (either order), or None."""
    v = let.value
    if not isinstance(v, d.BinOp) or v.op != "+":
        return None
    if v.lhs == d.Local(let.name):
        return v.rhs
    return v.lhs if v.rhs == d.Local(let.name) else None


def _product_of(prod, want: set):
    """(X's array, Y's array, coefficients) of a product of two loads ``Y[..]`` and ``X[..]``
    subscripted by the loop variables ``want`` says ({("x", (v, w)), ("y", (v, w))}) and
    scalars or constants; None otherwise."""
    got = two_loads(prod)
    if got is None:
        return None
    loads, factors = got
    subs = {role: tuple(d.Var(v) for v in vs) for role, vs in want}
    for x_ld, y_ld in (loads, loads[::-1]):
        if x_ld.index == subs["x"] and y_ld.index == subs["y"]:
            return x_ld.array, y_ld.array, tuple(f for f in factors if not isinstance(f, d.Load))
    return None


def _final_terms(final: d.Store, t: str, x: str, y: str, i: str, j: str):
    """(the accumulator term's coefficients, the final value without that term, the diagonal
    term's coefficients or None, the scaling term or None) of
    ``C[i, j] = [s · C[i, j] +] [d · Y[i, j] · X[i, i] +] c · t`` (any order), or None."""
    terms = _summands(final.value)
    use, rest, kinds, diagonal, scaling = None, [], set(), None, None
    for term in terms:
        factors = _factors(term)
        coeffs = tuple(f for f in factors if isinstance(f, (d.Scalar, d.Const)))
        others = [f for f in factors if not isinstance(f, (d.Scalar, d.Const))]
        if others == [d.Local(t)]:
            kind, use = "use", coeffs
        elif others == [d.Load(final.array, final.index)]:
            kind, scaling = "scale", term
        elif sorted(map(repr, others)) == sorted(map(repr, (d.Load(y, (d.Var(i), d.Var(j))),
                                                            d.Load(x, (d.Var(i), d.Var(i)))))):
            kind, diagonal = "diagonal", coeffs
        else:
            return None
        if kind in kinds:
            return None
        kinds.add(kind)
        if kind != "use":
            rest.append(term)
    if use is None or not rest:
        return None
    value = rest[0]
    for term in rest[1:]:
        value = d.BinOp("+", value, term)
    return use, value, diagonal, scaling
