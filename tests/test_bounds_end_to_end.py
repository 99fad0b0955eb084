"""The in-bounds proofs end to end: kernels through `uk.jit` (and raw steps, user passes) are
refused before running when an access may leave its array, and run correctly when not.

Reproducers that wrote out of bounds before the isl proof run in a subprocess, with a guard
region after the output: a wrong proof fails the test instead of corrupting this process.
"""
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from conftest import OUTSIDE

import unrollkit as uk
from unrollkit.core.errors import KernelSyntaxError


# ---------------------------------------------------------------- end to end


@uk.kernel
def guarded(a: uk.f32["N"]):
    for ii in range(N):  # noqa: F821
        for j in range(N - ii, min(N - ii + 1, N)):  # noqa: F821
            a[N - ii] = a[N - ii] + 1.0  # noqa: F821


def test_a_loop_empty_exactly_where_the_index_leaves_the_array_runs():
    a = np.zeros(10, np.float32)
    uk.jit(guarded)(a)
    want = np.zeros(10, np.float32)
    want[1:] = 1.0  # ii = 1 .. 9 write a[9] .. a[1]; ii = 0 never enters j
    np.testing.assert_array_equal(a, want)


@uk.kernel
def halves(x: uk.f32["N"], y: uk.f32["N"]):
    for i in range(N):  # noqa: F821
        y[(i + N) // 2] += x[i]  # noqa: F821


@pytest.mark.parametrize("pipeline", ["", "mlir{lower-affine}", "unroll{factor=4},mlir{lower-affine}"])
def test_floordiv_subscripts_run_through_every_stage(pipeline):
    x = np.arange(11, dtype=np.float32)
    y = np.zeros(11, np.float32)
    uk.jit(halves, pipeline=pipeline)(x, y)
    want = np.zeros(11, np.float32)
    np.add.at(want, (np.arange(11) + 11) // 2, x)
    np.testing.assert_array_equal(y, want)


def _subprocess(code: str, tmp_path):
    """Run ``code`` in a fresh interpreter (a wrong proof would corrupt memory: that must fail
    this test, not kill the suite); kernels need a file for their source."""
    script = tmp_path / "reproducer.py"
    script.write_text(textwrap.dedent(code))
    return subprocess.run([sys.executable, str(script)], cwd=OUTSIDE,
                          capture_output=True, text=True, timeout=300)


def test_issue_11_out_of_bounds_write_through_lower_affine_is_refused(tmp_path):
    r = _subprocess("""
        import numpy as np, unrollkit as uk
        @uk.kernel
        def shift(x: uk.f32["N"], y: uk.f32["N"]):
            for i in range(N):
                y[(i + N) // 1] = x[i]
        guard = np.zeros(30, np.float32)
        y = guard[:10]
        try:
            uk.jit(shift, pipeline="mlir{lower-affine}")(np.ones(10, np.float32), y)
        except uk.KernelSyntaxError as e:
            print("REFUSED", e)
        assert not guard.any(), "wrote past y"
    """, tmp_path)
    assert r.returncode == 0, r.stderr
    assert "REFUSED" in r.stdout and "(i + N) // 1 of y" in r.stdout and "[10, 19]" in r.stdout


def test_a_raw_step_that_moves_a_store_past_the_end_is_refused(tmp_path):
    # a user pass shifts the store by one; lower-affine then turns it into memref.store in scf.for
    r = _subprocess("""
        import numpy as np, unrollkit as uk
        from mlir import ir
        import unrollkit.passes as P

        def shift_store(module):
            for op in module.body.operations[0].regions[0].blocks[0].operations:
                if op.operation.name == "affine.for":
                    for inner in op.regions[0].blocks[0].operations:
                        if inner.operation.name == "affine.store":
                            inner.attributes["map"] = ir.AffineMapAttr.get(
                                ir.AffineMap.get(1, 0, [ir.AffineDimExpr.get(0) + 1]))
        P.register_function("shift-store", shift_store)

        @uk.kernel
        def copy(x: uk.f32["N"], y: uk.f32["N"]):
            for i in range(N):
                y[i] = x[i]
        guard = np.zeros(30, np.float32)
        try:
            uk.jit(copy, pipeline="shift-store,mlir{lower-affine}")(np.ones(10, np.float32), guard[:10])
        except uk.CompileError as e:
            print("REFUSED", e)
        assert not guard[10:].any(), "wrote past y"
    """, tmp_path)
    assert r.returncode == 0, r.stderr
    assert "REFUSED" in r.stdout, r.stdout
    assert "memref.store" in r.stdout and "array 'y'" in r.stdout and "[1, 10]" in r.stdout
    assert "raw steps shift-store, mlir{lower-affine}" in r.stdout and "please report" not in r.stdout


@uk.kernel
def every_third(x: uk.f32["N"]):
    for i in range(0, N, 3):  # noqa: F821
        x[i + 2] = x[i + 2] + 1.0  # the subscript


def test_a_kernel_whose_subscript_reaches_the_last_element_runs_and_one_past_is_refused():
    # i = 0, 3, 6: i + 2 reaches 8, the last element when N = 9 (and 8 = one past when N = 8)
    x = np.zeros(9, np.float32)
    uk.jit(every_third)(x)
    np.testing.assert_array_equal(x, [0, 0, 1, 0, 0, 1, 0, 0, 1])
    with pytest.raises(KernelSyntaxError, match=r"subscript i \+ 2 of x .*ranges over \[2, 8\]") as info:
        uk.jit(every_third)(np.zeros(8, np.float32))
    assert info.value.filename == __file__
    # the reference interpreter runs the same proof
    from unrollkit.runtime.interpreter import interpret
    with pytest.raises(KernelSyntaxError, match=r"ranges over \[2, 8\]"):
        interpret(every_third, np.zeros(8, np.float32))


def test_a_step_that_enlarges_an_argument_type_is_refused(tmp_path):
    # the proof trusts the arguments' memref types: a user pass must not declare y larger
    r = _subprocess("""
        import numpy as np, unrollkit as uk
        from mlir import ir
        import unrollkit.passes as P

        def enlarge(module):
            fn = module.body.operations[0]
            args = fn.regions[0].blocks[0].arguments
            big = ir.MemRefType.get([20], ir.F32Type.get())
            args[1].set_type(big)
            fn.attributes["function_type"] = ir.TypeAttr.get(ir.FunctionType.get([args[0].type, big], []))
            for op in fn.regions[0].blocks[0].operations:
                if op.operation.name == "affine.for":
                    for inner in op.regions[0].blocks[0].operations:
                        if inner.operation.name == "affine.store":
                            inner.attributes["map"] = ir.AffineMapAttr.get(
                                ir.AffineMap.get(1, 0, [ir.AffineDimExpr.get(0) + 10]))
        P.register_function("enlarge", enlarge)

        @uk.kernel
        def copy(x: uk.f32["N"], y: uk.f32["N"]):
            for i in range(N):
                y[i] = x[i]
        guard = np.zeros(30, np.float32)
        try:
            uk.jit(copy, pipeline="enlarge")(np.ones(10, np.float32), guard[:10])
        except uk.CompileError as e:
            print("REFUSED", e)
        assert not guard[10:].any(), "wrote past y"
    """, tmp_path)
    assert r.returncode == 0, r.stderr
    assert "REFUSED" in r.stdout and "changed what the caller passes" in r.stdout, r.stdout
