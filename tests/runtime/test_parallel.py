"""Parallel calls (unrollkit/runtime/parallel.py): which loops split into row blocks, and every split
call computes what numpy computes, from one or several Python threads."""
from __future__ import annotations

import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

import unrollkit as uk
from unrollkit.runtime import parallel
from unrollkit.kernels import dot, gemm, gemm_order, gemv, iir, jacobi1d, mac, prefix_sum

from conftest import OUTSIDE, needs_pool



# ---------------------------------------------------------------- which loops split

@pytest.mark.parametrize("kernel, arrays, halo", [
    (gemm, ("A", "C"), (0, 0)), (mac, ("a", "b", "c"), (0, 0)), (gemv, ("A", "y"), (0, 0)),
    (gemm_order("ijk"), ("A", "C"), (0, 0)), (jacobi1d, ("a", "b"), (1, 1))])
def test_row_parallel_built_ins(kernel, arrays, halo):
    split = parallel.row_split(kernel)
    assert isinstance(split, parallel.RowSplit) and split.loop == "i" and split.arrays == arrays
    assert (split.lower, split.upper) == halo


@pytest.mark.parametrize("kernel, why", [
    (dot, "out is written at rows other than i"),
    (iir, "y is written at row t and also accessed at row t - 1 (a dependence between iterations)"),
    (prefix_sum, "y is written at row t and also accessed at row t - 1"),
    (gemm_order("kij"), "A[...] is indexed by k other than as its row"),
])
def test_loops_that_do_not_split_say_why(kernel, why):
    split = parallel.row_split(kernel)
    assert isinstance(split, str) and why in split


@uk.kernel
def triangle(A: uk.f64["N", "M"]):
    for i in range(N):
        for j in range(i):
            A[i, j] = 1.0


@uk.kernel
def row_number(A: uk.f64["N", "M"]):
    for i in range(N):
        for j in range(M):
            A[i, j] = i


@uk.kernel
def square(A: uk.f64["N", "N"], B: uk.f64["N", "N"]):
    for i in range(N):
        for j in range(N):
            B[i, j] = A[i, j]


@uk.kernel
def shifted(A: uk.f64["N"], B: uk.f64["N"]):
    for i in range(N):
        B[i] = A[i]
        A[0] = B[i]


@uk.kernel
def two_nests(A: uk.f64["N"], B: uk.f64["N"]):
    for i in range(N):
        A[i] = 1.0
    for i in range(N):
        B[i] = 2.0


@uk.kernel
def stride_two(A: uk.f64["N"]):
    for i in range(0, N, 2):
        A[i] = 1.0


@uk.kernel
def from_the_end(A: uk.f64["N"], B: uk.f64["N"]):
    for i in range(N + 1):
        B[i] = A[i]


@uk.kernel
def heat(A: uk.f64["N", "M"], B: uk.f64["N", "M"]):
    for i in range(1, N - 1):
        for j in range(1, M - 1):
            B[i, j] = 0.2 * (A[i, j] + A[i - 1, j] + A[i + 1, j] + A[i, j - 1] + A[i, j + 1])


@pytest.mark.parametrize("kernel, why", [
    (stride_two, "is not `for i in range(C, SIZE - D)`"),
    (from_the_end, "is not `for i in range(C, SIZE - D)`"),
    (triangle, "the bounds of loop 'j' depend on i or N"),
    (row_number, "i or N is used as a value"),
    (square, "size N is also a dimension of A other than its row count"),
    (shifted, "A is accessed both at rows of i and at other rows"),
    (two_nests, "the body is not a single loop nest"),
])
def test_refusals_name_the_reason(kernel, why):
    split = parallel.row_split(kernel)
    assert isinstance(split, str) and why in split
    with pytest.raises(uk.ArgumentError, match="cannot run in parallel"):
        uk.jit(kernel, parallel=True)


def test_halo_windows_cover_exactly_the_iterations():
    split = parallel.row_split(jacobi1d)
    for rows in (3, 4, 5, 40, 1000, 1001):
        wins = split.windows(rows, 2)
        assert wins[0][0] == 1 and wins[-1][1] == rows - 1
        for lo, hi, wlo, whi in wins:
            assert (wlo, whi) == (lo - 1, hi + 1) and 0 <= wlo and whi <= rows


def test_blocks_are_equal_aligned_and_cover_the_rows():
    for rows in range(0, 300):
        for threads in (1, 2, 3, 4, 7):
            bl = parallel.blocks(rows, threads)
            assert bl[0][0] == 0 and bl[-1][1] == rows
            assert all(a[1] == b[0] for a, b in zip(bl, bl[1:]))
            assert len(bl) <= max(1, threads)
            assert len({hi - lo for lo, hi in bl[:-1]}) <= 1   # at most two block sizes
    assert parallel.blocks(2048, 2) == [(0, 1024), (1024, 2048)]
    assert parallel.blocks(1000, 2) == [(0, 512), (512, 1000)]


@pytest.mark.parametrize("value", [0, -1, "x", 1.5, True, "2 "])
def test_threads_must_be_a_positive_whole_number(value):
    if value == "2 ":
        assert parallel.threads_option(value) == 2
        return
    with pytest.raises(ValueError, match="threads must be a whole number >= 1"):
        uk.jit(gemm, parallel=True, threads=value)


def test_num_threads_environment_variable(monkeypatch):
    monkeypatch.setenv("UNROLLKIT_NUM_THREADS", "3")
    assert uk.jit(gemm, parallel=True).parallel.threads == 3
    monkeypatch.setenv("UNROLLKIT_NUM_THREADS", "many")
    with pytest.raises(ValueError, match="UNROLLKIT_NUM_THREADS"):
        uk.jit(gemm, parallel=True)


def test_parallel_must_be_a_bool_or_none():
    with pytest.raises(ValueError, match="parallel must be True, False or None"):
        uk.jit(gemm, parallel="yes")


# ---------------------------------------------------------------- split calls are right

def gemm_args(m, k, n, dtype, seed=0):
    rng = np.random.default_rng(seed)
    return [(rng.random(s) - 0.5).astype(dtype) for s in ((m, k), (k, n), (m, n))]


@needs_pool
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("m", [1, 5, 17, 100, 257])
@pytest.mark.parametrize("threads", [2, 3])
def test_parallel_gemm_equals_numpy(m, dtype, threads):
    A, B, C = gemm_args(m, 19, 23, dtype)
    want = C.astype(np.float64) + A.astype(np.float64) @ B
    f = uk.jit(gemm, factor=4, parallel=True, threads=threads)
    f(A, B, C)
    np.testing.assert_allclose(C, want, rtol=1e-4 if dtype == np.float32 else 1e-12, atol=1e-5)
    assert (f._last_blocks is not None) == (m >= 2)


@needs_pool
@pytest.mark.parametrize("variant, factor", [("affine", 1), ("vector-acc", 2), ("blas", 1), ("auto", "auto")])
def test_parallel_variants_equal_numpy(variant, factor):
    A, B, C = gemm_args(130, 64, 70, np.float32)
    want = C + A @ B
    f = uk.jit(gemm, factor=factor, variant=variant, parallel=True, threads=2)
    f(A, B, C)
    np.testing.assert_allclose(C, want, rtol=1e-4, atol=1e-5)
    # a small call: CHUNKS_PER_THREAD blocks per thread, of whole ROW_ALIGN rows
    assert [(lo, hi) for _, lo, hi in f._last_blocks] == parallel.blocks(130, 2 * parallel.CHUNKS_PER_THREAD)


@needs_pool
def test_parallel_elementwise_and_gemv_equal_numpy():
    rng = np.random.default_rng(1)
    a, b, c = (rng.random(1001) for _ in range(3))
    want = c + a * b
    uk.jit(mac, factor=4, parallel=True)(a, b, c)
    np.testing.assert_allclose(c, want, rtol=1e-12)
    A, x, y = rng.random((333, 77)), rng.random(77), rng.random(333)
    want = y + A @ x
    uk.jit(gemv, factor=2, parallel=True, threads=3)(A, x, y)
    np.testing.assert_allclose(y, want, rtol=1e-12)


@needs_pool
@pytest.mark.parametrize("n", [3, 4, 5, 33, 1001])
def test_parallel_stencils_equal_numpy(n):
    rng = np.random.default_rng(n)
    a, b = rng.random(n), np.zeros(n)
    want = b.copy()
    want[1:-1] = (a[:-2] + a[1:-1] + a[2:]) / 3.0
    uk.jit(jacobi1d, factor=2, parallel=True, threads=3)(a, b)
    np.testing.assert_allclose(b, want, rtol=1e-12)
    A, B = rng.random((n, 37)), np.zeros((n, 37))
    want = B.copy()
    want[1:-1, 1:-1] = 0.2 * (A[1:-1, 1:-1] + A[:-2, 1:-1] + A[2:, 1:-1] + A[1:-1, :-2] + A[1:-1, 2:])
    f = uk.jit(heat, factor=4, parallel=True, threads=2)
    f(A, B)
    np.testing.assert_allclose(B, want, rtol=1e-12)
    assert (f._last_blocks is not None) == (n >= 4)


@needs_pool
def test_auto_splits_only_large_calls():
    f = uk.jit(mac, factor="auto", threads=2)
    small = [np.ones(64) for _ in range(3)]
    f(*small)
    assert f._last_blocks is None
    n = parallel.AUTO_MIN_ITERATIONS
    big = [np.ones(n) for _ in range(3)]
    f(*big)
    assert f._last_blocks is not None and len(f._last_blocks) == 2 * parallel.CHUNKS_PER_THREAD
    np.testing.assert_array_equal(big[2], 2.0)
    assert uk.jit(mac, factor="auto", parallel=False).parallel is None


@needs_pool
def test_the_split_is_visible_in_the_ir():
    A, B, C = gemm_args(64, 8, 8, np.float32)
    f = uk.jit(gemm, parallel=True, threads=2)
    f(A, B, C)
    assert f.ir("transformed").startswith("// parallel: loop 'i' in row blocks of A, C (size M): "
                                          "8 blocks claimed by 2 threads")
    assert f.ir("llvm").startswith("; parallel:") and f.ir("asm").startswith("# parallel:")
    assert "memref<8x8xf32>" in f.ir("affine")   # a block's signature


@needs_pool
def test_parallel_calls_from_several_python_threads():
    f = uk.jit(gemm, factor=2, parallel=True, threads=2)
    errors = []

    def caller(seed):
        try:
            for _ in range(20):
                A, B, C = gemm_args(96 + seed, 16, 24, np.float64, seed)
                want = C + A @ B
                f(A, B, C)
                if not np.allclose(C, want, rtol=1e-12):
                    errors.append(f"wrong result in thread {seed}")
        except Exception as exc:  # collected and asserted below
            errors.append(repr(exc))

    threads = [threading.Thread(target=caller, args=(s,)) for s in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


@needs_pool
def test_parallel_call_in_a_forked_child():
    # the pool's workers do not survive fork(): the child must make its own, not wait forever
    code = textwrap.dedent("""
        import multiprocessing as mp, numpy as np, unrollkit as uk
        from unrollkit.kernels import mac
        f = uk.jit(mac, parallel=True, threads=2)
        a = [np.ones(4096) for _ in range(3)]
        f(*a)
        def child(q):
            b = [np.ones(4096) for _ in range(3)]
            f(*b)
            q.put(float(b[2].sum()))
        q = mp.get_context("fork").Queue()
        p = mp.get_context("fork").Process(target=child, args=(q,))
        p.start()
        print(q.get(timeout=60))
        p.join(60)
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=OUTSIDE)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == str(2.0 * 4096)


def test_explain_says_how_auto_splits_a_large_call(monkeypatch):
    from typer.testing import CliRunner

    from unrollkit.cli.app import app
    monkeypatch.setenv("UNROLLKIT_NUM_THREADS", "2")
    r = CliRunner().invoke(app, ["explain", "mac", "--size", "N=1000000", "--no-check"])
    assert r.exit_code == 0, r.output
    assert "parallel: loop 'i' in row blocks of a, b, c (size N): 8 blocks claimed by 2 threads" in r.output
    r = CliRunner().invoke(app, ["explain", "mac", "--size", "N=1000", "--no-check"])
    assert r.exit_code == 0 and "parallel" not in r.output
