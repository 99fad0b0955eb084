"""The `unrollkit` command's core sub-commands, run as a user would."""
import pytest
from typer.testing import CliRunner

from unrollkit.cli.app import app

runner = CliRunner()


def run(*args):
    r = runner.invoke(app, list(args), env={"COLUMNS": "200"})
    return r.exit_code, r.output


@pytest.mark.parametrize("stage,needle", [("affine", "affine.for"), ("transformed", "step 4"),
                                          ("llvm", "define void @uk_mac("), ("llvm-opt", "fmul contract"),
                                          ("asm", "mac:")])
def test_ir_prints_each_stage(stage, needle):
    code, out = run("ir", "mac", "--factor", "4", "--stage", stage, "--size", "N=64")
    assert code == 0, out
    assert needle in out


def test_ir_of_a_user_file(tmp_path):
    src = tmp_path / "mine.py"
    src.write_text("import unrollkit as uk\n\n@uk.kernel\ndef twice(x: uk.f64['N'], y: uk.f64['N']):\n"
                   "    for i in range(N):\n        y[i] = 2.0 * x[i]\n")
    code, out = run("ir", f"{src}:twice", "--stage", "affine", "--dtype", "f64", "--size", "N=5")
    assert code == 0, out
    assert "memref<5xf64>" in out and "arith.mulf" in out


def test_ir_of_an_unknown_kernel_lists_the_builtins():
    from unrollkit.core.errors import UnrollkitError
    code, _ = run("ir", "nosuch")
    assert code != 0
    with pytest.raises(UnrollkitError, match="built-in kernels: .*gemm"):
        from unrollkit.tools.kernel_ref import resolve_kernel
        resolve_kernel("nosuch")


def test_a_kernel_named_by_module_and_its_import_errors(tmp_path):
    """package.module:function imports the module (a package's file with relative imports);
    an error while importing a kernel file names its file and line, not a traceback."""
    from unrollkit.core.errors import UnrollkitError
    from unrollkit.tools.kernel_ref import resolve_kernel
    assert resolve_kernel("unrollkit.kernels.contractions:gemm_bt").name == "gemm_bt"
    import unrollkit.kernels as kernels
    package_file = f"{kernels.__path__[0]}/contractions.py"
    with pytest.raises(UnrollkitError, match=r"contractions.py:\d+: ImportError.*package.module:function"):
        resolve_kernel(f"{package_file}:gemm_bt")
    bad = tmp_path / "bad.py"
    bad.write_text("import unrollkit as uk\nx = 1 / 0\n")
    with pytest.raises(UnrollkitError, match=r"bad.py:2: ZeroDivisionError"):
        resolve_kernel(f"{bad}:f")
    with pytest.raises(UnrollkitError, match="no module named 'nosuch.mod'"):
        resolve_kernel("nosuch.mod:f")
    with pytest.raises(UnrollkitError, match="kernel file 'missing.py' not found"):
        resolve_kernel("missing.py:f")
    with pytest.raises(UnrollkitError, match="has no kernel named 'nope'"):
        resolve_kernel("unrollkit.kernels.contractions:nope")
    r = runner.invoke(app, ["explain", f"{package_file}:gemm_bt", "--size", "M=8,N=8,K=8"])
    assert isinstance(r.exception, UnrollkitError) and "ImportError" in str(r.exception)


def test_sizes_must_be_name_value_pairs():
    code, out = run("ir", "mac", "--size", "64")
    assert code != 0


def test_unknown_size_names_are_errors():
    from unrollkit.core.errors import UnrollkitError
    r = runner.invoke(app, ["ir", "mac", "--size", "Q=3"])
    assert isinstance(r.exception, UnrollkitError)
    assert "no size 'Q'" in str(r.exception) and "['N']" in str(r.exception)
    r = runner.invoke(app, ["explain", "gemm", "--size", "M=8,X=2", "--no-check"])
    assert isinstance(r.exception, UnrollkitError) and "'X'" in str(r.exception)


def test_the_invalid_variant_error_lists_every_variant():
    from unrollkit.core.errors import TransformError
    from unrollkit.tuning.variants import SCHEDULES, VARIANTS
    r = runner.invoke(app, ["ir", "mac", "--variant", "unrolled", "--size", "N=8"])
    assert isinstance(r.exception, TransformError)
    for v in VARIANTS + SCHEDULES + ("auto",):
        assert f"'{v}'" in str(r.exception), v


def _jit_choice(kernel, sizes):
    """The choice of what ``jit(factor="auto")`` runs for a call at ``sizes`` (a row block's,
    when auto splits the call across cores) and that block's signature."""
    import unrollkit as uk
    from unrollkit.cli.app import example_args
    f = uk.jit(kernel, factor="auto")
    f(*example_args(kernel, sizes))
    return f.last.choice, f.last.signature


def test_explain_reports_what_jit_auto_runs_for_a_gemm():
    from unrollkit.kernels import gemm
    code, out = run("explain", "gemm", "--size", "M=128,N=128,K=128")
    assert code == 0, out
    choice, sig = _jit_choice(gemm, {"M": 128, "N": 128, "K": 128})
    rows = sig.shape_map()["C"][0]  # 128, or a row block's when the call runs on several cores
    assert choice.variant == "blas"
    assert f"choice: blas: GEMM nest: GEMM {rows}×128×128" in out
    assert (rows < 128) == ("parallel: loop 'i' in row blocks of A, C" in out)
    # the same schedule, word for word
    assert choice.reason.split("; ")[0].split(": ", 1)[1] in out.replace("\n", " ")
    assert "vector-acc" not in out.split("choice:")[1].split("\n")[0]


def test_explain_reports_what_jit_auto_runs_for_a_reduction():
    from unrollkit.kernels import dot
    code, out = run("explain", "dot", "--size", "N=2000")
    assert code == 0, out
    choice, _ = _jit_choice(dot, {"N": 2000})
    line = next(ln for ln in out.splitlines() if ln.startswith("choice:"))
    assert line.startswith(f"choice: {choice.candidate.label}:"), (line, choice.describe())


def test_the_jit_docstring_says_where_the_pipeline_runs():
    import unrollkit as uk
    doc = " ".join(uk.jit.__doc__.split())
    assert "run *before* the ``factor`` unrolling" in doc
    assert "extra passes after the unrolling" not in doc


def test_explain_all_on_a_gemm_keeps_the_schedule_as_the_choice():
    code, out = run("explain", "gemm", "--size", "M=64,N=64,K=64", "--all", "--no-check")
    assert code == 0, out
    choices = [ln for ln in out.splitlines() if ln.startswith("choice:")]
    assert len(choices) == 1 and choices[0].startswith("choice: blas: GEMM nest")
    assert "not what jit runs for this GEMM nest" in out


def test_ir_with_factor_auto_prints_what_jit_auto_runs():
    code, out = run("ir", "gemm", "--factor", "auto", "--size", "M=64,N=64,K=64")
    assert code == 0 and "vector.transfer_read" in out and "memref.alloc" in out  # the packed GEMM
    from unrollkit.core.errors import UnrollkitError
    r = runner.invoke(app, ["ir", "mac", "--factor", "four"])
    assert isinstance(r.exception, UnrollkitError) and "positive integer or auto" in str(r.exception)
