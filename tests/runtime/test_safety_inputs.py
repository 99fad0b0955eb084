"""Hostile or careless inputs end in a clear exception, fast (issue 11, items 4, 7 and 8).

* Code-size bombs: factors whose code would abort LLVM or keep it busy for minutes are a
  `CodeSizeError` naming the loop and the budget, in well under a second. The reproducers
  run in a subprocess with a timeout: an abort or a hang fails the test, not the suite.
* Environment: bad ``UNROLLKIT_MAX_OPS`` / ``UNROLLKIT_TARGET`` values are errors naming the
  variable (and the field), not raw ValueError / JSONDecodeError / ZeroDivisionError.
* ``unrollkit opt`` on a ``.mlir`` file with a malformed ``uk.name``: an error, no traceback.
(Raw ``mlir{...}`` steps: tests/codegen/test_pipeline.py; literals: tests/frontend/test_frontend_errors.py.)
"""
import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import unrollkit as uk
from conftest import OUTSIDE
from unrollkit import kernels
from unrollkit.kernels import dot, gemm, mac

#: seconds a refusal may take inside the child, measured around the failing call only. The
#: refusals take 0.1–0.5 s here; the margin absorbs a loaded machine (the bombs themselves
#: took 50 s, > 400 s, or aborted).
REFUSAL_SECONDS = 3.0


def run_child(body: str, env: dict | None = None, timeout: float = 120) -> dict:
    """Run ``body`` (which sets ``call``, a thunk) in a fresh interpreter, timing ``call()``
    alone; returns {"error": class name or None, "message": ..., "seconds": ...}."""
    code = textwrap.dedent("""
        import json, time
        import numpy as np
        import unrollkit as uk
        from unrollkit.kernels import dot, mac, gemm
    """) + textwrap.dedent(body) + textwrap.dedent("""
        t = time.perf_counter()
        try:
            call()
            out = {"error": None, "message": ""}
        except Exception as exc:
            out = {"error": type(exc).__name__, "message": str(exc)}
        out["seconds"] = time.perf_counter() - t
        print(json.dumps(out))
    """)
    import os
    full_env = dict(os.environ, UNROLLKIT_CACHE="0", **(env or {}))
    try:
        p = subprocess.run([sys.executable, "-c", code], cwd=OUTSIDE, env=full_env, capture_output=True,
                           text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the reproducer ran over {timeout} s (a compile-time bomb?)")
    assert p.returncode == 0, f"the child died (rc {p.returncode}): {p.stderr[-2000:]}"
    return json.loads(p.stdout.strip().splitlines()[-1])


VEC = "x = np.ones({n}, np.float32); y = np.ones({n}, np.float32); out = np.zeros({m}, np.float32)\n"


@pytest.mark.parametrize("variant,kernel,factor,n,words", [
    # aborted the process in LLVM's instruction selector (65,536-lane vectors)
    ("vector-acc", "dot", 4096, 100_000, ["vector-acc", "lanes", "at most"]),
    # 8192 copies of a six-operation body, under the former 50,000-operation budget: > 400 s in O3
    ("affine", "mac", 8192, 100_000, ["loop 'i'", "UNROLLKIT_MAX_OPS=<n>"]),
    ("pragma", "mac", 8192, 100_000, ["llvm.loop.unroll.count 8192", "loop 'i'", "UNROLLKIT_MAX_OPS=<n>"]),
    # 50 s to expand, lower and compile
    ("macro", "mac", 100_000, 1_000_000, ["macro expansion by 100000", "loop 'i'", "UNROLLKIT_MAX_OPS=<n>"]),
    # 8,192-lane f32 vectors: caught when the vectors are built, before LLVM
    ("vector-acc", "dot", 512, 100_000, ["8,192 lanes", "loop 'i'", "fewer vector registers"]),
    # within the budget, but one straight-line block of 7,200 operations: 19 s in O3
    ("affine", "mac", 1024, 100_000, ["body of loop 'i'", "straight-line block", "UNROLLKIT_MAX_OPS=<n>"]),
    ("pragma", "mac", 1024, 100_000, ["llvm.loop.unroll.count 1024", "straight-line block"]),
    ("macro", "mac", 1024, 100_000, ["macro expansion by 1024", "straight-line block"]),
])
def test_code_size_bombs_are_refused_in_well_under_a_second(variant, kernel, factor, n, words):
    m = 1 if kernel == "dot" else n
    got = run_child(VEC.format(n=n, m=m) +
                    f"call = lambda: uk.jit({kernel}, variant={variant!r}, factor={factor})(x, y, out)\n")
    assert got["error"] == "CodeSizeError", got
    for w in words:
        assert w in got["message"], got["message"]
    assert got["seconds"] < REFUSAL_SECONDS, got


@pytest.mark.parametrize("variant", ["affine", "pragma", "macro"])
def test_a_small_body_times_8192_is_refused(variant):
    """A three-operation body by 8192 was under the former 50,000-operation budget and ran over
    400 s in LLVM's O3; now it is over the budget (and a block over an eighth of it)."""
    got = run_child(textwrap.dedent("""
        from unrollkit.frontend.parse import parse_kernel
        copy = parse_kernel("def copy(x: uk.f32['N'], y: uk.f32['N']):\\n    for i in range(N):\\n"
                            "        y[i] = x[i]\\n", env={"uk": uk})
        x = np.ones(100_000, np.float32)
    """) + f"call = lambda: uk.jit(copy, variant={variant!r}, factor=8192)(x, x.copy())\n")
    assert got["error"] == "CodeSizeError" and "loop 'i'" in got["message"], got
    assert got["seconds"] < REFUSAL_SECONDS, got


def test_no_budget_makes_llvm_compile_a_vector_it_cannot():
    """The lane limit holds whatever UNROLLKIT_MAX_OPS says: raising the budget must not let
    the 65,536-lane vector through to LLVM's abort."""
    got = run_child(VEC.format(n=100_000, m=1) +
                    "call = lambda: uk.jit(dot, variant='vector-acc', factor=4096)(x, y, out)\n",
                    env={"UNROLLKIT_MAX_OPS": str(10 ** 12)})
    assert got["error"] == "CodeSizeError" and "lanes" in got["message"], got


def test_a_raw_mlir_unroll_is_held_to_the_budget_before_it_runs():
    got = run_child(VEC.format(n=1_000_000, m=1_000_000) +
                    "f = uk.jit(mac, pipeline='mlir{func.func(affine-loop-unroll{unroll-factor=100000})}')\n"
                    "call = lambda: f(x, y, out)\n")
    assert got["error"] == "CodeSizeError" and "affine-loop-unroll" in got["message"], got
    assert got["seconds"] < REFUSAL_SECONDS, got


def test_vector_operations_count_per_register(monkeypatch):
    """64-register vectors are one MLIR operation each but 64 instructions' worth to LLVM: 8
    copies of mac's vectorised body are ~50 operations, ~3,000 registers' worth."""
    monkeypatch.setenv("UNROLLKIT_MAX_OPS", "2000")
    f = uk.jit(mac, pipeline="vectorize{loop=i,width=1024},unroll{loop=i,factor=8}")
    x = np.ones(1 << 14, np.float32)
    with pytest.raises(uk.CodeSizeError, match="counted per register") as e:
        f(x, x, x.copy())
    assert "loop 'i'" in str(e.value) and "UNROLLKIT_MAX_OPS=<n>" in str(e.value)
    monkeypatch.setenv("UNROLLKIT_MAX_OPS", "40000")  # the same code under a larger budget runs
    c = np.zeros_like(x)
    f(x, x, c)
    np.testing.assert_array_equal(c, np.ones_like(x))


def test_pragma_copies_of_a_vectorised_body_count_in_the_budget(monkeypatch):
    """The plan sees mac's 6-operation body (16 copies: fine); the IR the pragma annotates has a
    16-register body, 16 copies of which are over a budget of 1,000."""
    monkeypatch.setenv("UNROLLKIT_MAX_OPS", "1000")
    f = uk.jit(mac, variant="pragma", factor=16, pipeline="vectorize{loop=i,width=256}")
    x = np.ones(4096, np.float32)
    with pytest.raises(uk.CodeSizeError, match="llvm.loop.unroll.count 16 of loop 'i'"):
        f(x, x, x.copy())


@pytest.mark.parametrize("name", ["mac", "dot", "gemm", "gemv", "jacobi1d", "iir", "prefix_sum"])
@pytest.mark.parametrize("variant", ["affine", "pragma", "macro", "vector-acc", "multi-acc"])
def test_factor_64_on_every_builtin_is_within_the_default_budget(name, variant, monkeypatch):
    """What the benchmarks and the cost model may ask for stays compilable: the plan's checks
    and the IR's size at factor 64, without LLVM (that is the slow part and not what is checked)."""
    from mlir import ir
    from unrollkit.cli.app import example_args
    from unrollkit.frontend.signature import sizes_of
    from unrollkit.ir.lower_affine import lower
    from unrollkit.passes.base import DEFAULT_MAX_OPS, code_size
    from unrollkit.codegen.pragma import loop_table
    from unrollkit.runtime.jit_kernel import JitKernel
    from unrollkit.tuning.variants import plan
    monkeypatch.delenv("UNROLLKIT_MAX_OPS", raising=False)
    k = getattr(kernels, name)
    try:
        p = plan(k, variant=variant, factor=64)
    except uk.CodeSizeError:
        raise
    except uk.TransformError:
        pytest.skip(f"{variant} does not apply to {name}")
    sizes = {s: 4099 for a in k.arrays for s in a.shape if isinstance(s, str)}
    if name in ("gemm", "gemv"):
        sizes = {s: 517 for s in sizes}
    sig, _ = JitKernel(k).signature(example_args(k, sizes, "f32"))
    with ir.Context(), ir.Location.unknown():
        module = lower(p.kernel, sizes_of(k, sig), sig.ptypes(), sig.shape_map())
        try:
            p.pipeline.run(module)
        except uk.CodeSizeError:
            raise
        except uk.TransformError:
            pytest.skip(f"{variant} does not apply to {name}")
        size = code_size(module)
        if p.pragma:
            rows = loop_table(module, k.name)
            size += sum(r.size * (min(64, r.trips or 64) - 1) for r in rows if r.innermost)
    assert size < DEFAULT_MAX_OPS / 4, size


def test_the_gemm_schedule_is_within_the_default_budget(monkeypatch):
    """The largest code a shipped schedule makes (the GEMM schedule at 1023³ f64, measured:
    about 7,300 of the 32,768) passes the budget, with room to spare (without LLVM: the
    schedule's results are checked in test_gemm_schedule)."""
    from mlir import ir
    from unrollkit.cli.app import example_args
    from unrollkit.frontend.signature import sizes_of
    from unrollkit.tuning.gemm_schedule import gemm_plan
    from unrollkit.ir.lower_affine import lower
    from unrollkit.passes.base import DEFAULT_MAX_OPS, code_size
    from unrollkit.runtime.jit_kernel import JitKernel
    from unrollkit.tuning.variants import plan
    monkeypatch.delenv("UNROLLKIT_MAX_OPS", raising=False)
    sig, _ = JitKernel(gemm).signature(example_args(gemm, {"M": 1023, "N": 1023, "K": 1023}, "f64"))
    p, _ = gemm_plan(gemm, sig, plan(gemm, variant="blas"))
    with ir.Context(), ir.Location.unknown():
        module = lower(p.kernel, sizes_of(gemm, sig), sig.ptypes(), sig.shape_map())
        p.pipeline.run(module)
        assert 1000 < code_size(module) < 0.6 * DEFAULT_MAX_OPS, code_size(module)


# ------------------------------------------------------------------ environment variables

@pytest.mark.parametrize("value", ["abc", "0", "-5", "1e5"])
def test_bad_max_ops_names_the_variable(value, monkeypatch):
    monkeypatch.setenv("UNROLLKIT_CACHE", "0")  # (a cached kernel compiles nothing: no budget to read)
    monkeypatch.setenv("UNROLLKIT_MAX_OPS", value)
    x = np.ones(64, np.float32)
    with pytest.raises(uk.UnrollkitError, match=f"UNROLLKIT_MAX_OPS={value!r} is not a positive integer") as e:
        uk.jit(mac, factor=4)(x, x, x.copy())
    assert "pass" not in str(e.value)  # (was: "pass 'unroll{factor=4}' failed: invalid literal ...")
    with pytest.raises(uk.UnrollkitError, match="UNROLLKIT_MAX_OPS"):
        uk.jit(mac, variant="macro", factor=4)  # checked when the plan expands the body


@pytest.mark.parametrize("value,words", [
    ("{bad", ["UNROLLKIT_TARGET is not valid JSON"]),
    ('{"vector_bits": 0}', ["UNROLLKIT_TARGET", "'vector_bits'", ">= 1"]),
    ('{"vector_bits": 3}', ["UNROLLKIT_TARGET", "'vector_bits'", "power of two"]),
    ('{"fma_latency": "5"}', ["'fma_latency'", "integer"]),
    ('{"l2_bytes_per_cycle": -1}', ["'l2_bytes_per_cycle'", "positive"]),
    ('{"features": "avx2"}', ["'features'", "list"]),
    ('{"no_such_field": 1}', ["unknown target field", "'no_such_field'"]),
    ("[1, 2]", ["JSON object"]),
    ("/nonexistent/target.json", ["UNROLLKIT_TARGET='/nonexistent/target.json'", "readable"]),
])
def test_bad_target_override_names_the_variable_and_field(value, words, monkeypatch):
    from unrollkit.core.target import TargetError, host_target
    monkeypatch.setenv("UNROLLKIT_CACHE", "0")
    monkeypatch.setenv("UNROLLKIT_TARGET", value)
    with pytest.raises(TargetError) as e:
        host_target()
    for w in words:
        assert w in str(e.value), str(e.value)
    x = np.ones(64, np.float32)
    with pytest.raises(uk.UnrollkitError, match="UNROLLKIT_TARGET"):  # every compile says so
        uk.jit(mac, variant="vector-acc", factor=2)(x, x, x.copy())


def test_a_good_target_override_still_applies(monkeypatch):
    from unrollkit.core.target import host_target
    monkeypatch.setenv("UNROLLKIT_TARGET", '{"vector_bits": 256, "fma_latency": 5}')
    t = host_target()
    assert (t.vector_bits, t.fma_latency) == (256, 5)
    x = np.arange(100, dtype=np.float32)
    out = np.zeros(1, np.float32)
    uk.jit(dot, variant="vector-acc", factor=2)(x, x, out)
    assert out[0] == pytest.approx(float(x @ x), rel=1e-5)


# ------------------------------------------------------------------ unrollkit opt on .mlir

@pytest.mark.parametrize("bad", ['5 : i64', '["i"]', 'unit'])
def test_opt_on_a_malformed_loop_name_is_an_error_not_a_traceback(bad, tmp_path):
    from typer.testing import CliRunner

    from unrollkit.cli.app import app
    good = CliRunner().invoke(app, ["ir", "mac", "--stage", "affine", "--size", "N=16"])
    assert good.exit_code == 0 and 'uk.name = "i"' in good.output, good.output
    path = tmp_path / "bad.mlir"
    path.write_text(good.output.replace('uk.name = "i"', f"uk.name = {bad}"))
    r = CliRunner().invoke(app, ["opt", str(path), "-p", "unroll{factor=2}"])
    assert r.exit_code != 0
    assert isinstance(r.exception, uk.TransformError), r.exception
    assert "uk.name" in str(r.exception) and "must be a string" in str(r.exception)
