"""`unrollkit.analysis.nest`'s helpers on isl values (the bounds proofs' arithmetic): integers
past a machine word, lifting a value or a set to a deeper nest (and refusing to lift to a
shallower one), and a constant only where it is defined everywhere. Found by mutation testing
(bench/MUTATION.md): the proofs' tests never reached these cases.
"""
from __future__ import annotations

import islpy as isl
import pytest

from unrollkit.analysis import nest


@pytest.mark.parametrize("v", [2**62 - 1, 2**62, 2**70, -2**62, -2**62 - 1, -2**70, 3**45])
def test_val_holds_integers_of_any_size(v):
    ctx = isl.Context()
    got = nest.val(ctx, v)
    assert got.is_int() and got.to_python() == v


def test_lift_adds_inner_variables_and_refuses_to_drop_any():
    ctx = isl.Context()
    pa = isl.PwAff.read_from_str(ctx, "{ [i] -> [(2i + 1)] }")
    assert nest.lift(pa, 1) is pa
    deeper = nest.lift(pa, 3)
    assert deeper.dim(isl.dim_type.in_) == 3
    assert deeper.is_equal(isl.PwAff.read_from_str(ctx, "{ [i, j, k] -> [(2i + 1)] }"))
    with pytest.raises(ValueError, match=r"^a value over 1 loop variables used where 0 enclose it$"):
        nest.lift(pa, 0)


def test_lift_set_adds_inner_variables_and_keeps_the_constraints():
    ctx = isl.Context()
    s = isl.Set.read_from_str(ctx, "{ [i] : 0 <= i < 4 }")
    assert nest.lift_set(s, 1) is s
    lifted = nest.lift_set(s, 3)
    assert lifted.dim(isl.dim_type.set) == 3
    assert lifted.is_equal(isl.Set.read_from_str(ctx, "{ [i, j, k] : 0 <= i < 4 }"))


def test_constant_of_only_a_constant_defined_everywhere():
    ctx = isl.Context()
    assert nest.constant_of(isl.PwAff.read_from_str(ctx, "{ [i] -> [3] }")) == 3
    assert nest.constant_of(isl.PwAff.read_from_str(ctx, "{ [i] -> [3] : i >= 0 }")) is None
    assert nest.constant_of(isl.PwAff.read_from_str(ctx, "{ [i] -> [i] }")) is None
