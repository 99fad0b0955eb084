"""Contractions recognised from access functions, not from the shape of the source (issue 12).

A kernel is a *contraction* when its last statement is

    O[o(p)] += c · X[x(p)] · Y[y(p)]        (or ``O[...] = O[...] + ...``, or ``-=``)

with ``c`` a product of scalar parameters and constants (PolyBench's ``alpha``), every
subscript a loop variable of the statement's loops, or one plus a constant (each variable at
most once per access), three distinct arrays, only ``O`` written anywhere in the kernel, and
every loop ``0 ≤ v < e`` with step 1 and ``e`` affine in the sizes (``N``, ``N - 2``). Each loop gets a role from the accesses it appears in:

    in O, X and Y     batch       (``C[b, i, j] += A[b, i, k] * B[b, k, j]``)
    in O and X        M-like      (rows of the register tile: loop ``i``)
    in O and Y        N-like      (columns: loop ``j``, vectorised)
    in X and Y        reduction   (loop ``k``)
    in O only         output      (the same product broadcast: parallel like a batch)

A loop in none, or in one operand only, is a reduction of another shape: not recognised (a
direct convolution's ``I[n, ci, h + kh, w + kw]``, whose subscripts add two loops, is
`unrollkit.tuning.convolution`'s). The operand holding the loop that indexes O's last (unit-stride) dimension
is the column operand ``B``; the other is ``A`` (so ``C[j, i] += A[i, k] * B[k, j]`` swaps
their roles). ``B``'s last subscript must be that loop, the one reduction loop in any other
dimension (``B[k, j]``, or ``I[n, ci, h, w]`` of a 1×1 convolution: read in place or packed
as is), or the reduction last with the columns' loop just before it (``B[j, k]``: packed
transposed, `passes/pack.py`). Every other loop (batch, extra M- or N-like, output-only) is
parallel: it indexes O injectively, so it can go outside the schedule's loops in any order.
One of them may instead join the columns: an N-like ``h`` directly around ``j`` that indexes
the dimension before ``j``'s in both O and B, each loop covering its dimension whole, in a
kernel of this one statement (a 1×1 convolution's pixels ``O[n, co, h, w]``):
`passes/coalesce.py` makes ``h`` and ``j`` one loop over H·W columns (``fused``).

Statements before the contraction may initialise or scale O (``C[i, j] *= beta``, in their
own nest or as earlier statements of the contraction's loops) when each reads O only at the
element it writes, plus scalars and constants, and every loop it shares with the contraction
indexes the same dimension of O in both: then every such statement's work on an element comes
before the contraction's on it, in the source and after splitting them into a nest of their
own (their loops renamed ``<name>.init``) ahead of the contraction's perfect nest.
A single scalar coefficient is moved next to B (``alpha * A * B`` runs as ``A * (alpha * B)``,
a reassociation of the product like the ones ``factor="auto"`` allows in reductions), so
that B's packing multiplies each element once (`pack{scale=true}`) instead of the
micro-kernel once per use. Anything else returns None, and the kernel takes the path it took
before.
"""
from __future__ import annotations

import dataclasses
import math

from unrollkit.frontend import descriptor as d

#: loop names the schedule creates from the roles' names (`gemm_schedule`); a kernel using
#: one of them for another loop is not rescheduled (the pass pipeline would name two loops)
MADE = ("{j}c", "{k}c", "{i}r", "{j}r", "{i}.tile", "{j}.tile", "{k}.tile", "{j}.rem")


@dataclasses.dataclass(frozen=True)
class Contraction:
    """Where the parts of a contraction are: loop names (descriptor names, the IR's uk.name)."""
    i: str                 # M-like loop of the register tile's rows
    j: str                 # N-like loop of its columns (O's last subscript)
    k: str                 # the reduction loop
    order: tuple           # the contraction nest's loop names, outermost first, as written
    a: int                 # argument positions of A (rows' operand), B (columns'), C (output)
    b: int
    c: int
    m: object              # trip counts of i, j, k: size names (str), constants (int) or Aff
    n: object
    kk: object
    outer: tuple = ()      # parallel loops outside the schedule (batch, extra M/N, output-only)
    roles: tuple = ()      # ((loop name, role), ...) in nest order
    b_transposed: bool = False   # B's last two subscripts are (j, k)
    a_transposed: bool = False   # A's last two subscripts are (k, i)
    a_packable: bool = False     # A's last two subscripts are i and k (its sliver can be packed)
    kernel: d.Kernel | None = dataclasses.field(default=None, compare=False, repr=False)
    split: bool = False    # statements before the contraction were moved into a nest of their own
    scale: str | None = None  # the scalar parameter multiplying the product (folded into B's packing)
    fused: str | None = None  # an N-like loop walking the dimension before j's whole: coalesced with j
    fused_trip: object = None  # its trip count
    k_loops: tuple = ()    # more reduction loops, coalesced with k (outermost first: a convolution's ci, kh)
    k_trips: tuple = ()    # their trip counts
    gather: bool = False   # B's subscripts add reduction loops to column loops: packed by iterations
    inner: tuple = ()      # parallel loops between the K blocks and the register tile (syrk's row
                           # blocks below a column panel: `triangular`), in nest order

    def trips(self, sizes: dict) -> tuple:
        """(M, N, K) at the call's sizes (N and K of the loops coalesced into j and k together)."""
        m, n, k, f, *more = (x if isinstance(x, int) else sizes[x] if isinstance(x, str) else d.aff_eval(x, sizes)
                             for x in (self.m, self.n, self.kk, self.fused_trip or 1) + self.k_trips)
        return m, n * f, k * math.prod(more)

    def describe(self) -> str:
        """The contraction in one line: each loop's role, and whether B is packed transposed or the
        initialisation split into its own nest."""
        roles = ", ".join(f"{n}: {r}" for n, r in self.roles)
        extra = (" B transposed (packed transposed);" if self.b_transposed else "") + \
            (" initialisation split into its own nest;" if self.split else "") + \
            (f" {self.fused}×{self.j} coalesced into one column loop;" if self.fused else "") + \
            (f" {'×'.join(self.k_loops + (self.k,))} coalesced into one reduction loop;" if self.k_loops else "")
        return f"contraction ({roles});{extra}".rstrip(";")


def recognise(kernel: d.Kernel) -> Contraction | None:
    """The contraction of ``kernel`` (see the module docstring), or None if it is not one."""
    stmts = list(_statements(kernel.body, ()))
    if not stmts or not all(isinstance(s, d.Store) for _, s in stmts):
        return None
    path, st = stmts[-1]
    loads = _product_loads(st)
    if loads is None or not path:
        return None
    x_ld, y_ld = loads
    arrays = (st.array, x_ld.array, y_ld.array)
    if len(set(arrays)) != 3 or kernel.written != {st.array}:
        return None
    loops = {lp.var: lp for lp in path}
    if len(loops) != len(path) or len({lp.name for lp in path}) != len(path) \
            or not all(_rectangular(lp, loops) for lp in path):
        return None
    o, x, y = (_subscripts(acc.index, loops) for acc in (st, x_ld, y_ld))
    if o is None or x is None or y is None:
        return None
    roles = _roles(loops, o, x, y)
    if roles is None:
        return None
    j = o[-1]
    if roles[j] == "M":  # the operand with O's unit-stride loop is the columns' operand
        x_ld, y_ld, x, y = y_ld, x_ld, y, x
        roles = {v: {"M": "N", "N": "M"}.get(r, r) for v, r in roles.items()}
    if roles[j] != "N":
        return None
    reductions = [v for v in loops if roles[v] == "reduction"]
    if len(reductions) != 1 or len(y) < 2 or not _columns_last(y, j, reductions[0]):
        return None
    k = reductions[0]
    rows = [v for v in o if roles[v] == "M"]
    if not rows:
        return None
    i = rows[-1]  # the M-like loop nearest O's unit stride
    names = {v: loops[v].name for v in loops}
    made = {f.format(i=names[i], j=names[j], k=names[k]) for f in MADE}
    if made & set(kernel.loop_names()):
        return None
    prologue = [s for _, s in stmts[:-1]]
    if prologue and not all(_initialises(q, s, path, st) for q, s in stmts[:-1]):
        return None
    factors = [f for f in _factors(_product(st)) if not isinstance(f, d.Load)]
    scale = factors[0].name if len(factors) == 1 and isinstance(factors[0], d.Scalar) else None
    if scale is not None:  # ``alpha * A * B`` → ``A * (alpha * B)``: alpha goes into B's packing
        prod = d.BinOp("*", x_ld, d.BinOp("*", factors[0], y_ld))
        st2 = dataclasses.replace(st, value=d.BinOp(st.value.op, d.Load(st.array, st.index), prod))
    else:
        st2 = st
    new = _split(kernel, path, st, st2) if prologue or scale else kernel
    if new is None:
        return None
    pos = {p.name: n for n, p in enumerate(kernel.params)}
    fused = None if prologue or scale else _coalescible(kernel, path, st, y_ld, roles, j)
    outer = tuple(names[v] for v in loops if v not in (i, j, k, fused))
    return Contraction(names[i], names[j], names[k], tuple(lp.name for lp in path),
                       pos[x_ld.array], pos[y_ld.array], pos[st.array],
                       _trip(loops[i]), _trip(loops[j]), _trip(loops[k]), outer,
                       tuple((names[v], roles[v]) for v in loops),
                       y[-2:] == [j, k], x[-2:] == [k, i], set(x[-2:]) == {i, k}, new,
                       bool(prologue), scale, fused and names[fused], fused and _trip(loops[fused]))


# ---------------------------------------------------------------- the parts


#: a loop's role by whether it indexes (O, X, Y)
_ROLES = {(True, True, True): "batch", (True, True, False): "M", (True, False, True): "N",
          (False, True, True): "reduction", (True, False, False): "output"}


def _roles(loops, o, x, y) -> dict | None:
    """{loop variable: "batch" | "M" | "N" | "reduction" | "output"} from which of the output
    and the two operands it indexes; None when a loop indexes one operand only, or none."""
    roles = {v: _ROLES.get((v in o, v in x, v in y)) for v in loops}
    return None if None in roles.values() else roles


def _coalescible(kernel: d.Kernel, path: tuple, st: d.Store, y_ld: d.Load, roles: dict, j):
    """The N-like loop ``h`` that `passes/coalesce.py` may fuse with the columns' loop ``j``
    (a 1×1 convolution's pixels ``(h, w)``), or None: O and B are indexed ``[..., h, j]`` in
    their last two dimensions, plainly, and ``h`` and ``j`` run over those dimensions whole
    (bounds the arrays' own size names), ``h`` just outside ``j``, no other statement."""
    if len(list(_statements(kernel.body, ()))) != 1 or len(path) < 2 or path[-1].var == j and len(path) < 3:
        return None
    shapes = {p.name: p.shape for p in kernel.params}
    h = st.index[-2].name if len(st.index) >= 2 and isinstance(st.index[-2], d.Var) else None
    loops = {lp.var: lp for lp in path}
    if h not in loops or roles.get(h) != "N" or not _adjacent(path, h, j):
        return None
    for acc in (st, y_ld):
        if len(acc.index) < 2 or acc.index[-2:] != (d.Var(h), d.Var(j)):
            return None
        dims = shapes[acc.array][-2:]
        if tuple(loops[v].upper[0] for v in (h, j)) != tuple(d.Var(x) if isinstance(x, str) else d.Lit(x)
                                                              for x in dims):
            return None
    return h


def _adjacent(path: tuple, h, j) -> bool:
    """Whether loop ``h`` directly encloses loop ``j`` in the nest."""
    vars_ = [lp.var for lp in path]
    return vars_.index(h) + 1 == vars_.index(j)


def _columns_last(y: list, j, k) -> bool:
    """Whether B's subscripts ``y`` put the columns' loop ``j`` last (the reduction ``k`` in any
    other dimension: ``I[n, ci, h, w]`` of a 1×1 convolution), or ``k`` last with ``j`` just
    before it (B transposed)."""
    return y[-1] == j and k in y or y[-2:] == [j, k]


def _statements(body, path):
    for s in body:
        if isinstance(s, d.Loop):
            yield from _statements(s.body, path + (s,))
        else:
            yield path, s


def _offset_var(e):
    """``v`` of a subscript ``v`` or ``v + c`` (c a constant), else None."""
    form = d.aff_linear(e)
    if form is None or len(form[0]) != 1:
        return None
    (v, coeff), = form[0].items()
    return v if coeff == 1 else None


def _subscripts(index, loops) -> list | None:
    """The loop variables of an access's subscripts, one per dimension (each ``v`` or
    ``v + c``), or None when one is another expression or a variable repeats (``A[i, i]``)."""
    names = [_offset_var(e) for e in index]
    if None in names or len(set(names)) != len(names) or not set(names) <= set(loops):
        return None
    return names


def _rectangular(lp: d.Loop, loops) -> bool:
    """``for v in range(e)``: step 1 from 0 to one affine ``e`` of sizes only (``N``, ``N - 2``)."""
    return lp.step == 1 and lp.lower == (d.Lit(0),) and len(lp.upper) == 1 \
        and d.aff_linear(lp.upper[0]) is not None and not d.aff_vars(lp.upper[0]) & set(loops)


def _trip(lp: d.Loop):
    """The trip count: a size name, a constant, or an affine expression of sizes."""
    u = lp.upper[0]
    return u.name if isinstance(u, d.Var) else u.value if isinstance(u, d.Lit) else u


def _is_self(e, st: d.Store) -> bool:
    return isinstance(e, d.Load) and e.array == st.array and e.index == st.index


def _factors(e) -> list:
    if isinstance(e, d.BinOp) and e.op == "*":
        return _factors(e.lhs) + _factors(e.rhs)
    return [e]


def _product(st: d.Store):
    """The product of ``O[..] (+|-)= product`` (``O[..] = O[..] + product``), or None."""
    v = st.value
    if not isinstance(v, d.BinOp) or v.op not in ("+", "-"):
        return None
    acc, prod = v.lhs, v.rhs
    if v.op == "+" and not _is_self(acc, st):
        acc, prod = prod, acc
    return prod if _is_self(acc, st) else None


def _product_loads(st: d.Store):
    """The two loads of ``O[..] (+|-)= coefficients · X[..] · Y[..]``, or None."""
    got = two_loads(_product(st))
    return None if got is None else tuple(got[0])


def two_loads(prod) -> tuple | None:
    """(its two loads, all its factors) when ``prod`` is a product of two loads and scalars
    or constants; None otherwise (or for None)."""
    if prod is None:
        return None
    factors = _factors(prod)
    loads = [f for f in factors if isinstance(f, d.Load)]
    if len(loads) != 2 or not all(isinstance(f, (d.Load, d.Scalar, d.Const)) for f in factors):
        return None
    return loads, factors


def _initialises(q: tuple, s: d.Store, path: tuple, st: d.Store) -> bool:
    """Whether statement ``s`` (in loops ``q``) may run, for every element, before the whole
    contraction ``st`` (in loops ``path``): it writes O and reads only O at that element,
    scalars and constants, and each loop the two share indexes the same dimension of O."""
    if s.array != st.array:
        return False
    qvars = {lp.var for lp in q}
    if _subscripts(s.index, qvars) is None:
        return False
    for e in d.walk_expr(s.value):
        if isinstance(e, d.Load) and e.index != s.index or isinstance(e, (d.Local, d.Index)) \
                or isinstance(e, d.Load) and e.array != s.array:
            return False
    for a, b in zip(q, path):
        if a is not b:
            break
        var = d.Var(a.var)
        if var not in s.index or var not in st.index or s.index.index(var) != st.index.index(var):
            return False
    return True


def _split(kernel: d.Kernel, path: tuple, st: d.Store, st2: d.Store) -> d.Kernel | None:
    """``kernel`` with the statements before ``st`` (their loops renamed ``<name>.init``)
    first, then ``st2`` (``st`` with its product in the schedule's order) alone in a perfect
    nest of ``st``'s loops ``path``."""
    taken = set(kernel.loop_names())

    def without(body):
        out = []
        for s in body:
            if s is st:
                continue
            if isinstance(s, d.Loop):
                inner = without(s.body)
                if inner:
                    out.append(dataclasses.replace(s, body=inner, name=s.name + ".init"))
            else:
                out.append(s)
        return tuple(out)

    before = without(kernel.body)
    renamed = [lp.name for lp in d.walk(before) if isinstance(lp, d.Loop)]
    if set(renamed) & taken:
        return None
    nest = (st2,)
    for lp in reversed(path):
        nest = (dataclasses.replace(lp, body=nest),)
    return kernel.with_body(before + nest)


def recognise_all(kernel: d.Kernel) -> tuple | None:
    """The contractions of ``kernel``, one per nest (2mm, 3mm: chained products), or None.

    A kernel that is one contraction gives one. Otherwise its top-level statements split into
    segments, each ending with a nest whose last statement is a product update; every segment
    must be a contraction on its own (`recognise`: only its output written, initialisation
    first). Segments run in their source order, so a later one may read an earlier one's
    output (2mm's ``tmp``). Loops of segment n > 0 are renamed ``<name>_<n>`` so that the
    schedules' passes, which name loops, reach one nest each."""
    one = recognise(kernel)
    if one is not None:
        return (one,)
    segments, current = [], []
    for item in kernel.body:
        current.append(item)
        last = list(_statements((item,), ()))
        if last and isinstance(last[-1][1], d.Store) and _product_loads(last[-1][1]) is not None:
            segments.append(current)
            current = []
    if current or len(segments) < 2:
        return None
    found, body = [], []
    for n, seg in enumerate(segments):
        c = recognise(kernel.with_body(_suffixed(tuple(seg), f"_{n}") if n else tuple(seg)))
        if c is None:
            return None
        found.append(c)
        body += c.kernel.body
    new = kernel.with_body(body)
    names = [lp.name for lp in d.walk(new.body) if isinstance(lp, d.Loop)]
    made = [f.format(i=c.i, j=c.j, k=c.k) for c in found for f in MADE]
    nests = [x for c in found for x in c.order]
    if any(names.count(x) != 1 for x in nests) or set(made) & set(names):
        return None  # two nests would share a loop name
    return tuple(dataclasses.replace(c, kernel=new) for c in found)


def _suffixed(body: tuple, suffix: str) -> tuple:
    return tuple(dataclasses.replace(s, name=s.name + suffix, body=_suffixed(s.body, suffix))
                 if isinstance(s, d.Loop) else s for s in body)
