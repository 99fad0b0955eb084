"""Helpers shared by the pass tests (no tests here): lower a kernel to affine IR at given sizes
and run a pipeline on it in process, without LLVM or the JIT."""
from __future__ import annotations

from mlir import ir

import unrollkit as uk
from unrollkit.cli.app import example_args
from unrollkit.frontend.signature import sizes_of
from unrollkit.ir.lower_affine import lower
from unrollkit.codegen.pipeline import Pipeline
from unrollkit.runtime.jit_kernel import JitKernel


def lowered(kernel, ctx, **sizes):
    """The affine module of ``kernel`` for f32 arrays of ``sizes`` (in context ``ctx``)."""
    args = example_args(kernel, sizes, "f32")
    sig, _ = JitKernel(kernel).signature(args)
    with ctx, ir.Location.unknown():
        return lower(kernel, sizes_of(kernel, sig), sig.ptypes(), sig.shape_map())


def transformed(kernel, pipeline, **sizes) -> str:
    """IR text after ``pipeline`` (a Pipeline or its text); passes run and verify in process."""
    ctx = ir.Context()
    module = lowered(kernel, ctx, **sizes)
    with ctx, ir.Location.unknown():
        Pipeline.coerce(pipeline).run(module)
        return str(module)


def steps(kernel, pipeline, **sizes):
    ctx = ir.Context()
    module = lowered(kernel, ctx, **sizes)
    p = Pipeline.coerce(pipeline)
    with ctx, ir.Location.unknown():
        return p, p.run(module, record=True)


# A kernel whose dependence (distance (1, -1)) forbids interchange, tiling and unroll-and-jam of i.
@uk.kernel
def skew(A: uk.T["N", "M"]):
    for i in range(1, N):
        for j in range(M - 1):
            A[i, j] = A[i - 1, j + 1] + 1.0


# A loop over part of its arrays: the caller's padding (the last 8 elements) makes `pad` legal.
@uk.kernel
def padded_axpy(x: uk.T["N"], y: uk.T["N"]):
    for i in range(N - 8):
        y[i] = y[i] + 2.0 * x[i]


# Dependences that allow reordering: (1, 0) along i (rows), (0, 1) along j (columns).
@uk.kernel
def rows(A: uk.T["N", "M"], B: uk.T["N", "M"]):
    for i in range(1, N):
        for j in range(M):
            A[i, j] = A[i - 1, j] * 0.5 + B[i, j]


@uk.kernel
def cols(A: uk.T["N", "M"], B: uk.T["N", "M"]):
    for i in range(N):
        for j in range(1, M):
            A[i, j] = A[i, j - 1] * 0.5 + B[i, j]
