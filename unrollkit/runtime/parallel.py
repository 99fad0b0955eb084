"""Parallel calls: the outermost loop split into row blocks that run on several cores.

A kernel's outermost loop ``for i in range(S)`` is *row-parallel* when iteration ``i`` touches
only row ``i`` of the arrays it writes: every access that mentions ``i`` is ``X[i, ...]`` with
``i`` alone in dimension 0 (whose size is ``S``), every array accessed otherwise is only read,
and ``i`` and ``S`` appear nowhere else (not in inner bounds, not as values). Then the
iterations are independent, and a block of rows ``[lo, hi)`` is *the same kernel* called on
the row slices ``X[lo:hi]`` (contiguous views of C-contiguous arrays) with ``S = hi - lo``.

So a parallel call compiles nothing new: each block is an ordinary call signature, compiled,
proved in bounds, cached and chosen (``factor="auto"``) like any other, and the blocks run at
once on a native thread pool (`unrollkit.runtime._fastcall.run_split`). Equal blocks share one
signature; at most one smaller last block adds a second.

Before:  gemm(A[M,K], B[K,N], C[M,N])                     one call, one core
After:   gemm(A[0:512], B, C[0:512]) ‖ gemm(A[512:1024], B, C[512:1024])    two cores
"""
from __future__ import annotations

import dataclasses
import os

from unrollkit.frontend import descriptor as d
from unrollkit.runtime import dispatch
from unrollkit.frontend.signature import sizes_of

#: rows per block are a multiple of this (whole register tiles for the GEMM schedule, and
#: whole cache lines of f32 rows' starts rarely matter past it)
ROW_ALIGN = 16

#: ``factor="auto"`` runs in parallel only from this many innermost iterations on (~30 µs of
#: an elementwise kernel here): below it handing blocks over (~1 µs to a spinning worker) and
#: the blocks' own call overheads eat what a second core saves
AUTO_MIN_ITERATIONS = 1 << 18

#: calls smaller than this many innermost iterations are cut into CHUNKS_PER_THREAD blocks per
#: thread, which the threads claim one at a time: a worker that was asleep takes 0.05–0.5 ms
#: to wake on a virtual machine, and meanwhile the caller runs the blocks nobody claimed, so a
#: late worker never makes the call slower than one thread. Larger calls (GEMM) take one block
#: per thread: there a wake-up is noise, and every block re-packs its operands.
WHOLE_BLOCKS_FROM = 1 << 24
CHUNKS_PER_THREAD = 4


@dataclasses.dataclass(frozen=True)
class RowSplit:
    """How a kernel's calls split: loop ``loop``, ``for i in range(lower, size - upper)``;
    ``arrays`` are sliced by row (written ones only ever at row ``i``, read-only ones at rows
    ``i + c`` too: a block's slice then has ``lower`` rows of halo before it and ``upper``
    after it, and the kernel's own loop bounds skip them exactly as they skip the edges)."""
    loop: str
    size: str
    arrays: tuple
    lower: int = 0
    upper: int = 0

    def describe(self) -> str:
        """The split in one line: ``loop 'i' in row blocks of A, C (size M)``, with the halo when
        there is one."""
        halo = f", halo {self.lower}/{self.upper}" if self.lower or self.upper else ""
        return f"loop {self.loop!r} in row blocks of {', '.join(self.arrays)} (size {self.size}{halo})"

    def windows(self, rows: int, count: int) -> list[tuple[int, int, int, int]]:
        """(lo, hi, window lo, window hi): iterations [lo, hi) of each of (at most) ``count``
        blocks and the rows its slices hold, for arrays of ``rows`` rows."""
        n = max(0, rows - self.upper - self.lower)
        return [(self.lower + a, self.lower + b, a, b + self.lower + self.upper)
                for a, b in blocks(n, count)]


def row_split(kernel: d.Kernel) -> RowSplit | str:
    """The kernel's `RowSplit`, or a sentence saying why its outermost loop cannot be split."""
    if kernel.local_arrays:  # one per call: the row blocks would each need their own
        return f"the kernel has a local array ({kernel.local_arrays[0].name})"
    if len(kernel.body) != 1 or not isinstance(kernel.body[0], d.Loop):
        return "the body is not a single loop nest"
    loop = kernel.body[0]
    name, i = f"loop {loop.name!r}", loop.var
    lower, upper = _bounds(loop)
    if lower is None or upper is None:
        return (f"{name} is not `for {i} in range(C, SIZE - D)` (constants C, D >= 0, step 1; "
                f"e.g. range(SIZE) or range(1, SIZE - 1))")
    size, upper = upper
    sliced, other, offsets = set(), set(), {}
    for stmt, index, array in _accesses(loop.body):
        rows = [k for k, e in enumerate(index) if i in d.aff_vars(e)]
        lin = d.aff_linear(index[0]) if rows == [0] else None
        if lin is not None and lin[0] == {i: 1}:
            sliced.add(array)
            offsets.setdefault(array, set()).add(lin[1])
        elif rows:
            return f"{name}: {array}[...] is indexed by {i} other than as its row (plus a constant)"
        else:
            other.add(array)
    both, raced = sorted(sliced & other), sorted(other & kernel.written)
    if both:
        return f"{name}: {both[0]} is accessed both at rows of {i} and at other rows"
    if raced:
        return f"{name}: {raced[0]} is written at rows other than {i} (iterations would race)"
    for array in sorted(sliced & kernel.written):
        if offsets[array] != {0}:
            off = max(offsets[array], key=abs)
            return (f"{name}: {array} is written at row {i} and also accessed at row "
                    f"{i} {'+' if off > 0 else '-'} {abs(off)} (a dependence between iterations)")
    if not sliced & kernel.written:
        return f"{name} writes no array by row"
    for p in kernel.arrays:
        dims = [k for k, s in enumerate(p.shape) if s == size]
        if dims and (p.name not in sliced or dims != [0]):
            return f"{name}: size {size} is also a dimension of {p.name} other than its row count"
        if p.name in sliced and p.shape[0] != size:
            return f"{name}: {p.name}'s row count is not {size}"
    for stmt in d.walk(loop.body):
        if not isinstance(stmt, KNOWN_STATEMENTS):
            return f"{name}: a {type(stmt).__name__} statement (not analysed for parallel calls)"
        for e in _values(stmt):
            for sub in d.walk_expr(e):
                if not isinstance(sub, KNOWN_EXPRESSIONS):
                    return f"{name}: a {type(sub).__name__} expression (not analysed for parallel calls)"
        if isinstance(stmt, d.Loop):
            for e in stmt.lower + stmt.upper:
                if d.aff_vars(e) & {i, size}:
                    return f"{name}: the bounds of loop {stmt.name!r} depend on {i} or {size}"
        for e in _values(stmt):
            for sub in d.walk_expr(e):
                if isinstance(sub, d.Index) and d.aff_vars(sub.expr) & {i, size}:
                    return f"{name}: {i} or {size} is used as a value"
    return RowSplit(loop.name, size, tuple(sorted(sliced)), lower, upper)


def _bounds(loop: d.Loop):
    """(C, (SIZE, D)) of ``range(C, SIZE - D)``; None for a part of another form."""
    lower = loop.lower[0].value if (len(loop.lower) == 1 and isinstance(loop.lower[0], d.Lit)
                                    and loop.lower[0].value >= 0 and loop.step == 1) else None
    lin = d.aff_linear(loop.upper[0]) if len(loop.upper) == 1 else None
    upper = None
    if lin is not None and len(lin[0]) == 1 and lin[1] <= 0:
        (size, coeff), = lin[0].items()
        upper = (size, -lin[1]) if coeff == 1 else None
    return lower, upper


#: the descriptor nodes `row_split` understands. A new kind of statement or expression (one
#: that may hold loads, stores or carried values) refuses the split until this analysis learns it.
#: Locals, carried ones included, are private to an iteration of the split loop (the body is
#: that one loop, so each is assigned inside it); an `If`'s condition is walked as a value
#: (`_values`), its branches by `d.walk`; the other expressions are pure functions of the
#: operands that `d.walk_expr` visits (loads, and indices using the split variable, included)
KNOWN_STATEMENTS = (d.Store, d.Let, d.Loop, d.If)
KNOWN_EXPRESSIONS = (d.Load, d.Const, d.Scalar, d.Index, d.Local, d.BinOp, d.Neg, d.Math, d.Pow,
                     d.Compare, d.Logic, d.Not, d.Select, d.Cast, d.PowValue)


def _values(stmt):
    yield from d.statement_values(stmt)


def _accesses(body):
    """(statement, index, array) of every load and store in ``body``."""
    for stmt in d.walk(body):
        if isinstance(stmt, d.Store):
            yield stmt, stmt.index, stmt.array
        for e in _values(stmt):
            for sub in d.walk_expr(e):
                if isinstance(sub, d.Load):
                    yield stmt, sub.index, sub.array


def default_threads() -> int:
    """``UNROLLKIT_NUM_THREADS``, else the cores this process may run on."""
    env = os.environ.get("UNROLLKIT_NUM_THREADS")
    if env is not None:
        return threads_option(env, "UNROLLKIT_NUM_THREADS")
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        return max(1, os.cpu_count() or 1)


def threads_option(value, what: str = "threads") -> int:
    """A thread count from the user (an int >= 1), or a ValueError naming ``what``."""
    try:
        n = int(value)
    except (TypeError, ValueError):
        n = 0
    if isinstance(value, bool) or n < 1 or str(n) != str(value).strip():
        raise ValueError(f"{what} must be a whole number >= 1, got {value!r}")
    return n


def blocks(rows: int, count: int) -> list[tuple[int, int]]:
    """Row ranges ``[lo, hi)`` for ``count`` blocks: equal, multiples of `ROW_ALIGN` but the
    last, so that at most two call signatures are compiled. Fewer blocks when rows are few."""
    if count <= 1 or rows < 2:
        return [(0, rows)]
    per = -(-rows // count)
    per = -(-per // ROW_ALIGN) * ROW_ALIGN if per >= ROW_ALIGN else per
    out, lo = [], 0
    while lo < rows:
        out.append((lo, min(rows, lo + per)))
        lo += per
    return out


def iterations(kernel: d.Kernel, sizes: dict) -> int:
    """Innermost iterations of the kernel at ``sizes``, an estimate for the work threshold
    (loop variables in bounds are taken as 0)."""
    def count(body, env) -> int:
        total, leaf = 0, False
        for s in body:
            if isinstance(s, d.Loop):
                lo = max(_extreme(e, env) for e in s.lower)
                hi = min(_extreme(e, env) for e in s.upper)
                trips = max(0, -(-(hi - lo) // s.step))
                total += trips * max(1, count(s.body, env))
            else:
                leaf = True
        return total or int(leaf)
    return count(kernel.body, dict(sizes))


def _extreme(e, env) -> int:
    return d.aff_eval(e, _Zeros(env))


class _Zeros(dict):
    def __missing__(self, key):
        return 0


@dataclasses.dataclass(frozen=True, eq=False)  # compared by identity
class SplitCall:
    """One parallel call signature's fast path: ``split(args)`` runs the row blocks at once
    when ``args`` are exactly the signature the full checks accepted (``matcher``, a
    check-only `FastCall`), else returns False and runs nothing. The native side cuts each
    sliced array at the block's row (no numpy views) and checks the window lies inside it."""
    matcher: object
    blocks: tuple       # ((block FastCall, first row of its window), ...)
    sliced: tuple       # per parameter: is the array cut into rows
    plan: list          # [(block signature, window lo, window hi)], for `describe`
    threads: int        # at most this many threads take blocks (the caller's included)

    @property
    def owner(self):
        """The first block's `CompiledKernel` (what ``f.last`` shows)."""
        return self.blocks[0][0].owner

    def __call__(self, args: tuple) -> bool:
        return dispatch.run_split(self.matcher, args, self.blocks, self.sliced, self.threads)


class ParallelCalls:
    """The parallel calls of one jitted kernel: per call signature, its row blocks, each block
    an ordinary signature compiled by the kernel's own `JitKernel._get` and run through its
    `dispatch.FastCall` on the native pool."""

    #: SplitCalls kept (one per parallel call signature); beyond it they are rebuilt
    MAX_BLOCK_CALLS = 64

    def __init__(self, kernel: d.Kernel, split: RowSplit, threads: int, auto: bool):
        self.kernel, self.split, self.threads, self.auto = kernel, split, threads, auto
        self._plans: dict = {}
        self._calls: dict = {}
        self._sliced = [p.is_array and p.name in split.arrays for p in kernel.params]

    def blocks_for(self, sig) -> list | None:
        """[(block signature, lo, hi)] for a call of signature ``sig``, or None: run it whole."""
        if sig in self._plans:
            return self._plans[sig]
        rows = sig.shape_map()[self.split.arrays[0]][0]
        plan = None
        work = iterations(self.kernel, sizes_of(self.kernel, sig))
        if not self.auto or work >= AUTO_MIN_ITERATIONS:
            chunks = self.threads * (1 if work >= WHOLE_BLOCKS_FROM else CHUNKS_PER_THREAD)
            windows = self.split.windows(rows, chunks)
            if len(windows) > 1:
                plan = [(self._block_sig(sig, whi - wlo), wlo, whi) for _, _, wlo, whi in windows]
        self._plans[sig] = plan
        return plan

    def _block_sig(self, sig, rows: int):
        shapes = tuple((n, (rows,) + tuple(s[1:]) if n in self.split.arrays else s)
                       for n, s in sig.shapes)
        return dataclasses.replace(sig, shapes=shapes)

    def run(self, get, sig, plan, args) -> SplitCall | None:
        """Run ``plan``'s blocks (call signature ``sig``) at once; ``get(sig)`` compiles (or
        finds) a block's kernel. ``args`` are the call's arguments as the full checks passed
        them on. Returns the `SplitCall` that ran, or None without the native extension (then
        nothing ran: run the call whole)."""
        split = self.split_call(get, sig, plan)
        if split is not None and not split(tuple(args)):
            raise AssertionError(f"{self.kernel.name}(): a call's checked arguments did not "
                                 "match their own signature (please report: unrollkit/runtime/parallel.py)")
        return split

    def split_call(self, get, sig, plan) -> SplitCall | None:
        """The `SplitCall` of signature ``sig`` split as ``plan`` (made once), or None without
        the native extension."""
        split = self._calls.get(sig)
        if split is not None:
            return split
        fcs = {}
        for bsig, _, _ in plan:
            if bsig not in fcs:
                fcs[bsig] = dispatch.fast_call(get(bsig), self.kernel, bsig)
                if fcs[bsig] is None:
                    return None
        m = dispatch.matcher(self.kernel, sig)
        if m is None:
            return None
        split = SplitCall(m, tuple((fcs[b], lo) for b, lo, _ in plan), tuple(self._sliced), plan,
                          self.threads)
        if len(self._calls) >= self.MAX_BLOCK_CALLS:
            self._calls.clear()
        self._calls[sig] = split
        return split

    def describe(self, plan) -> str:
        """One line for `JitKernel.ir` and `explain`: how the last call was split."""
        ranges = " ".join(f"[{lo}, {hi})" for _, lo, hi in plan)  # the slices' rows, halo included
        return (f"parallel: {self.split.describe()}: {len(plan)} blocks claimed by "
                f"{min(self.threads, len(plan))} threads, rows {ranges}; what follows is block 0's")

