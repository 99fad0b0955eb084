"""What the runtime asks of the tuning layer at a call signature: ``variant="blas"`` and
``factor="auto"`` first try the GEMM schedule derived from the nest (`compile_gemm`, from
`unrollkit.tuning.gemm_schedule`); ``factor="auto"`` then asks the cost model for the unroll
factor (`compile_auto`, its decision kept in the disk cache). `auto_plan` is the placeholder
plan a ``jit(kernel, factor="auto")`` holds until a signature is known.
"""
from __future__ import annotations

import dataclasses

from unrollkit.codegen.backend import LLVMPolicy
from unrollkit.codegen.compiler import compile_kernel
from unrollkit.codegen.pipeline import Pipeline
from unrollkit.codegen.plan import Plan
from unrollkit.core import cache
from unrollkit.core.errors import UnrollkitError
from unrollkit.core.target import Target, host_target
from unrollkit.core.versions import versions
from unrollkit.frontend.local_arrays import with_local_arrays
from unrollkit.frontend.signature import sizes_of
from unrollkit.tuning.contraction import recognise_all
from unrollkit.tuning.cost_model import Candidate, Choice, analyse, choose
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
    ck = compile_kernel(kernel, _plan_signature(kernel, signature, plan), plan)
    ck.schedule = s
    why = "GEMM nest: " + s.describe() + "; " + "; ".join(s.why)
    row = {"candidate": Candidate("blas", 1), "prediction": None, "checked": False,
           "accepted": True, "why": why, "cycles": 0.0, "facts": {}}
    ck.choice = Choice(row["candidate"], 0.0, why, None, [row], target or host_target())
    return ck


def _plan_signature(kernel, signature, plan):
    """The signature the plan's kernel compiles at: a schedule's rewrite that declares local
    arrays of its own (syrk's diagonal-block buffer, `triangular`) adds their types and shapes,
    as `bind` does for the source's."""
    extra = tuple(la for la in plan.kernel.local_arrays if la not in kernel.local_arrays)
    if not extra:
        return signature
    return with_local_arrays(dataclasses.replace(plan.kernel, local_arrays=extra), signature,
                             sizes_of(kernel, signature))


def _cached_candidate(fields, kernel, pipeline, policy):
    """The `Candidate` of a cached decision, or None when its fields are not one that plans
    (a damaged entry is decided again, not an error on every call)."""
    try:
        v, f, jam, loop = fields
        if not (isinstance(v, str) and isinstance(loop, str) and type(f) is int and type(jam) is int
                and f >= 1 and jam >= 1):
            return None
        cand = Candidate(v, f, jam, loop)
        cand.plan(kernel, pipeline, policy)
        return cand
    except (ValueError, TypeError, UnrollkitError):
        return None


def plan_for(kernel, choice: Choice, pipeline=None, policy=None):
    """The `variants.Plan` of a choice (with the user's extra passes and LLVM policy)."""
    return choice.candidate.plan(kernel, pipeline, policy)


def auto_plan(kernel, pipeline=None, policy=None):
    """The placeholder plan of ``jit(kernel, factor="auto")``: variant "auto", factor "auto",
    the user's extra passes and LLVM policy. `compile_auto` resolves it per signature."""
    if isinstance(pipeline, str):
        pipeline = Pipeline.parse(pipeline)
    return Plan(kernel, pipeline or Pipeline(), policy or LLVMPolicy(), "auto", (("", "auto"),))


def _choice_key(kernel, signature, pipeline, policy, t: Target) -> str:
    return cache.make_key("choice-v1", kernel, signature, pipeline.text() if pipeline else "",
                          policy, sorted(t.as_dict().items()), versions())


def compile_auto(kernel, signature, placeholder):
    """Choose for this signature, then return the winner's CompiledKernel with ``.choice`` set.

    The decision is kept in the disk cache (keyed on the kernel, signature, passes, LLVM
    policy, every Target field and the tool versions): another process skips the candidates'
    compiles and machine-code checks. Its Choice then has no candidate rows."""
    user = placeholder.pipeline if placeholder.pipeline.passes else None
    t = host_target()
    key = _choice_key(kernel, signature, user, placeholder.policy, t)
    hit = cache.get(key, require={"candidate": list, "predicted": (int, float), "reason": str})
    cand = _cached_candidate(hit["candidate"], kernel, user, placeholder.policy) if hit else None
    if cand is not None and kernel.loops():
        prof, _ = analyse(kernel, signature, t)
        choice = Choice(cand, hit["predicted"],
                        hit["reason"] + " (decision from the disk cache)", prof, [], t)
    else:
        choice = choose(kernel, signature, pipeline=user, policy=placeholder.policy, target=t)
        c = choice.candidate
        cache.put(key, {"object": b"", "candidate": [c.variant, c.factor, c.jam, c.jam_loop],
                        "predicted": choice.predicted, "reason": choice.reason})
    ck = choice.compiled
    choice.compiled = None  # the CompiledKernel owns its engine; the Choice only describes it
    if ck is None:
        ck = compile_kernel(kernel, signature, plan_for(kernel, choice, user, placeholder.policy))
    ck.choice = choice
    return ck
