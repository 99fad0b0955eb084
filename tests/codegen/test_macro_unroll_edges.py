"""`unrollkit.codegen.macro_unroll`'s carried-scalar ``multi-acc`` (`split_carried`) on a loop of
step 1 from a nonzero start, whose trip count is ``hi - lo`` (the strided kernels of
`test_macro_unroll.py` take the other branch, ``(hi - lo + step - 1) // step``), with 4 and 6
accumulators (a tree of two full levels, and one with an odd level). Found by mutation testing.

Unit: the rewritten descriptor, run by the reference interpreter, equals the original at every
trip count class around the number of accumulators.
"""
from __future__ import annotations

import pytest

from unrollkit.frontend import descriptor as d
from unrollkit.codegen.macro_unroll import split_carried

from differential import kernel_from
from test_macro_unroll import _same_as_original

FROM_THREE = {op: kernel_from(f'''
    def reduce(x: uk.f64["N"], out: uk.f64[1]):
        acc = out[0]
        for i in range(3, N):
            acc = {expr}
        out[0] = acc
    ''') for op, expr in (("+", "acc + x[i]"), ("max", "max(acc, x[i])"))}


@pytest.mark.parametrize("k", [4, 6])
@pytest.mark.parametrize("op", list(FROM_THREE))
def test_split_carried_from_a_nonzero_start_with_step_one(op, k):
    kernel = FROM_THREE[op]
    new = split_carried(kernel, k, "i")
    main = next(s for s in new.body if isinstance(s, d.Loop))
    assert main.step == k and main.lower == (d.Lit(3),)
    # every trip count class: none, below k, k, k + 1, 2k - 1, several blocks and a remainder
    for n in (0, 3, 4, 3 + k - 1, 3 + k, 3 + k + 1, 3 + 2 * k - 1, 3 + 3 * k + 2, 40):
        _same_as_original(kernel, new, {"N": n}, seeds=(0,))
