"""Helpers shared by the pass tests and the guarantee tests (no tests here): kernels from source
text, reproducible arguments, a kernel lowered to affine IR and run through a pipeline in process
(no LLVM, no JIT), and one check that a compiled pipeline agrees with both the reference
interpreter and ``variant="none"`` on the same inputs."""
from __future__ import annotations

import textwrap

import numpy as np
import pytest
from mlir import ir

import unrollkit as uk
from unrollkit.frontend.parse import parse_kernel
from unrollkit.runtime.interpreter import interpret
from unrollkit.ir.ir_utils import affine_loops, loop_name
from unrollkit.tools import testdata
from unrollkit.codegen.pipeline import Pipeline
from unrollkit.core.errors import TransformError


def kernel_from(source: str):
    """The descriptor of one ``def`` given as text (``uk.f64`` etc. in its annotations)."""
    return parse_kernel(textwrap.dedent(source), filename="<guarantee-test>", env={"uk": uk})


def args_for(kernel, sizes: dict, dtype=np.float64, seed: int = 0) -> list:
    """Random arrays of ``sizes`` (`testdata.make_args`: floats in [-1, 1), integers in
    [-9, 10)), 0.75 for each float scalar, 3 for each integer one."""
    return testdata.make_args(kernel, sizes, dtype, seed=seed, floats=(-1.0, 1.0), ints=(-9, 10),
                              scalar_float=0.75, scalar_int=3)


def _copies(args):
    return [a.copy() if isinstance(a, np.ndarray) else a for a in args]


def assert_close(got, want, what: str, rtol: float | None = None):
    """Exact for integers, `testdata.tolerance` (or ``rtol``) of the largest value for floats."""
    for n, (g, w) in enumerate(zip(got, want)):
        if isinstance(w, np.ndarray):
            why = testdata.mismatch(g, w, dtype=w.dtype, tol=None if w.dtype.kind in "iu" else rtol)
            assert not why, f"{what}: argument {n} differs ({why})\ngot  {g!r}\nwant {w!r}"


def check_against_reference(kernel, sizes: dict, pipeline="", variant: str = "affine", factor=1,
                            dtype=np.float64, seeds=(0,), rtol: float | None = None, **jit_options):
    """Compile ``kernel`` with ``pipeline``/``variant``/``factor`` and run it on random inputs:
    the result must equal the interpreter's and ``variant="none"``'s. Returns the JitKernel."""
    f = uk.jit(kernel, pipeline=pipeline or None, variant=variant, factor=factor, **jit_options)
    baseline = uk.jit(kernel, variant="none")
    for seed in seeds:
        args = args_for(kernel, sizes, dtype, seed)
        want, base, got = _copies(args), _copies(args), _copies(args)
        interpret(kernel, *want)
        baseline(*base)
        f(*got)
        assert_close(base, want, "variant='none' against the interpreter", rtol)
        assert_close(got, want, f"pipeline {pipeline!r} variant {variant!r} factor {factor} "
                                f"against the interpreter", rtol)
    return f


def loops_named(module, name: str) -> list:
    """The ``affine.for`` ops of ``module`` whose source name is ``name``."""
    return [op for op in affine_loops(module) if loop_name(op) == name]


def lowered_module(kernel, sizes: dict, dtype=np.float64):
    """(context, affine module) of ``kernel`` at ``sizes``, lowered in process without LLVM."""
    from unrollkit.frontend.signature import sizes_of
    from unrollkit.ir.lower_affine import lower
    from unrollkit.runtime.jit_kernel import JitKernel
    sig, _ = JitKernel(kernel).signature(args_for(kernel, sizes, dtype))
    ctx = ir.Context()
    with ctx, ir.Location.unknown():
        module = lower(kernel, sizes_of(kernel, sig), sig.ptypes(), sig.shape_map())
    return ctx, module


def _f32_module(kernel, sizes: dict):
    """`lowered_module` for f32 arrays, every size not in ``sizes`` 64."""
    names = {s for p in kernel.params if p.is_array for s in p.shape if not isinstance(s, int)}
    return lowered_module(kernel, {**{n: 64 for n in names}, **sizes}, np.float32)


def transformed(kernel, pipeline, **sizes) -> str:
    """IR text of ``kernel`` (f32 arrays of ``sizes``) after ``pipeline`` (a Pipeline or its
    text); the passes run and verify in process."""
    ctx, module = _f32_module(kernel, sizes)
    with ctx, ir.Location.unknown():
        Pipeline.coerce(pipeline).run(module)
        return str(module)


def steps(kernel, pipeline, **sizes):
    """(pipeline, its recorded steps) of ``pipeline`` run on ``kernel`` as in `transformed`."""
    ctx, module = _f32_module(kernel, sizes)
    p = Pipeline.coerce(pipeline)
    with ctx, ir.Location.unknown():
        return p, p.run(module, record=True)


def refuses(kernel, pipeline, *needles, **sizes) -> str:
    """`transformed` raises a TransformError whose message holds every one of ``needles``."""
    with pytest.raises(TransformError) as e:
        transformed(kernel, pipeline, **sizes)
    for n in needles:
        assert n in str(e.value), str(e.value)
    return str(e.value)


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
