"""Executor: the callable returned by `unrollkit.jit`.

It checks the arguments against the kernel's parameters before any machine code runs (count,
dtypes, ranks, agreement of shared sizes, contiguity, writability, aliasing), specialises on
the call signature at first call, and keeps compiled code per signature in a small LRU.
"""
from __future__ import annotations

import collections
import inspect
import threading

import numpy as np

from unrollkit.runtime import dispatch
from unrollkit.runtime import parallel as par
from unrollkit.codegen.compiler import STAGES, CompiledKernel, compile_kernel
from unrollkit.frontend.signature import Signature
from unrollkit.frontend.descriptor import Kernel
from unrollkit.frontend.parse import kernel as as_kernel
from unrollkit.codegen.pipeline import Pipeline
from unrollkit.frontend.source_unroll import with_source_factors
from unrollkit.core.errors import ArgumentError
from unrollkit.runtime.bind import bind
from unrollkit.frontend.returns import ReturnSlot, bind_keywords, returned, with_return_slot
from unrollkit.tuning.auto import auto_plan, compile_auto, compile_gemm
from unrollkit.tuning.variants import plan as make_plan

#: compiled signatures kept per jitted kernel. Eviction drops only this cache's reference: the
#: machine code is freed when nothing else (a caller's handle, a call running in another
#: thread) references its `CompiledKernel` any more (see `backend.Engine`)
MAX_SIGNATURES = 32


class JitKernel:
    """A kernel with its compile options; call it with numpy arrays and scalars."""

    def __init__(self, kernel, factor=1, variant="affine", pipeline=None, llvm=None,
                 parallel=None, threads=None):
        if not isinstance(kernel, Kernel):
            raise TypeError(f"jit() takes a kernel descriptor (decorate the function with "
                            f"@unrollkit.kernel), got {type(kernel).__name__}")
        if isinstance(pipeline, str):
            pipeline = Pipeline.parse(pipeline)
        self.kernel = kernel
        self._slot = ReturnSlot(kernel)  # the hidden return array of a kernel that returns
        factor = with_source_factors(kernel, factor)  # uk.range(..., unroll=n), uk.unroll(...)
        # factor="auto" (or variant="auto"): the cost model chooses per call signature, at
        # compile time (unrollkit.tuning.auto); self.plan is then a placeholder
        self.auto = factor == "auto" or variant == "auto"
        if self.auto:
            self.plan = auto_plan(kernel, pipeline, llvm)
        else:
            self.plan = make_plan(kernel, variant=variant, factor=factor, pipeline=pipeline, policy=llvm)
        self._compiled: collections.OrderedDict = collections.OrderedDict()
        #: `dispatch.FastCall`s of the most recently compiled or slow-called signatures
        self._fast: tuple = ()
        self._fast_by_sig: dict = {}  # evicted with their signature from _compiled
        #: `parallel.SplitCall`s of the most recent parallel call signatures
        self._fast_split: tuple = ()
        self._lock = threading.Lock()
        self.last: CompiledKernel | None = None
        self.parallel = _parallel_calls(kernel, parallel, threads, self.auto)
        self._last_blocks = None  # the last call's row blocks, when it ran in parallel

    # -- argument binding
    def signature(self, args) -> tuple:
        """Check ``args``; returns (Signature, arrays/scalars ready to pass) (`bind.bind`)."""
        return bind(self.kernel, args)

    # -- compile and call
    def compiled(self, *args) -> CompiledKernel:
        """The `CompiledKernel` for the call signature of ``args`` (checked as a call would be),
        compiled on first use; nothing is run."""
        sig, _ = self.signature(with_return_slot(self.kernel, args)[0])
        return self._get(sig)

    def _get(self, sig: Signature) -> CompiledKernel:
        with self._lock:
            ck = self._compiled.get(sig)
            if ck is not None:
                self._compiled.move_to_end(sig)
                return ck
            ck = None
            if self.auto or self.plan.variant == "blas":
                # a GEMM nest gets its derived BLAS-style schedule (None: not a GEMM)
                ck = compile_gemm(self.kernel, sig, self.plan)
                if ck is None and not self.auto:
                    raise ArgumentError(f"{self.kernel.name}(): variant 'blas' needs float32 "
                                        "or float64 arrays")
            if ck is None and self.auto:
                ck = compile_auto(self.kernel, sig, self.plan)
            elif ck is None:
                ck = compile_kernel(self.kernel, sig, self.plan)
            self._compiled[sig] = ck
            while len(self._compiled) > MAX_SIGNATURES:
                old_sig, _ = self._compiled.popitem(last=False)
                self._fast_by_sig.pop(old_sig, None)
            return ck

    def __call__(self, *args, **kwargs):
        if kwargs:  # by parameter name, as in Python
            args = bind_keywords(self.kernel, args, kwargs)
        for fc in self._fast:  # a signature checked before, with arguments it accepts as they are
            ran = fc(args)  # (False: not taken; True, or the returned scalar: `dispatch.fast_call`)
            if ran is not False:
                self.last = fc.owner
                return None if ran is True else ran
        # a kernel that returns a value writes it into one more output array (`returns`)
        args, slot = self._slot.add(args)
        for split in self._fast_split:  # the same for signatures that run in row blocks
            if split(args):
                self.last, self._last_blocks = split.owner, split.plan
                return returned(slot)
        sig, ready = self.signature(args)
        blocks = self.parallel.blocks_for(sig) if self.parallel else None
        if blocks:
            split = self.parallel.run(self._get, sig, blocks, ready)
            if split is not None:
                self.last, self._last_blocks = split.owner, blocks
                if split not in self._fast_split:
                    self._fast_split = ((split,) + self._fast_split)[:dispatch.FAST_SIGNATURES]
                return returned(slot)
        ck = self._get(sig)
        self.last, self._last_blocks = ck, None
        self._offer_fast(ck, sig)
        # `ck` (hence its engine) and `ready` (copies included) are held by this frame until
        # the call returns, whatever another thread evicts meanwhile
        ck.cfunc(*[a.ctypes.data if isinstance(a, np.ndarray) else a for a in ready])
        return returned(slot)

    def _offer_fast(self, ck, sig) -> None:
        """Put ``ck``'s fast path first (building it once per compiled kernel)."""
        if self._fast and self._fast[0].owner is ck:
            return
        with self._lock:
            fc = self._fast_by_sig.get(sig)
            if fc is None or fc.owner is not ck:
                fc = self._fast_by_sig[sig] = dispatch.fast_call(ck, self.kernel, sig)
            if fc is not None:
                rest = tuple(f for f in self._fast if f.owner is not ck)
                self._fast = ((fc,) + rest)[:dispatch.FAST_SIGNATURES]

    def ir(self, stage: str = "transformed", *args) -> str:
        """The code at ``stage`` for the last call's signature (or for ``args``)."""
        if stage not in STAGES:
            raise ValueError(f"unknown stage {stage!r}; the stages are {list(STAGES)}")
        ck = self.compiled(*args) if args else self.last
        if ck is None:
            raise ArgumentError("no signature compiled yet: call the kernel first, or pass "
                                "example arguments: f.ir(stage, *arrays)")
        if args or not self._last_blocks:
            return ck.ir(stage)
        comment = {"llvm": ";", "llvm-opt": ";", "asm": "#"}.get(stage, "//")
        return f"{comment} {self.parallel.describe(self._last_blocks)}\n" + ck.ir(stage)

    def __repr__(self):
        fs = self.plan.factors
        factor = fs[0][1] if len(fs) == 1 and not fs[0][0] else "{" + ", ".join(
            f"{n or '*'!r}: {f}" for n, f in fs) + "}"
        how = "factor='auto'" if self.auto else f"factor={factor} variant={self.plan.variant}"
        passes = self.plan.pipeline.text()
        return f"<unrollkit.jit {self.kernel.describe()} {how}" + (f" pipeline={passes!r}>" if passes else ">")


def _parallel_calls(kernel, parallel, threads, auto):
    """The kernel's `parallel.ParallelCalls`, or None when its calls run on one thread.

    ``parallel=None`` (the default) means: in parallel under ``factor="auto"`` when the
    outermost loop splits into row blocks and the call is large enough; ``True``: whenever it
    splits (an error naming the loop when it cannot); ``False``: never."""
    if parallel not in (None, True, False):
        raise ValueError(f"parallel must be True, False or None (auto), got {parallel!r}")
    n = par.default_threads() if threads is None else par.threads_option(threads)
    split = par.row_split(kernel)
    if parallel is True and not isinstance(split, par.RowSplit):
        raise ArgumentError(f"{kernel.name}(): cannot run in parallel: {split}")
    wanted = parallel or (parallel is None and auto)
    if not wanted or n < 2 or not isinstance(split, par.RowSplit):
        return None
    return par.ParallelCalls(kernel, split, n, auto=parallel is None)


def jit(kernel=None, factor=1, variant: str = "affine", pipeline=None, llvm=None,
        parallel=None, threads=None) -> JitKernel:
    """Compile ``kernel`` lazily (per call signature) with MLIR unrolling by ``factor``.

    ``kernel``: a `uk.kernel` descriptor, or a plain function (decorated by `uk.kernel`
    here); without it, a decorator: ``@uk.jit(factor=4)`` on a plain function.

    ``factor``: an int for every innermost loop, or ``{"k": 4}`` by loop name, or ``"auto"``:
    the cost model chooses the variant and factor for each call signature (the compiled
    kernel's ``.choice`` says what and why; see `unrollkit.tuning.cost_model`).
    ``variant``: how to unroll (see `unrollkit.tuning.variants`). ``pipeline``: extra passes over the
    affine IR (a `Pipeline` or its text); with the default variant ``affine`` they run *before*
    the ``factor`` unrolling, which then unrolls the innermost loops of the nest they produce
    (after a tile or vectorize); with ``multi-acc`` and ``vector-acc`` they run after the
    variant's own passes; ``macro`` and ``manual`` unroll the descriptor before any pass.
    ``llvm``: a `LLVMPolicy` (LLVM's unroller is off by default).
    ``parallel``: run the outermost loop's row blocks on several cores (`unrollkit.runtime.parallel`):
    ``True`` always (an error if the loop cannot split), ``False`` never, ``None`` (default)
    under ``factor="auto"`` for large calls. ``threads``: how many (default:
    ``UNROLLKIT_NUM_THREADS``, else the cores this process may use).
    """
    options = dict(factor=factor, variant=variant, pipeline=pipeline, llvm=llvm,
                   parallel=parallel, threads=threads)
    if kernel is None:
        return lambda fn: jit(fn, **options)
    if not isinstance(kernel, Kernel) and inspect.isfunction(kernel) and kernel.__name__ != "<lambda>":
        kernel = as_kernel(kernel)
    return JitKernel(kernel, **options)
