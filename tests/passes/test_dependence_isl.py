"""The exact (isl) dependence analysis: its relations, and the transformations it proves legal
that the conservative test before it refused, each run end to end against the interpreter.

`unrollkit.analysis.dependence` gives ordered dependences (flow/anti/output) between statement
instances and their exact direction vectors; `unrollkit.analysis.legality` the rules of the
passes. Refusals are checked over every direction on nested and sibling loops.
"""
from __future__ import annotations

import itertools

import islpy as isl
import pytest

from unrollkit.analysis.dependence import Model
from unrollkit.core.errors import TransformError
from unrollkit.ir.ir_utils import never_runs, trip_count_nonnegative

from differential import check_against_reference, kernel_from, loops_named, lowered_module
from test_legality import SIZES, _expect, _lex, _sub, direction, nested2, nested3


def _loop(module, name):
    (op,) = loops_named(module, name)
    return op


# ---------------------------------------------------------------- the relations themselves


def test_one_flow_dependence_with_its_exact_distance():
    """``A[i, j] = A[i - 1, j] ...``: exactly one dependence, the flow from the store at (i-1, j)
    to the load at (i, j), distance (1, 0); no anti or output dependence exists."""
    ctx, module = lowered_module(nested2(1, 0), SIZES)
    with ctx:
        i, j = _loop(module, "i"), _loop(module, "j")
        model = Model(i)
        deps = model.dependences()
        assert [(d.kind, d.source.writes, d.sink.writes) for d in deps] == [("flow", True, False)]
        assert deps[0].directions([i, j]) == [(1, 0)]
        assert deps[0].distances([i, j]).is_equal(isl.Set.read_from_str(model.ctx, "{ [1, 0] }"))


@pytest.mark.parametrize("a,b", [(-1, 1), (0, -1), (1, 1)])
def test_kinds_follow_the_schedule(a, b):
    """The same text is a flow dependence when the offsets are lexicographically positive (the
    store runs first), an anti dependence otherwise (the load runs first)."""
    ctx, module = lowered_module(nested2(a, b), SIZES)
    with ctx:
        i, j = _loop(module, "i"), _loop(module, "j")
        (dep,) = Model(i).dependences()
        assert dep.kind == ("flow" if _lex((a, b)) > 0 else "anti")
        assert dep.directions([i, j]) == [direction(a, b)]


def test_output_dependence_between_sibling_loops():
    k = kernel_from('''
        def out(x: uk.f64["N", "M"], b: uk.f64["N", "M"]):
            for i in range(1, N):
                for j in range(M):
                    x[i - 1, j] = b[i, j] + 1.0
                for j2 in range(M):
                    x[i, j2] = b[i, j2] * 2.0
        ''')
    ctx, module = lowered_module(k, SIZES)
    with ctx:
        i = _loop(module, "i")
        deps = [d for d in Model(i).dependences() if d.kind == "output"]
        assert len(deps) == 1 and deps[0].directions([i]) == [(1,)]
        assert deps[0].source.order > deps[0].sink.order  # from the second loop back to the first


def test_triangular_bound_span_is_exact():
    """``for k in range(i, j)`` inside ``for j in range(i, N)``: j - i >= 0 on the nest's points
    (the interval analysis before isl bounded i and j each on its own and could not see it)."""
    k = kernel_from('''
        def tri(x: uk.f64["N", "N", "N"]):
            for i in range(N):
                for j in range(i, N):
                    for k in range(i, j):
                        x[i, j, k] = 1.0
        ''')
    ctx, module = lowered_module(k, SIZES)
    with ctx:
        inner = _loop(module, "k")
        assert trip_count_nonnegative(inner)
        assert not never_runs(inner)
    empty = kernel_from('''
        def empty(x: uk.f64["N", "N"]):
            for i in range(N):
                for j in range(i + 1, i + 1):
                    x[i, j] = 1.0
        ''')
    ctx, module = lowered_module(empty, SIZES)
    with ctx:
        assert never_runs(_loop(module, "j"))


# ---------------------------------------------------------------- refused before isl, legal


FLAT = kernel_from('''
    def flat(x: uk.f64["K"], b: uk.f64["N", 8]):
        for i in range(1, N):
            for j in range(8):
                x[i * 8 + j] = x[(i - 1) * 8 + j] * 0.5 + b[i, j]
    ''')
FLAT_SIZES = {"N": 7, "K": 56}


@pytest.mark.parametrize("pipeline", ["interchange{a=i,b=j}", "unroll-jam{loop=i,factor=2}",
                                      "tile{i=2,j=4}", "unroll-jam{loop=i,factor=3}"])
def test_linearised_subscript_has_distance_one_zero(pipeline):
    """``x[8 i + j]`` against ``x[8 (i - 1) + j]``: the distance is exactly (1, 0) (j stays in
    [0, 8)); the per-subscript test saw two loops in one subscript and assumed any direction."""
    check_against_reference(FLAT, FLAT_SIZES, pipeline, seeds=(0, 1))


DIST2 = kernel_from('''
    def dist2(A: uk.f64["N", "M"], B: uk.f64["N", "M"]):
        for i in range(2, N):
            for j in range(M - 1):
                A[i, j] = A[i - 2, j + 1] * 0.5 + B[i, j]
    ''')


def test_jam_by_less_than_the_distance_is_legal():
    """Direction (<, >) at distance 2 on i: jamming by 2 never puts the two iterations in one
    copy group, so it is legal; by 3 it would reverse them."""
    check_against_reference(DIST2, SIZES, "unroll-jam{loop=i,factor=2}", seeds=(0, 1))
    check_against_reference(DIST2, {"N": 10, "M": 8}, "unroll-jam{loop=i,factor=2,remainder=peel-front}")
    with pytest.raises(TransformError, match=r"carried by loop 'i' with directions \(<, >\)"):
        check_against_reference(DIST2, SIZES, "unroll-jam{loop=i,factor=3}")


def test_sibling_loops_jammed_by_less_than_the_distance():
    k = kernel_from('''
        def sib2(x: uk.f64["N", "M"], y: uk.f64["N", "M"]):
            for i in range(2, N):
                for j in range(M):
                    x[i, j] = y[i - 2, j] + 1.0
                for j2 in range(M):
                    y[i, j2] = x[i, j2] * 2.0
        ''')
    check_against_reference(k, SIZES, "unroll-jam{loop=i,factor=2}", seeds=(0, 1))
    with pytest.raises(TransformError, match=r"carried by loop 'i' with directions \(<\)"):
        check_against_reference(k, SIZES, "unroll-jam{loop=i,factor=4}")


def test_vectorize_keeps_a_dependence_forward_in_the_body():
    """y[j] is read back by the next statement at the same j, and x[j + 1] is read one iteration
    before it is overwritten: every lane of a statement runs before the next statement, so both
    hold; the old test refused any dependence crossing j."""
    k = kernel_from('''
        def fwd(x: uk.f64["N"], y: uk.f64["N"]):
            for j in range(N - 1):
                y[j] = x[j + 1] * 2.0
                x[j] = y[j] + 1.0
        ''')
    check_against_reference(k, {"N": 19}, "vectorize{loop=j,width=4}", seeds=(0, 1))
    back = kernel_from('''
        def back(x: uk.f64["N"], y: uk.f64["N"]):
            for j in range(1, N):
                y[j] = x[j - 1] * 2.0
                x[j] = y[j] + 1.0
        ''')
    _expect(back, "vectorize{loop=j,width=4}", False, sizes={"N": 19})


def test_vectorize_with_a_distance_of_at_least_the_width():
    k = kernel_from('''
        def far(x: uk.f64["N"], b: uk.f64["N"]):
            for j in range(4, N):
                x[j] = x[j - 4] * 0.5 + b[j]
        ''')
    check_against_reference(k, {"N": 23}, "vectorize{loop=j,width=4}", seeds=(0, 1))
    _expect(k, "vectorize{loop=j,width=8}", False, sizes={"N": 23})


# ---------------------------------------------------------------- every direction, refused exactly

ALL3 = list(itertools.product((-1, 0, 1), repeat=3))


def _jam_legal(vec, depth: int) -> bool:
    """Jamming the loop at ``depth`` reverses exactly a dependence carried by it (outer
    directions "=") whose direction inside it is lexicographically negative."""
    if any(vec[:depth]) or vec[depth] <= 0:
        return True
    return _lex(vec[depth + 1:]) >= 0


@pytest.mark.parametrize("offsets", ALL3, ids=[str(o) for o in ALL3])
def test_unroll_jam_every_direction_three_deep(offsets):
    vec = direction(*offsets)
    _expect(nested3(*offsets), "unroll-jam{loop=i,factor=2}", _jam_legal(vec, 0))
    _expect(nested3(*offsets), "unroll-jam{loop=j,factor=2}", _jam_legal(vec, 1))


@pytest.mark.parametrize("offsets", ALL3, ids=[str(o) for o in ALL3])
def test_interchange_outer_and_inner_every_direction(offsets):
    """Swapping i and k: refused exactly when the swapped vector is lexicographically negative."""
    vec = direction(*offsets)
    _expect(nested3(*offsets), "interchange{a=i,b=k}", _lex((vec[2], vec[1], vec[0])) >= 0)


SIB = [(a, b, w) for a in (-1, 0, 1) for b in (-1, 0, 1) for w in ("first", "second")]


def sibling_pair(a: int, b: int, writer: str):
    """x written in one of two sibling inner loops and read in the other at x[i - a, j - b]."""
    write, read = "x[i, j] = b[i, j] + 1.0", f"y[i, j2] = x[{_sub('i', a)}, {_sub('j2', b)}] * 2.0"
    if writer == "second":
        write, read = "x[i, j2] = b[i, j2] + 1.0", f"y[i, j] = x[{_sub('i', a)}, {_sub('j', b)}] * 2.0"
    first, second = (write, read) if writer == "first" else (read, write)
    return kernel_from(f'''
        def sib(x: uk.f64["N", "M"], y: uk.f64["N", "M"], b: uk.f64["N", "M"]):
            for i in range(1, N - 1):
                for j in range(1, M - 1):
                    {first}
                for j2 in range(1, M - 1):
                    {second}
        ''')


@pytest.mark.parametrize("a,b,writer", SIB, ids=[f"{a},{b},{w}" for a, b, w in SIB])
@pytest.mark.parametrize("factor", [2, 3])
def test_unroll_jam_sibling_loops_every_direction(a, b, writer, factor):
    """With x written in the first loop, jamming i reverses the anti dependence of a read of
    x[i + 1] (a = -1); written in the second, the flow into a read of x[i - 1] (a = 1). The
    inner offset b never matters: the sibling loops share no loop inside i."""
    legal = a != (-1 if writer == "first" else 1)
    _expect(sibling_pair(a, b, writer), f"unroll-jam{{loop=i,factor={factor}}}", legal)



# ---------------------------------------------------------------- accumulator splitting

TWO = kernel_from('''
    def two(x: uk.f64["N"], out: uk.f64[2]):
        for i in range(N):
            out[0] += x[i] * out[1]
            out[1] = x[i] * 2.0
    ''')
SCALED = kernel_from('''
    def scaled(x: uk.f64["N"], out: uk.f64[2]):
        for i in range(N):
            out[0] += x[i] * out[1]
    ''')


@pytest.mark.parametrize("kernel,pipeline", [
    (TWO, "split-accumulators{loop=i,accumulators=3}"),
    (SCALED, "split-accumulators{loop=i,accumulators=3}"),
    (SCALED, "vectorize{loop=i,width=4,reductions=true}")], ids=["split-two", "split-scaled", "vectorize"])
def test_reduction_beside_another_element_of_its_array(kernel, pipeline):
    """out[0] is the reduction, out[1] another element read (and in TWO stored) in the same loop:
    only out[0] is hoisted into accumulators, so this is legal (refused before: "read or
    written elsewhere")."""
    check_against_reference(kernel, {"N": 11}, pipeline, seeds=(0, 1), rtol=1e-12)


def test_reduction_element_used_elsewhere_is_refused():
    k = kernel_from('''
        def leak(x: uk.f64["N"], y: uk.f64["N"], out: uk.f64[2]):
            for i in range(N):
                out[0] += x[i]
                y[i] = out[i - i] * 2.0
        ''')
    for pipeline in ("split-accumulators{loop=i,accumulators=3}", "vectorize{loop=i,width=4,reductions=true}"):
        with pytest.raises(TransformError, match="elsewhere"):
            check_against_reference(k, {"N": 11}, pipeline)


def test_vectorized_triangular_access_is_marked_in_bounds():
    """``x[i, j - i]`` for j in range(i, N): the lanes stay in [0, N - i); bounding i and j each
    on its own (the interval analysis before isl) put j - i below 0 and left the transfer masked."""
    import unrollkit as uk
    k = kernel_from('''
        def shift(x: uk.f64["N", "N"], y: uk.f64["N", "N"]):
            for i in range(N):
                for j in range(i, N):
                    y[i, j] = x[i, j - i] * 2.0
        ''')
    f = check_against_reference(k, {"N": 13}, "vectorize{loop=j,width=4}", seeds=(0, 1))
    text = f.ir("transformed")
    reads = [line for line in text.splitlines() if "vector.transfer_read" in line]
    assert reads and all("in_bounds = [true]" in line for line in reads), reads


# ---------------------------------------------------------------- IR the frontend does not write


def _model_of(text: str):
    from mlir import ir
    ctx = ir.Context()
    with ctx:
        module = ir.Module.parse(text)
        (loop,) = [op for op in module.body.operations[0].regions[0].blocks[0].operations
                   if op.name == "affine.for"]
        model = Model(loop)
        return ctx, module, loop, [(d.kind, d.directions([loop])) for d in model.dependences()]


def test_vector_accesses_depend_through_every_lane():
    """A 4-lane store at a[i + 4] and a 4-lane load at a[i]: the load of a later iteration reads
    lanes an earlier store wrote (flow, distance 1..4 ahead is "<"), and stores 1..3 apart
    overlap (output). The test before isl did not look at vector accesses at all."""
    ctx, _, _, deps = _model_of('''
        func.func @f(%a: memref<16xf32>) {
          affine.for %i = 0 to 8 {
            %v = affine.vector_load %a[%i] : memref<16xf32>, vector<4xf32>
            affine.vector_store %v, %a[%i + 4] : memref<16xf32>, vector<4xf32>
          }
          return
        }''')
    assert sorted(deps) == [("flow", [(1,)]), ("output", [(1,)])]


def test_affine_if_restricts_the_statement_domain():
    """The store runs only for i >= 6, the load of a[i + 2] only for i < 4: the elements
    never meet (a[8..] written, a[2..5] read), so there is no dependence."""
    _, _, _, deps = _model_of('''
        func.func @f(%a: memref<16xf32>, %b: memref<16xf32>) {
          affine.for %i = 0 to 8 {
            affine.if affine_set<(d0) : (d0 - 6 >= 0)>(%i) {
              %c = arith.constant 1.0 : f32
              affine.store %c, %a[%i + 2] : memref<16xf32>
            } else {
              affine.if affine_set<(d0) : (3 - d0 >= 0)>(%i) {
                %v = affine.load %a[%i + 2] : memref<16xf32>
                affine.store %v, %b[%i] : memref<16xf32>
              }
            }
          }
          return
        }''')
    assert deps == []


def test_an_index_the_analysis_cannot_read_gives_every_direction():
    """A subscript loaded from memory: unknown, so every direction (and the jam is refused)."""
    ctx, module, loop, deps = _model_of('''
        func.func @f(%a: memref<16xf32>, %idx: memref<16xindex>) {
          affine.for %i = 0 to 8 {
            %k = affine.load %idx[%i] : memref<16xindex>
            %v = memref.load %a[%k] : memref<16xf32>
            affine.store %v, %a[%i] : memref<16xf32>
          }
          return
        }''')
    assert ("flow", [(-1,), (0,), (1,)]) in deps and ("anti", [(-1,), (0,), (1,)]) in deps


def test_a_loop_never_reached_never_runs():
    """At N = 1 the outer loop is empty: the inner loop is never reached, so it never runs and
    its trip count is nonnegative wherever it runs (two fuzz cases, 503172 and 503798, were
    refused later in their pipelines when this was unknown)."""
    k = kernel_from('''
        def unreached(z: uk.f64["N", "M"]):
            for i in range(1, N - 1):
                for j in range(i + 1, min(M - 1, i + 4)):
                    z[i, j] = 1.0
        ''')
    ctx, module = lowered_module(k, {"N": 1, "M": 3})
    with ctx:
        j = _loop(module, "j")
        assert never_runs(j) and trip_count_nonnegative(j)
    ctx, module = lowered_module(k, {"N": 9, "M": 8})
    with ctx:
        j = _loop(module, "j")
        assert not never_runs(j)


def test_reductions_on_unrolled_copies_split_in_a_child_process(tmp_path):
    """Fuzz case 700380: after ``unroll`` copies ``C[j] += ...`` six times inside k, each copy is
    a reduction on its own element of C, which split-accumulators now accepts; an index made
    inside the loop body must not be used by the load hoisted before it (that crashed)."""
    import subprocess
    import sys
    code = (
        "from unrollkit.tools.fuzz import Case, run_case\n"
        "src = 'def fuzz_kernel(A: uk.i32[\"K\", \"N\"], B: uk.i32[\"K\"], C: uk.i32[\"N\"]):\\n"
        "    for k in range(K):\\n        for j in range(N):\\n            C[j] += A[k, j] * B[k]\\n'\n"
        "for pipeline in ('unroll{factor=16},split-accumulators{loop=k,accumulators=4},"
        "unroll{loop=j,factor=2}', 'unroll{factor=16},split-accumulators{loop=k,accumulators=3}'):\n"
        "    print(run_case(Case(source=src, dtype='i32', sizes=(('N', 6), ('K', 6)), pipeline=pipeline,\n"
        "                        variant='llvm-auto', data_seed=11565, factor=8)))\n")
    # (run outside the checkout: from its root, ``python -c`` would import the source folder
    # unrollkit/, which lacks the passes and kernels the installed package maps in)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600,
                       cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.split() == ["ok", "ok"], r.stdout
