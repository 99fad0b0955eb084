"""A vector transfer's lanes come from its ``permutation_map`` and ``in_bounds`` attributes
(`memory_ops._transfer_lanes`). MLIR 22 requires both, so the proof never invents defaults: a
transfer that lacks one (IR built by hand, never verified) is refused, and so is a map result
the verifier would reject. Each refusal names what it refuses. Also: an affine map whose
operands share a loop variable adds their coefficients."""
from __future__ import annotations

import pytest
from mlir import ir

from unrollkit.analysis.affine_to_isl import NotAffine
from unrollkit.analysis.memory_ops import access_of
from unrollkit.ir.ir_utils import walk_ops

from test_bounds_proof import pair

READ = """func.func @k(%a: memref<4x8xf32>) {
  %p = arith.constant 0.0 : f32
  %c0 = arith.constant 0 : index
  %r = vector.transfer_read %a[%c0, %c0], %p : memref<4x8xf32>, vector<4xf32>
  return
}"""


def lanes_of(edit):
    """The `Access` of the transfer of ``READ`` after ``edit(op)`` changed its attributes
    (the module is not verified again: what a hand-built, unverified op would look like)."""
    with ir.Context(), ir.Location.unknown():
        module = ir.Module.parse(READ)
        (op,) = walk_ops(module.operation, "vector.transfer_read")
        edit(op)
        return access_of(op)


def test_the_parsed_short_form_has_both_attributes_and_its_lanes():
    acc = lanes_of(lambda op: None)
    assert acc.extents == [1, 4] and acc.masked == frozenset({1})  # the parser's defaults: not in bounds


@pytest.mark.parametrize("name", ["permutation_map", "in_bounds"])
def test_a_transfer_without_an_attribute_is_refused_not_defaulted(name):
    def drop(op):
        del op.attributes[name]
    with pytest.raises(NotAffine, match="vector.transfer_read has no permutation_map or no in_bounds "
                                        r"attribute \(not verified IR\)"):
        lanes_of(drop)


def test_a_permutation_map_result_the_verifier_rejects_is_refused_naming_it():
    def skew(op):
        op.attributes["permutation_map"] = ir.AffineMapAttr.get(ir.AffineMap.get(
            2, 0, [ir.AffineDimExpr.get(0) + ir.AffineDimExpr.get(1)]))
    with pytest.raises(NotAffine, match=r"the permutation map of vector.transfer_read has the result d0 \+ d1"):
        lanes_of(skew)

    def constant_one(op):
        op.attributes["permutation_map"] = ir.AffineMapAttr.get(ir.AffineMap.get(
            2, 0, [ir.AffineConstantExpr.get(1)]))
    with pytest.raises(NotAffine, match="the permutation map of vector.transfer_read has the result 1"):
        lanes_of(constant_one)


def test_a_broadcast_result_spans_nothing_and_a_dim_result_its_lanes():
    def broadcast(op):
        op.attributes["permutation_map"] = ir.AffineMapAttr.get(ir.AffineMap.get(
            2, 0, [ir.AffineConstantExpr.get(0)]))
    acc = lanes_of(broadcast)
    assert acc.extents == [1, 1] and acc.masked == frozenset()

    def rows(op):
        op.attributes["permutation_map"] = ir.AffineMapAttr.get(ir.AffineMap.get(2, 0, [ir.AffineDimExpr.get(0)]))
        op.attributes["in_bounds"] = ir.ArrayAttr.get([ir.BoolAttr.get(True)])
    acc = lanes_of(rows)
    assert acc.extents == [4, 1] and acc.masked == frozenset()


def test_a_map_whose_operands_share_a_loop_variable_sums_their_coefficients():
    # a[%i + %j] with %j = %i + 1 is a[2i + 1]: i < 4 reaches 7 (the last element), i < 5 reaches
    # 9. A linear form that kept only one operand's share of i would see i + 1 and accept both
    body = """affine.for %i = 0 to {n} {{
      %j = affine.apply affine_map<(d0) -> (d0 + 1)>(%i)
      %v = affine.load %a[%i + %j] : memref<8xf32>
    }}"""
    msg = pair(body.format(n=4), body.format(n=5))
    assert "[1, 9]" in msg, msg
