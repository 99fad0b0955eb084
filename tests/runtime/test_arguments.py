"""Bad arguments and bad options: a clear exception before any machine code runs."""
import numpy as np
import pytest

import unrollkit as uk
from unrollkit.kernels import dot, gemm, iir, mac


def vecs(n=8, dt=np.float32, k=3):
    return [np.ones(n, dt) for _ in range(k)]


def test_wrong_argument_count():
    with pytest.raises(uk.ArgumentError, match=r"mac\(\) takes 3 arguments \(a, b, c\), got 2"):
        uk.jit(mac)(*vecs(k=2))


def test_not_an_array():
    with pytest.raises(uk.ArgumentError, match="argument 'a' must be a numpy array, got list"):
        uk.jit(mac)([1.0, 2.0], *vecs(2, k=2))


def test_unsupported_dtype():
    with pytest.raises(uk.ArgumentError, match="dtype uint16; supported: float16, float32"):
        uk.jit(mac)(*vecs(dt=np.uint16))
    with pytest.raises(uk.ArgumentError, match="dtype complex64"):
        uk.jit(mac)(*vecs(dt=np.complex64))


def test_generic_dtypes_must_agree():
    a, b = vecs(k=2)
    with pytest.raises(uk.ArgumentError, match="'c' has dtype float64 but 'a' has float32"):
        uk.jit(mac)(a, b, np.ones(8))


def test_concrete_dtype_mismatch():
    @uk.kernel
    def k(x: uk.f64["N"]):
        for i in range(N):  # noqa: F821
            x[i] = 1.0
    with pytest.raises(uk.ArgumentError, match="argument 'x' must have dtype float64, got float32"):
        uk.jit(k)(np.ones(3, np.float32))


def test_wrong_rank():
    with pytest.raises(uk.ArgumentError, match=r"argument 'A' must be 2-D \(shape \[M, K\]\), got 1-D"):
        uk.jit(gemm)(np.ones(4, np.float32), np.ones((4, 4), np.float32), np.ones((4, 4), np.float32))


def test_shared_size_disagreement():
    with pytest.raises(uk.ArgumentError, match="size K disagrees: 'A' \\(dimension 1\\) gives 5 but 'B' gives 6"):
        uk.jit(gemm)(np.ones((4, 5), np.float32), np.ones((6, 3), np.float32), np.ones((4, 3), np.float32))


def test_fixed_size_dimension():
    x, y = vecs(k=2)
    with pytest.raises(uk.ArgumentError, match="dimension 0 of 'out' must be 1, got 2"):
        uk.jit(dot)(x, y, np.zeros(2, np.float32))


def test_non_contiguous_output_is_refused():
    a, b = vecs(k=2)
    c = np.ones(16, np.float32)[::2]
    with pytest.raises(uk.ArgumentError, match="output 'c' must be C-contiguous"):
        uk.jit(mac)(a, b, c)


def test_non_contiguous_input_is_copied_and_correct():
    a = np.arange(16, dtype=np.float32)[::2]
    b, c = vecs(k=2)
    uk.jit(mac, factor=4)(a, b, c)
    np.testing.assert_array_equal(c, 1 + np.arange(16, dtype=np.float32)[::2])


def test_read_only_output_is_refused():
    a, b, c = vecs()
    c.flags.writeable = False
    with pytest.raises(uk.ArgumentError, match="output 'c' is read-only"):
        uk.jit(mac)(a, b, c)


def test_overlapping_outputs_are_refused():
    @uk.kernel
    def two(x: uk.f32["N"], y: uk.f32["N"]):
        for i in range(N):  # noqa: F821
            x[i] = 1.0
            y[i] = 2.0
    buf = np.zeros(9, np.float32)
    with pytest.raises(uk.ArgumentError, match="outputs 'x' and 'y' overlap"):
        uk.jit(two)(buf[:8], buf[1:])


def test_input_overlapping_output_is_copied():
    """jacobi-like: b[i] = a[i-1] + a[i+1] with b aliasing a. The machine code assumes noalias,
    so the input is copied first and the result equals the out-of-place computation."""
    @uk.kernel
    def smooth(a: uk.f64["N"], b: uk.f64["N"]):
        for i in range(1, N - 1):  # noqa: F821
            b[i] = a[i - 1] + a[i + 1]
    x = np.arange(10.0)
    expected = x.copy()
    expected[1:-1] = x[:-2] + x[2:]
    uk.jit(smooth, factor=4)(x, x)
    np.testing.assert_array_equal(x, expected)


def test_same_array_for_two_inputs_is_fine():
    a, c = vecs(k=2)
    a[:] = 3
    uk.jit(mac)(a, a, c)
    assert (c == 10).all()


@pytest.mark.parametrize("bad", [0, -1, 2.5, "4", True, None])
def test_bad_factor(bad):
    with pytest.raises(uk.TransformError, match="unroll factor must be"):
        uk.jit(mac, factor=bad)


def test_factor_for_unknown_loop():
    with pytest.raises(uk.TransformError, match="no loop named 'z'; its loops are \\['i', 'k', 'j'\\]"):
        uk.jit(gemm, factor={"z": 2})


def test_huge_factor_hits_the_code_size_budget(monkeypatch):
    monkeypatch.setenv("UNROLLKIT_MAX_OPS", "2000")
    f = uk.jit(mac, factor=100_000)
    with pytest.raises(uk.CodeSizeError, match="UNROLLKIT_MAX_OPS=<n>"):
        f(*vecs(n=1_000_000))


def test_huge_factor_default_budget_message():
    f = uk.jit(gemm, factor={"j": 1 << 20})
    A, B, C = np.ones((2, 2), np.float32), np.ones((2, 1 << 20), np.float32), np.ones((2, 1 << 20), np.float32)
    with pytest.raises(uk.CodeSizeError, match="loop 'j' would generate about .* operations"):
        f(A, B, C)


def test_full_unroll_of_non_constant_trip_count():
    @uk.kernel
    def tri(A: uk.f32["N", "N"]):
        for i in range(N):  # noqa: F821
            for j in range(i + 1, N):  # noqa: F821
                A[i, j] = 1.0
    with pytest.raises(uk.TransformError, match="cannot fully unroll loop 'j': its trip count is not"):
        uk.jit(tri, pipeline="unroll{loop=j,full=true}")(np.zeros((4, 4), np.float32))


@pytest.mark.parametrize("bad,msg", [("x", "must be a real number, got str"),
                                     (True, "must be a real number, got bool"),
                                     (None, "must be a real number")])
def test_bad_scalar(bad, msg):
    x, y = vecs(k=2)
    with pytest.raises(uk.ArgumentError, match=msg):
        uk.jit(iir)(bad, x, y)


def test_integer_scalar_must_be_integral_and_fit():
    x, y = vecs(dt=np.int32, k=2)
    with pytest.raises(uk.ArgumentError, match="non-integer 0.5"):
        uk.jit(iir)(0.5, x, y)
    with pytest.raises(uk.ArgumentError, match="does not fit in i32"):
        uk.jit(iir)(2**40, x, y)


def test_jit_of_a_plain_function():
    with pytest.raises(TypeError, match="decorate the function with @unrollkit.kernel"):
        uk.jit(lambda x: x)


def test_unknown_variant():
    with pytest.raises(uk.TransformError, match="unknown variant 'fast'"):
        uk.jit(mac, variant="fast")


def test_invalid_pipeline_text():
    with pytest.raises(uk.TransformError, match="unknown pass 'unrol'; the passes are"):
        uk.jit(mac, pipeline="unrol{factor=2}")
    with pytest.raises(uk.TransformError, match="has no option 'fact'"):
        uk.jit(mac, pipeline="unroll{fact=2}")
    with pytest.raises(uk.TransformError, match="unbalanced"):
        uk.jit(mac, pipeline="unroll{factor=2")
