"""Differential fuzzing: random kernels × random pipelines × variants against the interpreter.

A case is generated from a *chooser* (anything with ``int(lo, hi)`` and ``choice(seq)``):
`random.Random` for ``unrollkit fuzz``, a hypothesis adapter in the tests (so failures shrink).
Every generated subscript is in bounds by construction (loops keep a margin of 1 from each end
and subscripts are ``var + c`` with ``|c| <= 1``). A refused transformation (`TransformError`)
is a legitimate outcome; anything else that differs from the reference interpreter is a bug.
"""
from __future__ import annotations

import dataclasses
import random
import textwrap
from pathlib import Path

import numpy as np

DTYPES = ("f32", "f64", "i32")
VARIANTS = ("affine", "none", "llvm-auto", "pragma", "macro", "vector-acc")


@dataclasses.dataclass(frozen=True)
class Case:
    source: str          # a complete `def` of the kernel (names: N, M sizes; arrays x, y, z, out)
    dtype: str
    sizes: tuple         # (("N", 9), ("M", 5))
    pipeline: str        # pipeline text (may be "")
    variant: str
    data_seed: int
    factor: int = 1      # the variant's unroll factor (of the innermost loops)

    def describe(self) -> str:
        return (f"dtype={self.dtype} sizes={dict(self.sizes)} variant={self.variant} factor={self.factor} "
                f"pipeline={self.pipeline!r} data_seed={self.data_seed}\n{self.source}")


class RandomChooser:
    def __init__(self, seed: int):
        self.r = random.Random(seed)

    def int(self, lo: int, hi: int) -> int:
        return self.r.randint(lo, hi)

    def choice(self, seq):
        return seq[self.r.randrange(len(seq))]


# ---------------------------------------------------------------- generation

_LOOP_VARS = ("i", "j", "k")


def gen_case(ch) -> Case:
    dtype = ch.choice(DTYPES)
    depth = ch.int(1, 3)
    sizes = (("N", ch.int(0, 13)), ("M", ch.int(2, 9)))
    loops = []  # (var, header)
    for d in range(depth):
        v = _LOOP_VARS[d]
        size = "N" if d != 1 else "M"
        step = ch.choice((1, 1, 1, 2, 3))
        lo = "1"
        if d > 0 and ch.int(0, 2) == 0:
            # triangular; with a different size the loop is empty for large outer indices
            lo = f"{_LOOP_VARS[d - 1]} + 1"
        hi = f"{size} - 1"
        loops.append((v, f"for {v} in range({lo}, {hi}{'' if step == 1 else f', {step}'}):"))
    vars_ = [v for v, _ in loops]
    # arrays: 1-D over N (x, y), 2-D over N x M (z), and the output
    out_kind = ch.choice(("elementwise", "reduction"))
    out_dims = _out_dims(vars_, out_kind)
    out_shape = ", ".join(f'"{_size_of(_LOOP_VARS.index(v))}"' for v in out_dims) if out_dims else "1"
    out_idx = ", ".join(_sub(v, ch) if out_kind == "elementwise" else v for v in out_dims) if out_dims else "0"
    expr = _expr(ch, vars_, dtype, 3)
    op = ch.choice(("=", "+=", "-=")) if out_kind == "elementwise" else ch.choice(("+=", "+=", "-="))
    body = f"out[{out_idx}] {op} {expr}"
    if ch.int(0, 3) == 0:
        body = f"t = {expr}\n" + f"out[{out_idx}] {op} t * {_lit(ch, dtype)}"
    lines = []
    for d, (_, header) in enumerate(loops):
        lines.append("    " * d + header)
    for ln in body.split("\n"):
        lines.append("    " * depth + ln)
    T = {"f32": "uk.f32", "f64": "uk.f64", "i32": "uk.i32"}[dtype]
    params = (f'x: {T}["N"], y: {T}["N"], z: {T}["N", "M"], s: {T}, out: {T}[{out_shape}]')
    src = f"def fuzz_kernel({params}):\n" + textwrap.indent("\n".join(lines), "    ") + "\n"
    pipeline = _pipeline(ch, vars_)
    variant = ch.choice(VARIANTS)
    factor = 1 if variant == "none" else ch.choice((1, 2, 3, 4, 8))
    return Case(src, dtype, sizes, pipeline, variant, ch.int(0, 2**16), factor)


def _size_of(d: int) -> str:
    return "M" if d == 1 else "N"


def _out_dims(vars_, kind):
    if kind == "reduction":  # drop the innermost variable: a loop-carried accumulation
        return vars_[:-1]
    return vars_


def _sub(v, ch):
    c = ch.choice((0, 0, 1, -1))
    return v if c == 0 else f"{v} {'+' if c > 0 else '-'} {abs(c)}"


def _lit(ch, dtype):
    return ch.choice(("2.0", "0.5", "-1.5", "3.0")) if dtype != "i32" else ch.choice(("2", "3", "-1"))


def _load(ch, vars_):
    by_size = {"N": [v for d, v in enumerate(vars_) if _size_of(d) == "N"],
               "M": [v for d, v in enumerate(vars_) if _size_of(d) == "M"]}
    kinds = ["x", "y"] if by_size["N"] else []
    if by_size["N"] and by_size["M"]:
        kinds.append("z")
    if not kinds:
        return None
    a = ch.choice(kinds)
    if a == "z":
        return f"z[{_sub(ch.choice(by_size['N']), ch)}, {_sub(ch.choice(by_size['M']), ch)}]"
    return f"{a}[{_sub(ch.choice(by_size['N']), ch)}]"


def _expr(ch, vars_, dtype, depth):
    if depth == 0 or ch.int(0, 3) == 0:
        kind = ch.choice(("load", "load", "load", "lit", "scalar", "index"))
        if kind == "load":
            ld = _load(ch, vars_)
            if ld:
                return ld
        if kind == "scalar":
            return "s"
        if kind == "index":
            return ch.choice(vars_)
        return _lit(ch, dtype)
    op = ch.choice(("+", "-", "*", "min", "max", "neg") + (("/",) if dtype != "i32" else ()))
    a = _expr(ch, vars_, dtype, depth - 1)
    if op == "neg":
        return f"-({a})"
    if op == "/":
        return f"({a}) / {ch.choice(('2.0', '4.0', '-8.0'))}"
    b = _expr(ch, vars_, dtype, depth - 1)
    if op in ("min", "max"):
        return f"{op}({a}, {b})"
    return f"({a} {op} {b})"


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
)
REMAINDERS = ("cleanup", "peel-back", "peel-front", "unrolled-cleanup")
JAM_REMAINDERS = ("cleanup", "peel-back", "peel-front")


def _pipeline(ch, vars_) -> str:
    from unrollkit.passes import REGISTRY
    steps = []
    for _ in range(ch.int(0, 3)):
        t = ch.choice(STEP_TEMPLATES)
        name = t.split("{")[0]
        if name not in REGISTRY:
            continue
        steps.append(t.format(L=ch.choice(vars_), L2=ch.choice(vars_), F=ch.choice((1, 2, 3, 4, 8, 16)),
                              R=ch.choice(REMAINDERS), RJ=ch.choice(JAM_REMAINDERS)))
    return ",".join(steps)


# ---------------------------------------------------------------- running


class Mismatch(AssertionError):
    pass


def make_data(case: Case):
    import unrollkit as uk  # noqa: F401  (the kernel source refers to uk.f32 etc.)
    from unrollkit.frontend import parse_kernel
    env = {"uk": uk}
    kernel = parse_kernel(case.source, filename="<fuzz>", env=env)
    sizes = dict(case.sizes)
    rng = np.random.default_rng(case.data_seed)
    dt = {"f32": np.float32, "f64": np.float64, "i32": np.int32}[case.dtype]
    args = []
    for p in kernel.params:
        if p.is_array:
            shape = tuple(s if isinstance(s, int) else sizes[s] for s in p.shape)
            a = rng.integers(-5, 6, shape) if case.dtype == "i32" else rng.uniform(-1, 1, shape)
            args.append(np.ascontiguousarray(a, dtype=dt))
        else:
            args.append(int(rng.integers(-3, 4)) if case.dtype == "i32" else float(rng.uniform(-1, 1)))
    return kernel, args


def run_case(case: Case) -> str:
    """Compile and run ``case`` and compare with the interpreter: "ok", "refused", or Mismatch."""
    import unrollkit as uk
    from unrollkit.errors import TransformError
    from unrollkit.interpreter import interpret
    from unrollkit.pipeline import Pipeline
    kernel, args = make_data(case)
    pipeline = Pipeline.parse(case.pipeline) if case.pipeline else None  # a bad template is a bug here
    expected = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    interpret(kernel, *expected)
    try:
        f = uk.jit(kernel, factor=case.factor, variant=case.variant, pipeline=pipeline)
        f(*args)
    except TransformError:
        return "refused"
    out = kernel.params.index(kernel.param("out"))
    got, want = args[out], expected[out]
    if case.dtype == "i32":
        ok = np.array_equal(got, want)
    else:
        rtol = 2e-4 if case.dtype == "f32" else 1e-9
        ok = np.allclose(got, want, rtol=rtol, atol=rtol * max(1.0, float(np.abs(want).max(initial=0))))
    if not ok:
        raise Mismatch(f"compiled result differs from the interpreter\n{case.describe()}\n"
                       f"got {got!r}\nwant {want!r}")
    return "ok"


def save_case(case: Case, directory) -> Path:
    """Write ``case`` as a runnable Python file that replays it."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    path = d / f"case_{abs(hash(case)) % 10**10:010d}.py"
    path.write_text(
        "# A failing unrollkit fuzz case. Replay: python " + path.name + "\n"
        "from unrollkit.fuzz import Case, run_case\n\n"
        f"CASE = {case!r}\n\n"
        "if __name__ == '__main__':\n"
        "    print(run_case(CASE))\n")
    return path
