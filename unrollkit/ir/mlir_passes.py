"""Upstream MLIR pass pipelines, run in process: the only place MLIR pass strings are spelled.

unrollkit's own passes (`unrollkit.passes`) wrap some of them (``canonicalize``, ``cse``,
``scalar-replace``), raw ``mlir{...}`` steps parse through `check_mlir_pipeline`, and the
compiler lowers the transformed affine module to the LLVM dialect with `lower_to_llvm_dialect`.
"""
from __future__ import annotations

from mlir import ir
from mlir.passmanager import PassManager

from unrollkit.core.errors import CompileError, TransformError
from unrollkit.ir.math_approx import approximate_math


#: affine (after our passes) → LLVM dialect, bare-pointer memrefs so ``noalias`` reaches LLVM.
LOWER_TO_LLVM = ",".join([
    "lower-affine",
    "convert-scf-to-cf",
    "canonicalize",
    "cse",
    "convert-vector-to-llvm",
    # aligned_alloc for buffers with an alignment (`pack`): malloc plus pointer arithmetic
    # hides the allocation from LLVM's alias analysis (GEMM's C then reloads every k)
    "finalize-memref-to-llvm{use-aligned-alloc=1}",
    "convert-arith-to-llvm",
    "convert-math-to-llvm",
    "convert-ub-to-llvm",
    "convert-cf-to-llvm",
    "convert-func-to-llvm{use-bare-ptr-memref-call-conv=1}",
    "reconcile-unrealized-casts",
])

#: Upstream passes that unrollkit passes wrap, by our name.
UPSTREAM = {
    "canonicalize": "canonicalize",
    "cse": "cse",
    "scalar-replace": "func.func(affine-scalrep)",
}


def diagnostics(exc) -> str:
    """The messages of an MLIR error's diagnostics, joined (the exception's text without any)."""
    return "; ".join(d.message for d in getattr(exc, "error_diagnostics", [])) or str(exc)


def run_mlir_passes(module, text: str, verify_each: bool = True) -> None:
    """Run an upstream pass pipeline (anchored on the module) in process. ``verify_each``:
    the pass manager verifies the module after every pass (off: the caller verifies once)."""
    try:
        pm = PassManager.parse(f"builtin.module({text})")
    except (ValueError, ir.MLIRError) as exc:
        raise TransformError(f"invalid MLIR pass pipeline {text!r}: {exc}") from None
    pm.enable_verifier(verify_each)
    try:
        pm.run(module.operation)
    except ir.MLIRError as exc:
        msgs = diagnostics(exc)
        raise CompileError(f"MLIR pipeline {text!r} failed: {msgs}") from None


def run_upstream(key: str, module) -> None:
    """Run on ``module`` the upstream pipeline that unrollkit's pass ``key`` wraps (`UPSTREAM`)."""
    run_mlir_passes(module, UPSTREAM[key])


def lower_to_llvm_dialect(module) -> None:
    """Lower to the LLVM dialect, verifying once at the end rather than after each of the
    twelve conversions: the input was verified (after our passes), the conversions are
    upstream's, and each verification walks the whole module — a third of the lowering's
    time for a GEMM schedule's remainder nests (1023³ f64: 0.26 → 0.19 s). A bad
    conversion still fails here, by name."""
    approximate_math(module)  # exp/log/tanh as arithmetic LLVM vectorises, not libm per lane
    # views (`coalesce`'s memref.collapse_shape) become plain pointer arithmetic first; only
    # in modules that have them: the pass also reshapes other modules' loop code (GEMM's
    # LLVM IR differed), which the measured tables were not run with
    views = "expand-strided-metadata," if _has_views(module) else ""
    run_mlir_passes(module, views + LOWER_TO_LLVM, verify_each=False)
    verify(module, "lowering to the LLVM dialect")


def _has_views(module) -> bool:
    """Whether a function of ``module`` makes a ``memref.collapse_shape`` view (`coalesce`
    makes them in the function's entry block, the only place looked at)."""
    return any(op.operation.name == "memref.collapse_shape"
               for fn in module.body.operations if fn.operation.name == "func.func"
               for op in fn.regions[0].blocks[0].operations)


def check_mlir_pipeline(text: str) -> str:
    """Parse an upstream pipeline now (in a scratch context), so a typo fails before running;
    returns MLIR's printing of it (``builtin.module(...)``, every option spelled out)."""
    ctx = ir.Context() if _no_context() else None
    try:
        if ctx is not None:
            with ctx:
                return str(PassManager.parse(f"builtin.module({text})"))
        return str(PassManager.parse(f"builtin.module({text})"))
    except (ValueError, ir.MLIRError) as exc:
        raise TransformError(f"invalid MLIR pass pipeline {text!r}: {exc}") from None


def _no_context() -> bool:
    try:
        return ir.Context.current is None
    except ValueError:
        return True


def verify(module, after: str) -> None:
    """Raise CompileError, naming ``after``, if ``module`` is not valid IR."""
    try:
        ok = module.operation.verify()
    except ir.MLIRError as exc:
        msgs = diagnostics(exc)
        raise CompileError(f"invalid IR after {after}: {msgs}") from None
    if not ok:
        raise CompileError(f"invalid IR after {after}")
