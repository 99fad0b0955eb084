"""Every unrolling variant computes what numpy computes, and its unrolling is in the machine code."""
from __future__ import annotations

import numpy as np
import pytest

import unrollkit as uk
from unrollkit.tuning import asm_facts
from unrollkit.core.errors import TransformError
from unrollkit.kernels import dot, gemm, gemm_order, mac
from unrollkit.codegen.macro_unroll import macro_unroll
from unrollkit.tuning.variants import VARIANTS, plan
from unrollkit.tools import testdata

KERNELS = {"mac": mac, "dot": dot, "gemm": gemm}
FACTORS = (1, 2, 4, 8)


def make_args(name, n=37, dtype=np.float32, seed=0):
    """Sizes that no factor divides, so remainder code runs too (`testdata.make_args`, values
    in [-0.5, 0.5))."""
    sizes = {"M": n // 3, "K": n // 2, "N": n} if name == "gemm" else {"N": n}
    return testdata.make_args(name, sizes, dtype, seed=seed, floats=(-0.5, 0.5))


def expected(name, args):
    """The output (argument 2) in float64 (`testdata.reference`)."""
    return testdata.reference(name, args)[2][0]


def cases():
    for name in KERNELS:
        for variant in VARIANTS:
            for f in FACTORS:
                if variant in ("none", "llvm-auto") and f > 1:
                    continue
                if variant == "multi-acc" and name == "mac":
                    continue  # not a reduction: tested for its error below
                yield name, variant, f


@pytest.mark.parametrize("name,variant,factor", list(cases()))
def test_variant_matches_numpy(name, variant, factor):
    kernel = gemm_order("ijk") if (variant == "multi-acc" and name == "gemm") else KERNELS[name]
    args = make_args(name)
    want = expected(name, args)
    uk.jit(kernel, factor=factor, variant=variant)(*args)
    np.testing.assert_allclose(args[2], want, rtol=1e-5, atol=1e-5)


def test_variants_in_f64():
    for variant in ("pragma", "macro", "manual", "affine"):
        args = make_args("dot", 101, np.float64)
        want = expected("dot", args)
        uk.jit(dot, factor=4, variant=variant)(*args)
        np.testing.assert_allclose(args[2], want, rtol=1e-12)


# ---------------------------------------------------------------- the unroll is in the asm


def hot_facts(kernel, variant, factor, args, llvm=None):
    ck = uk.jit(kernel, factor=factor, variant=variant, llvm=llvm).compiled(*args)
    return asm_facts.function_facts(asm_facts.encode(ck.ir("asm")), ck.symbol)


#: LLVM's vectorisers off: each copy of the body is one scalar copy in the hot loop, so the
#: requested factor is countable exactly, on any CPU
SCALAR = uk.LLVMPolicy(vectorize=False, slp=False)


@pytest.mark.parametrize("variant", ["pragma", "affine", "macro", "manual"])
@pytest.mark.parametrize("name", ["mac", "gemm"])
def test_requested_unroll_is_in_the_asm(name, variant):
    args = make_args(name, 1024 if name == "mac" else 96)
    base = hot_facts(KERNELS[name], "none", 1, args, SCALAR)
    facts = hot_facts(KERNELS[name], variant, 4, args, SCALAR)
    assert asm_facts.unroll_seen(facts, base) == 4
    assert facts["mul_lanes"] == 4 * base["mul_lanes"]


@pytest.mark.parametrize("variant", ["pragma", "affine", "macro", "manual"])
@pytest.mark.parametrize("name", ["mac", "gemm"])
def test_requested_unroll_survives_vectorisation(name, variant):
    """With the loop vectoriser on, the copies are vectorised too. Its vector width for the
    unrolled body is its own choice and CPU-dependent (on znver4 it takes 8 lanes × 4 copies
    where the rolled loop gets 16 lanes: 2 zmm per trip, not 4), so the hot loop does at least
    twice the baseline's work per trip, never less."""
    args = make_args(name, 1024 if name == "mac" else 96)
    base = hot_facts(KERNELS[name], "none", 1, args)
    facts = hot_facts(KERNELS[name], variant, 4, args)
    assert 2 <= asm_facts.unroll_seen(facts, base) <= 4
    assert facts["mul_lanes"] >= 2 * base["mul_lanes"]


def test_pragma_keeps_the_loop_rolled_until_llvm():
    args = make_args("mac", 1024)
    f = uk.jit(mac, factor=8, variant="pragma")
    f(*args)
    assert f.ir("transformed").count("affine.for") == 1       # MLIR did not unroll
    assert "step" not in f.ir("transformed").split("affine.for", 1)[1].split("{", 1)[0]
    assert '!"llvm.loop.unroll.count", i32 8' in f.ir("llvm")  # the pragma, as LLVM metadata
    assert "llvm.loop.unroll.count" not in uk.jit(mac, variant="none").ir("llvm", *args)


def test_pragma_by_loop_name():
    args = make_args("gemm", 48)
    f = uk.jit(gemm, factor={"j": 2}, variant="pragma")
    f(*args[:2], args[2])
    llvm_ir = f.ir("llvm")
    assert llvm_ir.count("llvm.loop.unroll.count") == 1


def test_macro_rewrite_has_a_remainder_loop():
    k = macro_unroll(mac, (("", 4),))
    loops = k.loops()
    assert [lp.step for lp in loops] == [4, 1]
    assert len(loops[0].body) == 4 and len(loops[1].body) == 1
    assert k.name == mac.name and k.params == mac.params


def test_macro_renames_locals_per_copy():
    from unrollkit.kernels.manual import MANUAL
    k = macro_unroll(MANUAL[("gemm", 2)], (("k", 2),))
    names = [s.name for s in k.loops()[1].body if hasattr(s, "value") and not hasattr(s, "array")]
    assert names == ["a", "a_u1"]
    args = make_args("gemm", 23)
    want = expected("gemm", args)
    uk.jit(gemm, factor={"k": 2}, variant="macro")(*args)
    np.testing.assert_allclose(args[2], want, rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------- manual


def test_manual_at_an_unshipped_factor_is_a_clear_error():
    with pytest.raises(TransformError, match=r"factor 3.*factors \[2, 4, 8\]"):
        plan(mac, variant="manual", factor=3)


def test_manual_for_a_kernel_without_a_hand_unrolled_form():
    from unrollkit.kernels import gemv
    with pytest.raises(TransformError, match="no hand-unrolled form of kernel 'gemv'"):
        plan(gemv, variant="manual", factor=4)


def test_manual_uses_the_shipped_kernel():
    assert plan(dot, variant="manual", factor=8).kernel.name == "dot_x8"
    assert plan(dot, variant="manual", factor=1).kernel is dot


# ---------------------------------------------------------------- accumulators


@pytest.mark.parametrize("k", [2, 4, 8])
def test_multi_accumulators_match_numpy(k):
    args = make_args("dot", 1001, np.float64)
    want = expected("dot", args)
    f = uk.jit(dot, factor=k, variant="multi-acc")
    f(*args)
    np.testing.assert_allclose(args[2], want, rtol=1e-12)
    text = f.ir("transformed")
    assert "iter_args" in text
    assert text.split("iter_args(", 1)[1].split(")", 1)[0].count("=") == k


def test_accumulators_option_composes_with_a_variant():
    p = plan(dot, variant="pragma", factor=2, accumulators=4)
    assert p.accumulators == 4 and p.pragma == (("", 2),)
    args = make_args("dot", 333, np.float64)
    want = expected("dot", args)
    from unrollkit.codegen.compiler import compile_kernel
    from unrollkit.frontend.signature import Signature
    sig = Signature((("x", "f64"), ("y", "f64"), ("out", "f64")),
                    (("x", (333,)), ("y", (333,)), ("out", (1,))))
    ck = compile_kernel(dot, sig, p)
    ck.cfunc(*[a.ctypes.data for a in args])
    np.testing.assert_allclose(args[2], want, rtol=1e-12)


def test_multi_accumulators_break_the_chain_in_the_asm():
    args = make_args("dot", 4096)
    one = hot_facts(dot, "none", 1, args)
    eight = hot_facts(dot, "multi-acc", 8, args)
    assert asm_facts.unroll_seen(eight, one) == 8


def test_multi_accumulators_need_a_reduction():
    with pytest.raises(TransformError, match="no reduction"):
        uk.jit(mac, factor=4, variant="multi-acc")(*make_args("mac"))
    with pytest.raises(TransformError, match="cannot split accumulators of loop 'k'"):
        uk.jit(gemm, factor={"k": 4}, variant="multi-acc")(*make_args("gemm"))


# ---------------------------------------------------------------- the native repeat loop


def test_repeat_entry_point_runs_the_kernel_reps_times():
    a, b, c = make_args("mac", 100, np.float64)
    c0 = c.copy()
    ck = uk.jit(mac, factor=4).compiled(a, b, c)
    seconds = ck.time_native([a, b, c], 5)
    assert seconds > 0
    np.testing.assert_allclose(c, c0 + 5 * a * b, rtol=1e-12)
    assert "@uk_mac_repeat" in ck.ir("llvm") and "noinline" in ck.ir("llvm")


def test_pragma_on_empty_and_single_trip_loops():
    # K = 0 and M = 1: loops with no or one iteration still get (harmless) metadata on the
    # right back-edges, and the results are right
    A, B = np.zeros((3, 0), np.float32), np.zeros((0, 5), np.float32)
    C = np.ones((3, 5), np.float32)
    f = uk.jit(gemm, factor={"i": 2}, variant="pragma")
    f(A, B, C)
    np.testing.assert_array_equal(C, 1.0)
    assert f.ir("llvm").count('!"llvm.loop.unroll.count", i32 2') == 1
    rng = np.random.default_rng(1)
    A, B, C = (rng.random(s).astype(np.float32) for s in [(1, 7), (7, 40), (1, 40)])
    want = C + A.astype(np.float64) @ B
    uk.jit(gemm, factor=4, variant="pragma")(A, B, C)
    np.testing.assert_allclose(C, want, rtol=1e-5)


def test_pragma_refuses_when_loops_and_back_edges_disagree():
    from mlir import ir

    from unrollkit.codegen import pragma
    from unrollkit.core.errors import CompileError
    from unrollkit.ir.lower_affine import lower
    from unrollkit.ir.mlir_passes import lower_to_llvm_dialect
    from unrollkit.core.dtypes import f32
    with ir.Context(), ir.Location.unknown():
        m = lower(mac, {"N": 64}, {"a": f32, "b": f32, "c": f32}, {"a": (64,), "b": (64,), "c": (64,)})
        lower_to_llvm_dialect(m)
        with pytest.raises(CompileError, match="left 1 loops where the kernel had 2"):
            pragma.annotate(m, "mac", [("i", False), ("j", True)], (("", 4),))
        assert pragma.annotate(m, "mac", [("i", True)], (("", 4),)) == 1


def test_macro_unrolling_of_a_loop_that_is_empty_for_some_outer_iterations():
    """Found by the fuzzer: a triangular loop with hi < lo has a negative trip count; the
    macro's remainder loop must not start below lo (it ran iterations the source never did)."""
    @uk.kernel
    def tri(x: uk.f64["N"], out: uk.f64["N"]):
        for i in range(1, N - 1):  # noqa: F821
            for j in range(i + 1, 5):
                out[i] += x[j]

    from unrollkit.runtime.interpreter import interpret
    x = np.arange(11.0)
    for factor in (2, 3, 4):
        out, want = np.zeros(11), np.zeros(11)
        uk.jit(tri, factor=factor, variant="macro")(x, out)
        interpret(tri, x, want)
        np.testing.assert_array_equal(out, want)


# ---------------------------------------------------------------- vector accumulators


@pytest.mark.parametrize("k", [1, 2, 3, 4, 8])
@pytest.mark.parametrize("n", [0, 1, 15, 16, 17, 63, 1001, 4099])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_vector_accumulators_match_numpy(k, n, dtype):
    args = make_args("dot", n, dtype)
    want = expected("dot", args)
    uk.jit(dot, factor=k, variant="vector-acc")(*args)
    np.testing.assert_allclose(args[2], want, rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-6)


@pytest.mark.parametrize("shape", [(1, 1), (5, 17), (17, 200), (64, 1027)])
def test_vector_accumulators_on_gemv_rows(shape):
    from unrollkit.kernels import gemv
    rng = np.random.default_rng(1)
    a, x, y = rng.random(shape), rng.random(shape[1]), rng.random(shape[0])
    want = y + a @ x
    uk.jit(gemv, factor=4, variant="vector-acc")(a, x, y)
    np.testing.assert_allclose(y, want, rtol=1e-12)


def test_vector_accumulators_are_independent_registers_in_the_asm():
    # k vector accumulators: k FMAs per trip, each into its own register (no chain between them)
    from unrollkit.core.target import host_target
    if host_target().vector_bits < 256:
        pytest.skip("no wide vector registers on this host")
    args = make_args("dot", 4096)
    lp = asm_facts.hot_loop(asm_facts.functions(asm_facts.encode(
        uk.jit(dot, factor=4, variant="vector-acc").compiled(*args).ir("asm")))["uk_dot"])
    fmas = [i for i in lp.insns if i.mnemonic.startswith("vfmadd")]
    assert len(fmas) == 4
    assert len({i.operands.split(",")[-1].strip() for i in fmas}) == 4
    assert asm_facts.loop_facts(lp)["gathers"] == 0


def test_vector_accumulators_refuse_a_recurrence_naming_the_loop():
    from unrollkit.kernels import iir
    y = np.zeros(64, np.float32)
    with pytest.raises(TransformError, match="cannot vectorize loop 't'"):
        uk.jit(iir, factor=2, variant="vector-acc")(0.5, np.ones(64, np.float32), y)


def test_vector_accumulators_do_not_take_accumulators():
    with pytest.raises(TransformError, match="does not combine"):
        plan(dot, variant="vector-acc", factor=2, accumulators=2)


def test_pragma_refuses_loops_lowered_by_a_raw_step():
    # found by the fuzzer: after mlir{lower-affine} the loops are scf.for, which the pragma's
    # loop-to-back-edge matching cannot see; a clear refusal, not a CompileError
    args = make_args("mac", 64)
    f = uk.jit(mac, factor=4, variant="pragma", pipeline="mlir{lower-affine}")
    with pytest.raises(TransformError, match="variant 'pragma' puts its unroll counts on affine.for"):
        f(*args)
    want = expected("mac", args)
    uk.jit(mac, factor=4, variant="pragma")(*args)
    np.testing.assert_allclose(args[2], want, rtol=1e-5, atol=1e-5)
