"""The transformed-IR proof's refusal (`unrollkit.analysis.ir_bounds`) word for word: the source
line of the access, the array by the caller's name (or its argument number when no name is
given, or a memref that is no argument), one raw step or several. Found by mutation testing
(bench/MUTATION.md): the proof's tests matched parts of the message only.
"""
from __future__ import annotations

import pytest
from mlir import ir

from unrollkit.analysis import ir_bounds
from unrollkit.core.errors import CompileError

PAST = '''func.func @k(%a: memref<8xf32>, %b: memref<8xf32>) {
  affine.for %i = 0 to 8 {
    %v = affine.load %b[%i + 1] : memref<8xf32> loc("kernel.py":12:8)
  }
  return
}'''


def _message(text: str, arrays, raw=()) -> str:
    with ir.Context(), ir.Location.unknown():
        module = ir.Module.parse(text)
        with pytest.raises(CompileError) as e:
            ir_bounds.check_module(module, "pipeline 'p'", arrays=arrays, raw=raw)
    return str(e.value)


HEAD = "after pipeline 'p': affine.load (from kernel.py:12) of "
RANGE = " may touch index range [1, 8] in dimension 0, outside [0, 7]. "


@pytest.mark.parametrize("arrays,named", [
    (["a", "b"], "array 'b' (memref<8xf32>)"),
    (None, "argument #1 (memref<8xf32>)"),          # no names given
    (["a"], "argument #1 (memref<8xf32>)"),         # fewer names than arguments
])
def test_the_refusal_names_the_line_and_the_array(arrays, named):
    assert _message(PAST, arrays) == (
        HEAD + named + RANGE + "The kernel's own subscripts were proved in bounds, so a transformation "
        "produced this access: refusing to run it (please report the kernel and pipeline)")


@pytest.mark.parametrize("raw,steps", [(["mlir{a}"], "step mlir{a}"), (["mlir{a}", "mlir{b}"], "steps mlir{a}, mlir{b}")])
def test_the_refusal_names_the_raw_steps(raw, steps):
    assert _message(PAST, ["a", "b"], raw) == (
        HEAD + "array 'b' (memref<8xf32>)" + RANGE + f"The pipeline's raw {steps} may have produced this "
        "access: refusing to run it")


def test_a_memref_that_is_no_argument_of_the_function():
    """A memref carried by an scf.for (a block argument of the loop, not of the function) is
    named by its type alone, never as the caller's array."""
    text = '''func.func @k(%a: memref<8xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %r = scf.for %i = %c0 to %c2 step %c1 iter_args(%m = %a) -> (memref<8xf32>) {
    %v = affine.load %m[9] : memref<8xf32>
    scf.yield %m : memref<8xf32>
  }
  return
}'''
    msg = _message(text, ["a"])
    assert " of a memref block argument (memref<8xf32>)" in msg and "array 'a'" not in msg, msg
