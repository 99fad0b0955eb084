"""The `unrollkit` command's core sub-commands, run as a user would."""
import pytest
from typer.testing import CliRunner

from unrollkit.cli import app

runner = CliRunner()


def run(*args):
    r = runner.invoke(app, list(args), env={"COLUMNS": "200"})
    return r.exit_code, r.output


@pytest.mark.parametrize("stage,needle", [("affine", "affine.for"), ("transformed", "step 4"),
                                          ("llvm", "define void @mac("), ("llvm-opt", "fmul contract"),
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
    from unrollkit.errors import UnrollkitError
    code, _ = run("ir", "nosuch")
    assert code != 0
    with pytest.raises(UnrollkitError, match="built-in kernels: .*gemm"):
        from unrollkit.kernel_ref import resolve_kernel
        resolve_kernel("nosuch")


def test_sizes_must_be_name_value_pairs():
    code, out = run("ir", "mac", "--size", "64")
    assert code != 0
