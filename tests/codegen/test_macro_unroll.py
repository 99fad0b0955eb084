"""Macro unrolling (unrollkit.codegen.macro_unroll): the descriptor rewrite behind ``variant="macro"``
and the carried-scalar ``multi-acc``, at every remainder class (trip counts a multiple of the
factor, one more, one less, below it, empty, triangular), with locals, ``if``s, nested loops,
steps and odd accumulator counts.

Unit: the rewritten descriptor, run by the reference interpreter, equals the original (and its
main loop has the expected step and copies); differential: compiled through the variant.
"""
from __future__ import annotations

import numpy as np
import pytest

from unrollkit.frontend import descriptor as d
from unrollkit.core.errors import TransformError
from unrollkit.runtime.interpreter import interpret
from unrollkit.codegen.macro_unroll import macro_unroll, split_carried

from differential import args_for, assert_close, check_against_reference, kernel_from


def _same_as_original(kernel, rewritten, sizes, seeds=(0, 1)):
    for seed in seeds:
        args = args_for(kernel, sizes, seed=seed)
        want = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
        got = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
        interpret(kernel, *want)
        interpret(rewritten, *got)
        assert_close(got, want, f"the rewritten kernel at {sizes}")


def _loops(body):
    return [s for s in body if isinstance(s, d.Loop)]


STRIDED = {(lo, step): kernel_from(f'''
    def strided(x: uk.f64["N"], y: uk.f64["N"]):
        for i in range({lo}, N, {step}):
            t = x[i] * 2.0
            y[i] = y[i] + t + i
    ''') for lo, step in ((0, 1), (3, 1), (1, 2), (2, 3))}


@pytest.mark.parametrize("factor", [2, 3, 4])
@pytest.mark.parametrize("lo,step", list(STRIDED))
def test_macro_unroll_covers_every_remainder(lo, step, factor):
    k = STRIDED[lo, step]
    new = macro_unroll(k, (("i", factor),))
    main, rest = _loops(new.body)
    assert main.step == factor * step and rest.step == step
    assert len(main.body) == 2 * factor and len(rest.lower) == 2
    # locals renamed per copy: t, t_u1, t_u2 ...
    names = [s.name for s in main.body if isinstance(s, d.Let)]
    assert names == ["t"] + [f"t_u{u}" for u in range(1, factor)]
    for n in (0, 1, lo, lo + 1, lo + factor * step - 1, lo + factor * step, lo + factor * step + 1, 17, 30):
        _same_as_original(k, new, {"N": n})


@pytest.mark.parametrize("factor", [3, 4])
def test_macro_variant_matches_the_interpreter(factor):
    for (lo, step), k in STRIDED.items():
        for n in (0, 5, 13):
            check_against_reference(k, {"N": n}, variant="macro", factor=factor)


TRIANGLE = kernel_from('''
    def triangle(A: uk.f64["N", "M"], B: uk.f64["N", "M"]):
        for i in range(N):
            for j in range(i + 1, M - 1):
                if j > i + 2:
                    A[i, j] = A[i, j] * 2.0 + B[i, j - 1]
                else:
                    A[i, j] = A[i, j] - B[i, j]
    ''')


@pytest.mark.parametrize("factor", [2, 3, 4])
def test_macro_unroll_a_triangle_empty_for_late_rows(factor):
    new = macro_unroll(TRIANGLE, (("j", factor),))
    for sizes in ({"N": 9, "M": 7}, {"N": 3, "M": 14}, {"N": 12, "M": 3}):
        _same_as_original(TRIANGLE, new, sizes)
    check_against_reference(TRIANGLE, {"N": 9, "M": 7}, variant="macro", factor={"j": factor})


def test_macro_unroll_an_outer_loop_shifts_the_inner_bounds():
    """Unrolling i copies the j loop whose bounds use i: each copy's bounds are shifted."""
    new = macro_unroll(TRIANGLE, (("i", 3),))
    main, rest = _loops(new.body)
    assert len(_loops(main.body)) == 3
    for sizes in ({"N": 9, "M": 7}, {"N": 10, "M": 12}, {"N": 2, "M": 5}):
        _same_as_original(TRIANGLE, new, sizes)


def test_macro_unroll_every_innermost_loop_by_default():
    new = macro_unroll(TRIANGLE, (("", 2),))
    (outer,) = _loops(new.body)
    inner = _loops(outer.body)
    assert len(inner) == 2 and inner[0].step == 2
    _same_as_original(TRIANGLE, new, {"N": 9, "M": 9})


def test_macro_unroll_factor_one_and_errors():
    k = STRIDED[0, 1]
    assert macro_unroll(k, (("i", 1),)) == k
    with pytest.raises(TransformError, match=r"kernel 'strided' has no loop named 'q'; its loops are \['i'\]"):
        macro_unroll(k, (("q", 2),))
    capped = kernel_from('''
        def capped(x: uk.f64["N"]):
            for i in range(min(N, 10)):
                x[i] = x[i] + 1.0
        ''')
    with pytest.raises(TransformError, match="macro unrolling needs loop 'i' to have one lower and one upper bound"):
        macro_unroll(capped, (("i", 2),))


# ---------------------------------------------------------------- carried scalars (multi-acc)

REDUCE = {op: kernel_from(f'''
    def reduce(x: uk.f64["N"], out: uk.f64[1]):
        acc = out[0]
        for i in range(1, N, 2):
            acc = {expr}
        out[0] = acc
    ''') for op, expr in (("+", "acc + x[i]"), ("*", "x[i] * acc"), ("min", "min(acc, x[i])"),
                          ("max", "max(x[i], acc)"))}


@pytest.mark.parametrize("k", [2, 3, 5, 7])
@pytest.mark.parametrize("op", list(REDUCE))
def test_split_carried_every_accumulator_is_combined(op, k):
    kernel = REDUCE[op]
    new = split_carried(kernel, k, "i")
    assert new is not None
    inits = [s for s in new.body if isinstance(s, d.Let) and "_acc" in s.name]
    assert [s.name for s in inits] == [f"acc_acc{u}" for u in range(1, k)]
    if op in ("+", "*"):
        assert all(s.value == d.Const({"+": 0, "*": 1}[op]) for s in inits)
    else:
        assert all(s.value == d.Local("acc") for s in inits)
    main, rest = _loops(new.body)
    assert main.step == 2 * k
    for n in (0, 1, 2, 3, 2 * k, 2 * k + 1, 2 * k + 3, 4 * k + 2, 50):
        _same_as_original(kernel, new, {"N": n})


@pytest.mark.parametrize("k", [3, 4])
def test_multi_acc_variant_on_carried_scalars_matches(k):
    for op, kernel in REDUCE.items():
        check_against_reference(kernel, {"N": 23}, variant="multi-acc", factor=k, rtol=1e-9)


def test_split_carried_refusals_name_the_loop():
    not_reduction = kernel_from('''
        def f(x: uk.f64["N"], out: uk.f64[1]):
            acc = out[0]
            for i in range(N):
                acc = x[i] - acc
            out[0] = acc
        ''')
    with pytest.raises(TransformError, match="multi-acc: 'acc' in loop 'i' is not a reduction"):
        split_carried(not_reduction, 2)
    reads = kernel_from('''
        def f(x: uk.f64["N"], out: uk.f64[1]):
            acc = out[0]
            for i in range(N):
                acc = acc + x[i]
                x[i] = acc
            out[0] = acc
        ''')
    with pytest.raises(TransformError, match="multi-acc: loop 'i' reads 'acc' besides its reduction"):
        split_carried(reads, 2)
    nested = kernel_from('''
        def f(x: uk.f64["N"], out: uk.f64[1]):
            acc = out[0]
            for i in range(N):
                acc = acc + x[i]
                if i > 2:
                    x[i] = 1.0
            out[0] = acc
        ''')
    with pytest.raises(TransformError, match="is not straight-line"):
        split_carried(nested, 2, "i")
    assert split_carried(REDUCE["+"], 1) is None
    assert split_carried(STRIDED[0, 1], 3) is None     # no carried scalar
