"""Helpers for the guarantee tests (no tests here): kernels from source text, reproducible
arguments, and one check that a compiled pipeline agrees with both the reference interpreter and
``variant="none"`` on the same inputs."""
from __future__ import annotations

import textwrap

import numpy as np
from mlir import ir

import unrollkit as uk
from unrollkit.frontend.parse import parse_kernel
from unrollkit.runtime.interpreter import interpret
from unrollkit.ir.ir_utils import affine_loops, loop_name


def kernel_from(source: str):
    """The descriptor of one ``def`` given as text (``uk.f64`` etc. in its annotations)."""
    return parse_kernel(textwrap.dedent(source), filename="<guarantee-test>", env={"uk": uk})


def args_for(kernel, sizes: dict, dtype=np.float64, seed: int = 0) -> list:
    """Random arrays of ``sizes`` for every array parameter, a small value for each scalar."""
    rng = np.random.default_rng(seed)
    args = []
    for p in kernel.params:
        if p.is_array:
            shape = tuple(s if isinstance(s, int) else sizes[s] for s in p.shape)
            if np.issubdtype(dtype, np.integer):
                args.append(rng.integers(-9, 10, shape).astype(dtype))
            else:
                args.append(rng.uniform(-1, 1, shape).astype(dtype))
        else:
            args.append(3 if np.issubdtype(dtype, np.integer) else 0.75)
    return args


def _copies(args):
    return [a.copy() if isinstance(a, np.ndarray) else a for a in args]


def assert_close(got, want, what: str, rtol: float = 1e-9):
    """Exact for integers, ``rtol`` (scaled by the largest value) for floats."""
    for n, (g, w) in enumerate(zip(got, want)):
        if not isinstance(w, np.ndarray):
            continue
        if np.issubdtype(w.dtype, np.integer):
            ok = np.array_equal(g, w)
        else:
            ok = np.allclose(g, w, rtol=rtol, atol=rtol * max(1.0, float(np.abs(w).max(initial=0))))
        assert ok, f"{what}: argument {n} differs\ngot  {g!r}\nwant {w!r}"


def check_against_reference(kernel, sizes: dict, pipeline="", variant: str = "affine", factor=1,
                            dtype=np.float64, seeds=(0,), rtol: float = 1e-9, **jit_options):
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
