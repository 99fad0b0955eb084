"""Executor: the callable returned by `unrollkit.jit`.

It checks the arguments against the kernel's parameters before any machine code runs (count,
dtypes, ranks, agreement of shared sizes, contiguity, writability, aliasing), specialises on
the call signature at first call, and keeps compiled code per signature in a small LRU.
"""
from __future__ import annotations

import collections
import inspect
import numbers
import threading

import numpy as np

from . import dispatch
from . import parallel as par
from .compiler import STAGES, CompiledKernel, Signature, compile_kernel
from .descriptor import Kernel
from .frontend import kernel as as_kernel
from .pipeline import Pipeline
from .source_unroll import with_source_factors
from .dtypes import BY_NAME, FROM_NUMPY, NUMPY_NAMES, SUPPORTED, int_range
from .errors import ArgumentError
from .scalar_bounds import index_scalars
from .returns import bind_keywords, returned, with_return_slot
from .variants import plan as make_plan

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
        factor = with_source_factors(kernel, factor)  # uk.range(..., unroll=n), uk.unroll(...)
        # factor="auto" (or variant="auto"): the cost model chooses per call signature, at
        # compile time (unrollkit.cost_model.choose); self.plan is then a placeholder
        self.auto = factor == "auto" or variant == "auto"
        if self.auto:
            from .cost_model import auto_plan
            self.plan = auto_plan(kernel, pipeline, llvm)
        else:
            self.plan = make_plan(kernel, variant=variant, factor=factor, pipeline=pipeline, policy=llvm)
        if self.auto or self.plan.variant == "blas":
            # whether this is a GEMM nest (the derived schedule) is known now, from the
            # descriptor: load the scheduler here rather than inside the first call's compile
            from . import gemm_schedule  # noqa: F401
        self._compiled: collections.OrderedDict = collections.OrderedDict()
        #: `dispatch.FastCall`s of the most recently compiled or slow-called signatures
        self._fast: tuple = ()
        self._fast_by_sig: dict = {}  # evicted with their signature from _compiled
        self._lock = threading.Lock()
        self.last: CompiledKernel | None = None
        self.parallel = _parallel_calls(kernel, parallel, threads, self.auto)
        self._last_blocks = None  # the last call's row blocks, when it ran in parallel

    # -- argument binding
    def signature(self, args) -> tuple:
        """Check ``args``; returns (Signature, arrays/scalars ready to pass)."""
        k = self.kernel
        if len(args) != len(k.params):
            names = ", ".join(p.name for p in k.params)
            raise ArgumentError(f"{k.name}() takes {len(k.params)} arguments ({names}), got {len(args)}")
        generic = None
        types, shapes, ready, sizes = [], [], [], {}
        written = k.written
        for p, a in zip(k.params, args):
            if p.is_array:
                if not isinstance(a, np.ndarray):
                    raise ArgumentError(f"{k.name}(): argument {p.name!r} must be a numpy array, "
                                        f"got {type(a).__name__}")
                if isinstance(a, np.ma.MaskedArray):  # the code would read and write masked elements
                    raise ArgumentError(f"{k.name}(): argument {p.name!r} is a masked array; its mask "
                                        "would be ignored: pass a.filled(value) or np.asarray(a)")
                if a.dtype not in FROM_NUMPY:
                    raise ArgumentError(f"{k.name}(): argument {p.name!r} has dtype {a.dtype}; "
                                        f"supported: {SUPPORTED}")
                et = FROM_NUMPY[a.dtype]
                if p.elem.is_generic:
                    if generic is None:
                        generic = (et, p.name)
                    elif generic[0] != et:
                        raise ArgumentError(
                            f"{k.name}(): argument {p.name!r} has dtype {a.dtype} but {generic[1]!r} "
                            f"has {np.dtype(_np_name(generic[0]))}; they share the element type T")
                elif et != p.elem.name:
                    raise ArgumentError(f"{k.name}(): argument {p.name!r} must have dtype "
                                        f"{p.elem.numpy}, got {a.dtype}")
                if a.ndim != len(p.shape):
                    raise ArgumentError(f"{k.name}(): argument {p.name!r} must be {len(p.shape)}-D "
                                        f"(shape {_shape_str(p.shape)}), got {a.ndim}-D shape {a.shape}")
                for dim, (want, got) in enumerate(zip(p.shape, a.shape)):
                    if isinstance(want, int):
                        if got != want:
                            raise ArgumentError(f"{k.name}(): dimension {dim} of {p.name!r} must be "
                                                f"{want}, got {got}")
                    elif want in sizes and sizes[want][0] != got:
                        raise ArgumentError(
                            f"{k.name}(): size {want} disagrees: {sizes[want][1]} gives {sizes[want][0]} "
                            f"but {p.name!r} gives {got} (dimension {dim})")
                    else:
                        sizes.setdefault(want, (got, f"{p.name!r} (dimension {dim})"))
                if p.name in written:
                    if not a.flags.c_contiguous:
                        raise ArgumentError(f"{k.name}(): output {p.name!r} must be C-contiguous "
                                            "(results are written in place); pass np.ascontiguousarray(x) "
                                            "and read the result from it")
                    if not a.flags.writeable:
                        raise ArgumentError(f"{k.name}(): output {p.name!r} is read-only")
                elif not a.flags.c_contiguous:
                    a = np.ascontiguousarray(a)  # an input: a contiguous copy is equivalent
                types.append((p.name, et))
                shapes.append((p.name, tuple(a.shape)))
            ready.append(a)
        # scalars, now that T is known
        for i, (p, a) in enumerate(zip(k.params, args)):
            if p.is_array:
                continue
            et = p.elem.name
            if p.elem.is_generic:
                if generic is None:
                    raise ArgumentError(f"{k.name}(): the element type T of scalar {p.name!r} "
                                        "cannot be inferred: no array parameter has type T")
                et = generic[0]
            ready[i] = _scalar(k.name, p.name, a, et)
            types.append((p.name, et))
        self._check_aliasing(ready)
        specialised = index_scalars(k)
        values = tuple((p.name, ready[i]) for i, p in enumerate(k.params) if p.name in specialised)
        return Signature(tuple(types), tuple(shapes), values), ready

    def _check_aliasing(self, ready):
        """Machine code assumes arrays do not overlap (noalias): copy an overlapping input,
        refuse two overlapping outputs."""
        k = self.kernel
        arrays = [(p, i) for i, p in enumerate(k.params) if p.is_array]
        written = k.written
        for x, (p, i) in enumerate(arrays):
            for q, j in arrays[x + 1:]:
                if not np.may_share_memory(ready[i], ready[j]):
                    continue
                if p.name in written and q.name in written:
                    raise ArgumentError(f"{k.name}(): outputs {p.name!r} and {q.name!r} overlap in "
                                        "memory; pass separate arrays")
                src = j if p.name in written else i
                ready[src] = ready[src].copy()

    # -- compile and call
    def compiled(self, *args) -> CompiledKernel:
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
                from .gemm_schedule import compile_gemm
                ck = compile_gemm(self.kernel, sig, self.plan)
                if ck is None and not self.auto:
                    raise ArgumentError(f"{self.kernel.name}(): variant 'blas' needs float32 "
                                        "or float64 arrays")
            if ck is None and self.auto:
                from .cost_model import compile_auto
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
        # a kernel that returns a value writes it into one more output array (`returns`)
        args, slot = with_return_slot(self.kernel, args)
        for fc in self._fast:  # a signature checked before, with arguments it accepts as they are
            if fc(args):
                self.last = fc.owner
                return returned(slot)
        sig, ready = self.signature(args)
        blocks = self.parallel.blocks_for(sig) if self.parallel else None
        if blocks:
            ck = self.parallel.run(self._get, blocks, ready)
            if ck is not None:
                self.last, self._last_blocks = ck, blocks
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


def _np_name(et: str) -> str:
    return NUMPY_NAMES[et]


def _shape_str(shape) -> str:
    return "[" + ", ".join(map(str, shape)) + "]"


def _scalar(kname, pname, a, et):
    if isinstance(a, (bool, np.bool_)) or not isinstance(a, numbers.Real):
        raise ArgumentError(f"{kname}(): scalar {pname!r} must be a real number, got {type(a).__name__}")
    if not BY_NAME[et].is_float:
        if isinstance(a, numbers.Integral):
            v = int(a)
        elif float(a).is_integer():
            v = int(a)
        else:
            raise ArgumentError(f"{kname}(): scalar {pname!r} is {et} but got the non-integer {a!r}")
        lo, hi = int_range(BY_NAME[et])
        if not lo <= v <= hi:
            raise ArgumentError(f"{kname}(): scalar {pname!r} = {v} does not fit in {et}")
        return v
    try:
        # an f16 scalar is passed as a float32 (`dtypes.SCALAR_ABI`): rounded to half here,
        # once, so the kernel's conversion back is exact
        if et == "f16":
            with np.errstate(over="ignore"):  # beyond f16's range: inf, as f32's beyond its own
                return float(np.float16(a))
        return float(a)
    except OverflowError:  # an int beyond any float (10**400)
        raise ArgumentError(f"{kname}(): scalar {pname!r} is {et} but got an integer of "
                            f"{len(str(abs(int(a))))} digits, too large for any float") from None


def jit(kernel=None, factor=1, variant: str = "affine", pipeline=None, llvm=None,
        parallel=None, threads=None) -> JitKernel:
    """Compile ``kernel`` lazily (per call signature) with MLIR unrolling by ``factor``.

    ``kernel``: a `uk.kernel` descriptor, or a plain function (decorated by `uk.kernel`
    here); without it, a decorator: ``@uk.jit(factor=4)`` on a plain function.

    ``factor``: an int for every innermost loop, or ``{"k": 4}`` by loop name, or ``"auto"``:
    the cost model chooses the variant and factor for each call signature (the compiled
    kernel's ``.choice`` says what and why; see `unrollkit.cost_model`).
    ``variant``: how to unroll (see `unrollkit.variants`). ``pipeline``: extra passes over the
    affine IR (a `Pipeline` or its text); with the default variant ``affine`` they run *before*
    the ``factor`` unrolling, which then unrolls the innermost loops of the nest they produce
    (after a tile or vectorize); with ``multi-acc`` and ``vector-acc`` they run after the
    variant's own passes; ``macro`` and ``manual`` unroll the descriptor before any pass.
    ``llvm``: a `LLVMPolicy` (LLVM's unroller is off by default).
    ``parallel``: run the outermost loop's row blocks on several cores (`unrollkit.parallel`):
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
