"""`unrollkit opt` and `unrollkit passes`, run as a user would, with their output checked."""
import os
import subprocess
import sys
import textwrap

import pytest
from typer.testing import CliRunner

from unrollkit.cli.app import app
from unrollkit.core.errors import TransformError, UnrollkitError
from conftest import OUTSIDE

runner = CliRunner()


def run(*args):
    result = runner.invoke(app, list(args))
    return result


def test_opt_prints_the_transformed_ir(check_ir):
    r = run("opt", "gemm", "-p", "tile{i=4,j=4},unroll{loop=j,factor=2}", "--size", "M=8,K=3,N=8")
    assert r.exit_code == 0, r.output
    check_ir(r.output)
    # CHECK: func.func @gemm(%arg0: memref<8x3xf32>
    # CHECK: affine.for %{{.*}} = 0 to 8 step 4 {
    # CHECK: affine.for %{{.*}} = 0 to 8 step 4 {
    # CHECK: affine.for %{{.*}} = #map(%{{.*}}) to #map1(%{{.*}}) step 2 {
    # CHECK-COUNT-2: affine.store
    # CHECK: } {uk.name = "j"}
    # CHECK: } {uk.name = "j.tile"}
    # CHECK: } {uk.name = "i.tile"}


def test_opt_print_after_all_shows_every_step():
    r = run("opt", "mac", "-p", "peel{factor=3},unroll{loop=i,factor=2},canonicalize",
            "--size", "N=10", "--print-after-all")
    assert r.exit_code == 0, r.output
    heads = [ln for ln in r.output.splitlines() if ln.startswith("// ----- IR")]
    assert [h.split(" (")[0] for h in heads] == [
        "// ----- IR input", "// ----- IR after peel{factor=3}",
        "// ----- IR after unroll{factor=2,loop=i}", "// ----- IR after canonicalize"]
    assert all(" ms, " in h and " ops) -----" in h for h in heads)
    assert r.output.count("func.func @mac") == 4
    assert 'uk.name = "i.rem"' in r.output


def test_opt_diff_and_run_check_the_result():
    r = run("opt", "dot", "-p", "split-accumulators{accumulators=3}", "--size", "N=37", "--diff", "--run")
    assert r.exit_code == 0, r.output
    assert "// ----- split-accumulators{accumulators=3}:" in r.output
    assert "+++ 1: split-accumulators{accumulators=3}" in r.output
    assert "iter_args" in r.output
    assert "run: result matches the reference interpreter" in r.output


def test_opt_on_a_user_kernel_file(tmp_path):
    src = tmp_path / "k.py"
    src.write_text(textwrap.dedent("""
        import unrollkit as uk
        from unrollkit import T

        @uk.kernel
        def saxpy(a: T, x: T["N"], y: T["N"]):
            for i in range(N):
                y[i] = a * x[i] + y[i]
    """))
    r = run("opt", f"{src}:saxpy", "-p", "vectorize{width=4}", "--size", "N=10", "--run")
    assert r.exit_code == 0, r.output
    assert "vector.transfer_read" in r.output and "{in_bounds = [true]}" in r.output
    assert 'uk.name = "i.rem"' in r.output
    assert "run: result matches" in r.output


def test_opt_on_an_mlir_file(tmp_path):
    first = run("opt", "mac", "--size", "N=6")
    assert first.exit_code == 0
    path = tmp_path / "mac.mlir"
    path.write_text(first.output)
    r = run("opt", str(path), "-p", "unroll{factor=3},canonicalize")
    assert r.exit_code == 0, r.output
    assert "affine.for %arg3 = 0 to 6 step 3 {" in r.output
    assert r.output.count("affine.store") == 3
    bad = tmp_path / "bad.mlir"
    bad.write_text("module { func.func @f( }")
    r = run("opt", str(bad), "-p", "cse")
    assert isinstance(r.exception, UnrollkitError) and "cannot parse" in str(r.exception)


@pytest.mark.parametrize("args,exc,words", [
    (["opt", "gemm", "-p", "unrol"], TransformError, ["unknown pass 'unrol'", "'unroll'"]),
    (["opt", "gemm", "-p", "unroll{fctor=2}"], TransformError, ["no option 'fctor'", "'factor'"]),
    (["opt", "gemm", "-p", "interchange{a=i,b=q}"], TransformError, ["'q'"]),
    (["opt", "gemm", "--size", "Q=3"], UnrollkitError, ["no size 'Q'", "'K'"]),
    (["opt", "nosuchkernel"], UnrollkitError, ["unknown kernel 'nosuchkernel'"]),
    (["passes", "nosuchpass"], UnrollkitError, ["unknown pass 'nosuchpass'"]),
])
def test_errors_name_what_is_wrong(args, exc, words):
    r = run(*args)
    assert isinstance(r.exception, exc), r.output
    for w in words:
        assert w in str(r.exception)


def test_passes_lists_every_pass_with_options():
    from unrollkit.passes import REGISTRY
    r = runner.invoke(app, ["passes"], env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    for name in REGISTRY:
        assert name in r.output
    for opt in ("factor: int = 4", "remainder: str = 'cleanup'", "up-to-factor: bool = true",
                "accumulators: int = 4", "reductions: bool = false", "side: str = 'back'"):
        assert opt in r.output, opt


def test_passes_name_prints_the_full_docstring():
    r = runner.invoke(app, ["passes", "tile"], env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    assert "separate" in r.output and "i.tile" in r.output and "Before → after" in r.output


def test_the_installed_command_reports_errors_with_exit_code_2():
    env = dict(os.environ, COLUMNS="200")
    code = "import sys; from unrollkit.cli import main; main(sys.argv[1:])"
    p = subprocess.run([sys.executable, "-c", code, "opt", "skew_missing.py:k", "-p", "cse"],
                       capture_output=True, text=True, env=env, timeout=120, cwd=OUTSIDE)
    assert p.returncode == 2, p.stdout + p.stderr
    assert "error:" in p.stdout and "not found" in p.stdout
    p = subprocess.run([sys.executable, "-c", code, "opt", "mac", "-p", "unroll{factor=2}", "--size", "N=4"],
                       capture_output=True, text=True, env=env, timeout=120, cwd=OUTSIDE)
    assert p.returncode == 0 and "step 2" in p.stdout, p.stdout + p.stderr


def test_opt_imports_the_kernel_file_before_parsing_the_pipeline(tmp_path):
    """A pass the kernel's file registers is known to `-p` (the file is imported first, once)."""
    src = tmp_path / "mypass.py"
    src.write_text(textwrap.dedent("""
        import unrollkit as uk
        import unrollkit.passes as P

        @P.function_pass("count-loops-for-test")
        def count_loops(module, tag: str = "x"):
            '''Mark the function with the number of loops (a test pass).'''
            from mlir import ir
            for op in module.body.operations:
                op.attributes["uk.tagged"] = ir.StringAttr.get(tag)

        @uk.kernel
        def kernel(x: uk.f32["N"], y: uk.f32["N"]):
            for i in range(N):
                y[i] = x[i] + 1.0
    """))
    from unrollkit.passes import unregister
    try:
        r = run("opt", f"{src}:kernel", "-p", "count-loops-for-test{tag=hello}", "--size", "N=8")
        assert r.exit_code == 0, r.output
        assert 'uk.tagged = "hello"' in r.output
    finally:
        unregister("count-loops-for-test")


def test_passes_prints_no_rst_markup():
    from unrollkit.cli.passes_cmd import plain_text
    for args in (["passes"], ["passes", "unroll"], ["passes", "scalar-replace"]):
        r = runner.invoke(app, args, env={"COLUMNS": "200"})
        assert r.exit_code == 0, r.output
        assert "``" not in r.output and ":class:" not in r.output and "`" not in r.output
    assert plain_text("``a``, `b`, :func:`c`, `d <e>`_ ::") == "a, b, c, d :"
