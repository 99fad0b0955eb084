"""Element types and conversions of the kernel language (issue 13, item 5): f16, i8, u8, i16
arrays end to end, ``uk.f32(x)``-style conversions with numpy's meaning, literals that do not
fit refused with file:line; and a carried Python number that meets typed values takes their
type (numpy's rule for Python scalars), which ``multi-acc``'s extra accumulators rely on."""

import numpy as np
import pytest

import unrollkit as uk
from unrollkit import f16, f32, f64, i8, i16, i32, u8
from unrollkit.runtime.interpreter import interpret

from kernel_errors import expecting, line_of

HERE = __file__


expect_error = expecting(HERE)


def same(a, b):
    np.testing.assert_array_equal(a, b)
    assert a.dtype == b.dtype


# ---------------------------------------------------------------- multi-acc on a carried Python number

@uk.kernel
def count_up(x: i32["N"], out: i32["N"]):
    for i in range(N):
        acc = x[i]
        for j in range(1, N):
            acc += -(-(j))   # the fuzzer's reproducer: an update of indices only
        out[i] = acc


@uk.kernel
def add_literal(x: f32["N"], out: f32["N"]):
    for i in range(N):
        acc = x[i]
        for j in range(1, N, 2):
            acc += 1.5
        out[i] = acc


@uk.kernel
def count_then_add(x: i8["N"], out: i8["N"]):
    for i in range(N):
        n = 0
        for j in range(i):
            n += 1
        out[i] = x[i] + n


@pytest.mark.parametrize("k, dtype", [(count_up, np.int32), (add_literal, np.float32),
                                      (count_then_add, np.int8)])
@pytest.mark.parametrize("factor", [2, 3, 4, 8])
def test_multi_acc_on_a_carried_number_of_literals_and_indices(k, dtype, factor):
    # the extra accumulators start from a literal 0: they took i64/f64 and the combine
    # "mixed element types i32 and i64", blaming the user's line
    for n in (1, 2, 7, 13, 40):
        x = (np.arange(n) * 3 - 7).astype(dtype)
        got, want = np.zeros(n, dtype), np.zeros(n, dtype)
        uk.jit(k, variant="multi-acc", factor=factor)(x, got)
        interpret(k, x, want)
        same(got, want)


def test_a_carried_count_takes_the_type_of_its_uses(check_ir):
    f = uk.jit(count_then_add)
    x = np.full(200, 100, np.int8)
    out, want = np.zeros(200, np.int8), np.zeros(200, np.int8)
    f(x, out)
    interpret(count_then_add, x, want)
    same(out, want)
    same(out, (x.astype(np.int64) + np.arange(200)).astype(np.int8))  # wraps like numpy's int8
    check_ir(f.ir("affine"))
    # CHECK: %[[Z:.*]] = arith.constant 0 : i8
    # CHECK: affine.for {{.*}} iter_args(%{{.*}} = %[[Z]]) -> (i8)
    # CHECK: arith.addi {{.*}} : i8


def test_a_number_used_in_two_types_is_still_an_error():
    def two_uses(x: i32["N"], y: f32["N"]):
        for i in range(N):  # noqa: F821
            n = 0
            for j in range(i):
                n += 1
            x[i] = x[i] + n  # MARK
            y[i] = y[i] + n
    with pytest.raises(uk.KernelSyntaxError, match="mixes element types i32 and i64") as info:
        uk.jit(two_uses)(np.zeros(3, np.int32), np.zeros(3, np.float32))
    assert info.value.lineno == line_of(two_uses, "# MARK")


# ---------------------------------------------------------------- small types end to end

@uk.kernel
def small_types(h: f16["N"], b: i8["N"], u: u8["N"], s: i16["N"], a: f16, c: u8):
    for i in range(N):
        h[i] = h[i] * a + uk.f16(0.5)
        b[i] = b[i] * 3 - 7
        u[i] = max(u[i], c) + u[i]
        s[i] = s[i] * s[i] + 1000


@pytest.mark.parametrize("kw", [{}, {"factor": 4}, {"factor": 8}, {"variant": "macro", "factor": 3},
                                {"variant": "none"}])
def test_small_types_wrap_and_round_like_numpy(kw):
    rng = np.random.default_rng(0)
    f = uk.jit(small_types, **kw)
    for n in (1, 5, 17, 100, 257):
        h = (rng.standard_normal(n) * 100).astype(np.float16)
        b = rng.integers(-128, 128, n).astype(np.int8)
        u = rng.integers(0, 256, n).astype(np.uint8)
        s = rng.integers(-2**15, 2**15, n).astype(np.int16)
        args = (h, b, u, s, 1.7, 200)
        got = [x.copy() for x in args[:4]]
        for _ in range(2):  # the second call takes the fast path when there is one
            got = [x.copy() for x in args[:4]]
            f(*got, 1.7, 200)
        with np.errstate(over="ignore"):
            same(got[0], h * np.float16(1.7) + np.float16(0.5))
            same(got[1], b * np.int8(3) - np.int8(7))
            same(got[2], np.maximum(u, np.uint8(200)) + u)
            same(got[3], s * s + np.int16(1000))
        ref = [x.copy() for x in args[:4]]
        interpret(small_types, *ref, 1.7, 200)
        for g, r in zip(got, ref):
            same(g, r)


def test_unsigned_comparisons_and_min(check_ir):
    @uk.kernel
    def umax(u: u8["N"], out: u8["N"]):
        for i in range(N):
            out[i] = u[i] if u[i] > 127 else min(u[i], 100)
    u = np.arange(256, dtype=np.uint8)
    out = np.zeros(256, np.uint8)
    f = uk.jit(umax)
    f(u, out)
    same(out, np.where(u > 127, u, np.minimum(u, 100)).astype(np.uint8))
    check_ir(f.ir("affine"))
    # CHECK: arith.cmpi ugt
    # CHECK: arith.minui


# ---------------------------------------------------------------- conversions

@uk.kernel
def conversions(x: f64["N"], h: f16["N"], b: i8["N"], u: u8["N"], s: i16["N"], w: i32["N"], g: f32["N"]):
    for i in range(N):
        h[i] = uk.f16(x[i])
        b[i] = uk.i8(w[i])
        u[i] = uk.u8(b[i])
        s[i] = uk.i16(u[i]) - uk.i16(b[i])
        w[i] = uk.i32(x[i])
        g[i] = uk.f32(h[i]) + uk.f32(u[i]) + uk.f32(i)


def _conversion_inputs(n, rng):
    x = rng.standard_normal(n) * 10.0 ** rng.integers(-6, 11, n)
    x[: min(n, 6)] = [np.nan, np.inf, -np.inf, 2.5, -2.5, 65520.0][: min(n, 6)]
    w = rng.integers(-2**31, 2**31, n).astype(np.int32)
    return x, w


@pytest.mark.parametrize("kw", [{}, {"factor": 8}, {"variant": "pragma", "factor": 4}])
def test_conversions_are_numpy_astype(kw):
    rng = np.random.default_rng(3)
    f = uk.jit(conversions, **kw)
    for n in (1, 5, 17, 100, 257):
        x, w = _conversion_inputs(n, rng)
        outs = [np.zeros(n, t) for t in (np.float16, np.int8, np.uint8, np.int16)]
        got_w, g = w.copy(), np.zeros(n, np.float32)
        f(x, *outs, got_w, g)
        with np.errstate(invalid="ignore", over="ignore"):
            same(outs[0], x.astype(np.float16))              # correctly rounded, ties to even
            same(outs[1], w.astype(np.int8))                  # wraps
            same(outs[2], w.astype(np.int8).astype(np.uint8))
            same(outs[3], outs[2].astype(np.int16) - outs[1].astype(np.int16))
            finite = np.abs(x) < 2**31
            same(got_w[finite], np.trunc(x[finite]).astype(np.int32))   # toward zero
        # where numpy's float -> int is undefined: saturated, NaN -> 0
        assert list(got_w[~finite]) == [0 if np.isnan(v) else 2**31 - 1 if v > 0 else -2**31
                                        for v in x[~finite]]
        np.testing.assert_array_equal(
            g, (outs[0].astype(np.float32) + outs[2].astype(np.float32)) + np.arange(n, dtype=np.float32))
        ref = [x, *[np.zeros(n, t) for t in (np.float16, np.int8, np.uint8, np.int16)], w.copy(),
               np.zeros(n, np.float32)]
        interpret(conversions, *ref)
        for got, want in zip((*outs, got_w, g), ref[1:]):
            same(got, want)


def test_f64_to_f16_rounds_once_at_the_ties():
    # midpoints of the f16 grid and their neighbours: rounding through f32 would double-round
    @uk.kernel
    def narrow(x: f64["N"], h: f16["N"]):
        for i in range(N):
            h[i] = uk.f16(x[i])
    grid = np.arange(-2048, 2048, dtype=np.int16).view(np.float16)  # many exponents
    grid = grid[np.isfinite(grid)].astype(np.float64)
    mid = (grid[:-1] + grid[1:]) / 2
    x = np.concatenate([mid, np.nextafter(mid, np.inf), np.nextafter(mid, -np.inf), [6e-8, 2.98e-8]])
    for kw in ({"factor": 4}, {"variant": "vector-acc", "factor": 2}):  # scalar and vector code
        h = np.zeros(len(x), np.float16)
        f = uk.jit(narrow, **kw)
        f(x, h)
        same(h, x.astype(np.float16))
    # and no C library call: the machine code must not depend on __truncdfhf2
    assert "truncdfhf2" not in f.ir("asm")


def test_conversion_ir(check_ir):
    @uk.kernel
    def ir_of(x: f32["N"], b: u8["N"], y: f64["N"]):
        for i in range(N):
            y[i] = uk.f64(x[i]) + uk.f64(b[i])
            b[i] = uk.u8(x[i])
    f = uk.jit(ir_of)
    f(np.zeros(3, np.float32), np.zeros(3, np.uint8), np.zeros(3))
    check_ir(f.ir("affine"))
    # CHECK: arith.extf %{{.*}} : f32 to f64
    # CHECK: arith.uitofp %{{.*}} : i8 to f64
    # CHECK: arith.fptoui %{{.*}} : f32 to i8
    # CHECK: arith.select


def test_f16_math_is_computed_in_f32_like_numpy():
    @uk.kernel
    def m16(x: f16["N"], y: f16["N"]):
        for i in range(N):
            y[i] = uk.exp(x[i]) + uk.sqrt(uk.abs(x[i])) + uk.tanh(x[i]) + x[i] ** 0.5
    x = (np.random.default_rng(4).random(257) * 4).astype(np.float16)
    y, want = np.zeros_like(x), np.zeros_like(x)
    uk.jit(m16, factor=4)(x, y)
    interpret(m16, x, want)
    same(y, want)
    np.testing.assert_allclose(y, np.exp(x) + np.sqrt(x) + np.tanh(x) + np.sqrt(x), rtol=2e-3)


def test_conversions_outside_a_kernel_are_numpy_casts():
    assert uk.i8(300) == np.int8(44) and uk.f16(0.1) == np.float16(0.1)
    assert type(uk.u8(-1)) is np.uint8 and uk.u8(-1) == 255


# ---------------------------------------------------------------- misuse

def test_literals_that_do_not_fit_are_refused():
    def too_big(b: i8["N"]):
        for i in range(N):  # noqa: F821
            b[i] = b[i] + 200  # MARK
    expect_error_on_call(too_big, np.zeros(3, np.int8), "int literal 200 does not fit i8 (from -128 to 127)")

    def negative_unsigned(u: u8["N"]):
        for i in range(N):  # noqa: F821
            u[i] = u[i] * -1  # MARK
    expect_error_on_call(negative_unsigned, np.zeros(3, np.uint8), "int literal -1 does not fit u8")

    def f16_overflow(h: f16["N"]):
        for i in range(N):  # noqa: F821
            h[i] = h[i] + 70000.0  # MARK
    expect_error_on_call(f16_overflow, np.zeros(3, np.float16), "too large for f16")

    def cast_literal(b: i16["N"]):
        for i in range(N):  # noqa: F821
            b[i] = uk.i16(uk.i8(300))  # MARK
    expect_error_on_call(cast_literal, np.zeros(3, np.int16), "int literal 300 does not fit i8")


def expect_error_on_call(fn, arg, message):
    with pytest.raises(uk.KernelSyntaxError) as info:
        uk.jit(fn)(arg)
    assert (info.value.filename, info.value.lineno) == (HERE, line_of(fn, "# MARK")), str(info.value)
    assert message in str(info.value), str(info.value)


def test_conversion_misuse_names_the_problem():
    def two_args(x: f32["N"]):
        for i in range(N):  # noqa: F821
            x[i] = uk.f32(x[i], 2)  # MARK
    expect_error(two_args, "# MARK", "uk.f32() takes exactly one argument")

    def generic(x: f32["N"]):
        for i in range(N):  # noqa: F821
            x[i] = uk.T(x[i])  # MARK
    expect_error(generic, "# MARK", "no array parameter has type T")

    def no_implicit(x: i8["N"], y: i16["N"]):
        for i in range(N):  # noqa: F821
            y[i] = x[i] + y[i]  # MARK
    with pytest.raises(uk.KernelSyntaxError, match="mixes element types i8 and i16"):
        uk.jit(no_implicit)(np.zeros(2, np.int8), np.zeros(2, np.int16))

    def int_math(x: u8["N"]):
        for i in range(N):  # noqa: F821
            x[i] = uk.exp(x[i])  # MARK
    with pytest.raises(uk.KernelSyntaxError, match=r"exp\(\) of an u8 value"):
        uk.jit(int_math)(np.zeros(2, np.uint8))


def test_scalar_arguments_of_small_types_are_range_checked():
    f = uk.jit(small_types)
    args = [np.zeros(3, t) for t in (np.float16, np.int8, np.uint8, np.int16)]
    with pytest.raises(uk.ArgumentError, match="scalar 'c' = 256 does not fit in u8"):
        f(*args, 1.0, 256)
    with pytest.raises(uk.ArgumentError, match="dtype float16"):
        f(args[0].astype(np.float32), *args[1:], 1.0, 1)


@pytest.mark.parametrize("dtype", [np.float16, np.int8, np.uint8, np.int16])
@pytest.mark.parametrize("kw", [{}, {"factor": 4}, {"variant": "multi-acc", "factor": 3},
                                {"variant": "vector-acc", "factor": 2}])
def test_generic_built_ins_bind_the_small_types(dtype, kw):
    from unrollkit.kernels import dot, mac
    rng = np.random.default_rng(5)
    for n in (1, 5, 17, 100, 257):
        a, b = (rng.integers(0, 5, n).astype(dtype) for _ in range(2))
        c, want = np.ones(n, dtype), np.ones(n, dtype)
        uk.jit(mac, **(kw if kw.get("variant") != "multi-acc" else {}))(a, b, c)  # (no reduction)
        interpret(mac, a, b, want)
        same(c, want)
        same(c, np.ones(n, dtype) + a * b)
        out, ref = np.zeros(1, dtype), np.zeros(1, dtype)
        uk.jit(dot, **kw)(a, b, out)
        interpret(dot, a, b, ref)
        tol = 0.02 * abs(float(ref[0])) if dtype == np.float16 else 0  # f16 sums reassociated
        assert abs(float(out[0]) - float(ref[0])) <= tol


def test_machine_code_that_calls_a_missing_function_is_refused():
    # f64 -> f16 was a call to __truncdfhf2, absent from this process: the call jumped to
    # address 0 (SIGSEGV). Any such call is now a CompileError before the code can run.
    import llvmlite.binding as llvm
    from unrollkit.codegen.backend import Engine
    from unrollkit.core.elf_check import undefined_symbols
    Engine(llvm.parse_assembly("define void @f() {\n ret void\n}\n"))  # (initialises LLVM)
    mod = llvm.parse_assembly(
        "declare void @uk_no_such_function()\n"
        "define void @f() {\n  call void @uk_no_such_function()\n  ret void\n}\n")
    with pytest.raises(uk.CompileError, match="calls uk_no_such_function, which this process"):
        Engine(mod)
    ok = Engine(llvm.parse_assembly("define i32 @g(i32 %x) {\n  %y = add i32 %x, 1\n  ret i32 %y\n}\n"))
    assert [n for n in undefined_symbols(ok.object) if n != "_GLOBAL_OFFSET_TABLE_"] == []


def test_the_fast_path_tells_i8_from_u8():
    # the same bits, other meaning: a u8 signature's machine code must never run on i8 arrays
    @uk.kernel
    def larger(a: uk.T["N"], b: uk.T["N"], out: uk.T["N"]):
        for i in range(N):
            out[i] = max(a[i], b[i])
    f = uk.jit(larger, factor=4)
    a = np.array([-1, 5, -128, 127], np.int8)
    b = np.array([1, -5, 0, -1], np.int8)
    for _ in range(3):  # alternating signatures; the later calls take the fast path
        for dt in (np.uint8, np.int8):
            out = np.zeros(4, dt)
            f(a.astype(dt), b.astype(dt), out)
            same(out, np.maximum(a.astype(dt), b.astype(dt)))
    assert len(f._fast) == 2
