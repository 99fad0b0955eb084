"""``unroll`` (passes/unroll.py) at every remainder class and strategy: trip counts a multiple
of the factor, one more, one less, below the factor, 0 and 1; loops with a lower bound and a
step; triangular loops empty for late rows (`own_cleanup`); ``up-to-factor`` and ``full``.

Each strategy is checked on the IR the pass leaves (the unrolled loop's step and the bounds of
its remainder) and by differential runs against the reference interpreter.
"""
from __future__ import annotations

import pytest
from mlir import ir

from unrollkit.core.errors import TransformError
from unrollkit.ir.ir_utils import affine_loops, bound_maps, constant_trip_count, step_of
from unrollkit.passes.unroll import REMAINDERS, Unroll
from unrollkit.codegen.pipeline import Pipeline

from differential import check_against_reference, kernel_from, loops_named, lowered_module


def strided(lo: int, step: int):
    return kernel_from(f'''
        def strided(x: uk.f64["N"], y: uk.f64["N"]):
            for i in range({lo}, N, {step}):
                y[i] = y[i] * 0.5 + x[i] + 1.0
        ''')


def _iterations(module) -> list:
    """(start, step, trips, copies of the body) of each loop of the module."""
    out = []
    for op in affine_loops(module):
        (lo,) = bound_maps(op)[0].results
        copies = sum(o.name == "affine.store" for o in op.regions[0].blocks[0].operations)
        out.append((ir.AffineConstantExpr(lo).value, step_of(op), constant_trip_count(op), copies))
    return out


def _covered(module) -> list:
    """The indices the module's loops cover (the copies of an unrolled body split its step),
    plus the straight-line copies of a fully unrolled loop (the body has one store)."""
    got = []
    for lo, st, trips, copies in _iterations(module):
        for k in range(trips):
            got += [lo + k * st + c * (st // copies) for c in range(copies)]
    return sorted(got)


#: (lo, step, N): trip counts 0, 1, 2, 3, 4, 5, 7, 8, 13 with and without a start and a step
LOOPS = [(0, 1, 0), (0, 1, 1), (0, 1, 3), (0, 1, 4), (0, 1, 5), (0, 1, 7), (0, 1, 8), (0, 1, 13),
         (2, 3, 29), (1, 2, 8)]


@pytest.mark.parametrize("remainder", ["cleanup", "peel-back", "peel-front"])
@pytest.mark.parametrize("lo,step,n", LOOPS, ids=[str(x) for x in LOOPS])
def test_unroll_covers_every_iteration_once(lo, step, n, remainder):
    """Unit: the unrolled loop (step factor·s, factor copies) and its remainder together run
    exactly the loop's iterations (factor 4; a trip count below it is unrolled fully)."""
    ctx, module = lowered_module(strided(lo, step), {"N": n})
    want = list(range(lo, n, step))
    with ctx, ir.Location.unknown():
        Pipeline.parse(f"unroll{{loop=i,factor=4,remainder={remainder}}}").run(module)
        loops = _iterations(module)
        func = module.body.operations[0]
        straight = sum(o.name == "affine.store" for o in func.regions[0].blocks[0].operations)
        if len(want) >= 8:  # a main loop of 8 or more trips stays a loop, unrolled by 4
            assert any(st == 4 * step and c == 4 for _, st, _, c in loops), str(module)
        if len(want) in (2, 3) and remainder == "cleanup":  # below the factor: fully unrolled
            assert not loops and straight == len(want), str(module)
        # every iteration runs once: in a loop (each index once) or as a straight-line copy
        in_loops = _covered(module)
        assert len(in_loops) + straight == len(want), str(module)
        assert len(set(in_loops)) == len(in_loops) and set(in_loops) <= set(want), str(module)


@pytest.mark.parametrize("remainder", [r for r in REMAINDERS if r != "pad"])
@pytest.mark.parametrize("lo,step,n", LOOPS, ids=[str(x) for x in LOOPS])
def test_unroll_remainders_match_the_interpreter(lo, step, n, remainder):
    check_against_reference(strided(lo, step), {"N": n}, f"unroll{{loop=i,factor=3,remainder={remainder}}}")


def test_unroll_up_to_factor_false_leaves_short_loops_rolled():
    for n, rolled in ((3, True), (4, False), (9, False)):
        ctx, module = lowered_module(strided(0, 1), {"N": n})
        with ctx, ir.Location.unknown():
            Pipeline.parse("unroll{loop=i,factor=4,up-to-factor=false}").run(module)
            steps = [st for _, st, _, _ in _iterations(module)]
            assert (steps == [1]) == rolled, (n, str(module))
        check_against_reference(strided(0, 1), {"N": n}, "unroll{loop=i,factor=4,up-to-factor=false}")


def test_unroll_below_the_factor_unrolls_fully():
    ctx, module = lowered_module(strided(0, 1), {"N": 3})
    with ctx, ir.Location.unknown():
        Pipeline.parse("unroll{loop=i,factor=8}").run(module)
        assert all(t == 1 for _, _, t, _ in _iterations(module)), str(module)
        assert str(module).count("arith.mulf") == 3, str(module)


def test_unroll_factor_one_and_full():
    ctx, module = lowered_module(strided(0, 1), {"N": 6})
    with ctx, ir.Location.unknown():
        before = str(module)
        Pipeline.parse("unroll{loop=i,factor=1}").run(module)
        assert str(module) == before
        Pipeline.parse("unroll{loop=i,factor=1,full=true}").run(module)
        assert str(module).count("arith.mulf") == 6 and all(t == 1 for _, _, t, _ in _iterations(module))
    check_against_reference(strided(1, 2), {"N": 12}, "unroll{loop=i,full=true}")


TRIANGLE = kernel_from('''
    def triangle(A: uk.f64["N", "M"], B: uk.f64["N", "M"]):
        for i in range(N):
            for j in range(i + 1, M - 1):
                A[i, j] = A[i, j] * 2.0 + B[i, j - 1]
    ''')


@pytest.mark.parametrize("remainder", ["cleanup", "peel-back", "peel-front"])
@pytest.mark.parametrize("sizes", [{"N": 9, "M": 7}, {"N": 3, "M": 14}, {"N": 12, "M": 3}])
def test_unroll_a_triangle_empty_for_late_rows_matches(remainder, sizes):
    for factor in (2, 3):
        check_against_reference(TRIANGLE, sizes, f"unroll{{loop=j,factor={factor},remainder={remainder}}}")


def test_unroll_a_triangle_cleanup_keeps_the_name_and_clamps():
    """Unit (`own_cleanup`): the remainder of a loop that may be empty with ub < lb is split
    off by us, keeps the loop's name and has its lower bound clamped (a max)."""
    ctx, module = lowered_module(TRIANGLE, {"N": 9, "M": 7})
    with ctx, ir.Location.unknown():
        Pipeline.parse("unroll{loop=j,factor=4}").run(module)
        loops = loops_named(module, "j")
        assert len(loops) == 2, str(module)
        main, rem = loops
        assert step_of(main) == 4 and step_of(rem) == 1, str(module)
        assert len(bound_maps(rem)[0].results) == 2, str(module)


def test_unroll_a_triangle_carrying_values_is_refused():
    k = kernel_from('''
        def trisum(A: uk.f64["N", "M"], s: uk.f64[1]):
            for i in range(N):
                for j in range(i + 1, M - 1):
                    s[0] = s[0] + A[i, j]
        ''')
    ctx, module = lowered_module(k, {"N": 9, "M": 7})
    with ctx, ir.Location.unknown():
        Pipeline.parse("scalar-replace").run(module)
        with pytest.raises(TransformError) as e:
            Pipeline.parse("split-accumulators{loop=j,accumulators=2},unroll{loop=j,factor=4}").run(module)
    assert "it carries values (iter_args)" in str(e.value) or "carries values" in str(e.value), str(e.value)


def test_unroll_refusals_name_the_loop():
    ctx, module = lowered_module(TRIANGLE, {"N": 9, "M": 7})
    with ctx, ir.Location.unknown():
        with pytest.raises(TransformError, match="cannot fully unroll loop 'j': its trip count is not a"):
            Pipeline.parse("unroll{loop=j,full=true}").run(module)
        with pytest.raises(TransformError, match="cannot fully unroll the remainder of loop 'j.rem': its "
                                                 "trip count is not a compile-time constant"):
            Pipeline.parse("unroll{loop=j,factor=4,remainder=unrolled-cleanup}").run(module)
    ctx, module = lowered_module(strided(0, 1), {"N": 10})
    with ctx, ir.Location.unknown():
        with pytest.raises(TransformError, match="cannot unroll loop 'i': its bounds use min"):
            Pipeline.parse("tile{i=4,separate=false},unroll{loop=i,factor=2}").run(module)
        with pytest.raises(TransformError, match=r"no loop named 'q'; the loops are \["):
            Pipeline.parse("unroll{loop=q}").run(module)


@pytest.mark.parametrize("kw,message", [
    ({"remainder": "middle"}, "unroll remainder must be one of"),
    ({"factor": True}, "unroll factor must be an integer >= 1, got True"),
    ({"factor": 2.0}, r"unroll factor must be an integer >= 1, got 2\.0"),
    ({"factor": 0}, "unroll factor must be an integer >= 1, got 0"),
])
def test_unroll_options_are_checked(kw, message):
    with pytest.raises(TransformError, match=message):
        Unroll(**kw)
