"""`passes.dependence.signs` with no common loop (two accesses in straight-line code of the
function): one empty sign vector when they touch the same element, none when they never do.
Found by mutation testing (bench/MUTATION.md): the wrappers' tests always gave it loops."""
from __future__ import annotations

import pytest
from mlir import ir

from unrollkit.passes import dependence


@pytest.mark.parametrize("load_at,want", [(3, [()]), (4, [])])
def test_signs_over_no_loops(load_at, want):
    ctx = ir.Context()
    with ctx:
        module = ir.Module.parse(f'''
func.func @f(%a: memref<8xf32>, %x: f32) -> f32 {{
  affine.store %x, %a[3] : memref<8xf32>
  %v = affine.load %a[{load_at}] : memref<8xf32>
  return %v : f32
}}''')
        store, load = sorted(dependence.accesses(module.operation), key=lambda a: not a.write)
        assert dependence.signs(store, load, []) == want
