"""Differential fuzzing: random kernels × random pipelines × variants against the interpreter.

A case is generated from a *chooser* (anything with ``int(lo, hi)`` and ``choice(seq)``):
`random.Random` for ``unrollkit fuzz``, a hypothesis adapter in the tests (so failures shrink).
Kernel shapes (`SHAPES`): loop nests with ``var + c`` subscripts (``|c| <= 1``, loops keep a
margin of 1, so every access is in bounds by construction); sibling inner loops carrying
dependences across the outer loop (unroll-and-jam's hard case); contraction-like nests
(gemm, gemv, transposed operands, any loop order); GEMM nests sized to hit every remainder
class of the BLAS schedule; direct convolutions (1×1 to 3×3 taps) through the same schedule;
and ``//``/``%`` subscripts that may leave the array. Kernel names
are sometimes libc symbols or non-ASCII identifiers; some cases run from several threads while
other signatures compile, or read back a tampered disk cache (`unrollkit.tools.fuzz_scenarios`);
and now and then, when a C compiler is installed, a C variant of kernels/c at sizes around its
unroll factor and vector lanes (`unrollkit.tools.fuzz_cvariants`).

Outcomes: "ok" (equal to the reference interpreter on every array), "refused" (a clear
`TransformError`, or for a kernel with an access out of bounds — found here by enumerating its
iterations — any `UnrollkitError` before it runs). Anything else is a bug: `Mismatch` for a
wrong result, an accepted out-of-bounds kernel, or a crashed child process.
"""
from __future__ import annotations

import dataclasses
import textwrap
from pathlib import Path

from unrollkit.core.dtypes import BY_NAME
from unrollkit.tools.fuzz_case import (BIG_FACTORS, DTYPES, FACTORS, JAM_REMAINDERS, MLIR_STEPS,  # noqa: F401
                        REMAINDERS, SLOW_VARIANTS, STEP_TEMPLATES, VARIANTS, Case, Mismatch,
                        RandomChooser, check_result, choose_variant, compile_options, lit,
                        make_data, out_of_bounds, pipeline_steps, run_in_process)
from unrollkit.codegen import cvariants as cv
from unrollkit.tools import fuzz_cvariants, fuzz_language, fuzz_scenarios, fuzz_shapes

#: kernel shapes, weighted by repetition
SHAPES = ("nest", "nest", "nest", "siblings", "contraction", "gemm", "divmod", "language", "types",
          "language-more", "conv", "triangular")
#: kernel names that have broken symbol tables (libc) or encoders (non-ASCII)
ODD_NAMES = ("free", "malloc", "memcpy", "memset", "main", "aligned_alloc", "abort", "exit",
             "printf", "sqrt", "ядро", "カーネル", "noyau_é", "σ_kernel", "Kernel_ß")
#: scenarios beyond one call (see unrollkit.tools.fuzz_scenarios); they run in a child process
SCENARIOS = ("threads", "tamper")


# ---------------------------------------------------------------- generation

_LOOP_VARS = ("i", "j", "k")


def gen_case(ch, isolated: bool = True) -> Case:
    """A random case. ``isolated=False`` leaves out what must run in a child process (odd
    kernel names, scenarios): the in-process hypothesis test uses that."""
    shape = ch.choice(SHAPES)
    gen = {"nest": _gen_nest, "siblings": fuzz_shapes.gen_siblings,
           "contraction": fuzz_shapes.gen_contraction, "gemm": fuzz_shapes.gen_gemm,
           "divmod": fuzz_shapes.gen_divmod, "language": _gen_language,
           "types": fuzz_shapes.gen_types, "language-more": fuzz_language.gen_language_more,
           "conv": fuzz_shapes.gen_conv, "triangular": fuzz_shapes.gen_triangular}[shape]
    case = gen(ch)
    if isolated and ch.int(0, 9) == 0:
        name = ch.choice(ODD_NAMES)
        case = dataclasses.replace(case, source=case.source.replace("def fuzz_kernel(", f"def {name}(", 1))
    if isolated and ch.int(0, 19) == 0:
        scenario = ch.choice(SCENARIOS)
        if scenario == "tamper":
            scenario += ":" + ch.choice(fuzz_scenarios.TAMPERS)
        case = dataclasses.replace(case, scenario=scenario)
    if isolated and ch.int(0, 14) == 0 and cv.compilers():
        # a C variant of kernels/c instead (drawn last: the other draws stay as they were)
        case = fuzz_cvariants.gen_cvariant(ch, ch.choice(sorted(cv.compilers())))
    return case


def _gen_nest(ch) -> Case:
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
        body = f"t = {expr}\n" + f"out[{out_idx}] {op} t * {lit(ch, dtype)}"
    lines = []
    for d, (_, header) in enumerate(loops):
        lines.append("    " * d + header)
    for ln in body.split("\n"):
        lines.append("    " * depth + ln)
    T = repr(BY_NAME[dtype])  # "uk.f32"
    params = (f'x: {T}["N"], y: {T}["N"], z: {T}["N", "M"], s: {T}, out: {T}[{out_shape}]')
    src = f"def fuzz_kernel({params}):\n" + textwrap.indent("\n".join(lines), "    ") + "\n"
    pipeline = pipeline_steps(ch, vars_)
    variant, factor = choose_variant(ch)
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
        return lit(ch, dtype)
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


def _gen_language(ch) -> Case:
    """The kernel language's constructs (issue 13): a scalar carried across the inner loop
    (a sum, a max, or updates under an ``if`` on data or on the loop variables), a select
    and math on the result. Conditions compare loads, scalars and literals only: a rounding
    difference (FMA contraction) must not flip a branch against the interpreter."""
    dtype = ch.choice(DTYPES)
    sizes = (("N", ch.int(2, 11)), ("M", ch.int(2, 9)))
    vars_ = ["i", "j"]
    step = ch.choice((1, 1, 2))
    lo = ch.choice(("1", "1", "i"))  # "i": triangular (empty where i >= M - 1)
    expr = _expr(ch, vars_, dtype, 2)
    cmp = ch.choice(("<", "<=", ">", ">=", "==", "!="))
    cond = f"{_load(ch, vars_)} {cmp} {ch.choice((_load(ch, vars_), 's', lit(ch, dtype)))}"
    if ch.int(0, 2) == 0:
        cond = f"{ch.choice(('not ', ''))}({cond}) {ch.choice(('and', 'or'))} {_load(ch, vars_)} > s"
    update = ch.choice(("sum", "max", "if", "affine-if"))
    inner = {"sum": [f"acc += {expr}"], "max": [f"acc = max(acc, {expr})"],
             "if": [f"if {cond}:", f"    acc += {expr}", "else:", f"    acc = acc - {lit(ch, dtype)}"],
             "affine-if": [f"if j > i or j == {ch.int(1, 3)}:", f"    acc += {expr}"]}[update]
    result = "acc"
    if dtype != "i32" and ch.int(0, 1):
        result = ch.choice(("uk.tanh(acc)", "uk.abs(acc) ** 0.5", "acc ** 2", "uk.exp(uk.tanh(acc))",
                            "uk.floor(x[i]) + acc", "acc / (uk.abs(acc) + 1.0)"))
    elif ch.int(0, 1):
        result = ch.choice(("abs(acc)", "acc ** 2", "acc * 3"))
    if ch.int(0, 1):
        result = f"{result} if {_load(ch, ['i'])} {cmp} s else {lit(ch, dtype)}"
    lines = ["for i in range(1, N - 1):", "    acc = x[i]",
             f"    for j in range({lo}, M - 1{'' if step == 1 else f', {step}'}):"]
    lines += ["        " + ln for ln in inner]
    lines.append(f"    out[i] = {result}")
    T = repr(BY_NAME[dtype])  # "uk.f32"
    params = f'x: {T}["N"], y: {T}["N"], z: {T}["N", "M"], s: {T}, out: {T}["N"]'
    src = f"def fuzz_kernel({params}):\n" + textwrap.indent("\n".join(lines), "    ") + "\n"
    variant, factor = choose_variant(ch)
    return Case(src, dtype, sizes, pipeline_steps(ch, vars_), variant, ch.int(0, 2**16), factor)


def run_case(case: Case) -> str:
    """Compile and run ``case`` and compare with the interpreter: "ok", "refused", or Mismatch.
    A case that could crash the process (`Case.isolated`) runs in a child process."""
    if case.isolated():
        return fuzz_scenarios.run_isolated(case)
    return run_in_process(case)


def save_case(case: Case, directory) -> Path:
    """Write ``case`` as a runnable Python file that replays it."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    path = d / f"case_{abs(hash(case)) % 10**10:010d}.py"
    path.write_text(
        "# A failing unrollkit fuzz case. Replay: python " + path.name + "\n"
        "from unrollkit.tools.fuzz import Case, run_case\n\n"
        f"CASE = {case!r}\n\n"
        "if __name__ == '__main__':\n"
        "    print(run_case(CASE))\n")
    return path
