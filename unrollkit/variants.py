"""The ways of unrolling a kernel that unrollkit compares (DESIGN §3).

`plan` turns (kernel, variant, factor) into what the compiler runs: a possibly rewritten
descriptor, a pass pipeline over the affine IR, and LLVM's policy.
"""
from __future__ import annotations

import dataclasses

from . import descriptor as d
from .backend import LLVMPolicy
from .errors import TransformError
from .pipeline import Pipeline

VARIANTS = ("none", "llvm-auto", "affine")


@dataclasses.dataclass(frozen=True)
class Plan:
    kernel: d.Kernel
    pipeline: Pipeline
    policy: LLVMPolicy
    variant: str
    factors: tuple  # ((loop name or "", factor), ...) as requested


def normalize_factor(factor) -> tuple:
    """``4`` → ``(("", 4),)`` (every innermost loop); ``{"k": 4}`` → ``(("k", 4),)``."""
    if isinstance(factor, dict):
        items = tuple(factor.items())
    else:
        items = (("", factor),)
    for loop, f in items:
        if not isinstance(loop, str):
            raise TransformError(f"loop names in factor= must be strings, got {loop!r}")
        if isinstance(f, bool) or not isinstance(f, int):
            raise TransformError(f"unroll factor must be a positive integer, got {f!r}"
                                 + (f" for loop {loop!r}" if loop else ""))
        if f < 1:
            raise TransformError(f"unroll factor must be >= 1, got {f}" + (f" for loop {loop!r}" if loop else ""))
    return items


def unroll_pipeline(factors: tuple) -> Pipeline:
    from unrollkit.passes.unroll import Unroll
    return Pipeline(tuple(Unroll(factor=f, loop=loop) for loop, f in factors if f > 1))


def plan(kernel: d.Kernel, variant: str = "affine", factor=1, pipeline: Pipeline | None = None,
         policy: LLVMPolicy | None = None) -> Plan:
    if variant not in VARIANTS:
        raise TransformError(f"unknown variant {variant!r}; the variants are {list(VARIANTS)}")
    factors = normalize_factor(factor)
    for loop, _ in factors:
        if loop and loop not in kernel.loop_names():
            raise TransformError(f"kernel {kernel.name!r} has no loop named {loop!r}; "
                                 f"its loops are {kernel.loop_names()}")
    user = pipeline or Pipeline()
    if variant == "none":
        if any(f > 1 for _, f in factors):
            raise TransformError("variant 'none' does no unrolling; use factor=1")
        return Plan(kernel, user, policy or LLVMPolicy(), variant, factors)
    if variant == "llvm-auto":
        pol = policy or LLVMPolicy(unroll=True, interleave=True)
        return Plan(kernel, user, pol, variant, factors)
    return Plan(kernel, unroll_pipeline(factors) + user, policy or LLVMPolicy(), variant, factors)
