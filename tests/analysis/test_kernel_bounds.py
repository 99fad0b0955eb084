"""The descriptor's bounds proof (unrollkit.analysis.kernel_bounds, `kernel_bounds.check_bounds`)
on the constructs mutation testing asked for: ``if`` guards (inequalities, equalities, ``and``,
data-dependent conditions), both branches, loads in ``let`` values and conditions, ``//``
subscripts, steps, ``max``/``min`` bounds, loops that never run. Each case pairs the last
element (accepted) with one past (refused, with the subscript, its range and the size).
"""
from __future__ import annotations

import dataclasses

import pytest

import unrollkit as uk
from unrollkit.frontend import descriptor as d
from unrollkit.analysis import kernel_bounds
from unrollkit.analysis.kernel_bounds import first_out_of_bounds
from unrollkit.core.errors import KernelSyntaxError

from differential import kernel_from


def proof(src: str, **sizes) -> str | None:
    """None if ``src`` is proved in bounds at ``sizes``, else the refusal's message."""
    k = kernel_from(src)
    shapes = {p.name: tuple(sizes[s] if isinstance(s, str) else s for s in p.shape)
              for p in k.params if p.is_array}
    try:
        kernel_bounds.check_bounds(k, sizes, shapes)
    except KernelSyntaxError as exc:
        return str(exc)
    return None


def pair(last: str, past: str, **sizes) -> str:
    assert proof(last, **sizes) is None, proof(last, **sizes)
    msg = proof(past, **sizes)
    assert msg is not None, "a subscript one past the end was accepted"
    return msg


def _k(body: str) -> str:
    return ("def k(x: uk.f64[\"N\"], y: uk.f64[\"N\"]):\n"
            + "\n".join("    " + line for line in body.strip("\n").splitlines()) + "\n")


def test_an_inequality_guard_restricts_the_then_branch():
    msg = pair(_k("for i in range(N):\n    if i < N - 1:\n        y[i] = x[i + 1]"),
               _k("for i in range(N):\n    if i < N:\n        y[i] = x[i + 1]"), N=8)
    assert "subscript i + 1 of x (dimension 0, size 8) ranges over [1, 8] for these sizes" in msg, msg


def test_the_else_branch_runs_where_the_guard_fails():
    # else: i >= 3, so x[i - 3] >= 0; with the guard i < 2 the else reaches i = 2: x[-1]
    msg = pair(_k("for i in range(N):\n    if i < 3:\n        y[i] = 0.0\n    else:\n        y[i] = x[i - 3]"),
               _k("for i in range(N):\n    if i < 2:\n        y[i] = 0.0\n    else:\n        y[i] = x[i - 3]"), N=8)
    assert "ranges over [-1, 4]" in msg, msg


def test_an_equality_guard_and_its_else():
    # then: only i = N - 1; else: every other i, where i + 1 stays inside
    pair(_k("for i in range(N):\n    if i == N - 1:\n        y[i] = x[i]\n    else:\n        y[i] = x[i + 1]"),
         _k("for i in range(N):\n    if i == N - 2:\n        y[i] = x[i]\n    else:\n        y[i] = x[i + 1]"), N=8)


def test_a_conjunction_guard():
    pair(_k("for i in range(N):\n    if i >= 2 and i < N - 1:\n        y[i] = x[i - 2] + x[i + 1]"),
         _k("for i in range(N):\n    if i >= 1 and i < N - 1:\n        y[i] = x[i - 2] + x[i + 1]"), N=8)


def test_a_data_dependent_guard_restricts_nothing():
    msg = pair(_k("for i in range(N):\n    if x[i] > 0.0:\n        y[i] = 1.0"),
               _k("for i in range(N):\n    if x[i] > 0.0:\n        y[i + 1] = 1.0"), N=8)
    assert "subscript i + 1 of y" in msg
    # the condition's own load is checked where the if is reached
    pair(_k("for i in range(N):\n    if x[i] > 0.0:\n        y[i] = 1.0"),
         _k("for i in range(N):\n    if x[i + 1] > 0.0:\n        y[i] = 1.0"), N=8)


def test_loads_in_let_values_are_checked():
    pair(_k("for i in range(1, N):\n    t = x[i - 1] * 2.0\n    y[i] = t"),
         _k("for i in range(N):\n    t = x[i - 1] * 2.0\n    y[i] = t"), N=8)


def test_floordiv_steps_and_min_max_bounds():
    pair(_k("for i in range(0, 2 * N, 3):\n    y[i // 2] = 1.0"),
         _k("for i in range(0, 2 * N + 1, 3):\n    y[i // 2] = 1.0"), N=9)
    pair(_k("for i in range(N):\n    for j in range(max(0, i - 2), min(N, i + 3)):\n        y[j] = x[i]"),
         _k("for i in range(N):\n    for j in range(max(0, i - 2), min(N + 1, i + 3)):\n        y[j] = x[i]"), N=8)
    pair(_k("for i in range(N):\n    for j in range(max(0, i - 2), min(N, i + 3)):\n        y[j] = x[i]"),
         _k("for i in range(N):\n    for j in range(max(-1, i - 2), min(N, i + 3)):\n        y[j] = x[i]"), N=8)


def test_a_loop_that_never_runs_is_not_checked_and_later_statements_are():
    assert proof(_k("for i in range(N, N):\n    y[i + 100] = 1.0"), N=8) is None
    # the first statement never runs; the second is still checked
    msg = proof(_k("for i in range(N, N):\n    y[i + 100] = 1.0\nfor j in range(N):\n    y[j + 1] = 1.0"), N=8)
    assert msg is not None and "subscript j + 1 of y" in msg
    # a guard that never holds: its branch is not checked, the else is
    assert proof(_k("for i in range(N):\n    if i > N:\n        y[i + 100] = 1.0\n    else:\n        y[i] = 1.0"),
                 N=8) is None


def test_two_dimensional_subscripts_name_their_dimension():
    src = ("def k(A: uk.f64[\"N\", \"M\"]):\n    for i in range(N):\n        for j in range(M):\n"
           "            A[i, j + {off}] = 1.0\n")
    msg = pair(src.format(off=0), src.format(off=1), N=4, M=6)
    assert "(dimension 1, size 6) ranges over [1, 6]" in msg, msg


# ---------------------------------------------------------------- forms the frontend does not make


@dataclasses.dataclass(frozen=True)
class Mod:
    """``lhs % divisor``: a descriptor form the frontend may grow (the proof handles it)."""
    lhs: object
    divisor: int


@dataclasses.dataclass(frozen=True)
class Weird:
    """An index form the proof does not know."""
    lhs: object
    divisor: int


def _store_kernel(index):
    """``for i in range(10): x[index] = 0`` as a hand-built descriptor (x: 4 elements)."""
    store = d.Store("x", (index,), d.Const(0.0))
    loop = d.Loop("i", (d.Lit(0),), (d.Lit(10),), 1, (store,), "i")
    return d.Kernel("k", (d.Param("x", uk.f64, (4,)),), (loop,))


def test_a_modulo_subscript_is_exact():
    """i % 4 over 0 .. 9 is exactly [0, 3]; i % 5 reaches 4, one past."""
    assert first_out_of_bounds(_store_kernel(Mod(d.Var("i"), 4)), {}, {"x": (4,)}) is None
    bad = first_out_of_bounds(_store_kernel(Mod(d.Var("i"), 5)), {}, {"x": (4,)})
    assert (bad.lo, bad.hi, bad.size) == (0, 4, 4)


def test_an_unbound_variable_or_an_unknown_form_is_an_error_not_a_proof():
    with pytest.raises(KeyError, match="unbound index variable 'Q'"):
        first_out_of_bounds(_store_kernel(d.Var("Q")), {}, {"x": (4,)})
    with pytest.raises(TypeError, match=r"unknown index expression .*Weird\(lhs=Var\(name='i'\), divisor=2\)"):
        first_out_of_bounds(_store_kernel(Weird(d.Var("i"), 2)), {}, {"x": (4,)})
