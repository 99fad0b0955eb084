"""The ways of unrolling a kernel that unrollkit compares (the README's variant table).

`plan` turns (kernel, variant, factor) into what the compiler runs: a possibly rewritten
descriptor, a pass pipeline over the affine IR, LLVM's policy, and loop metadata.

=============  ===============================================================================
``none``       no unrolling anywhere (LLVM's unroller off): the 1.00x baseline
``llvm-auto``  LLVM's own unroller and interleaver decide (like ``-O3 -funroll-loops``)
``pragma``     the loop stays rolled; ``llvm.loop.unroll.count = N`` metadata asks LLVM to unroll
``macro``      the descriptor's body is expanded N times before MLIR, with a remainder loop
``manual``     a hand-unrolled kernel from `unrollkit.kernels.manual` (mac, dot, gemm at 2, 4, 8)
``affine``     MLIR's structural unrolling of ``affine.for``
``multi-acc``  the reduction loop unrolled with N independent accumulators combined at the end
``vector-acc`` the loop vectorised N vector registers wide (N independent vector accumulators
               for a reduction, combined by a tree after the loop), one register wide for what
               is left, scalar for the rest: ``#pragma clang loop vectorize(enable)
               interleave_count(N)`` under ``-ffast-math``; reassociates sums like multi-acc
``blas``       GEMM nests only: the cache-blocked, packed, register-tiled schedule that
               `unrollkit.tuning.gemm_schedule` derives per call signature (factor is ignored)
=============  ===============================================================================

Any variant also takes ``accumulators=k`` (through `plan`): the reduction loop is first split
into k accumulators, then the variant's own unrolling applies.
"""
from __future__ import annotations


from unrollkit.frontend import descriptor as d
from unrollkit.codegen.backend import LLVMPolicy
from unrollkit.core.errors import TransformError
from unrollkit.codegen.pipeline import Pipeline
from unrollkit.codegen.macro_unroll import macro_unroll, split_carried
from unrollkit.codegen.plan import Plan
from unrollkit.tuning.gemm_schedule import match_gemm
from unrollkit.passes.unroll import Unroll
from unrollkit.passes.split_accumulators import SplitAccumulators
from unrollkit.passes.vectorize import Vectorize
from unrollkit.passes.base import MAX_VECTOR_LANES, check_code_size
from unrollkit.core.target import host_target
from unrollkit.core.errors import CodeSizeError

VARIANTS = ("none", "llvm-auto", "pragma", "macro", "manual", "affine", "multi-acc", "vector-acc")
#: variants for one kernel shape, not unrolling variants of every kernel: ``blas`` (GEMM nests)
SCHEDULES = ("blas",)



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
    """`Unroll` passes for ``factors`` (((loop name or "", factor), ...)), factors of 1 left out."""
    return Pipeline(tuple(Unroll(factor=f, loop=loop) for loop, f in factors if f > 1))


def accumulator_pipeline(k: int, loop: str = "") -> Pipeline:
    """k independent accumulators on the reduction loop: the pass library's
    ``split-accumulators`` (which peels the loop to a multiple of k and carries the k partial
    sums in ``affine.for`` iter_args)."""
    if k <= 1:
        return Pipeline()
    return Pipeline((SplitAccumulators(loop=loop, accumulators=k),))


def vector_acc_pipeline(kernel: d.Kernel, k: int, loop: str = "") -> Pipeline:
    """The loop (every innermost loop when ``loop`` is "") vectorised ``k`` registers wide,
    reductions included; then its remainder ``<loop>.rem`` one register wide (k > 1)."""
    names = [loop] if loop else kernel.innermost_loop_names()
    passes = []
    for name in names:
        passes.append(Vectorize(loop=name, registers=k, reductions=True))
        if k > 1:
            passes.append(Vectorize(loop=name + ".rem", registers=1, reductions=True))
    return Pipeline(tuple(passes))


def _targets(kernel: d.Kernel, loop: str) -> list:
    """The loops a factor for ``loop`` ("" = every innermost loop) applies to."""
    return [lp for lp in kernel.loops()
            if (lp.name == loop if loop else not any(isinstance(s, d.Loop) for s in lp.body))]


def check_copies_size(kernel: d.Kernel, counts: tuple, what: str) -> None:
    """Refuse, before anything is built, ``counts`` copies of loop bodies over the code-size
    budget (``what``: the copies' name in the message, with ``{n}`` for the count). An unroll-count pragma makes LLVM unroll without its own size check (8192 copies
    of a six-operation body ran > 400 s in LLVM's O3); bounded by the count, not the trip
    count, which is not known yet."""
    total = d.ops_estimate(kernel.body)
    for loop, n in counts:
        for lp in _targets(kernel, loop):
            total += (n - 1) * d.ops_estimate(lp.body)
            check_code_size(what.format(n=n), lp.name, total, block=n * d.ops_estimate(lp.body, straight=True))


def check_vector_acc_size(kernel: d.Kernel, registers: int, loop: str = "") -> None:
    """Refuse, before anything is built, a vector-acc factor whose vectors no LLVM compiles
    (4096 registers: a 65,536-lane vector aborted LLVM's instruction selector) or whose body,
    ``registers`` registers per operation, is over the code-size budget."""
    # the fewest lanes any element type (64-bit) gives; the compile checks the actual ones
    lanes = registers * max(1, host_target().vector_bits // 64)
    if lanes > MAX_VECTOR_LANES:
        loops = ", ".join(repr(lp.name) for lp in _targets(kernel, loop))
        raise CodeSizeError(f"variant 'vector-acc' with factor {registers} makes vectors of at least "
                            f"{lanes:,} lanes in loop {loops}, over the {MAX_VECTOR_LANES:,} LLVM can "
                            f"compile; use a factor of at most {MAX_VECTOR_LANES // (lanes // registers)}")
    check_copies_size(kernel, ((loop, registers),), "vector-acc with {n} vector registers per trip")


def manual_kernel(kernel: d.Kernel, factors: tuple) -> d.Kernel:
    """The hand-unrolled form of ``kernel`` at ``factors`` (one factor, every innermost loop) from
    kernels/manual.py; ``kernel`` itself at factor 1."""
    from unrollkit.kernels.manual import MANUAL  # lazy: parses the hand-written kernels only when asked for
    if len(factors) != 1 or factors[0][0]:
        raise TransformError("variant 'manual' unrolls the innermost loop of the shipped kernels; "
                             "give factor as an int, not by loop name")
    f = factors[0][1]
    if f == 1:
        return kernel
    k = MANUAL.get((kernel.name, f))
    if k is None:
        have = sorted({n for n, _ in MANUAL})
        if kernel.name not in have:
            raise TransformError(f"variant 'manual' has no hand-unrolled form of kernel {kernel.name!r}; "
                                 f"kernels/manual.py ships {have}")
        raise TransformError(f"variant 'manual' has no hand-unrolled {kernel.name!r} at factor {f}; "
                             f"kernels/manual.py ships factors {sorted({x for n, x in MANUAL if n == kernel.name})}")
    if [(p.name, p.shape) for p in k.params] != [(p.name, p.shape) for p in kernel.params]:
        raise TransformError(f"the hand-unrolled {k.name!r} does not take {kernel.name!r}'s parameters")
    return k


def plan(kernel: d.Kernel, variant: str = "affine", factor=1, pipeline: Pipeline | None = None,
         policy: LLVMPolicy | None = None, accumulators: int = 1) -> Plan:
    """The `Plan` compiling ``kernel`` as ``variant`` at ``factor`` (an int or ``{loop: n}``) with
    the user's ``pipeline`` and ``policy``; a `TransformError` for what it cannot do."""
    factors = _checked_factors(kernel, variant, factor, accumulators)
    user = pipeline or Pipeline()
    pol = policy or LLVMPolicy()
    if variant in ("multi-acc", "vector-acc", "blas"):
        return _schedule_plan(kernel, variant, factors, user, pol, accumulators)
    acc = accumulator_pipeline(accumulators)
    if variant == "none":
        if any(f > 1 for _, f in factors):
            raise TransformError("variant 'none' does no unrolling; use factor=1")
        return Plan(kernel, acc + user, pol, variant, factors, (), accumulators)
    if variant == "llvm-auto":
        pol = policy or LLVMPolicy(unroll=True, interleave=True)
        return Plan(kernel, acc + user, pol, variant, factors, (), accumulators)
    if variant == "pragma":
        counts = tuple((loop, f) for loop, f in factors if f > 1)
        check_copies_size(kernel, counts, "llvm.loop.unroll.count {n}")
        return Plan(kernel, acc + user, pol, variant, factors, counts, accumulators)
    if variant == "macro":
        return Plan(macro_unroll(kernel, factors), acc + user, pol, variant, factors, (), accumulators)
    if variant == "manual":
        return Plan(manual_kernel(kernel, factors), acc + user, pol, variant, factors, (), accumulators)
    # the user's passes first, then `factor`: it unrolls the innermost loops of the final nest
    # (after a tile or vectorize), which is what "factor=4 with this pipeline" reads as
    return Plan(kernel, acc + user + unroll_pipeline(factors), pol, variant, factors, (), accumulators)


def _checked_factors(kernel: d.Kernel, variant: str, factor, accumulators) -> tuple:
    """``factor`` normalised (`normalize_factor`), after refusing an unknown variant, a loop
    name the kernel does not have and a bad accumulator count."""
    if variant not in VARIANTS + SCHEDULES:
        raise TransformError(f"unknown variant {variant!r}; the variants are "
                             f"{list(VARIANTS + SCHEDULES) + ['auto']}")
    factors = normalize_factor(factor)
    for loop, _ in factors:
        if loop and loop not in kernel.loop_names():
            raise TransformError(f"kernel {kernel.name!r} has no loop named {loop!r}; "
                                 f"its loops are {kernel.loop_names()}")
    if isinstance(accumulators, bool) or not isinstance(accumulators, int) or accumulators < 1:
        raise TransformError(f"accumulators must be a positive integer, got {accumulators!r}")
    return factors


def _schedule_plan(kernel: d.Kernel, variant: str, factors: tuple, user: Pipeline, pol: LLVMPolicy,
                   accumulators: int) -> Plan:
    """The plans of the variants that bring their own schedule: ``multi-acc`` (the factor is the
    number of accumulators), ``vector-acc`` (vector registers per trip) and ``blas``."""
    if variant == "multi-acc":
        # the factor is the number of accumulators; the reduction loop is unrolled by it
        if len(factors) != 1:
            raise TransformError("variant 'multi-acc' takes one factor (the number of accumulators)")
        (loop, f), = factors
        carried = split_carried(kernel, f, loop)
        if carried is not None:
            check_copies_size(kernel, ((loop, f),), "multi-acc with {n} accumulators")
            return Plan(carried, user, pol, variant, factors, (), f)
        return Plan(kernel, accumulator_pipeline(f, loop) + user, pol, variant, factors, (), f)
    if variant == "vector-acc":
        if len(factors) != 1:
            raise TransformError("variant 'vector-acc' takes one factor (vector registers per trip)")
        if accumulators > 1:
            raise TransformError("variant 'vector-acc' already keeps `factor` vector accumulators; "
                                 "accumulators= does not combine with it")
        (loop, f), = factors
        check_vector_acc_size(kernel, f, loop)
        return Plan(kernel, vector_acc_pipeline(kernel, f, loop) + user, pol, variant, factors, (), 1)
    if variant == "blas":
        # the GEMM schedule (unrollkit.tuning.gemm_schedule): derived per call signature at compile
        # time (runtime.JitKernel._get); this plan holds the user's extra passes and policy
        if match_gemm(kernel) is None:
            raise TransformError(f"variant 'blas' schedules contractions such as C[i, j] += A[i, k] * "
                                 f"B[k, j] (unrollkit/tuning/contraction.py); kernel {kernel.name!r} is not one")
        return Plan(kernel, user, pol, variant, factors, (), 1)
