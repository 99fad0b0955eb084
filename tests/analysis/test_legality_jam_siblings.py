"""`unrollkit.analysis.legality.unroll_jam_violation` on sibling inner loops (issue 18's first
survivor, as a unit test of the rule itself): a dependence carried by the jammed loop whose
distance on the sibling loops is "=" but whose statements run in the other text order after the
jam. ``x[i, j] = y[i - 1, j] + 1`` then ``y[i, j2] = x[i, j2] * 2``: iteration i reads the y row
iteration i - 1 wrote in its second loop; jammed by 2, copy i + 1's first loop runs before copy i's
second one, reading a y row not yet written. Dropping the rule's zero-direction / text-order
clause accepts it (a real miscompile, bench/MUTATION.md)."""
from __future__ import annotations

from mlir import ir

from unrollkit.analysis import legality
from unrollkit.ir.ir_utils import walk_ops


def _siblings(read_offset: int) -> str:
    return f'''
func.func @f(%x: memref<16x8xf32>, %y: memref<16x8xf32>) {{
  %one = arith.constant 1.0 : f32
  %two = arith.constant 2.0 : f32
  affine.for %i = 1 to 16 {{
    affine.for %j = 0 to 8 {{
      %v = affine.load %y[%i - {read_offset}, %j] : memref<16x8xf32>
      %w = arith.addf %v, %one : f32
      affine.store %w, %x[%i, %j] : memref<16x8xf32>
    }}
    affine.for %j2 = 0 to 8 {{
      %u = affine.load %x[%i, %j2] : memref<16x8xf32>
      %t = arith.mulf %u, %two : f32
      affine.store %t, %y[%i, %j2] : memref<16x8xf32>
    }}
  }}
  return
}}'''


def _outer(text: str):
    ctx = ir.Context()
    with ctx:
        module = ir.Module.parse(text)
    return ctx, module, next(op for op in walk_ops(module.operation) if op.name == "affine.for")


def test_jam_over_sibling_loops_with_an_equal_distance_in_the_other_order_is_refused():
    ctx, module, i = _outer(_siblings(1))
    with ctx:
        v = legality.unroll_jam_violation(i, 2)
        assert v is not None and v.vector[0] == 1
        assert legality.unroll_jam_violation(i) is not None


def test_jam_over_sibling_loops_reading_its_own_iteration_is_legal():
    # y[i, j] read before this iteration's second loop writes it: a dependence within one
    # iteration of i (distance 0) and an anti-dependence carried forward, both in text order
    ctx, module, i = _outer(_siblings(0))
    with ctx:
        assert legality.unroll_jam_violation(i, 2) is None
