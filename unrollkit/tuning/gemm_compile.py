"""Compiling a GEMM nest with its derived schedule (`unrollkit.tuning.gemm_schedule`), the
first thing ``variant="blas"`` and ``factor="auto"`` try at each call signature (the runtime
calls `compile_gemm` before the cost model's unroll-factor search).
"""
from __future__ import annotations

from unrollkit.codegen.compiler import compile_kernel
from unrollkit.core.target import Target, host_target
from unrollkit.frontend.signature import sizes_of
from unrollkit.tuning.contraction import recognise_all
from unrollkit.tuning.cost_model import Candidate, Choice
from unrollkit.tuning.gemm_schedule import gemm_plan


def compile_gemm(kernel, signature, placeholder, target: Target | None = None):
    """The CompiledKernel of the GEMM schedule (``.schedule`` set, and ``.choice`` saying why
    the cost model's `Choice` saying why), or None when not a GEMM nest: then
    ``factor="auto"`` goes on to the cost model's unroll-factor search."""
    nests = recognise_all(kernel)
    if placeholder.variant != "blas" and nests and any(
            min(n.trips(sizes_of(kernel, signature))) < 1 for n in nests):
        return None  # an empty loop: nothing to schedule; auto's other path runs it as written
    got = gemm_plan(kernel, signature, placeholder, target)
    if got is None:
        return None
    plan, s = got
    ck = compile_kernel(kernel, signature, plan)
    ck.schedule = s
    why = "GEMM nest: " + s.describe() + "; " + "; ".join(s.why)
    row = {"candidate": Candidate("blas", 1), "prediction": None, "checked": False,
           "accepted": True, "why": why, "cycles": 0.0, "facts": {}}
    ck.choice = Choice(row["candidate"], 0.0, why, None, [row], target or host_target())
    return ck
