"""Every construct outside the kernel subset is a KernelSyntaxError citing the user's file:line."""

import numpy as np
import pytest

import unrollkit as uk
from unrollkit import T, f32, i32
from unrollkit.frontend.parse import parse_kernel

from kernel_errors import expecting, line_of

HERE = __file__


expect = expecting(HERE)


def test_if_statement():
    def k(x: f32["N"]):
        for i in range(N):  # noqa: F821
            if x[i]:  # MARK
                x[i] = 0.0
    expect(k, "# MARK", "'x[i]' is not a condition")


def test_while_loop():
    def k(x: f32["N"]):
        while True:  # MARK
            x[0] = 1.0
    expect(k, "# MARK", "while loops are not supported")


def test_non_range_iteration():
    def k(x: f32["N"]):
        for i in [1, 2]:  # MARK
            x[i] = 1.0
    expect(k, "# MARK", "range(hi)")


def test_non_affine_subscript():
    def k(x: f32["N"]):
        for i in range(N):  # noqa: F821
            x[i * i] = 1.0  # MARK
    expect(k, "# MARK", "not affine")


def test_subscript_with_data():
    def k(x: f32["N"], idx: i32["N"]):
        for i in range(N):  # noqa: F821
            x[idx[i]] = 1.0  # MARK
    expect(k, "# MARK", "unsupported index expression")


def test_unknown_function_call():
    def k(x: f32["N"]):
        for i in range(N):  # noqa: F821
            x[i] = sqrt(x[i])  # noqa: F821  MARK
    expect(k, "MARK", "call to sqrt() is not supported")


def test_unknown_name():
    def k(x: f32["N"]):
        for i in range(N):  # noqa: F821
            x[i] = y  # noqa: F821  MARK
    expect(k, "MARK", "unknown name 'y'")


def test_wrong_rank():
    def k(A: f32["N", "N"]):
        for i in range(N):  # noqa: F821
            A[i] = 1.0  # MARK
    expect(k, "# MARK", "A has 2 dimension(s) but is indexed with 1")


def test_slice():
    def k(x: f32["N"]):
        x[1:3] = 0.0  # MARK
    expect(k, "# MARK", "slices are not supported")


def test_unsupported_operator():
    def k(x: f32["N"]):
        for i in range(N):  # noqa: F821
            x[i] = x[i] @ x[i]  # MARK
    expect(k, "# MARK", "operator 'MatMult' is not supported")


def test_floor_div_augmented():
    def k(x: f32["N"]):
        for i in range(N):  # noqa: F821
            x[i] //= 2  # MARK
    expect(k, "# MARK", "unsupported augmented assignment")


def test_missing_annotation():
    def k(x):  # MARK
        x[0] = 1.0
    expect(k, "# MARK", "needs a type annotation")


def test_bad_annotation():
    def k(x: int):  # MARK
        x[0] = 1.0
    expect(k, "# MARK", "must be an unrollkit element type")


def test_zero_or_runtime_step():
    # (a negative constant step is a loop: tests/test_language_loops.py)
    def k(x: f32["N"]):
        for i in range(N, 0, 0):  # noqa: F821  MARK
            x[i] = 1.0
    expect(k, "MARK", "the loop step must not be zero")

    def k2(x: f32["N"], s: i32):
        for i in range(0, N, s):  # noqa: F821  MARK
            x[i] = 1.0
    expect(k2, "MARK", "the loop step must be an integer literal or global constant, not 's'")


def test_loop_carried_scalar():
    def k(x: f32["N"], n: i32["N"], out: f32[1]):
        s = x[0]
        for i in range(N):  # noqa: F821
            s = s + n[i]  # MARK
        out[0] = s
    expect(k, "# MARK", "expression mixes element types f32 and i32")


def test_return_value():
    def k(x: f32["N"]):
        return x  # MARK
    expect(k, "# MARK", "array 'x' used as a value")


def test_return_inside_a_loop():
    def k(x: f32["N"]):
        for i in range(N):  # noqa: F821
            return x[i]  # MARK
    expect(k, "# MARK", "'return value' may only be the last statement")


def test_shadowing_loop_variable():
    def k(x: f32["N"]):
        for i in range(N):  # noqa: F821
            for i in range(N):  # noqa: F821  MARK
                x[i] = 1.0
    expect(k, "MARK", "shadows an enclosing loop variable")


def test_min_in_lower_bound():
    def k(x: f32["N"]):
        for i in range(min(1, N), N):  # noqa: F821  MARK
            x[i] = 1.0
    expect(k, "MARK", "a lower bound may use max(...), not min(...)")


def test_scalar_in_bound():
    # (an integer scalar is an index scalar: tests/test_language_loops.py)
    def k(x: f32["N"], n: f32):
        for i in range(n):  # MARK
            x[i] = 1.0
    expect(k, "# MARK", "scalar parameter 'n' (f32) cannot be used in an index or bound")


def test_kernel_that_stores_nothing():
    def k(x: f32["N"]):  # MARK
        for i in range(N):  # noqa: F821
            t = x[i]  # noqa: F841
    expect(k, "# MARK", "stores to no array")


def test_string_literal():
    def k(x: f32["N"]):
        x[0] = "a"  # MARK
    expect(k, "# MARK", "only int and float literals")


def test_syntax_error_in_parsed_text():
    with pytest.raises(uk.KernelSyntaxError, match=r"user\.py:12: invalid Python"):
        parse_kernel("def k(x):\n    x[0] = = 1\n", filename="user.py", first_line=11)


# ---- type errors are found when the kernel is bound to dtypes (still with file:line)

def test_mixed_element_types():
    @uk.kernel
    def k(x: f32["N"], y: i32["N"]):
        for i in range(N):  # noqa: F821
            x[i] = x[i] + y[i]  # MARK
    with pytest.raises(uk.KernelSyntaxError, match="mixes element types f32 and i32") as info:
        uk.jit(k)(np.zeros(3, np.float32), np.zeros(3, np.int32))
    assert info.value.lineno == line_of(k.__wrapped__ if hasattr(k, "__wrapped__") else test_mixed_element_types, "# MARK")


def test_float_literal_in_integer_kernel():
    @uk.kernel
    def k(x: T["N"]):
        for i in range(N):  # noqa: F821
            x[i] = x[i] * 0.5
    with pytest.raises(uk.KernelSyntaxError, match="float literal 0.5 in an i32 expression"):
        uk.jit(k)(np.zeros(3, np.int32))
    x = np.ones(3, np.float32)
    uk.jit(k)(x)  # the same generic kernel is fine on floats
    assert (x == 0.5).all()


def test_integer_division_refused():
    @uk.kernel
    def k(x: T["N"]):
        for i in range(N):  # noqa: F821
            x[i] = x[i] / 2
    with pytest.raises(uk.KernelSyntaxError, match="integer division is not supported"):
        uk.jit(k)(np.ones(3, np.int64))


def test_out_of_bounds_subscript_is_refused_before_compiling():
    @uk.kernel
    def k(x: f32["N"], y: f32["N"]):
        for i in range(N):  # noqa: F821
            y[i] = x[i + 1]  # MARK
    with pytest.raises(uk.KernelSyntaxError, match=r"subscript i \+ 1 of x .*ranges over \[1, 5\].*out of bounds") as info:
        uk.jit(k)(np.zeros(5, np.float32), np.zeros(5, np.float32))
    assert info.value.lineno == line_of(test_out_of_bounds_subscript_is_refused_before_compiling, "# MARK")


def test_negative_subscript_is_refused():
    @uk.kernel
    def k(x: f32["N"]):
        for i in range(N):  # noqa: F821
            x[i] = x[i - 1]
    with pytest.raises(uk.KernelSyntaxError, match=r"ranges over \[-1, 3\]"):
        uk.jit(k)(np.zeros(5, np.float32))


def test_triangular_bounds_in_range_are_accepted():
    @uk.kernel
    def k(A: f32["N", "N"]):
        for i in range(N):  # noqa: F821
            for j in range(i):
                A[i, j - i + N - 1] = 1.0  # j - i + N - 1 in [0, N - 2]
    uk.jit(k)(np.zeros((6, 6), np.float32))


def test_calling_a_descriptor_directly_explains():
    from unrollkit.kernels import mac
    with pytest.raises(TypeError, match="compile it first"):
        mac(1, 2, 3)


# ------------------------------------------------------------------ literals that do not fit (issue 11, item 8)

BIG_INDEX = 2 ** 64 + 3          # globals used in kernels (a literal of these would do the same)
HUGE = 10 ** 400
NEG_INF = float("-inf")


def compile_error(fn, *args) -> uk.KernelSyntaxError:
    """The KernelSyntaxError of decorating ``fn`` and calling it on ``args`` (None: no error)."""
    try:
        uk.jit(uk.kernel(fn))(*args)
    except uk.KernelSyntaxError as exc:
        assert exc.filename == HERE, str(exc)
        return exc
    return None


def test_int_literal_that_does_not_fit_i32_is_refused_not_wrapped():
    def k(y: i32["N"]):
        for i in range(N):  # noqa: F821
            y[i] = 4294967297  # MARK (2**32 + 1: was silently 1)
    err = compile_error(k, np.zeros(4, np.int32))
    assert err is not None and "int literal 4294967297 does not fit i32" in str(err), err
    assert err.lineno == line_of(k, "# MARK")
    from unrollkit.runtime.interpreter import interpret  # the reference refuses it too
    with pytest.raises((OverflowError, uk.KernelSyntaxError)):
        interpret(uk.kernel(k), np.zeros(4, np.int32))


def test_int_literal_fits_at_the_edges_of_i32():
    def k(y: i32["N"]):
        for i in range(N):  # noqa: F821
            y[i] = max(2147483647 + y[i] * 0, -2147483648)
    y = np.zeros(3, np.int32)
    assert compile_error(k, y) is None
    assert (y == 2 ** 31 - 1).all()


def test_int_literal_through_an_untyped_local_and_a_generic_array():
    def k(y: T["N"]):
        for i in range(N):  # noqa: F821
            t = 4294967297  # MARK
            y[i] = y[i] + t
    err = compile_error(k, np.zeros(4, np.int32))
    assert err is not None and "does not fit i32" in str(err) and err.lineno == line_of(k, "# MARK"), err
    y = np.zeros(4, np.int64)  # the same generic kernel holds it in i64
    assert compile_error(k, y) is None
    assert (y == 4294967297).all()


def test_int_literal_beyond_i64():
    def k(y: uk.i64["N"]):
        for i in range(N):  # noqa: F821
            y[i] = 18446744073709551619  # MARK
    err = compile_error(k, np.zeros(4, np.int64))
    assert err is not None and "does not fit i64" in str(err) and err.lineno == line_of(k, "# MARK"), err


@pytest.mark.parametrize("src,marker", [
    ("for i in range(18446744073709551619):  # MARK\n        y[0] = 1.0", "range(18446744073709551619)"),
    ("for i in range(BIG_INDEX):  # MARK\n        y[0] = 1.0", "range(BIG_INDEX)"),
    ("for i in range(N):  # MARK\n        y[i + 18446744073709551619] = 1.0", "i + 18446744073709551619"),
    ("for i in range(0, N, 18446744073709551619):  # MARK\n        y[i] = 1.0", "range(0, N, 1844"),
])
def test_index_constants_beyond_64_bits_are_syntax_errors(src, marker):
    """They reached the bounds proof and MLIR as raw TypeErrors (no file:line)."""
    source = f"def k(y: f32['N']):\n    {src}\n"
    with pytest.raises(uk.KernelSyntaxError) as e:
        parse_kernel(source, filename="k.py", first_line=10, env={"f32": f32, "BIG_INDEX": BIG_INDEX})
    line = 10 + next(i for i, text in enumerate(source.splitlines()) if marker in text)
    assert str(e.value).startswith(f"k.py:{line}: "), str(e.value)
    assert "64-bit index" in str(e.value)


def test_shape_size_beyond_64_bits():
    with pytest.raises(uk.KernelSyntaxError, match="outside the 64-bit index range"):
        parse_kernel("def k(y: f32[2**70]):\n    y[0] = 1.0\n", env={"f32": f32})


@pytest.mark.parametrize("value,dtype,words", [
    ("HUGE", np.float32, "literal of 401 digits is too large for f32"),
    ("HUGE", np.float64, "too large for f64"),
    ("1e39", np.float32, "literal 1e+39 is too large for f32"),
])
def test_float_overflowing_literals(value, dtype, words):
    """10**400 was a raw OverflowError; 1e39 silently became inf in f32."""
    source = f"def k(y: T['N']):\n    for i in range(N):\n        y[i] = {value}\n"
    k = parse_kernel(source, filename="k.py", first_line=1, env={"T": T, "HUGE": HUGE})
    with pytest.raises(uk.KernelSyntaxError) as e:
        uk.jit(k)(np.zeros(3, dtype))
    assert str(e.value).startswith("k.py:3: ") and words in str(e.value), str(e.value)


def test_1e39_fits_f64_and_an_explicit_infinity_stays_allowed():
    def k(y: T["N"], m: T[1]):
        for i in range(N):  # noqa: F821
            m[0] = NEG_INF
        for j in range(N):  # noqa: F821
            y[j] = 1e39 + y[j] * 0.0
    y, m = np.zeros(3), np.zeros(1)
    assert compile_error(k, y, m) is None
    assert (y == 1e39).all() and m[0] == -np.inf


def test_huge_float_scalar_argument_is_an_argument_error():
    @uk.kernel
    def k(a: f32, y: f32["N"]):
        for i in range(N):  # noqa: F821
            y[i] = a
    f, y = uk.jit(k), np.zeros(3, np.float32)
    f(2.0, y)
    assert (y == 2.0).all()
    with pytest.raises(uk.ArgumentError, match="scalar 'a' is f32 but got an integer of 401 digits"):
        f(HUGE, y)
