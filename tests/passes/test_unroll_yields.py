"""``unroll`` on loops whose body yields one of its own block arguments: a carried scalar
shifted into another (``ym2 = ym1; ym1 = y[j]``: ``affine.yield %y, %ym1``) or the induction
variable carried out (``last = j``). MLIR 22's unroller left such a yield operand as the first
copy's block argument (a silent miscompile, found on PolyBench's deriche at factor 4);
`unrollkit.ir.ir_utils.yields_from_body` passes it through a select computed in the body.
"""
from __future__ import annotations

import pytest
from mlir import ir

from unrollkit.ir.ir_utils import affine_loops, yields_from_body
from unrollkit.passes.unroll import Unroll

from differential import check_against_reference, kernel_from, lowered_module

SHIFT = kernel_from('''
    def shift(x: uk.f64["N", "H"], y: uk.f64["N", "H"]):
        for i in range(N):
            ym1 = 0.0
            ym2 = 0.0
            for j in range(H):
                y[i, j] = x[i, j] + 0.5 * ym1 + 0.25 * ym2
                ym2 = ym1
                ym1 = y[i, j]
    ''')

LAST_INDEX = kernel_from('''
    def last_index(x: uk.f64["N"], out: uk.f64[1]):
        last = 0
        for j in range(N):
            last = j
        out[0] = x[0] * 0.0 + last
    ''')

REVERSED = kernel_from('''
    def reversed_shift(x: uk.f64["H"], y: uk.f64["H"]):
        p1 = 0.0
        p2 = 0.0
        for j in range(H - 1, -1, -1):
            y[j] = x[j] + 0.5 * p1 - 0.25 * p2
            p2 = p1
            p1 = y[j]
    ''')


@pytest.mark.parametrize("factor", [2, 3, 4, 8, 13, 16])
def test_shifted_carried_scalars_unroll_like_the_interpreter(factor):
    """(peel and pad refuse loops that carry values; the cleanup remainder is the one left)"""
    check_against_reference(SHIFT, {"N": 3, "H": 13}, pipeline=f"unroll{{loop=j,factor={factor}}}")


@pytest.mark.parametrize("factor", [2, 4, 5])
def test_yielded_block_arguments_unroll_by_factor(factor):
    check_against_reference(REVERSED, {"H": 11}, factor=factor)
    check_against_reference(SHIFT, {"N": 2, "H": 9}, factor=factor)


def test_yielded_induction_variable_unrolls():
    check_against_reference(LAST_INDEX, {"N": 10}, factor=4)


def test_no_yield_operand_is_a_block_argument_after_the_fix():
    """Unit: the body's yield reads values computed in the body (the select), not its block
    arguments, and unrolling then yields the last copy's values."""
    ctx, module = lowered_module(SHIFT, {"N": 2, "H": 8})
    with ctx, ir.Location.unknown():
        (inner,) = [op for op in affine_loops(module) if len(op.results)]
        body = inner.regions[0].blocks[0]
        args = list(body.arguments)
        yield_op = body.operations[len(body.operations) - 1]
        assert any(v == a for v in yield_op.operands for a in args)  # ym2 = ym1 yields %ym1
        yields_from_body(inner)
        assert not any(v == a for v in yield_op.operands for a in args)
        Unroll(factor=2, loop="j").apply(module)
        assert module.operation.verify()
