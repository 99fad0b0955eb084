"""Direct convolutions recognised as contractions (issue 12): the reduction is (channel,
kernel row, kernel column), the columns are the output's pixels.

    O[n, co, h, w] += W[co, ci, kh, kw] * I[n, ci, h + kh, w + kw]

is the contraction `contraction.recognise` describes except that a subscript of the columns'
operand ``I`` adds a reduction loop to a column loop. It is recognised here when

* the kernel is this one statement (``+=``, ``-=`` or ``O = O + ...``, a product of two
  arrays, no coefficient) in a perfect nest of rectangular loops;
* O's subscripts are loop variables, its last two the pixels ``h``, ``w``: N-like loops
  (in O and I only), ``h`` directly around ``w``, each covering O's dimension whole (their
  bounds are O's size names), so `passes/coalesce.py` views O's pixels as one dimension;
* W's subscripts are loop variables, I's each a loop variable or the sum of two (coefficient
  1: an N-like and a reduction loop), at least one a sum;
* the reduction loops (in W and I, not in O) are directly nested, one after the other, and
  some M-like loop (in O and W) exists.

The schedule (`gemm_schedule`) is then GEMM's: ``coalesce`` makes the pixels one column loop
(``w``, H·W columns; O is collapsed) and the reduction loops one loop (the innermost's name,
C·KH·KW iterations; W collapsed when it walks them whole, else its subscripts divide the fused
variable); I's subscripts divide the fused variables (``floordiv``/``mod`` by constants), so
its reads are packed *by iterations* (`pack{iterations=k:j}`): each cache block of B is the
im2col of I for that block's (reduction × pixel) range, built once and read by every register
tile at unit stride. im2col's buffer is never larger than one block (KC × NC).
"""
from __future__ import annotations

from unrollkit.frontend import descriptor as d
from unrollkit.tuning.contraction import (MADE, Contraction, _adjacent, _factors, _product, _product_loads,
                                          _rectangular, _statements, _subscripts, _trip)


def recognise_conv(kernel: d.Kernel) -> Contraction | None:
    """The convolution of ``kernel`` as a `Contraction` (see the module docstring), or None."""
    stmts = list(_statements(kernel.body, ()))
    if len(stmts) != 1 or not isinstance(stmts[0][1], d.Store):
        return None
    path, st = stmts[0]
    loads = _product_loads(st)
    if loads is None or len(path) < 4 or len(_factors(_product(st))) != 2:
        return None
    loops = {lp.var: lp for lp in path}
    if len({lp.name for lp in path}) != len(path) or not all(_rectangular(lp, loops) for lp in path):
        return None
    o = _subscripts(st.index, loops)
    if o is None or len(o) < 2 or len({st.array, *(ld.array for ld in loads)}) != 3 \
            or kernel.written != {st.array}:
        return None
    h, j = o[-2], o[-1]
    b_ld = next((ld for ld in loads if any(j in _terms(e) for e in ld.index)), None)
    if b_ld is None:
        return None
    a_ld = loads[1] if b_ld is loads[0] else loads[0]
    a = _subscripts(a_ld.index, loops)
    b = [_terms(e) for e in b_ld.index]
    if a is None or any(t is None or not t <= set(loops) for t in b) or all(len(t) < 2 for t in b):
        return None
    in_b = set().union(*b)
    roles = {v: _role(v in o, v in a, v in in_b) for v in loops}
    reductions = [v for v in loops if roles[v] == "reduction"]
    rows = [v for v in o if roles[v] == "M"]
    if None in roles.values() or not reductions or not rows or roles[h] != "N" or roles[j] != "N" \
            or not _adjacent(path, h, j) or not _consecutive(path, reductions):
        return None
    if any(len(t) == 2 and {roles[v] for v in t} != {"N", "reduction"} for t in b):
        return None
    shape = {p.name: p.shape for p in kernel.params}[st.array]
    if tuple(loops[v].upper[0] for v in (h, j)) != tuple(d.Var(x) if isinstance(x, str) else d.Lit(x)
                                                          for x in shape[-2:]):
        return None  # the pixels do not cover O's last two dimensions: O cannot be collapsed
    i, k = rows[-1], reductions[-1]
    names = {v: loops[v].name for v in loops}
    made = {f.format(i=names[i], j=names[j], k=names[k]) for f in MADE}
    if made & set(kernel.loop_names()):
        return None
    pos = {p.name: n for n, p in enumerate(kernel.params)}
    return Contraction(names[i], names[j], names[k], tuple(lp.name for lp in path),
                       pos[a_ld.array], pos[b_ld.array], pos[st.array],
                       _trip(loops[i]), _trip(loops[j]), _trip(loops[k]),
                       tuple(names[v] for v in loops if roles[v] != "reduction" and v not in (i, j, h)),
                       tuple((names[v], roles[v]) for v in loops), kernel=kernel,
                       fused=names[h], fused_trip=_trip(loops[h]),
                       k_loops=tuple(names[v] for v in reductions[:-1]),
                       k_trips=tuple(_trip(loops[v]) for v in reductions[:-1]), gather=True)


def _terms(e) -> set | None:
    """The loop variables of a subscript ``v``, ``v + c`` or ``u + v (+ c)`` (coefficients 1),
    or None for any other expression."""
    form = d.aff_linear(e)
    if form is None or not 1 <= len(form[0]) <= 2 or any(c != 1 for c in form[0].values()):
        return None
    return set(form[0])


def _role(in_o: bool, in_a: bool, in_b: bool) -> str | None:
    return {(True, True, False): "M", (True, False, True): "N", (False, True, True): "reduction"}.get(
        (in_o, in_a, in_b))


def _consecutive(path: tuple, loops: list) -> bool:
    """Whether ``loops`` are directly nested one in the other, in this order (the path's)."""
    at = [lp.var for lp in path].index(loops[0])
    return [lp.var for lp in path[at:at + len(loops)]] == loops
