"""The fuzzer's classes, each run on fixed seeds: sibling loops carrying dependences, contraction
nests, every GEMM remainder class, ``//``/``%`` subscripts in and out of bounds (out of bounds
refused, never run), raw MLIR steps, large factors, libc and non-ASCII kernel names, calls from
several threads while other signatures compile, a tampered disk cache, and the C variants.

The classes that could crash run in a child process (`unrollkit.tools.fuzz_scenarios.run_isolated`),
so a crash is a failing test here. Every case is differential: the compiled result must equal the
reference interpreter's on every array.
"""
from __future__ import annotations

import ctypes
import dataclasses

import numpy as np
import pytest

from unrollkit.codegen import cvariants as cv
from unrollkit.tools import fuzz_cvariants, fuzz_shapes
from unrollkit.tools.fuzz import ODD_NAMES, Case, RandomChooser, gen_case, run_case
from unrollkit.tools.fuzz_case import Mismatch, call_by_name, make_data, out_of_bounds
from unrollkit.tools.fuzz_language import gen_language_more
from unrollkit.tools.fuzz_scenarios import TAMPERS


def _run_all(cases):
    outcomes = [run_case(c) for c in cases]
    assert set(outcomes) <= {"ok", "refused"}
    return outcomes


def test_sibling_loops_across_the_outer_loop():
    """Sibling inner loops with flow, anti and output dependences carried by i, jammed first."""
    cases = [fuzz_shapes.gen_siblings(RandomChooser(s)) for s in range(400)]
    jammed = [c for c in cases if c.pipeline.startswith("unroll-jam{loop=i") and c.variant != "auto"
              and dict(c.sizes)["N"] >= 4][:24]
    assert len(jammed) == 24
    outcomes = _run_all(jammed)
    assert outcomes.count("ok") >= 6 and outcomes.count("refused") >= 3, outcomes


def test_sibling_jam_of_the_issue_reproducer_is_refused():
    src = ('def fuzz_kernel(p: uk.f64["N", "M"], q: uk.f64["N", "M"], z: uk.f64["N", "M"], s: uk.f64):\n'
           '    for i in range(1, N - 1):\n'
           '        for j in range(1, M - 1):\n'
           '            p[i, j] = q[i - 1, j] * 1.0 + 1.0\n'
           '        for j2 in range(1, M - 1):\n'
           '            q[i, j2] = p[i, j2] * 2.0 + s\n')
    case = Case(src, "f64", (("N", 9), ("M", 6)), "unroll-jam{loop=i,factor=2}", "affine", 3)
    assert run_case(case) == "refused"
    assert run_case(dataclasses.replace(case, pipeline="tile{i=2}")) == "ok"


def test_contraction_nests():
    cases = [fuzz_shapes.gen_contraction(RandomChooser(s)) for s in range(40)]
    cases = [c for c in cases if c.variant != "auto"][:16]
    assert {c.source.splitlines()[-1].strip() for c in cases} >= {"C[i, j] += A[i, k] * B[k, j]"}
    assert "ok" in _run_all(cases)


def test_triangular_updates():
    """syrk and syr2k forms (tuning/triangular.py's rewrite into block nests) against the
    interpreter: every update, sizes below, at and past the blocks, the off-diagonal nest."""
    cases = [c for c in (fuzz_shapes.gen_triangular(RandomChooser(s)) for s in range(14)) if '["N", "N"]' in c.source]
    assert {c.source.splitlines()[-1].strip() for c in cases} == set(fuzz_shapes.TRIANGULAR_UPDATES)
    assert any(c.dtype == "f64" and dict(c.sizes)["N"] >= 64 for c in cases)  # (auto takes it too)
    assert set(_run_all(cases)) == {"ok"}


def _operand_triangles(symm: bool, seeds: range) -> list:
    cases = (fuzz_shapes.gen_triangular(RandomChooser(s)) for s in seeds)
    return [c for c in cases if '["M", "M"]' in c.source and ("temp2" in c.source) == symm]


def test_trmm_cases():
    """trmm forms (tuning/triangular_trmm.py's rewrite: triangles in place, GEMM nests over the
    rows below) and the ``range(i)`` form the recogniser leaves alone, against the interpreter."""
    cases = _operand_triangles(False, range(60))
    assert any(c.variant == "blas" and dict(c.sizes)["M"] >= 64 for c in cases)
    assert any("range(i):" in c.source for c in cases)
    assert {u for u in fuzz_shapes.TRMM_UPDATES if any(u in c.source for c in cases)} == set(fuzz_shapes.TRMM_UPDATES)
    assert set(_run_all(cases)) == {"ok"}


def test_symm_cases():
    """symm forms (tuning/triangular_symm.py's distribution into two triangular products) and
    the ``range(i + 1)`` form the recogniser leaves alone, against the interpreter."""
    cases = _operand_triangles(True, range(60))
    assert any(c.variant == "blas" and dict(c.sizes)["M"] >= 64 for c in cases)
    assert any("range(i + 1)" in c.source for c in cases) and any("-=" in c.source for c in cases)
    assert set(_run_all(cases)) == {"ok"}


@pytest.mark.parametrize("dtype,lanes", [("f32", 16), ("f64", 8)])
def test_gemm_remainder_classes(dtype, lanes):
    """The BLAS schedule at N = lanes + r for remainders r (each vector width of the chain 8,
    4, 2 and a scalar column), against the interpreter; the fuzzer draws every r."""
    base = fuzz_shapes.gen_gemm(RandomChooser(0))
    src = base.source.replace("uk.f32", f"uk.{dtype}").replace("uk.f64", f"uk.{dtype}")
    for r in sorted({0, 1, 2, 3, lanes // 2 - 1, lanes - 1}):
        case = Case(src, dtype, (("M", 3 + r % 5), ("N", lanes + r), ("K", 2 + r % 3)), "", "blas", r)
        assert run_case(case) == "ok", case.describe()


def test_floordiv_and_mod_subscripts_in_and_out_of_bounds():
    """Out of bounds (found by enumerating iterations) must be refused, and is never run; in
    bounds must match: `//` and `%` subscripts, loops that run backwards, and bounds with an
    integer scalar parameter (its value joins the oracle's sizes)."""
    from unrollkit.tools.fuzz_case import index_values, oracle_sizes
    cases = [fuzz_shapes.gen_divmod(RandomChooser(s)) for s in range(60)]
    kinds = {"oob": 0, "in": 0, "mod in bounds": 0, "backward": 0, "scalar bound": 0}
    for c in cases:
        k, args = make_data(c)
        values = index_values(c, k)
        assert all(a == values[p.name] for p, a in zip(k.params, args) if p.name in values)
        oob = out_of_bounds(k, oracle_sizes(c, k))
        kinds["oob" if oob else "in"] += 1
        kinds["mod in bounds"] += "%" in c.source and not oob
        kinds["backward"] += ", -" in c.source
        kinds["scalar bound"] += bool(values)
    assert min(kinds.values()) >= 3, kinds
    outcomes = _run_all(cases)
    assert "ok" in outcomes


def test_the_issue_out_of_bounds_write_is_refused():
    src = ('def fuzz_kernel(x: uk.f32["N"], y: uk.f32["N"]):\n'
           '    for i in range(0, N):\n'
           '        y[(i + N) // 1] = x[i] * 2.0 + y[i]\n')
    for pipeline in ("", "mlir{lower-affine}"):
        assert run_case(Case(src, "f32", (("N", 10),), pipeline, "affine", 0)) == "refused"


def test_out_of_bounds_oracle():
    src = 'def fuzz_kernel(x: uk.f64["N"], y: uk.f64["N"]):\n    for i in range(1, N):\n        y[{}] = x[i]\n'
    ok, bad = Case(src.format("i // 2 + 1"), "f64", (("N", 4),), "", "none", 0), \
        Case(src.format("i // 2 + 3"), "f64", (("N", 4),), "", "none", 0)
    assert out_of_bounds(make_data(ok)[0], {"N": 4}) is None
    assert "y[4]" in (out_of_bounds(make_data(bad)[0], {"N": 4}) or "")


def test_raw_mlir_steps_and_big_factors():
    cases = []
    for s in range(400):
        c = gen_case(RandomChooser(s), isolated=False)
        if ("mlir{" in c.pipeline or c.factor >= 16) and c.variant != "auto":
            cases.append(c)
        if len(cases) == 12:
            break
    assert any("mlir{" in c.pipeline for c in cases) and any(c.factor >= 16 for c in cases)
    _run_all(cases)


@pytest.mark.parametrize("name", ["free", "aligned_alloc", "ядро"])
def test_odd_kernel_names_in_a_child_process(name):
    """libc names with the BLAS schedule (which calls aligned_alloc and free), non-ASCII too."""
    case = dataclasses.replace(fuzz_shapes.gen_gemm(RandomChooser(1)), variant="blas")
    case = dataclasses.replace(case, source=case.source.replace("def fuzz_kernel(", f"def {name}(", 1))
    assert case.isolated() and name in ODD_NAMES
    assert run_case(case) == "ok"


def test_threads_while_other_signatures_compile():
    src = ('def fuzz_kernel(x: uk.f64["N"], y: uk.f64["N"], out: uk.f64["N", "M"]):\n'
           '    for i in range(N):\n'
           '        for j in range(M):\n'
           '            out[i, j] += x[i] * y[i] + 1.0\n')
    case = Case(src, "f64", (("N", 40), ("M", 30)), "", "affine", 0, 4, scenario="threads")
    assert run_case(case) == "ok"


@pytest.mark.parametrize("how", TAMPERS)
def test_cache_tampered_between_two_runs(how):
    src = ('def fuzz_kernel(x: uk.f32["N"], out: uk.f32["N"]):\n'
           '    for i in range(N):\n'
           '        out[i] += x[i] * 3.0\n')
    case = Case(src, "f32", (("N", 17),), "", "affine", 0, 4, scenario=f"tamper:{how}")
    assert run_case(case) == "ok"


def test_an_index_scalar_case_in_the_threads_scenario():
    # found by the fuzzer: the threads scenario's oracle evaluated range(2, N - m) without m
    src = ('def fuzz_kernel(x: uk.f64["N"], y: uk.f64["N"], m: uk.i64):\n    for i in range(2, N - m):\n'
           '        y[(i + N) // 4] = x[(i * 2 + 0) // 4] * 0.5 + y[i]\n')
    case = Case(src, "f64", (("N", 5),), "unroll-jam{loop=i,factor=1}", "llvm-auto", 8593, 64, "threads")
    assert run_case(case) in ("ok", "refused")


# ---------------------------------------------------------------- C variants (kernels/c)

@pytest.mark.needs_cc
def test_c_variants_against_the_interpreter():
    """Every C variant of every C kernel, at sizes around its factor and lanes, in a child
    process, against the interpreter (with guard cells after the output)."""
    cases = [fuzz_cvariants.gen_cvariant(RandomChooser(s), "gcc") for s in range(60)]
    picked = {}
    for c in cases:
        picked.setdefault((c.variant, c.source.split("(")[0]), c)
    assert {v for v, _ in picked} == set(cv.CVARIANTS) and {k for _, k in picked} == {
        "def mac", "def dot", "def gemm"}
    assert {n % 2 for c in cases for _, n in c.sizes} == {0, 1} and 0 in {dict(c.sizes)["N"] for c in cases}
    chosen = sorted(picked.values(), key=lambda c: (c.variant, c.source))[:10]
    assert set(_run_all(chosen)) == {"ok"}


def test_c_variant_oracle_catches_a_wrong_result_and_a_write_past_the_end(monkeypatch):
    """The C cases' oracle can fail: a result off by one element, or a write into the cell after
    the output, is a Mismatch (a stand-in kernel; no compiler needed)."""
    case = fuzz_cvariants.gen_cvariant(RandomChooser(1), "gcc")
    case = dataclasses.replace(case, source=fuzz_cvariants.SOURCES["mac"].format(T="uk.f64"),
                               dtype="f64", sizes=(("N", 9),))

    def fake_build(how):
        def kernel(a, b, c):
            c += a * b
            if how == "wrong":
                c[-1] += 1.0
            if how == "past":
                base = c.__array_interface__["data"][0]
                np.frombuffer((ctypes.c_double * (c.size + 1)).from_address(base), np.float64)[-1] = 0.0
        return lambda *args: kernel
    monkeypatch.setattr(cv, "build", fake_build("right"))
    assert fuzz_cvariants.run_cvariant(case) == "ok"
    monkeypatch.setattr(cv, "build", fake_build("wrong"))
    with pytest.raises(Mismatch, match="differs from the interpreter"):
        fuzz_cvariants.run_cvariant(case)
    monkeypatch.setattr(cv, "build", fake_build("past"))
    with pytest.raises(Mismatch, match="wrote past the end"):
        fuzz_cvariants.run_cvariant(case)


def test_language_constructs_against_the_interpreter():
    """Local arrays, uk.unroll/uk.range, log/ceil/exp/sqrt, x ** y by a value, T(j) and a
    returned scalar (`unrollkit.tools.fuzz_language`), each differential."""
    cases = [gen_language_more(RandomChooser(s)) for s in range(24)]
    sources = "\n".join(c.source for c in cases)
    for construct in ("uk.zeros(M + 1, uk.T)", "uk.unroll(range(3))", "uk.range(M, unroll=",
                      "uk.range(N, unroll=", "range(N - 1, -1, -1)", "return total", "if x[i] > s:"):
        assert construct in sources, construct
    assert "**" in sources and "uk.T(j)" in sources and "uk.log(" in sources
    cases = [c for c in cases if c.variant != "auto"][:14]
    assert _run_all(cases).count("ok") >= 5


def test_cases_call_by_keyword_on_odd_seeds():
    """`call_by_name`: an even seed calls positionally, an odd one passes the trailing
    arguments by name (every argument still reaches its parameter)."""
    case = gen_case(RandomChooser(3), isolated=False)
    kernel, args = make_data(case)
    seen = []
    record = lambda *a, **kw: seen.append((len(a), sorted(kw)))  # noqa: E731 - a one-line stub recorder
    call_by_name(record, kernel, args, 4)
    call_by_name(record, kernel, args, 2 * len(args) + 1)   # cut 0: everything by name
    names = sorted(p.name for p in kernel.user_params)
    assert not kernel.returns and seen == [(len(args), []), (0, names)]
