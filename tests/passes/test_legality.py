"""Legality of the reordering passes: every dependence direction, on nested and sibling loops.

For unroll-and-jam, interchange, tile and vectorize, each kernel carries one dependence of a
known direction vector. An illegal transformation must be refused (`TransformError` naming the
dependence); a legal one must be accepted and its result must equal the reference interpreter's
and ``variant="none"``'s. The unit tests at the end call `passes/dependence.py` directly on the
lowered IR (no LLVM), so a weakened check fails there even when no run would show it.
"""
from __future__ import annotations

import pytest

from unrollkit.core.errors import TransformError
from unrollkit.passes import dependence

from differential import check_against_reference, kernel_from, loops_named, lowered_module

SIZES = {"N": 9, "M": 8}      # jam by 2 of range(1, 9) leaves a cleanup iteration
ODD = {"N": 8, "M": 7}        # and of range(1, 8) none: both run


def _range(d: int, size: str) -> str:
    """The loop range keeping ``v - d`` inside [0, size)."""
    if d > 0:
        return f"range({d}, {size})"
    if d < 0:
        return f"range({size} - {-d})"
    return f"range({size})"


def _sub(v: str, d: int) -> str:
    return v if d == 0 else f"{v} - {d}" if d > 0 else f"{v} + {-d}"


def nested2(a: int, b: int):
    """``A[i, j] = A[i - a, j - b] * 0.5 + B[i, j]``: a dependence of direction sign(a, b)
    (flow when (a, b) is lexicographically positive, anti otherwise)."""
    return kernel_from(f'''
        def nested2(A: uk.f64["N", "M"], B: uk.f64["N", "M"]):
            for i in {_range(a, "N")}:
                for j in {_range(b, "M")}:
                    A[i, j] = A[{_sub("i", a)}, {_sub("j", b)}] * 0.5 + B[i, j]
        ''')


def nested3(a: int, b: int, c: int):
    return kernel_from(f'''
        def nested3(A: uk.f64["N", "M", "M"], B: uk.f64["N", "M", "M"]):
            for i in {_range(a, "N")}:
                for j in {_range(b, "M")}:
                    for k in {_range(c, "M")}:
                        A[i, j, k] = A[{_sub("i", a)}, {_sub("j", b)}, {_sub("k", c)}] * 0.5 + B[i, j, k]
        ''')


def _lex(vec) -> int:
    return next((1 if x > 0 else -1 for x in vec if x), 0)


def direction(*offsets) -> tuple:
    """The dependence's direction vector: the offsets made lexicographically positive."""
    s = _lex(offsets)
    return tuple(x * s if s else x for x in offsets)


ALL2 = [(a, b) for a in (-1, 0, 1) for b in (-1, 0, 1)]


def _expect(kernel, pipeline, legal: bool, sizes=SIZES, words="dependence"):
    if legal:
        check_against_reference(kernel, sizes, pipeline, seeds=(0, 1))
    else:
        with pytest.raises(TransformError, match=words):
            check_against_reference(kernel, sizes, pipeline)


# ---------------------------------------------------------------- nested loops, every direction


@pytest.mark.parametrize("a,b", ALL2, ids=[f"{a},{b}" for a, b in ALL2])
def test_unroll_jam_outer_loop_every_direction(a, b):
    """Jamming i reverses exactly the dependences (<, >): iteration i+1 at column j-1 would run
    before iteration i at column j."""
    legal = direction(a, b) != (1, -1)
    _expect(nested2(a, b), "unroll-jam{loop=i,factor=2}", legal)
    if legal:
        check_against_reference(nested2(a, b), ODD, "unroll-jam{loop=i,factor=3,remainder=peel-front}")


@pytest.mark.parametrize("a,b", ALL2, ids=[f"{a},{b}" for a, b in ALL2])
def test_interchange_every_direction(a, b):
    legal = direction(a, b) != (1, -1)
    _expect(nested2(a, b), "interchange{a=i,b=j}", legal)


@pytest.mark.parametrize("a,b", ALL2, ids=[f"{a},{b}" for a, b in ALL2])
def test_tile_both_loops_every_direction(a, b):
    """Tiling i and j is legal iff the band is fully permutable: no (<, >) dependence."""
    legal = direction(a, b) != (1, -1)
    _expect(nested2(a, b), "tile{i=2,j=3}", legal)


@pytest.mark.parametrize("a,b", ALL2, ids=[f"{a},{b}" for a, b in ALL2])
def test_tile_outer_loop_only_is_always_legal(a, b):
    """Strip-mining one loop keeps every iteration's order: legal whatever the dependence."""
    check_against_reference(nested2(a, b), SIZES, "tile{i=2}")


@pytest.mark.parametrize("a,b", ALL2, ids=[f"{a},{b}" for a, b in ALL2])
def test_tile_with_point_loops_outside_is_refused_when_reversed(a, b):
    """order=j.tile:i.tile:j:i also interchanges the loops: refused exactly when (<, >)."""
    legal = direction(a, b) not in ((1, -1),)
    _expect(nested2(a, b), "tile{i=2,j=2,order=j.tile:i.tile:j:i}", legal)


@pytest.mark.parametrize("a,b", ALL2, ids=[f"{a},{b}" for a, b in ALL2])
def test_vectorize_inner_loop_every_direction(a, b):
    """Vectorizing j is legal unless a dependence crosses j's iterations within one i from a
    later statement of the body to an earlier one: any dependence carried by i is fine, the
    flow (=, <) from the store back to the load is refused; the anti-dependence (=, >) of
    ``A[i, j] = A[i, j + 1]`` is legal (every lane reads before any lane writes: the load comes
    first in the body), which the conservative test before isl refused."""
    legal = a != 0 or b <= 0
    _expect(nested2(a, b), "vectorize{loop=j,width=4}", legal, words="dependence")


JAM3 = [
    # (offsets, jammed loop, legal)
    ((1, 0, -1), "i", False),   # (<, =, >): the inner directions are lexicographically negative
    ((1, -1, 1), "i", False),   # (<, >, <)
    ((1, 1, -1), "i", True),    # (<, <, >): the inner part is positive
    ((1, 0, 0), "i", True),     # (<, =, =)
    ((0, 1, -1), "i", True),    # (=, <, >): not carried by i
    ((0, 1, -1), "j", False),   # carried by j with (<, >) inside it
    ((1, 1, -1), "j", True),    # carried by i: jamming j inside one i cannot reverse it
    ((0, -1, 1), "j", False),   # an anti-dependence of direction (=, <, >)
    ((0, 0, 1), "j", True),     # (=, =, <): not carried by j
]


@pytest.mark.parametrize("offsets,loop,legal", JAM3, ids=[f"{o}-{l}" for o, l, _ in JAM3])
def test_unroll_jam_three_deep(offsets, loop, legal):
    _expect(nested3(*offsets), f"unroll-jam{{loop={loop},factor=2}}", legal)


INTERCHANGE3 = [((0, 1, -1), False), ((0, -1, 1), False), ((0, 1, 1), True), ((1, 1, -1), True),
                ((1, -1, 1), True), ((0, 0, 1), True)]


@pytest.mark.parametrize("offsets,legal", INTERCHANGE3, ids=[str(o) for o, _ in INTERCHANGE3])
def test_interchange_inner_pair_three_deep(offsets, legal):
    """Swapping j and k: only a dependence (=, <, >) between them is reversed; one carried by i
    stays carried by i."""
    _expect(nested3(*offsets), "interchange{a=j,b=k}", legal)


# ---------------------------------------------------------------- sibling inner loops

SIBLINGS = {
    # the miscompile: y flows from the second inner loop at i-1 into the first at i;
    # jammed, copy i+1 of the first loop reads y before copy i of the second wrote it
    "flow-back": ("x[i, j] = y[i - 1, j] + 1.0", "y[i, j2] = x[i, j2] * 2.0", False),
    # the same flow, forward in the text: the first loop's copies all run before the second's
    "flow-forward": ("x[i, j] = b[i, j] + 1.0", "y[i, j2] = x[i - 1, j2] * 2.0", True),
    # "=" on i only: no dependence crosses i's iterations
    "same-iteration": ("x[i, j] = b[i, j] + 1.0", "y[i, j2] = x[i, j2] * 2.0", True),
    # anti: the second loop reads y[i+1] before the first loop of iteration i+1 writes it
    "anti-back": ("y[i, j] = b[i, j] * 2.0", "x[i, j2] = y[i + 1, j2] + 1.0", False),
    "anti-forward": ("x[i, j] = y[i + 1, j] + 1.0", "y[i, j2] = b[i, j2] * 2.0", True),
    # output: the first loop of iteration i overwrites what the second wrote at i-1
    "output-back": ("x[i - 1, j] = b[i, j] + 1.0", "x[i, j2] = b[i, j2] * 2.0", False),
    "output-forward": ("x[i, j] = b[i, j] + 1.0", "x[i - 1, j2] = b[i, j2] * 2.0", True),
}


def siblings(first: str, second: str):
    lo = "1" if "- 1" in first + second else "0"
    hi = "N - 1" if "+ 1" in first + second else "N"
    return kernel_from(f'''
        def siblings(x: uk.f64["N", "M"], y: uk.f64["N", "M"], b: uk.f64["N", "M"]):
            for i in range({lo}, {hi}):
                for j in range(M):
                    {first}
                for j2 in range(M):
                    {second}
        ''')


@pytest.mark.parametrize("case", sorted(SIBLINGS))
@pytest.mark.parametrize("factor", [2, 3])
def test_unroll_jam_sibling_inner_loops(case, factor):
    first, second, legal = SIBLINGS[case]
    _expect(siblings(first, second), f"unroll-jam{{loop=i,factor={factor}}}", legal)


@pytest.mark.parametrize("case", sorted(SIBLINGS))
def test_sibling_loops_strip_mined_and_vectorized_stay_correct(case):
    """Strip-mining i and vectorizing the inner loops never reorder a dependence carried by
    i: accepted, and correct, for every sibling case (even those jam must refuse)."""
    first, second, _ = SIBLINGS[case]
    k = siblings(first, second)
    check_against_reference(k, SIZES, "tile{i=3}")
    check_against_reference(k, SIZES, "vectorize{loop=j,width=4},vectorize{loop=j2,width=4}")


def test_sibling_loops_with_a_recurrence_inside_refuse_vectorize():
    k = kernel_from('''
        def recurrence(x: uk.f64["N", "M"], y: uk.f64["N", "M"], b: uk.f64["N", "M"]):
            for i in range(N):
                for j in range(1, M):
                    x[i, j] = x[i, j - 1] + b[i, j]
                for j2 in range(M):
                    y[i, j2] = x[i, j2] * 2.0
        ''')
    _expect(k, "vectorize{loop=j,width=4}", False)
    check_against_reference(k, SIZES, "vectorize{loop=j2,width=4}")


def test_sibling_loops_refuse_interchange_and_two_loop_tiling():
    """Not a perfect nest: refused by shape, before any dependence is looked at."""
    k = siblings(*SIBLINGS["same-iteration"][:2])
    for pipeline in ("interchange{a=i,b=j}", "tile{i=2,j=2}"):
        with pytest.raises(TransformError, match="perfect"):
            check_against_reference(k, SIZES, pipeline)


# ---------------------------------------------------------------- dependence.py, unit level


def _loop(module, name):
    (op,) = loops_named(module, name)
    return op


def _pair(module, array_arg: int):
    """(store, load) accesses of the function argument ``array_arg``."""
    acc = [a for a in dependence.accesses(module.operation)
           if a.memref.get_name() == f"%arg{array_arg}"]
    (store,) = [a for a in acc if a.write]
    (load,) = [a for a in acc if not a.write]
    return store, load


@pytest.mark.parametrize("a,b", ALL2, ids=[f"{a},{b}" for a, b in ALL2])
def test_signs_are_the_distance_signs(a, b):
    """signs(store, load) over (i, j): the load at iteration (i + a, j + b) reads what the store
    wrote at (i, j), so the only sign vector is (sign a, sign b)."""
    ctx, module = lowered_module(nested2(a, b), SIZES)
    with ctx:
        store, load = _pair(module, 0)
        loops = [_loop(module, "i"), _loop(module, "j")]
        sign = lambda x: (x > 0) - (x < 0)  # noqa: E731
        assert dependence.signs(store, load, loops) == [(sign(a), sign(b))]
        assert dependence.signs(load, store, loops) == [(-sign(a), -sign(b))]


@pytest.mark.parametrize("a,b", ALL2, ids=[f"{a},{b}" for a, b in ALL2])
def test_check_functions_on_nested_loops(a, b):
    legal = direction(a, b) != (1, -1)
    ctx, module = lowered_module(nested2(a, b), SIZES)
    with ctx:
        i, j = _loop(module, "i"), _loop(module, "j")
        checks = [lambda: dependence.check_unroll_jam(i, "jam"),
                  lambda: dependence.check_permutation([i, j], [j, i], "swap"),
                  lambda: dependence.check_tiling([i, j], {i, j}, [("tile", i), ("tile", j),
                                                                    ("point", i), ("point", j)], "tile")]
        for check in checks:
            if legal:
                check()
            else:
                with pytest.raises(TransformError, match=r"dependence on %arg0 .*\(<, >\)"):
                    check()
        # strip-mining i alone (its point loop right inside its tile loop) is always legal
        dependence.check_tiling([i, j], {i}, [("tile", i), ("point", i), ("point", j)], "strip")


@pytest.mark.parametrize("case", sorted(SIBLINGS))
def test_check_unroll_jam_on_sibling_loops(case):
    """The unit test of the issue's survivor: a dependence carried by i with "=" on the
    sibling inner loops (no common inner loop) from a later statement to an earlier one."""
    first, second, legal = SIBLINGS[case]
    ctx, module = lowered_module(siblings(first, second), SIZES)
    with ctx:
        i = _loop(module, "i")
        if legal:
            dependence.check_unroll_jam(i, "jam")
        else:
            with pytest.raises(TransformError, match=r"carried by loop 'i' with directions \(<\)"):
                dependence.check_unroll_jam(i, "jam")


def test_same_jam_unit_keeps_statements_of_one_block_together():
    """Two statements in one loop-free run of i's body are copied as a unit: their order holds."""
    k = kernel_from('''
        def unit(x: uk.f64["N"], y: uk.f64["N"]):
            for i in range(1, N):
                x[i] = y[i - 1] + 1.0
                y[i] = x[i] * 2.0
        ''')
    ctx, module = lowered_module(k, SIZES)
    with ctx:
        dependence.check_unroll_jam(_loop(module, "i"), "jam")
    check_against_reference(k, SIZES, "unroll-jam{loop=i,factor=2}")


# ---------------------------------------------------------------- found by mutation testing


def test_refusals_name_every_direction():
    """The message spells the direction vector, "=" included, and tiling says why."""
    with pytest.raises(TransformError, match=r"directions \(<, =, >\)"):
        check_against_reference(nested3(1, 0, -1), SIZES, "unroll-jam{loop=i,factor=2}")
    with pytest.raises(TransformError, match=r"\(<, >\).* would be reversed \(the band is not fully permutable\)$"):
        check_against_reference(nested2(1, -1), SIZES, "tile{i=2,j=2}")


#: a 1-D array in a 2-D nest: i does not appear in the subscripts, so its distance is unknown
#: (any of >, =, <) and the analysis yields sign vectors (>, >), (=, >), (<, >) in that order;
#: the illegal (<, >) comes after vectors that are skipped, not last-checked
ROW = kernel_from('''
    def row(x: uk.f64["M"], B: uk.f64["N", "M"]):
        for i in range(N):
            for j in range(M - 1):
                x[j] = x[j + 1] * 0.5 + B[i, j]
    ''')


@pytest.mark.parametrize("pipeline", ["unroll-jam{loop=i,factor=2}", "tile{i=2,j=2}",
                                      "interchange{a=i,b=j}"])
def test_unknown_outer_distance_is_refused(pipeline):
    _expect(ROW, pipeline, False)


TILE3 = [((0, 1, -1), False), ((1, 1, -1), False), ((1, 0, -1), False), ((1, 1, 1), True),
         ((0, 0, 1), True), ((1, -1, 0), False), ((0, 1, 0), True)]


@pytest.mark.parametrize("offsets,legal", TILE3, ids=[str(o) for o, _ in TILE3])
def test_tile_three_deep(offsets, legal):
    """Every loop tiled: a loop whose distance is "=" has tile-level distance "=" too, so a
    later ">" still reverses the order."""
    _expect(nested3(*offsets), "tile{i=2,j=2,k=2}", legal)


def test_jam_unit_ends_at_an_inner_loop():
    """Statements of i's body separated by an inner loop are not one jam unit: the copies of
    ``t = y[i - 1]`` for i and i+1 run before the loop, the store of y[i] after it."""
    k = kernel_from('''
        def split_unit(y: uk.f64["N"], z: uk.f64["N", "M"], B: uk.f64["N", "M"]):
            for i in range(1, N):
                t = y[i - 1] + 1.0
                for j in range(M):
                    z[i, j] = t * B[i, j]
                y[i] = t
        ''')
    _expect(k, "unroll-jam{loop=i,factor=2}", False)
    ctx, module = lowered_module(k, SIZES)
    with ctx, pytest.raises(TransformError):
        dependence.check_unroll_jam(_loop(module, "i"), "jam")


def test_jam_unit_followed_by_an_inner_loop_is_legal():
    """Load and store of y in one loop-free run, then an inner loop: jamming copies the run whole
    (copy i's store before copy i+1's load), so it is legal and must be accepted."""
    k = kernel_from('''
        def whole_unit(y: uk.f64["N"], z: uk.f64["N", "M"], B: uk.f64["N", "M"]):
            for i in range(1, N):
                t = y[i - 1] + 1.0
                y[i] = t * 2.0
                for j in range(M):
                    z[i, j] = t * B[i, j]
        ''')
    ctx, module = lowered_module(k, SIZES)
    with ctx:
        dependence.check_unroll_jam(_loop(module, "i"), "jam")
    check_against_reference(k, SIZES, "unroll-jam{loop=i,factor=2}")
    check_against_reference(k, ODD, "unroll-jam{loop=i,factor=3}")
