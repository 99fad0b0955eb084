"""Compiler: (kernel, call signature, plan) → machine code, through every stage, with a disk cache.

Stages, each kept as text for ``CompiledKernel.ir(stage)``:
``affine`` (lowered descriptor), ``transformed`` (after the pass pipeline), ``llvm`` (LLVM IR
from MLIR), ``llvm-opt`` (after LLVM's optimiser), ``asm`` (host assembly, made on request).
"""
from __future__ import annotations

import ctypes
import logging
import time

import numpy as np
from mlir import ir

from unrollkit.codegen import backend
from unrollkit.core import cache
from unrollkit.analysis import ir_bounds
from unrollkit.analysis import kernel_bounds
from unrollkit.frontend import semantics
from unrollkit.codegen.backend import Engine
from unrollkit.ir.lower_affine import lower
from unrollkit.ir.mlir_passes import run_upstream, verify
from unrollkit.codegen.to_llvm import REPEAT_SUFFIX, kernel_symbol, to_llvm_ir
from unrollkit.codegen.plan import Plan
from unrollkit.frontend.signature import Signature, sizes_of
from unrollkit.core.versions import versions
from unrollkit.passes.user import fingerprint
from unrollkit.core import target
from unrollkit.core.target import host_target
from unrollkit.core.dtypes import SCALAR_ABI

#: bump when code generation changes in a way the cache key does not otherwise see
CODEGEN_VERSION = "kernel-v3-mangled-symbols"


STAGES = ("affine", "transformed", "llvm", "llvm-opt", "asm")

#: one DEBUG record per bounds proof: "<kernel> <seconds> <cpu seconds> <which proof>
#: <pipeline>" (collect them with ``pytest --log-file=F --log-file-level=DEBUG``;
#: ``tools/proof_times.py F`` gives the distribution). The thread's CPU time is what the
#: proof costs; the wall time also counts the time the process waited for a core.
proof_log = logging.getLogger("unrollkit.proof")

_CTYPES = {"f32": ctypes.c_float, "f64": ctypes.c_double, "i32": ctypes.c_int32, "i64": ctypes.c_int64}
_CTYPES.update({small: _CTYPES[wide] for small, wide in SCALAR_ABI.items()})  # passed widened


class CompiledKernel:
    """Machine code for one signature: a ctypes function plus every stage's text."""

    #: the cost model's `Choice` when compiled with ``factor="auto"`` (else None)
    choice = None

    def __init__(self, kernel, sig: Signature, plan: Plan, stages: dict, engine: Engine,
                 times: dict, code_bytes: int, from_cache: bool):
        self.kernel, self.signature, self.plan = kernel, sig, plan
        self.stages, self.engine, self.times = stages, engine, times
        self.code_bytes, self.from_cache = code_bytes, from_cache
        ptypes = sig.ptypes()
        argtypes = [ctypes.c_void_p if p.is_array else _CTYPES[ptypes[p.name].name]
                    for p in kernel.params]
        # the symbol of the compiled descriptor's name (a rewrite may differ from the user's),
        # mangled so that no kernel name can collide with a library symbol
        self.symbol = kernel_symbol(plan.kernel.name)
        self.cfunc = engine.function(self.symbol, None, argtypes)
        self.crepeat = engine.function(self.symbol + REPEAT_SUFFIX, None, argtypes + [ctypes.c_int64])

    def time_native(self, ready_args, reps: int) -> float:
        """Seconds for ``reps`` calls of the kernel, looped in native code (one Python call).

        ``ready_args``: the arguments as the kernel takes them (numpy arrays, scalars), already
        checked (e.g. from `JitKernel.signature`). The repeat loop calls the kernel, which is
        ``noinline``, so each repetition runs exactly the kernel's machine code.
        """
        raw = [a.ctypes.data if isinstance(a, np.ndarray) else a for a in ready_args]
        t0 = time.perf_counter_ns()
        self.crepeat(*raw, int(reps))
        return (time.perf_counter_ns() - t0) * 1e-9

    @property
    def compile_seconds(self) -> float:
        """Seconds spent compiling, over every stage timed (a cache load's time when it came from
        the disk cache)."""
        return sum(self.times.values())

    def ir(self, stage: str = "transformed") -> str:
        """The text of one stage of `STAGES` (default the IR after the pass pipeline); ``asm`` is
        emitted from the optimised LLVM IR on first request."""
        if stage not in STAGES:
            raise ValueError(f"unknown stage {stage!r}; the stages are {list(STAGES)}")
        if stage == "asm" and "asm" not in self.stages:
            # the optimised IR is kept: emit from it rather than running LLVM's O3 again
            self.stages["asm"] = backend.assembly(backend.parse(self.stages["llvm-opt"]))
        return self.stages[stage]


#: the fields of a compiled kernel's cache entry besides ``object`` (`cache.get` checks them)
ENTRY_FIELDS = {"stages": dict, "code_bytes": int}


def cache_key(kernel, sig: Signature, plan: Plan) -> str | None:
    """The disk-cache key of a compile, or None when the plan cannot be keyed reliably (a user
    pass whose behaviour cannot be hashed, see `passes.user.fingerprint`): then no disk cache."""
    user_passes = fingerprint(plan.pipeline)
    if user_passes is None:
        return None
    # the vector width too: `vectorize{registers=k}` resolves it from the Target, which a user
    # may override (UNROLLKIT_TARGET) on the same CPU
    return cache.make_key(CODEGEN_VERSION, kernel, sig, plan.kernel, plan.pipeline.text(),
                          plan.policy, plan.variant, plan.pragma, versions(), target.host(),
                          host_target().vector_bits, user_passes)


def _from_cache(kernel, sig: Signature, plan: Plan, hit: dict) -> CompiledKernel | None:
    """The CompiledKernel of a cache entry, or None if the entry cannot be used (it is then
    rebuilt): a stage missing or not text, a malformed object, IR LLVM rejects, a symbol
    missing. Whatever fails here, rebuilding is the answer, never an error on every call."""
    t0 = time.perf_counter()
    stages = hit["stages"]
    if not set(STAGES[:4]) <= set(stages) <= set(STAGES) \
            or not all(isinstance(v, str) for v in stages.values()) or hit["code_bytes"] < 0:
        return None
    try:
        engine = Engine(backend.parse(stages["llvm-opt"]), cached_object=hit["object"])
        return CompiledKernel(kernel, sig, plan, dict(stages), engine,
                              {"cache-load": time.perf_counter() - t0}, hit["code_bytes"], True)
    except Exception:  # noqa: BLE001 - a damaged entry, whatever the failure
        return None


def compile_kernel(kernel, sig: Signature, plan: Plan) -> CompiledKernel:
    """Machine code for ``kernel`` at signature ``sig`` under ``plan``: types and bounds checked (at
    the user's file:line), then loaded from the disk cache or compiled and cached."""
    ptypes, shapes = sig.ptypes(), sig.shape_map()
    sizes = sizes_of(kernel, sig)
    # checks on the user's descriptor: they cite the user's file:line
    semantics.check_types(kernel, ptypes)
    t, cpu = time.perf_counter(), time.thread_time()
    kernel_bounds.check_bounds(kernel, sizes, shapes)
    _log_proof(kernel, time.perf_counter() - t, time.thread_time() - cpu, "kernel", plan)
    key = cache_key(kernel, sig, plan)
    hit = cache.get(key, require=ENTRY_FIELDS) if key else None
    if hit is not None:
        ck = _from_cache(kernel, sig, plan, hit)
        if ck is not None:
            return ck
        cache.discard(key)  # rebuilt below
    stages, times, mod = optimised_stages(kernel, sig, plan)
    t = time.perf_counter()
    engine = Engine(mod)
    times["codegen"] = time.perf_counter() - t
    code_bytes = backend.text_bytes(engine.object) if engine.object else 0
    ck = CompiledKernel(kernel, sig, plan, stages, engine, times, code_bytes, False)
    if engine.object and key:
        cache.put(key, {"stages": stages, "object": engine.object, "code_bytes": code_bytes})
    return ck


def _log_proof(kernel, seconds: float, cpu: float, which: str, plan: Plan) -> None:
    if proof_log.isEnabledFor(logging.DEBUG):
        proof_log.debug("%s %.6f %.6f %s %s", kernel.name, seconds, cpu, which, plan.pipeline.text() or "-")


def optimised_stages(kernel, sig: Signature, plan: Plan, prove: bool = True) -> tuple:
    """(stages ``affine`` to ``llvm-opt``, their times, the optimised llvmlite module): a
    compile without machine code. The cost model checks its candidates this way (assembly
    from the module, no MCJIT engine for a candidate that loses). The caller has run the
    semantic checks on the user's descriptor (`compile_kernel` does).

    ``prove=False`` skips the proof that every transformed access stays in its array: only
    for code that is never loaded or run (the cost model reads a candidate's assembly; the
    winner is compiled again by `compile_kernel`, which proves it before it can run)."""
    ptypes, shapes = sig.ptypes(), sig.shape_map()
    sizes = sizes_of(kernel, sig)
    times, stages = {}, {}
    t = time.perf_counter()
    with ir.Context(), ir.Location.unknown():
        module = lower(plan.kernel, sizes, ptypes, shapes)
        verify(module, "lowering")
        stages["affine"] = str(module)
        times["lower"] = time.perf_counter() - t
        t = time.perf_counter()
        before = ir_bounds.signature(module) if prove else None
        plan.pipeline.run(module, target=host_target())  # (verifies the module after every pass)
        if len(plan.pipeline):
            # unrolled copies recompute the same index (an affine.apply per copy and access):
            # computed once, the module has 30-60% fewer operations for the proof to read (a
            # GEMM schedule's proof 18-26 → 12-18 ms); the lowering ran cse after lower-affine
            # anyway, so the machine code is the same
            run_upstream("cse", module)
        times["passes"] = time.perf_counter() - t
        if prove:
            t, cpu = time.perf_counter(), time.thread_time()
            # no transformed access may leave its array: refuse rather than corrupt memory
            ir_bounds.check_module(module, f"pipeline {plan.pipeline.text()!r}",
                                   arrays=[p.name for p in plan.kernel.params],
                                   raw=plan.pipeline.raw_steps(), before=before)
            times["bounds-proof"] = time.perf_counter() - t
            _log_proof(kernel, times["bounds-proof"], time.thread_time() - cpu, "transformed", plan)
        stages["transformed"] = str(module)
        t = time.perf_counter()
        stages["llvm"] = to_llvm_ir(module, plan.kernel.name, plan.pragma)
        times["to-llvm"] = time.perf_counter() - t
    t = time.perf_counter()
    mod = backend.optimize(stages["llvm"], plan.policy)
    stages["llvm-opt"] = str(mod)
    times["llvm-opt"] = time.perf_counter() - t
    return stages, times, mod
