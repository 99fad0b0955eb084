"""The fuzzer's case, its oracle and its in-process run (see `unrollkit.tools.fuzz` for generation).

`Case` is one generated kernel with its sizes, pipeline, variant and data seed; `run_in_process`
compiles and runs it against the reference interpreter; `out_of_bounds` is the oracle for
kernels whose subscripts may leave their arrays (they must be refused, never run).
"""
from __future__ import annotations

import dataclasses
import random

import numpy as np
from unrollkit.passes import REGISTRY
import unrollkit as uk
from unrollkit.frontend.parse import parse_kernel
from unrollkit.frontend import descriptor as d
from unrollkit.codegen.pipeline import Pipeline
from unrollkit.core.errors import TransformError, UnrollkitError
from unrollkit.runtime.interpreter import interpret

from unrollkit.tools.testdata import make_args, mismatch
from unrollkit.frontend.scalar_bounds import index_scalars

DTYPES = ("f32", "f64", "i32")
VARIANTS = ("affine", "none", "llvm-auto", "pragma", "macro", "vector-acc", "multi-acc")
#: drawn rarely: the cost model's search takes 0.3-3 s per signature
SLOW_VARIANTS = ("auto",)
FACTORS = (1, 2, 3, 4, 8)
BIG_FACTORS = (16, 32, 64)
@dataclasses.dataclass(frozen=True)
class Case:
    """One generated fuzz case: the kernel's source, its dtype, sizes, pipeline, variant and factor,
    the data seed, and the scenario it runs under."""
    source: str          # a complete `def` of the kernel (names: N, M sizes; arrays x, y, z, out)
    dtype: str
    sizes: tuple         # (("N", 9), ("M", 5))
    pipeline: str        # pipeline text (may be "")
    variant: str
    data_seed: int
    factor: int = 1      # the variant's unroll factor (of the innermost loops)
    scenario: str = ""   # "", "threads", "tamper:<how>" (see unrollkit.tools.fuzz_scenarios)

    def describe(self) -> str:
        """The case as text to reproduce it: its settings on one line, then the kernel's source."""
        return (f"dtype={self.dtype} sizes={dict(self.sizes)} variant={self.variant} factor={self.factor} "
                f"pipeline={self.pipeline!r} data_seed={self.data_seed} scenario={self.scenario!r}\n"
                f"{self.source}")

    def isolated(self) -> bool:
        """Run in a child process: a crash there is a failing case, not a dead fuzzer."""
        return bool(self.scenario) or not self.source.startswith("def fuzz_kernel(")


class RandomChooser:
    """The fuzzer's source of choices: reproducible from ``seed``."""
    def __init__(self, seed: int):
        self.r = random.Random(seed)

    def int(self, lo: int, hi: int) -> int:
        """An integer from ``lo`` to ``hi``, both included."""
        return self.r.randint(lo, hi)

    def choice(self, seq):
        """One element of the sequence ``seq``."""
        return seq[self.r.randrange(len(seq))]


def choose_variant(ch, extra=()) -> tuple:
    """(variant, factor): every variant, factors up to 64, the cost model now and then."""
    variant = ch.choice(VARIANTS + tuple(extra))
    if ch.int(0, 24) == 0:
        variant = ch.choice(SLOW_VARIANTS)
    if variant in ("none", "auto", "blas"):
        return variant, 1
    return variant, ch.choice(BIG_FACTORS) if ch.int(0, 7) == 0 else ch.choice(FACTORS)


def lit(ch, dtype):
    """A literal of the kernel source for ``dtype``: a small float (an int for ``i32``), negative
    now and then."""
    return ch.choice(("2.0", "0.5", "-1.5", "3.0")) if dtype != "i32" else ch.choice(("2", "3", "-1"))



#: pipeline steps the fuzzer draws from; ``{L}`` is a loop name. Steps whose pass is not
#: registered in this build are skipped, so the fuzzer grows with the pass library.
STEP_TEMPLATES = (
    "unroll{{loop={L},factor={F}}}",
    "unroll{{factor={F}}}",
    "unroll{{loop={L},factor={F},remainder={R}}}",
    "unroll-jam{{loop={L},factor={F}}}",
    "unroll-jam{{loop={L},factor={F},remainder={RJ}}}",
    "tile{{{L}={F}}}",
    "tile{{{L}={F},separate=false}}",
    "interchange{{a={L},b={L2}}}",
    "peel{{loop={L},factor={F}}}",
    "peel{{loop={L},factor={F},side=front}}",
    "split-accumulators{{loop={L},accumulators={F}}}",
    "vectorize{{loop={L},width={F}}}",
    "vectorize{{loop={L},width={F},reductions=true}}",
    "scalar-replace",
    "canonicalize",
    "cse",
    "mlir{{{MLIR}}}",
)
#: raw upstream steps that only clean up or lower (no files, no graphs): see passes/mlir_raw.py
MLIR_STEPS = ("canonicalize", "cse", "lower-affine", "func.func(affine-loop-normalize)",
              "canonicalize,cse")
REMAINDERS = ("cleanup", "peel-back", "peel-front", "unrolled-cleanup")
JAM_REMAINDERS = ("cleanup", "peel-back", "peel-front")


def pipeline_steps(ch, vars_, first=()) -> str:
    """0-3 random steps over loops ``vars_``, after the steps ``first``."""
    steps = list(first)
    for _ in range(ch.int(0, 3)):
        t = ch.choice(STEP_TEMPLATES)
        name = t.split("{")[0]
        if name not in REGISTRY:
            continue
        steps.append(t.format(L=ch.choice(vars_), L2=ch.choice(vars_), F=ch.choice((1, 2, 3, 4, 8, 16)),
                              R=ch.choice(REMAINDERS), RJ=ch.choice(JAM_REMAINDERS),
                              MLIR=ch.choice(MLIR_STEPS)))
    return ",".join(steps)


# ---------------------------------------------------------------- running


class Mismatch(AssertionError):
    """A fuzz case failed: a compiled result differs from the interpreter's, or a kernel that should
    have been refused was compiled."""
    pass


def make_data(case: Case, sizes: dict | None = None, seed: int | None = None):
    """(descriptor, arguments) of ``case`` at its sizes (or ``sizes``), random but reproducible
    (`testdata.make_args`: each parameter in its own element type, T the case's; floats in
    [-1, 1), integers in [-5, 6) (unsigned from 0), scalars drawn too; index scalars take
    `index_values`)."""
    kernel = parse_kernel(case.source, filename="<fuzz>", env={"uk": uk})
    sizes = dict(case.sizes) if sizes is None else sizes
    args = make_args(kernel, sizes | index_values(case, kernel), case.dtype,
                     seed=case.data_seed if seed is None else seed, floats=(-1.0, 1.0), ints=(-5, 6),
                     scalar_float=(-1.0, 1.0), scalar_int=(-3, 4))
    return kernel, args


def index_values(case: Case, kernel) -> dict:
    """The values of ``kernel``'s index scalars (``range(N - m)``) in ``case``: from -2 to 3,
    drawn from the case's seed alone, so that every data set of the case (other sizes and
    seeds, `unrollkit.tools.fuzz_scenarios`) and the out-of-bounds oracle see the same ones."""
    rng = np.random.default_rng(case.data_seed + 1)
    return {name: int(rng.integers(-2, 4)) for name in index_scalars(kernel)}


def oracle_sizes(case: Case, kernel, sizes: dict | None = None) -> dict:
    """What bounds ``kernel``'s loops and subscripts in ``case`` (at ``sizes``, else the case's):
    the sizes and the index scalars' values (`out_of_bounds` evaluates its accesses with them)."""
    return dict(case.sizes if sizes is None else sizes) | index_values(case, kernel)


def out_of_bounds(kernel, sizes: dict) -> str | None:
    """The first access of ``kernel`` outside its array at ``sizes``, found by walking every
    iteration (small sizes only), or None: the oracle for generated ``//`` subscripts."""
    shapes = {p.name: tuple(s if isinstance(s, int) else sizes[s] for s in p.shape) for p in kernel.arrays}
    shapes |= {a.name: tuple(d.aff_eval(e, sizes) for e in a.shape) for a in kernel.local_arrays}

    def accesses(s):
        out = [(s.array, s.index)] if isinstance(s, d.Store) else []
        return out + [(x.array, x.index) for v in d.statement_values(s) for x in d.walk_expr(v)
                      if isinstance(x, d.Load)]

    def block(body, env):
        for s in body:
            if isinstance(s, d.Loop):
                lo = max(d.aff_eval(e, env) for e in s.lower)
                hi = min(d.aff_eval(e, env) for e in s.upper)
                for v in range(lo, hi, s.step):
                    bad = block(s.body, {**env, s.var: v})
                    if bad:
                        return bad
                continue
            if isinstance(s, d.If):  # both branches: conservative (the generated ones stay in bounds)
                bad = block(s.then, env) or block(s.orelse, env)
                if bad:
                    return bad
            for arr, idx in accesses(s):
                at = tuple(d.aff_eval(e, env) for e in idx)
                if any(not 0 <= x < n for x, n in zip(at, shapes[arr])):
                    return f"{arr}{list(at)} outside shape {shapes[arr]} at {env}"
        return None

    return block(kernel.body, dict(sizes))


def compile_options(case: Case) -> dict:
    """The `jit` options of ``case`` (variant "auto" is ``factor="auto"``)."""
    pipeline = Pipeline.parse(case.pipeline) if case.pipeline else None  # a bad template is a bug here
    if case.variant == "auto":
        return dict(factor="auto", pipeline=pipeline)
    return dict(factor=case.factor, variant=case.variant, pipeline=pipeline)


def check_result(case: Case, kernel, got: list, want: list) -> None:
    """Every array argument equal (integers) or close (floats): else `Mismatch`."""
    # a float array's values may come from any other array (`wout = f64(out_f16) + wout`):
    # floats are judged at the tolerance of the case's least precise float type
    floats = [np.asarray(g).dtype for p, g in zip(kernel.params, got)
              if p.is_array and np.issubdtype(np.asarray(g).dtype, np.floating)]
    coarsest = max(floats, key=lambda t: np.finfo(t).eps, default=None)
    for p, g, w in zip(kernel.params, got, want):
        if not p.is_array:
            continue
        # within `testdata.tolerance` (integers exact), relative to max(1, |want|) plus the
        # element's own |want|
        scale = max(1.0, float(np.abs(w).max(initial=0))) + np.abs(np.asarray(w, np.float64))
        is_float = np.issubdtype(np.asarray(g).dtype, np.floating)
        if mismatch(g, w, scale=scale, dtype=coarsest if is_float else None):
            raise Mismatch(f"compiled result differs from the interpreter in {p.name}\n{case.describe()}\n"
                           f"got {g!r}\nwant {w!r}")


def call_by_name(f, kernel, args, seed: int):
    """``f(*args)``, or for an odd ``seed`` its trailing arguments by keyword (Python's calling
    convention, issue 13's item 7), in an order drawn from ``seed``."""
    names = [p.name for p in kernel.user_params]
    if seed % 2 == 0 or len(args) != len(names):  # (a return slot passed in: positional)
        return f(*args)
    cut = (seed // 2) % len(names)
    tail = list(zip(names[cut:], args[cut:]))
    random.Random(seed).shuffle(tail)
    return f(*args[:cut], **dict(tail))


def run_in_process(case: Case) -> str:
    """Run ``case`` here: ``refused`` (by the frontend or a pass, as an out-of-bounds kernel must
    be) or ``ok`` (matches the reference interpreter); else `Mismatch`."""
    kernel, args = make_data(case)
    bad = out_of_bounds(kernel, oracle_sizes(case, kernel))
    if bad:
        # never run it: an accepted kernel would write outside its arrays
        try:
            uk.jit(kernel, **compile_options(case)).compiled(*args)
        except UnrollkitError:
            return "refused"
        raise Mismatch(f"a kernel with an access out of bounds ({bad}) was compiled\n{case.describe()}")
    expected = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    interpret(kernel, *expected)
    try:
        f = uk.jit(kernel, **compile_options(case))
        call_by_name(f, kernel, args, case.data_seed)
    except TransformError:
        return "refused"
    check_result(case, kernel, args, expected)
    return "ok"
