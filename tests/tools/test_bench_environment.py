"""What a benchmark records of numpy's BLAS, and the warning when the environment chose
OpenBLAS's kernels for it (a forced core type halves numpy's speed on an AVX-512 machine)."""
from unrollkit.tools import bench_environment as be


def test_forced_coretype_is_named(monkeypatch):
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Haswell")
    text = be.blas_forced()
    assert text is not None
    assert "OPENBLAS_CORETYPE=Haswell" in text and "env -u OPENBLAS_CORETYPE" in text


def test_no_warning_without_a_forced_coretype(monkeypatch):
    monkeypatch.delenv("OPENBLAS_CORETYPE", raising=False)
    assert be.blas_forced() is None


def test_blas_text_names_kernels_and_variables():
    blas = [{"internal_api": "openblas", "version": "0.3.31", "num_threads": 1,
             "architecture": "SkylakeX", "environment": {"OPENBLAS_CORETYPE": "SkylakeX"}},
            {"internal_api": "openmp", "version": None, "num_threads": 2}]
    assert be.blas_text(blas) == "openblas 0.3.31 (SkylakeX kernels), OPENBLAS_CORETYPE=SkylakeX"
    assert be.blas_text([]) == "none found"


def test_environment_records_the_openblas_variables(monkeypatch):
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Haswell")
    openblas = [b for b in be.blas_info() if b.get("internal_api") == "openblas"]
    for b in openblas:  # (numpy's wheels bundle OpenBLAS; another BLAS records no variables)
        assert b["environment"]["OPENBLAS_CORETYPE"] == "Haswell"
        assert b["architecture"]


def test_bench_cli_prints_the_warning(monkeypatch, tmp_path):
    from typer.testing import CliRunner
    from unrollkit.cli.app import app
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Haswell")
    monkeypatch.chdir(tmp_path)
    got = CliRunner().invoke(app, ["bench", "contractions", "--sizes", "8", "--dtype", "f32",
                                   "--cases", "gemm", "--repeat", "1"])
    assert got.exit_code == 0, got.output
    assert "OPENBLAS_CORETYPE=Haswell" in " ".join(got.output.split())
