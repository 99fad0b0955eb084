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

The rewrite at block size ``b`` (the register tile's columns) is `triangular_product`'s
product below (``O = O + c · Lᵀ · O``, in place: ``NB = M // b`` blocks of rows under the
``R = M % b`` rows left over on top, top to bottom, a block reading only rows below it, which
still hold the input: each block's own triangle in place as the source computes it, the rows
below it as GEMM nests whose panel of O is packed with ``pack{along=k}``, proved by isl never
to touch the rows the nest writes), then the final statement over all rows (loops
``<i>.scale``, ``<j>.scale``: no row is read after it is scaled, in the source or here).
The legality of every reorder inside the nests is the passes' own (exact dependences on
isl); the transformed IR's bounds proof runs as for any kernel. Measured at 512 on a loaded
2-core znver4 (CPU time): 1.5–1.8× numpy's full ``A.T @ B`` (twice the products) in f32 and
f64; cold compile 0.25 s (f32), 0.6 s (f64).
"""
from __future__ import annotations

import dataclasses

from unrollkit.frontend import descriptor as d
from unrollkit.tuning.contraction import _factors, _product, _rectangular, _statements, _trip
from unrollkit.tuning.triangular import Nests
from unrollkit.tuning.triangular_product import Product, finish, product_nests


@dataclasses.dataclass(frozen=True)
class Trmm:
    """A recognised trmm (see the module docstring): loop names, argument positions of the
    triangle X and the output O, the product's coefficients, trip counts and the final
    elementwise statement (and its two loops)."""
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

    def nests(self, sizes: dict, block: int) -> Nests | None:
        """The rewrite at ``sizes`` (`trmm_nests`)."""
        return trmm_nests(self, sizes, block)

    def blocking(self, block: int, lanes: int) -> str:
        """Why the blocks, in one line."""
        return (f"blocks of {block} rows (the register tile's columns): each block's own triangle in place "
                f"(a share {block}/M of the work), vectorised {lanes} wide along its rows")

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
    out = (tri.c, tri.name(tri.c))
    product = Product(out, (tri.x, tri.name(tri.x)), out, tri.coeff, tri.op, True, (tri.i, tri.j, tri.k))
    body, gemms, rows = product_nests(product, m, n, block)
    if tri.final is not None:
        qi, qj = tri.final_loops
        inner = dataclasses.replace(qj, name=tri.j + ".scale", body=(tri.final,))
        body.append(dataclasses.replace(qi, name=tri.i + ".scale", body=(inner,)))
    return finish(tri.kernel, body, gemms, rows, block)
