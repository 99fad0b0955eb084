"""`split-accumulators` (passes/split_accumulators.py) on raw affine IR: which stores
`find_reductions` takes for a reduction (the reduction's operands in either order, a loaded
value or a function argument beside the accumulator, stores it must pass over), the indices it
must refuse to hoist (made inside the loop, not affine), every refusal's full text, the
code-size estimate exact at the budget and a main loop shorter than k. Found by mutation
testing (bench/MUTATION.md): the pass's tests reached these paths only end to end, or not at all.

Unit: the IR the pass leaves (verified, the accumulators' loop and what it hoists), or its
`TransformError` with the loop's name.
"""
from __future__ import annotations

import re

import pytest
from mlir import ir

from unrollkit.core.errors import CodeSizeError, TransformError
from unrollkit.ir.ir_utils import count_ops, walk_ops

from unrollkit.passes.split_accumulators import SplitAccumulators


def _module(body: str, name: str | None = "i", outer: bool = False) -> tuple:
    """(context, module) of a function of x, y: memref<16xf64>, out: memref<2xf64>, s: f64 whose
    loop ``%i = 0 to 16`` (named ``name``; inside ``%j = 0 to 4`` when ``outer``) holds ``body``."""
    attr = f' {{uk.name = "{name}"}}' if name else ""
    loop = f"affine.for %i = 0 to 16 {{\n{body}\n}}{attr}"
    if outer:
        loop = f'affine.for %j = 0 to 4 {{\n{loop}\n}} {{uk.name = "j"}}'
    text = ("func.func @f(%x: memref<16xf64>, %y: memref<16xf64>, %out: memref<2xf64>, %s: f64) {\n"
            f"%c1 = arith.constant 1 : index\n{loop}\nreturn\n}}")
    ctx = ir.Context()
    with ctx:
        return ctx, ir.Module.parse(text)


def _split(body: str, k: int = 3, **kw):
    """The module after ``split-accumulators{accumulators=k}``, verified; (module, [loops with
    results])."""
    ctx, module = _module(body, **kw)
    with ctx, ir.Location.unknown():
        SplitAccumulators(accumulators=k).apply(module)
        assert module.operation.verify()
        carrying = [op for op in walk_ops(module.operation) if op.name == "affine.for" and len(op.results)]
        return module, carrying


def _refused(body: str, pattern: str, k: int = 3, **kw) -> str:
    ctx, module = _module(body, **kw)
    with ctx, ir.Location.unknown(), pytest.raises(TransformError) as e:
        SplitAccumulators(accumulators=k).apply(module)
    assert re.search(pattern, str(e.value)), str(e.value)
    return str(e.value)


def _hoisted_memref(loop) -> str:
    """The memref the first accumulator's initial value is loaded from (out is %arg2)."""
    init = loop.operands[len(loop.operands) - len(loop.results)]
    assert init.owner.name == "affine.load", str(loop)
    return init.owner.operands[0].get_name()


ACC = "%o = affine.load %out[0] : memref<2xf64>"
STORE = "affine.store %n, %out[0] : memref<2xf64>"
XI = "%v = affine.load %x[%i] : memref<16xf64>"


@pytest.mark.parametrize("first", [
    "%s",                                                   # a function argument (no op)
    "%c",                                                   # a load of another memref, same map
    "%m",                                                   # an op that is no load
], ids=["argument", "other-load", "product"])
def test_the_accumulator_is_found_whatever_operand_comes_first(first):
    """``out[0] = <first> + out[0]``: the accumulator is the load of the stored element, not the
    first operand that is a block argument, a load of ``y[0]`` (same affine map, other memref) or
    a product."""
    body = "\n".join([XI, "%c = affine.load %y[0] : memref<16xf64>", "%m = arith.mulf %v, %c : f64", ACC,
                      f"%n = arith.addf {first}, %o : f64", STORE])
    _, (loop,) = _split(body)
    assert len(loop.results) == 3 and _hoisted_memref(loop) == "%arg2"


def test_stores_before_the_reduction_are_passed_over():
    """A store of a function argument, of a loaded value, a sum into ``y[i]`` (its index varies)
    and a sum into an element indexed by a constant made inside the loop come first: none is a
    reduction, and the one into ``out[0]`` after them still is."""
    body = "\n".join([XI, "affine.store %s, %y[%i] : memref<16xf64>", "affine.store %v, %y[%i] : memref<16xf64>",
                      "%w = affine.load %y[%i] : memref<16xf64>", "%w2 = arith.addf %w, %v : f64",
                      "affine.store %w2, %y[%i] : memref<16xf64>",
                      "%c0 = arith.constant 0 : index", "%z = affine.load %y[%c0] : memref<16xf64>",
                      "%z2 = arith.addf %z, %v : f64", "affine.store %z2, %y[%c0] : memref<16xf64>",
                      ACC, "%n = arith.addf %o, %v : f64", STORE])
    _, (loop,) = _split(body)
    assert len(loop.results) == 3 and _hoisted_memref(loop) == "%arg2"


def test_an_index_from_outside_the_loop_is_hoisted():
    """``out[%c1 - 1]``, the constant made before the loop (an op's result, not a block
    argument): invariant and usable there, so the reduction is split."""
    body = "\n".join([XI, "%o = affine.load %out[%c1 - 1] : memref<2xf64>", "%n = arith.addf %o, %v : f64",
                      "affine.store %n, %out[%c1 - 1] : memref<2xf64>"])
    _, (loop,) = _split(body)
    assert len(loop.results) == 3 and _hoisted_memref(loop) == "%arg2"


NO_REDUCTION = r"loop 'i': no reduction M\[idx\] = M\[idx\] op x with idx invariant in it$"


@pytest.mark.parametrize("body", [
    # the index is a constant made inside the loop: invariant, but the load hoisted before the
    # loop could not use it
    "\n".join(["%c0 = arith.constant 0 : index", XI, "%o = affine.load %out[%c0] : memref<2xf64>",
               "%n = arith.addf %o, %v : f64", "affine.store %n, %out[%c0] : memref<2xf64>"]),
    # subtraction is no reduction the pass knows
    "\n".join([XI, ACC, "%n = arith.subf %o, %v : f64", STORE]),
], ids=["index-made-inside", "subf"])
def test_what_is_no_reduction_is_refused(body):
    _refused(body, NO_REDUCTION)


def test_a_subscript_that_is_not_affine_linear_is_no_reduction():
    """``out[j mod 2]`` is invariant in i, but not a linear form: the pass does not take it."""
    body = "\n".join([XI, "%o = affine.load %out[%j mod 2] : memref<2xf64>", "%n = arith.addf %o, %v : f64",
                      "affine.store %n, %out[%j mod 2] : memref<2xf64>"])
    _refused(body, NO_REDUCTION, outer=True)


@pytest.mark.parametrize("name,shown", [("i", "'i'"), (None, "'<unnamed>'")])
def test_an_accumulator_used_besides_the_reduction_is_refused(name, shown):
    body = "\n".join([XI, ACC, "%n = arith.addf %o, %v : f64", STORE, "affine.store %o, %y[%i] : memref<16xf64>"])
    _refused(body, rf"^cannot split accumulators of loop {shown}: the value loaded from %arg2 is used "
                   r"besides the reduction$", name=name)


@pytest.mark.parametrize("other", [
    "%r = affine.load %out[0] : memref<2xf64>\naffine.store %r, %y[%i] : memref<16xf64>",   # read
    "affine.store %v, %out[0] : memref<2xf64>",                                              # written
], ids=["read", "written"])
def test_the_reduced_element_accessed_elsewhere_is_refused(other):
    body = "\n".join([XI, ACC, "%n = arith.addf %o, %v : f64", STORE, other])
    _refused(body, r"^cannot split accumulators of loop 'i': its element of %arg2 is read or written "
                   r"elsewhere in it$")


def test_another_element_of_the_array_beside_the_reduction_is_fine():
    body = "\n".join([XI, ACC, "%n = arith.addf %o, %v : f64", STORE,
                      "%r = affine.load %out[1] : memref<2xf64>", "affine.store %r, %y[%i] : memref<16xf64>",
                      "affine.store %v, %out[1] : memref<2xf64>"])
    _, (loop,) = _split(body)
    assert len(loop.results) == 3


def test_a_loop_already_carrying_values_is_refused_by_name():
    ctx = ir.Context()
    with ctx:
        module = ir.Module.parse("""
func.func @f(%x: memref<16xf64>, %z: f64) -> f64 {
  %r = affine.for %i = 0 to 16 iter_args(%a = %z) -> (f64) {
    %v = affine.load %x[%i] : memref<16xf64>
    %n = arith.addf %a, %v : f64
    affine.yield %n : f64
  }
  return %r : f64
}""")
    with ctx, ir.Location.unknown(), pytest.raises(TransformError) as e:
        SplitAccumulators(accumulators=2).apply(module)
    assert str(e.value) == "cannot split accumulators of loop '<unnamed>': it already carries values"


def test_a_reduction_in_an_inner_loop_names_it_and_the_way_out():
    body = f"affine.for %k = 0 to 4 {{\n{XI}\n{ACC}\n%n = arith.addf %o, %v : f64\n{STORE}\n}} {{uk.name = \"k\"}}"
    ctx, module = _module(body)
    with ctx, ir.Location.unknown(), pytest.raises(TransformError) as e:
        SplitAccumulators(loop="i", accumulators=2).apply(module)
    assert str(e.value).endswith("with idx invariant in it; its stores are inside loop 'k': "
                                 "make 'i' the innermost loop first (permute)"), str(e.value)


def test_the_code_size_estimate_is_exact_at_the_budget(monkeypatch):
    """The estimate is the module's ops plus the loop's ops once per extra accumulator (k − 1):
    accepted at exactly that budget, refused one below, naming k and the loop."""
    body = "\n".join([XI, ACC, "%n = arith.addf %o, %v : f64", STORE])
    ctx, module = _module(body)
    with ctx:
        (loop,) = [op for op in walk_ops(module.operation) if op.name == "affine.for"]
        total = count_ops(module.operation) + count_ops(loop) * 2
    monkeypatch.setenv("UNROLLKIT_MAX_OPS", str(total - 1))
    _refused_size = pytest.raises(CodeSizeError, match=rf"^3 accumulators of loop 'i' would generate about "
                                                          rf"{total:,} operations")
    with ctx, ir.Location.unknown(), _refused_size:
        SplitAccumulators(accumulators=3).apply(module)
    monkeypatch.setenv("UNROLLKIT_MAX_OPS", str(total))
    _, (loop,) = _split(body)
    assert len(loop.results) == 3


def test_a_main_loop_shorter_than_k_is_left_without_accumulators():
    """16 iterations, k = 32: the main loop never runs and stays a plain loop (a zero-trip loop
    with iter_args is folded away by the lowering); the remainder does all 16."""
    body = "\n".join([XI, ACC, "%n = arith.addf %o, %v : f64", STORE])
    module, carrying = _split(body, k=32)
    assert carrying == []
    names = [str(op.attributes["uk.name"]) for op in walk_ops(module.operation) if op.name == "affine.for"]
    assert names == ['"i"', '"i.rem"']


def test_the_accumulator_count_is_checked_with_the_option_s_name():
    with pytest.raises(TransformError, match=r"^split-accumulators: accumulators must be an integer >= 1, got 0$"):
        SplitAccumulators(accumulators=0)
