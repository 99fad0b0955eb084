"""Exact iteration counts for the cost model (unrollkit/analysis/iteration_counts.py): every
count equals a brute-force enumeration of the loops, triangular and strided bounds included,
and the cost model reads a triangular loop's mean trip count, not its first one."""
from __future__ import annotations

import islpy as isl
import pytest

import unrollkit as uk
from unrollkit.analysis import iteration_counts as ic
from unrollkit.frontend import descriptor as d
from unrollkit.kernels import gemm
from unrollkit.tuning import cost_loop
from unrollkit.tuning.cost_loop import innermost_nests
from unrollkit.core.target import host_target

N, M = uk.sizes("N M")


def brute_force(outer, lp, sizes) -> tuple[int, int]:
    """(entries that run at least once, iterations) by running the loops' bounds in Python."""
    def trips(loop, env):
        lo = max(d.aff_eval(e, env) for e in loop.lower)
        hi = min(d.aff_eval(e, env) for e in loop.upper)
        return range(lo, hi, loop.step)

    def walk(loops, env):
        if not loops:
            n = len(trips(lp, env))
            return (1 if n else 0), n
        entries = iterations = 0
        for v in trips(loops[0], env):
            e, it = walk(loops[1:], {**env, loops[0].var: v})
            entries, iterations = entries + e, iterations + it
        return entries, iterations
    return walk(list(outer), dict(sizes))


@uk.kernel
def triangle(A: uk.f64["N", "M"]):
    for i in range(N):
        for k in range(M):
            for j in range(i + 1):
                A[j, k] += 1.0


@uk.kernel
def strict_upper(A: uk.f64["N", "N"]):
    for i in range(N):
        for j in range(N):
            for k in range(i + 1, N):
                A[i, j] += A[k, j]


@uk.kernel
def strided_min_max(A: uk.f64["N", "M"]):
    for i in range(1, N, 3):
        for j in range(max(i - 4, 0), min(i + 7, M), 2):
            A[i, j] = 1.0


@uk.kernel
def floor_bounds(A: uk.f64["N", "M"]):
    for i in range(N):
        for j in range(i // 2, (i + M) // 3):
            A[i, j % 5] = 1.0


@uk.kernel
def tetrahedron(A: uk.f64["N", "N", "N"]):
    for i in range(N):
        for j in range(i):
            for k in range(j):
                A[i, j, k] = 1.0


CASES = [triangle, strict_upper, strided_min_max, floor_bounds, tetrahedron, gemm]


@pytest.mark.parametrize("kernel", CASES, ids=lambda k: k.name)
@pytest.mark.parametrize("n, m", [(1, 1), (2, 5), (7, 3), (13, 17), (30, 11)])
def test_counts_equal_brute_force(kernel, n, m):
    sizes = {"N": n, "M": m, "K": m + 2}
    for outer, lp in innermost_nests(kernel.body):
        assert ic.nest_counts(outer, lp, sizes) == brute_force(outer, lp, sizes)


def test_uncoupled_loops_are_counted_apart():
    outer, lp = innermost_nests(triangle.body)[0]
    from unrollkit.analysis.kernel_bounds import loop_domain
    dom = loop_domain(tuple(outer) + (lp,), {"N": 1200, "M": 1000}).domain
    assert sorted(map(sorted, ic.coupled_groups(dom))) == [[0, 2], [1]]
    # 1.2e9 points, counted from two small groups
    assert ic.nest_counts(outer, lp, {"N": 1200, "M": 1000}) == (1200 * 1000, 1200 * 1201 // 2 * 1000)


def test_a_union_is_one_group():
    s = isl.Set("{ [i, j] : 0 <= i < 4 and 0 <= j < 3; [i, j] : 10 <= i < 12 and 5 <= j < 9 }")
    assert ic.coupled_groups(s) == [[0, 1]]
    assert ic.count_points(s) == 12 + 8


def test_too_much_enumeration_is_no_answer_not_a_wrong_one():
    outer, lp = innermost_nests(tetrahedron.body)[0]
    assert ic.nest_counts(outer, lp, {"N": 2000}) is None   # 2000^2 coupled outer points
    assert ic.nest_counts(outer, lp, {"N": 60}) == brute_force(outer, lp, {"N": 60})
    assert ic.count_points(isl.Set("{ [i] : i >= 0 }")) is None  # unbounded


def test_the_cost_model_reads_a_triangular_loops_mean_trip():
    prof = cost_loop.profile(triangle, {"N": 1000, "M": 64}, 8, host_target())
    assert prof.loop == "j" and prof.trip == 500 and prof.instances == 1000 * 64   # was 1 at i = 0
    prof = cost_loop.profile(gemm, {"M": 64, "N": 48, "K": 32}, 4, host_target())
    assert (prof.trip, prof.instances) == (48, 64 * 32)
