"""Local arrays (issue 13: durbin's ``DATA_TYPE z[N]``): ``z = uk.zeros(shape, dtype)`` at the
kernel's top level, a ``memref.alloca`` zeroed by a fill nest, proved in bounds like a
parameter, the interpreter's results under unrolling, and every misuse refused at file:line."""
import numpy as np
import pytest

import unrollkit as uk
from unrollkit import T, f64, i32
from unrollkit.runtime.interpreter import interpret
from unrollkit.frontend.local_arrays import MAX_LOCAL_BYTES
from unrollkit.kernels.polybench import REGISTRY
from kernel_errors import refused_at

M, N = uk.sizes("M N")  # the kernels' size names, for linters

HERE = __file__


@uk.kernel
def prefix_rows(steps: i32, x: T["M", "N"], out: T["M", "N"]):
    acc = uk.zeros((M + 1, N), T)
    for s in range(steps):
        for i in range(M):
            for j in range(N):
                acc[i + 1, j] = acc[i, j] + x[i, j] * T(s + 1)
    for i in range(M):
        for j in range(N):
            out[i, j] = acc[i + 1, j] - acc[i, j] + out[i, j]


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32])
@pytest.mark.parametrize("options", [{}, {"factor": 4}, {"variant": "macro", "factor": 3},
                                     {"pipeline": "vectorize{width=4}"}])
def test_local_array_matches_the_interpreter(dtype, options):
    x = (np.arange(35).reshape(5, 7) % 11 - 4).astype(dtype)
    got, want = np.ones((5, 7), dtype), np.ones((5, 7), dtype)
    uk.jit(prefix_rows, **options)(2, x, got)
    interpret(prefix_rows, 2, x, want)
    np.testing.assert_allclose(got, want, rtol=1e-6)
    # acc[i+1] - acc[i] after the last step: x[i] * 2 + every earlier row's contribution
    assert not np.array_equal(got, np.ones((5, 7), dtype))


def test_local_array_is_zeroed_on_every_call():
    @uk.kernel
    def count(x: f64["N"], out: f64["N"]):
        z = uk.zeros(N, f64)
        for i in range(N):
            z[i] += x[i]
            out[i] = z[i]
    f = uk.jit(count)
    for _ in range(3):
        out = np.zeros(4)
        f(np.arange(4.0), out)
        np.testing.assert_array_equal(out, np.arange(4.0))


def test_alloca_and_fill_in_the_ir(check_ir):
    f = uk.jit(prefix_rows)
    check_ir(f.ir("affine", 2, np.zeros((3, 4), np.float32), np.zeros((3, 4), np.float32)))
    # CHECK: func.func @prefix_rows(%{{.*}}: i32, %{{.*}}: memref<3x4xf32> {llvm.noalias}, %{{.*}}: memref<3x4xf32> {llvm.noalias})
    # CHECK: %[[Z:.*]] = memref.alloca() : memref<4x4xf32>
    # CHECK: affine.store %{{.*}}, %[[Z]][%{{.*}}, %{{.*}}] : memref<4x4xf32>
    # CHECK: {uk.name = "acc.fill1"}
    # CHECK: {uk.name = "acc.fill0"}
    # CHECK: affine.load %[[Z]]


def test_an_access_past_a_local_array_is_refused():
    @uk.kernel
    def past(x: f64["N"]):
        z = uk.zeros(N - 1, f64)
        for i in range(N):
            z[i] = x[i]
        for i in range(N - 1):
            x[i] = z[i]
    for n in (5, 1):  # (at N = 1, z is empty)
        with pytest.raises(uk.KernelSyntaxError, match=r"subscript i of z \(dimension 0, size "
                                                        rf"{n - 1}\) ranges over \[0, {n - 1}\]"):
            uk.jit(past)(np.ones(n))


def refused(fn, message, call=None):
    refused_at(fn, HERE, message, call)


def test_local_array_misuse_names_the_line():
    def by_loop_variable(x: f64["N"]):
        for i in range(N):
            x[i] = 1.0
        z = uk.zeros(x, f64)  # MARK
        z[0] = 1.0
    refused(by_loop_variable, "the size of local array 'z' must be a size expression")

    def by_float(s: f64, x: f64["N"]):
        z = uk.zeros(N + s, f64)  # MARK
        for i in range(N):
            z[i] = x[i]
    refused(by_float, "must be a size expression (sizes, int literals")

    def in_loop(x: f64["N"]):
        for i in range(N):
            z = uk.zeros(N, f64)  # MARK
            z[i] = x[i]
    refused(in_loop, "local array 'z' is declared inside a loop")

    def in_if(x: f64["N"]):
        if N > 2:
            z = uk.zeros(N, f64)  # MARK
            z[0] = x[0]
    refused(in_if, "local array 'z' is declared inside an 'if'")

    def clash(x: f64["N"]):
        x = uk.zeros(N, f64)  # MARK
    refused(clash, "local array 'x' reuses the name of a parameter")

    def no_type(x: f64["N"]):
        z = uk.zeros(N, "float64")  # MARK
        z[0] = x[0]
    refused(no_type, "the element type of local array 'z' must be uk.f32, uk.T")

    def generic_without_t(x: f64["N"]):
        z = uk.zeros(N, T)  # MARK
        z[0] = x[0]
    refused(generic_without_t, "no array parameter has type T")

    def as_value(x: f64["N"]):
        z = uk.zeros(N, f64)
        x[0] = z  # MARK
    refused(as_value, "array 'z' used as a value")


def test_sizes_known_only_at_the_call_are_checked_there():
    def negative(x: f64["N"]):
        z = uk.zeros(N - 3, f64)  # MARK
        x[0] = 1.0
    refused(negative, "would have the shape (-1,)", call=lambda k: uk.jit(k)(np.ones(2)))

    def huge(x: f64["N"]):
        z = uk.zeros((N, N), f64)  # MARK
        z[0, 0] = x[0]
        x[0] = z[0, 0]
    n = int((MAX_LOCAL_BYTES / 8) ** 0.5) + 1
    refused(huge, "more than the 1048576 a kernel may keep on the stack",
            call=lambda k: uk.jit(k)(np.ones(n)))


def test_a_local_array_is_not_a_parameter():
    durbin = REGISTRY["durbin"].kernel
    assert durbin.describe() == "durbin(r: T[N], y: T[N])"
    with pytest.raises(uk.ArgumentError, match="takes 2 arguments"):
        uk.jit(durbin)(np.ones(3), np.ones(3), np.ones(3))


def test_a_kernel_with_a_local_array_is_not_split_across_threads():
    """Each row block would need its own z: parallel=True says why it does not split."""
    r = np.linspace(0.1, 0.01, 64)
    with pytest.raises(uk.ArgumentError, match=r"the kernel has a local array \(z\)"):
        uk.jit(REGISTRY["durbin"].kernel, parallel=True)(r, np.zeros(64))
