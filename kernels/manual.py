"""Hand-unrolled forms of mac, dot and gemm at factors 2, 4 and 8 (the ``manual`` variant).

Written the way a performance engineer unrolls by hand: the body repeated with shifted
subscripts in a loop of step F, and a remainder loop for the last ``N % F`` iterations.
Parameters (names, order, shapes) are those of `unrollkit.kernels.mac` / `dot` / `gemm`, so
each is a drop-in replacement. ``dot`` keeps one accumulator and adds in index order, like the
rolled loop and like kernels/c/dot.c's ``c-manual``: unrolling alone does not reassociate the
sum (the ``multi-acc`` variant does that, on purpose). The result can still differ from the
rolled loop's in the last bit (float32: 87 of 300 random inputs by 1 ulp at factor 8): the
rolled loop fuses each multiply into its add (one FMA per element), while LLVM's SLP
vectoriser packs the unrolled body's multiplies into vector multiplies and keeps the adds
separate, so those products are rounded before they are added.

`MANUAL` maps (kernel name, factor) → descriptor.
"""
import unrollkit.frontend as uk  # the kernel language (see unrollkit.frontend)
from unrollkit.frontend import T


# ---------------------------------------------------------------- mac: c[i] += a[i] * b[i]

@uk.kernel(name="mac_x2")
def mac_x2(a: T["N"], b: T["N"], c: T["N"]):
    """mac unrolled by hand by 2: two copies of the body per step of 2, then a remainder loop for
    the last ``N % 2`` iterations."""
    for i in range(0, N // 2 * 2, 2):
        c[i] += a[i] * b[i]
        c[i + 1] += a[i + 1] * b[i + 1]
    for i in range(N // 2 * 2, N):
        c[i] += a[i] * b[i]


@uk.kernel(name="mac_x4")
def mac_x4(a: T["N"], b: T["N"], c: T["N"]):
    """mac unrolled by hand by 4: four copies of the body per step of 4, then a remainder loop for
    the last ``N % 4`` iterations."""
    for i in range(0, N // 4 * 4, 4):
        c[i] += a[i] * b[i]
        c[i + 1] += a[i + 1] * b[i + 1]
        c[i + 2] += a[i + 2] * b[i + 2]
        c[i + 3] += a[i + 3] * b[i + 3]
    for i in range(N // 4 * 4, N):
        c[i] += a[i] * b[i]


@uk.kernel(name="mac_x8")
def mac_x8(a: T["N"], b: T["N"], c: T["N"]):
    """mac unrolled by hand by 8: eight copies of the body per step of 8, then a remainder loop for
    the last ``N % 8`` iterations."""
    for i in range(0, N // 8 * 8, 8):
        c[i] += a[i] * b[i]
        c[i + 1] += a[i + 1] * b[i + 1]
        c[i + 2] += a[i + 2] * b[i + 2]
        c[i + 3] += a[i + 3] * b[i + 3]
        c[i + 4] += a[i + 4] * b[i + 4]
        c[i + 5] += a[i + 5] * b[i + 5]
        c[i + 6] += a[i + 6] * b[i + 6]
        c[i + 7] += a[i + 7] * b[i + 7]
    for i in range(N // 8 * 8, N):
        c[i] += a[i] * b[i]


# ---------------------------------------------------------------- dot: out[0] += sum x[i] * y[i]

@uk.kernel(name="dot_x2")
def dot_x2(x: T["N"], y: T["N"], out: T[1]):
    """dot unrolled by hand by 2: two additions into the one accumulator out[0] per step, then a
    remainder loop for the last ``N % 2`` iterations."""
    for i in range(0, N // 2 * 2, 2):
        out[0] += x[i] * y[i]
        out[0] += x[i + 1] * y[i + 1]
    for i in range(N // 2 * 2, N):
        out[0] += x[i] * y[i]


@uk.kernel(name="dot_x4")
def dot_x4(x: T["N"], y: T["N"], out: T[1]):
    """dot unrolled by hand by 4: four additions into the one accumulator out[0] per step, then a
    remainder loop for the last ``N % 4`` iterations."""
    for i in range(0, N // 4 * 4, 4):
        out[0] += x[i] * y[i]
        out[0] += x[i + 1] * y[i + 1]
        out[0] += x[i + 2] * y[i + 2]
        out[0] += x[i + 3] * y[i + 3]
    for i in range(N // 4 * 4, N):
        out[0] += x[i] * y[i]


@uk.kernel(name="dot_x8")
def dot_x8(x: T["N"], y: T["N"], out: T[1]):
    """dot unrolled by hand by 8: eight additions into the one accumulator out[0] per step, then a
    remainder loop for the last ``N % 8`` iterations."""
    for i in range(0, N // 8 * 8, 8):
        out[0] += x[i] * y[i]
        out[0] += x[i + 1] * y[i + 1]
        out[0] += x[i + 2] * y[i + 2]
        out[0] += x[i + 3] * y[i + 3]
        out[0] += x[i + 4] * y[i + 4]
        out[0] += x[i + 5] * y[i + 5]
        out[0] += x[i + 6] * y[i + 6]
        out[0] += x[i + 7] * y[i + 7]
    for i in range(N // 8 * 8, N):
        out[0] += x[i] * y[i]


# ---------------------------------------------------------------- gemm: C += A @ B (i-k-j)
# The innermost j loop is unrolled; A[i, k] is read once per k, as one would hoist it by hand.

@uk.kernel(name="gemm_x2")
def gemm_x2(A: T["M", "K"], B: T["K", "N"], C: T["M", "N"]):
    """gemm (i-k-j) with A[i, k] held in a local and the j loop unrolled by hand by 2, then a
    remainder loop for the last ``N % 2`` columns."""
    for i in range(M):
        for k in range(K):
            a = A[i, k]
            for j in range(0, N // 2 * 2, 2):
                C[i, j] += a * B[k, j]
                C[i, j + 1] += a * B[k, j + 1]
            for j in range(N // 2 * 2, N):
                C[i, j] += a * B[k, j]


@uk.kernel(name="gemm_x4")
def gemm_x4(A: T["M", "K"], B: T["K", "N"], C: T["M", "N"]):
    """gemm (i-k-j) with A[i, k] held in a local and the j loop unrolled by hand by 4, then a
    remainder loop for the last ``N % 4`` columns."""
    for i in range(M):
        for k in range(K):
            a = A[i, k]
            for j in range(0, N // 4 * 4, 4):
                C[i, j] += a * B[k, j]
                C[i, j + 1] += a * B[k, j + 1]
                C[i, j + 2] += a * B[k, j + 2]
                C[i, j + 3] += a * B[k, j + 3]
            for j in range(N // 4 * 4, N):
                C[i, j] += a * B[k, j]


@uk.kernel(name="gemm_x8")
def gemm_x8(A: T["M", "K"], B: T["K", "N"], C: T["M", "N"]):
    """gemm (i-k-j) with A[i, k] held in a local and the j loop unrolled by hand by 8, then a
    remainder loop for the last ``N % 8`` columns."""
    for i in range(M):
        for k in range(K):
            a = A[i, k]
            for j in range(0, N // 8 * 8, 8):
                C[i, j] += a * B[k, j]
                C[i, j + 1] += a * B[k, j + 1]
                C[i, j + 2] += a * B[k, j + 2]
                C[i, j + 3] += a * B[k, j + 3]
                C[i, j + 4] += a * B[k, j + 4]
                C[i, j + 5] += a * B[k, j + 5]
                C[i, j + 6] += a * B[k, j + 6]
                C[i, j + 7] += a * B[k, j + 7]
            for j in range(N // 8 * 8, N):
                C[i, j] += a * B[k, j]


MANUAL = {(k.name.rsplit("_x", 1)[0], int(k.name.rsplit("_x", 1)[1])): k
          for k in (mac_x2, mac_x4, mac_x8, dot_x2, dot_x4, dot_x8, gemm_x2, gemm_x4, gemm_x8)}
