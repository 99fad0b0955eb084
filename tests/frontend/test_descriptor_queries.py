"""Queries of the kernel descriptor that the variants rely on."""
from __future__ import annotations

import numpy as np

import unrollkit as uk


@uk.kernel
def guarded_rows(a: uk.f32[8, 16]):
    for i in range(8):
        if i > 0:
            for j in range(16):
                a[i, j] += 1.0


def test_a_loop_whose_inner_loop_sits_under_an_if_is_not_innermost():
    """``for i: if ...: for j`` has one innermost loop, j (the if's body was not looked into:
    vector-acc then tried to vectorize i and failed on it)."""
    assert guarded_rows.innermost_loop_names() == ["j"]
    a = np.zeros((8, 16), np.float32)
    uk.jit(guarded_rows, variant="vector-acc", factor=2)(a)
    want = np.zeros((8, 16), np.float32)
    want[1:] = 1.0
    np.testing.assert_array_equal(a, want)
