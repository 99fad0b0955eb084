"""``unroll``'s remainder handling on the cases mutation testing found untested
(bench/MUTATION.md): ``remainder=pad`` on several loops at once, an ``unrolled-cleanup``
remainder of two iterations, and when `own_cleanup` leaves a loop to upstream's unroller (a
loop that never runs, a trip count the factor divides though it may be negative)."""
from __future__ import annotations

import pytest
from mlir import ir

from unrollkit.codegen.pipeline import Pipeline
from unrollkit.core.errors import TransformError
from unrollkit.ir.ir_utils import affine_loops, constant_trip_count, count_ops, step_of
from unrollkit.passes.pad import pad_loop
from unrollkit.passes.peel import Peel, peel_loop
from unrollkit.passes.unroll import Unroll, own_cleanup

from differential import check_against_reference, kernel_from, loops_named, lowered_module

TWO_LOOPS = kernel_from('''
    def two(x: uk.f64["P"], y: uk.f64["P"], z: uk.f64["P"], w: uk.f64["N"]):
        for i in range(N):
            y[i] = x[i] * 2.0
        for j in range(N):
            z[j] = x[j] + 1.0
    ''')


def test_unroll_pad_unrolls_every_selected_loop():
    """remainder=pad over both loops (every loop selected): each padded to 12 iterations (the
    arrays hold 12) and unrolled by 4 (step 4), not only the first. (No run: pad computes the
    two padded iterations too, by design, where the interpreter does not.)"""
    ctx, module = lowered_module(TWO_LOOPS, {"N": 10, "P": 12})
    with ctx, ir.Location.unknown():
        Pipeline.parse("unroll{factor=4,remainder=pad}").run(module)
        assert sorted(step_of(op) for op in affine_loops(module)) == [4, 4]


def test_unrolled_cleanup_of_two_iterations_leaves_no_loop():
    """N = 6, factor 4: the main loop runs once (so it is unrolled away too) and the two-trip
    remainder is unrolled fully: no loop is left for i."""
    k = kernel_from('''
        def six(x: uk.f64["N"], y: uk.f64["N"]):
            for i in range(N):
                y[i] = x[i] * 2.0
        ''')
    ctx, module = lowered_module(k, {"N": 10})
    with ctx, ir.Location.unknown():
        Pipeline.parse("unroll{loop=i,factor=4,remainder=unrolled-cleanup}").run(module)
        loops = affine_loops(module)
        assert [(step_of(op), constant_trip_count(op)) for op in loops] == [(4, 2)]
        stores = [op for op in module.body.operations[0].regions[0].blocks[0].operations
                  if op.name == "affine.store"]
        assert len(stores) == 2  # the remainder's two iterations, straight-line
    check_against_reference(k, {"N": 10}, "unroll{loop=i,factor=4,remainder=unrolled-cleanup}")


def _loop(text: str):
    ctx = ir.Context()
    with ctx:
        module = ir.Module.parse(text)
    return ctx, module, affine_loops(module)


def test_own_cleanup_leaves_a_loop_that_never_runs_to_upstream():
    ctx, module, (i, j) = _loop('''
        func.func @f(%a: memref<8xf32>) {
          affine.for %i = 0 to 8 {
            affine.for %j = affine_map<(d0) -> (d0 + 9)>(%i) to 8 {
              %v = affine.load %a[%j - 9] : memref<8xf32>
            }
          }
          return
        }''')
    with ctx:
        assert own_cleanup(j, 2) == j and len(affine_loops(module)) == 2


def test_own_cleanup_leaves_a_trip_count_the_factor_divides_to_upstream():
    """j from 2·i to 16: 16 - 2·i iterations, negative for late i, but always even, so
    upstream's cleanup for factor 2 starts at the upper bound: nothing to split off; for
    factor 4 it is split (the loop and its clamped remainder)."""
    text = '''
        func.func @f(%a: memref<16xf32>) {
          affine.for %i = 0 to 12 {
            affine.for %j = affine_map<(d0) -> (d0 * 2)>(%i) to 16 {
              %v = affine.load %a[%j] : memref<16xf32>
            }
          }
          return
        }'''
    ctx, module, (i, j) = _loop(text)
    with ctx:
        assert own_cleanup(j, 2) == j and len(affine_loops(module)) == 2
    ctx, module, (i, j) = _loop(text)
    with ctx:
        own_cleanup(j, 4)
        assert len(affine_loops(module)) == 3


TRIANGLE_CARRYING_VALUES = '''
        func.func @f(%a: memref<9xf32>, %s: memref<9xf32>) {
          %z = arith.constant 0.0 : f32
          affine.for %i = 0 to 9 {
            %r = affine.for %j = affine_map<(d0) -> (d0 + 1)>(%i) to 8 iter_args(%acc = %z) -> (f32) {
              %v = affine.load %a[%j] : memref<9xf32>
              %n = arith.addf %acc, %v : f32
              affine.yield %n : f32
            }
            affine.store %r, %s[%i] : memref<9xf32>
          }
          return
        }'''


def test_own_cleanup_refuses_an_unnamed_triangle_carrying_values_with_the_whole_reason():
    ctx, module, (i, j) = _loop(TRIANGLE_CARRYING_VALUES)
    with ctx, pytest.raises(TransformError) as exc:
        own_cleanup(j, 2)
    assert str(exc.value) == (
        "cannot unroll loop '<unnamed>' by 2: it may run no iterations with its upper bound below its "
        "lower bound (e.g. a triangular loop), where MLIR's cleanup loop would run iterations outside "
        "it, and it carries values (iter_args), so its remainder cannot be split off instead; unroll "
        "it before split-accumulators/vectorize")


def test_unroll_refuses_a_loop_bounded_by_min_with_the_whole_reason():
    ctx, module, loops = _loop('''
        func.func @f(%a: memref<9xf32>) {
          affine.for %i = 0 to min affine_map<() -> (8, 9)>() {
            %v = affine.load %a[%i] : memref<9xf32>
          }
          return
        }''')
    with ctx, ir.Location.unknown(), pytest.raises(TransformError) as exc:
        Pipeline.parse("unroll{factor=2}").run(module)
    assert str(exc.value).endswith(
        "cannot unroll loop '<unnamed>': its bounds use min()/max(), and MLIR's affine unroller only "
        "handles single-expression bounds; unroll another loop, or fully unroll a constant-trip loop")


def _one_loop(trips: int):
    return _loop(f'''
        func.func @f(%a: memref<16xf32>) {{
          affine.for %i = 0 to {trips} {{
            %v = affine.load %a[%i] : memref<16xf32>
            %w = arith.addf %v, %v : f32
            affine.store %w, %a[%i] : memref<16xf32>
          }}
          return
        }}''')


@pytest.mark.parametrize("trips,factor,copies,full", [(10, 4, 4, False), (3, 8, 3, False), (1, 4, 1, False),
                                                     (6, 2, 6, True)])
def test_unroll_code_size_budget_is_exact(monkeypatch, trips, factor, copies, full):
    """The budget check counts the module plus (copies - 1) more loop bodies, copies being the
    factor or the (smaller) trip count: at exactly that budget the unroll is done, one below it
    is refused."""
    ctx, module, (loop,) = _one_loop(trips)
    with ctx:
        total = count_ops(module.operation) + count_ops(loop) * (copies - 1)
    for budget, ok in ((total, True), (total - 1, False)):
        ctx, module, _ = _one_loop(trips)
        monkeypatch.setenv("UNROLLKIT_MAX_OPS", str(budget))
        with ctx, ir.Location.unknown():
            if ok:
                Unroll(factor=factor, full=full).apply(module)  # the pass's estimate, not the pipeline's recount
                assert len(affine_loops(module)) == {10: 2, 3: 0, 1: 1, 6: 0}[trips]  # main + cleanup, full, none
            else:
                what = "full unroll" if full else f"unrolling by {factor}"
                with pytest.raises(TransformError) as exc:
                    Unroll(factor=factor, full=full).apply(module)
                assert str(exc.value).startswith(f"{what} of loop '<unnamed>' would generate about {total:,} "
                                                 f"operations, over the code-size budget of {budget:,};")


def test_full_unroll_of_a_loop_without_a_constant_trip_count_is_refused_with_the_whole_reason():
    ctx, module, loops = _loop('''
        func.func @f(%a: memref<16xf32>, %n: index) {
          affine.for %i = 0 to %n {
            %v = affine.load %a[%i] : memref<16xf32>
          }
          return
        }''')
    with ctx, ir.Location.unknown(), pytest.raises(TransformError) as exc:
        Pipeline.parse("unroll{full=true}").run(module)
    assert str(exc.value).endswith(
        "cannot fully unroll loop '<unnamed>': its trip count is not a compile-time constant")


@pytest.mark.parametrize("trips,factor,loops", [(10, 2, [(2, 5)]), (2, 4, []), (6, 4, [(1, 2)]), (0, 4, [(1, 0)])])
def test_unroll_by_two_and_a_two_trip_loop_unrolled_fully(trips, factor, loops):
    """A factor of 2 unrolls (step 2), a loop of 2 iterations under factor 4 is unrolled fully
    (no loop left), and 6 by 4 leaves only the two-trip cleanup loop (the one-trip main loop is
    unrolled away)."""
    ctx, module, _ = _one_loop(trips)
    with ctx, ir.Location.unknown():
        Unroll(factor=factor).apply(module)
        assert [(step_of(op), constant_trip_count(op)) for op in affine_loops(module)] == loops


@pytest.mark.parametrize("loop", [""])
def test_peel_code_size_budget_is_exact(monkeypatch, loop):
    """peel's estimate: the module plus one more copy of each peeled loop; at exactly that budget
    it peels, one below it refuses, naming the loop (or ``<innermost>`` when none is given)."""
    ctx, module, (op,) = _one_loop(10)
    with ctx:
        total = count_ops(module.operation) + count_ops(op)
    for budget, ok in ((total, True), (total - 1, False)):
        ctx, module, _ = _one_loop(10)
        monkeypatch.setenv("UNROLLKIT_MAX_OPS", str(budget))
        with ctx, ir.Location.unknown():
            if ok:
                Peel(loop=loop, factor=4).apply(module)
                assert [constant_trip_count(o) for o in affine_loops(module)] == [8, 2]
            else:
                with pytest.raises(TransformError) as exc:
                    Peel(loop=loop, factor=4).apply(module)
                assert str(exc.value).startswith(f"peeling of loop {loop or '<innermost>'!r} would generate about "
                                                 f"{total:,} operations, over the code-size budget of {budget:,};")


def test_peel_refuses_an_unnamed_loop_carrying_values_by_its_placeholder_name():
    ctx, module, (i, j) = _loop(TRIANGLE_CARRYING_VALUES)
    with ctx, pytest.raises(TransformError) as exc:
        peel_loop(j, 2)
    assert str(exc.value) == "cannot peel loop '<unnamed>': it carries values (iter_args)"


def _pad_refusal(body: str, args: str) -> str:
    ctx, module, loops = _loop(f"func.func @f({args}) {{\n{body}\n  return\n}}")
    with ctx, pytest.raises(TransformError) as exc:
        pad_loop(loops[-1], 4)
    return str(exc.value)


def test_pad_checks_loads_and_stores_each_and_the_low_end():
    """Padding 6 iterations to 8: a load alone past its array (x of 6), a store alone past its
    array (y of 6), and a reversed subscript 5 - i that the padding takes below 0 are each
    refused; the same loop over arrays of 8 is padded."""
    past = ("cannot pad loop '<unnamed>' from 6 to 8 iterations: {} would be accessed at index {} of "
            "dimension 0, past its {} elements. unrollkit passes the caller's arrays unpadded (no runtime "
            "padding), so `pad` needs arrays the caller allocated larger than the loop's range; use "
            "remainder=cleanup or peel-back instead")
    loop = ("affine.for %i = 0 to 6 {{ %v = affine.load %x[{}] : memref<{}xf32>\n"
            " affine.store %v, %y[%i] : memref<{}xf32> }}")
    assert _pad_refusal(loop.format("%i", 6, 8), "%x: memref<6xf32>, %y: memref<8xf32>") == past.format("%arg0", 7, 6)
    assert _pad_refusal(loop.format("%i", 8, 6), "%x: memref<8xf32>, %y: memref<6xf32>") == past.format("%arg1", 7, 6)
    assert "%arg0 would be accessed" in _pad_refusal(loop.format("5 - %i", 8, 8), "%x: memref<8xf32>, %y: memref<8xf32>")
    ctx, module, (op,) = _loop("func.func @f(%x: memref<8xf32>, %y: memref<8xf32>) {\n"
                               + loop.format("%i", 8, 8) + "\n  return\n}")
    with ctx:
        assert constant_trip_count(pad_loop(op, 4)) == 8


def test_pad_needs_constant_bounds_even_with_a_constant_trip_count():
    msg = _pad_refusal("affine.for %i = 0 to 2 {\n affine.for %j = affine_map<(d0) -> (d0)>(%i) to "
                       "affine_map<(d0) -> (d0 + 6)>(%i) { %v = affine.load %x[%j] : memref<16xf32> } }",
                       "%x: memref<16xf32>")
    assert msg == ("cannot pad loop '<unnamed>': it needs constant bounds (its trip count decides how far "
                   "the padding reaches)")
