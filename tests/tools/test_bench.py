"""``unrollkit bench``: the command on tiny sizes, its JSON, and that a wrong result fails the run."""
from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest

from unrollkit.tools import bench, bench_workload
from unrollkit.tools.bench_workload import NUMPY
from unrollkit.cli import main
from unrollkit.core.errors import UnrollkitError
from unrollkit.kernels import ALL, MORE

QUICK = ["--repeat", "2", "--target-ms", "1"]


def run_cli(argv):
    """Run the command in process; its exit code (0 when it returns normally)."""
    try:
        main(argv)
    except SystemExit as exc:
        return exc.code
    return 0


@pytest.mark.needs_cc  # the c-pragma rows build with gcc
def test_bench_json_records_rows_and_environment(tmp_path):
    out = tmp_path / "dot.json"
    code = run_cli(["bench", "dot", "--sizes", "37,64", "--factors", "1,2,4",
                    "--variants", "none,pragma,affine,multi-acc,c-pragma", "--compilers", "gcc",
                    "--json", str(out), *QUICK])
    assert code == 0
    data = json.loads(out.read_text())
    env = data["environment"]
    assert env["cpu"] and env["features"] and env["versions"]["mlir"] and env["versions"]["llvmlite"]
    rows = data["rows"]
    by = {(r["size"], r["label"], r["factor"]): r for r in rows}
    for size in ("37", "64"):
        assert by[(size, "numpy", 1)]["verified"]
        assert by[(size, "none", 1)]["speedup"] == pytest.approx(1.0)
        for f in (2, 4):
            r = by[(size, "affine", f)]
            assert r["verified"] and r["median_s"] > 0 and r["rate"] > 0
            assert len(r["samples"]) == 2 and r["reps"] >= 1
            assert r["llvm_policy"].startswith("O3") and r["compile_s"] > 0 and r["code_bytes"] > 0
            assert r["facts"]["found"] and r["facts"]["spills"] == 0
        assert by[(size, "multi-acc", 4)]["unroll_ok"] is True
        assert by[(size, "pragma", 4)]["unroll_ok"] is True
    assert all(a >= bench.ALIGN for r in rows if r["alignment"] for a in r["alignment"])
    assert all(r["page_offsets"] == list(bench.PAGE_OFFSETS) for r in rows if r["page_offsets"])
    c_rows = [r for r in rows if r["toolchain"] == "gcc"]
    if bench.available_compilers(["gcc"]):
        assert c_rows and all(r["verified"] and "-O3" in r["flags"] for r in c_rows)
        assert "gcc" in env["compilers"]


def test_a_wrong_result_fails_the_run(tmp_path, monkeypatch, capsys):
    real_call = bench.IRRunner.call

    def corrupt(self, arrays):
        real_call(self, arrays)
        if self.jk.plan.variant == "affine":
            arrays[2][-1] += 1.0  # one wrong element, as a bad remainder loop would leave

    monkeypatch.setattr(bench.IRRunner, "call", corrupt)
    out = tmp_path / "mac.json"
    code = run_cli(["bench", "mac", "--sizes", "33", "--factors", "1,4", "--variants",
                    "none,affine,macro", "--json", str(out), *QUICK])
    assert code != 0
    text = capsys.readouterr().out
    assert "MISMATCH" in text and "affine" in text
    rows = json.loads(out.read_text())["rows"]
    assert [r["verified"] for r in rows if r["variant"] == "affine"] == [False]
    assert all(r["verified"] for r in rows if r["variant"] != "affine")
    assert not [r for r in rows if r["variant"] == "affine"][0]["samples"]  # never timed


def test_gemm_multi_acc_gets_its_own_rolled_baseline(tmp_path):
    out = tmp_path / "gemm.json"
    code = run_cli(["bench", "gemm", "--sizes", "24x20x28", "--factors", "1,2", "--variants",
                    "multi-acc", "--json", str(out), *QUICK])
    assert code == 0
    rows = json.loads(out.read_text())["rows"]
    labels = [r["label"] for r in rows]
    assert labels == ["numpy", "none", "none (i-j-k)", "multi-acc (i-j-k)"]
    acc = rows[-1]
    assert acc["verified"] and acc["order"] == "ijk" and acc["unroll_ok"] is True


def test_plot_is_written(tmp_path):
    pytest.importorskip("matplotlib")
    png = tmp_path / "p.png"
    code = run_cli(["bench", "mac", "--sizes", "64", "--factors", "1,2", "--variants",
                    "none,affine", "--plot", str(png), *QUICK])
    assert code == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bad_arguments_are_clear_errors(capsys):
    assert run_cli(["bench", "dot", "--variants", "unrolled", *QUICK]) == 2
    assert "unknown variant" in capsys.readouterr().out
    assert run_cli(["bench", "gemm", "--sizes", "3x4", *QUICK]) == 2
    assert "MxNxK" in capsys.readouterr().out
    assert run_cli(["bench", "fft", *QUICK]) == 2


# ---------------------------------------------------------------- harness pieces


def test_aligned_buffers():
    for shape in [(3,), (5, 7), (1,)]:
        a = bench.aligned_empty(shape, np.float32)
        assert a.shape == shape and a.flags.c_contiguous
        assert a.ctypes.data % 64 == 0 and bench.alignment(a) >= 64
    b = bench.aligned_empty((9,), np.float64)[1:]  # deliberately off by one element
    assert bench.alignment(b) == 8
    # every argument at its fixed place in a page, copies too
    work = bench.Workload(ALL["mac"], "100", {"N": 100}, "f32")
    args = work.inputs()
    assert [a.ctypes.data % 4096 for a in args] == list(bench.PAGE_OFFSETS)
    assert [a.ctypes.data % 4096 for a in work.fresh(args)] == list(bench.PAGE_OFFSETS)
    assert [a.ctypes.data % 4096 for a in bench.fresh(args)] == list(bench.PAGE_OFFSETS)
    # any kernel: outputs at 0, inputs 1 KiB apart; scalars passed through
    iir = bench.Workload(ALL["iir"], "50", {"N": 50}, "f64")
    a, x, y = iir.inputs()
    assert a == 0.5 and (x.ctypes.data % 4096, y.ctypes.data % 4096) == (1024, 0)


def test_plan_rows_skip_what_is_the_same_code():
    rows = bench.plan_rows("mac", ["16"], ["none", "llvm-auto", "affine", "manual", "multi-acc",
                                           "c-plain", "c-pragma"], [1, 2, 3], "f32", {"gcc": "gcc"})
    got = [(r.label, r.factor) for r in rows]
    assert got == [("none", 1), ("llvm-auto", 1), ("affine", 2), ("affine", 3),
                   ("manual", 2), ("c-plain gcc", 1), ("c-pragma gcc", 1), ("c-pragma gcc", 2),
                   ("c-pragma gcc", 3)]
    rows = bench.plan_rows("gemm", ["16"], ["numpy", "auto", "blas", "cxx-template"], [1, 4], "f32",
                           {"gcc": "gcc"})
    assert [(r.label, r.factor) for r in rows] == [("numpy", 1), ("none", 1), ("auto", 1), ("blas", 1),
                                                   ("cxx-template g++", 4)]


@pytest.mark.parametrize("name, has_numpy, extra", [
    ("mac", True, ["c-macro", "cxx-template"]), ("dot", True, ["multi-acc", "c-plain"]),
    ("gemm", True, ["blas", "multi-acc", "manual"]), ("gemv", True, ["multi-acc"]),
    ("jacobi1d", True, []), ("iir", False, []), ("prefix_sum", True, [])])
def test_default_variants_fit_the_kernel(name, has_numpy, extra):
    got = bench.default_variants(ALL[name], {"gcc": "gcc"})
    assert ("numpy" in got) == has_numpy and "auto" in got and "none" in got
    assert all(v in got for v in extra)
    assert ("blas" in got) == (name == "gemm")
    assert ("manual" in got) == (name in ("mac", "dot", "gemm"))
    assert ("multi-acc" in got) == (name in ("dot", "gemm", "gemv"))
    assert any(v.startswith("c") and "-" in v for v in got) == (name in ("mac", "dot", "gemm"))


def test_tolerance_catches_one_ulp_scaled_errors_but_not_rounding():
    work = bench.Workload(ALL["dot"], "10000", {"N": 10000}, "f32")
    arrays = work.inputs()
    want, scale = work.reference(arrays)
    tol = work.tolerance()
    # a float32 sequential sum is within tolerance; adding one element's worth is not
    got = np.float32(arrays[2][0])
    for x, y in zip(arrays[0], arrays[1]):
        got = np.float32(got + x * y)
    assert work.error(np.array([float(got)]), want, scale) <= tol
    assert work.error(np.array([float(got) + 0.25]), want, scale) > tol


@pytest.mark.parametrize("name", sorted(NUMPY))
def test_numpy_forms_compute_what_the_kernel_computes(name):
    """numpy's row (preallocated outputs) against the reference interpreter, same inputs, f64."""
    from unrollkit.runtime.interpreter import interpret
    k = ALL.get(name) or MORE[name]
    dims = {n: 37 for n in bench_workload.size_names(k)}
    work = bench.Workload(k, "37", dims, "f64")
    args = work.inputs(seed=3)
    mine, theirs = work.fresh(args), work.fresh(args)
    fn, _ = work.numpy_form()
    fn(mine)
    fn(mine)  # twice: a preallocated temporary must not leak state from one call to the next
    interpret(k, *theirs)
    interpret(k, *theirs)
    np.testing.assert_allclose(work.result(mine), work.result(theirs), rtol=1e-12, atol=1e-12)


def test_sizes_by_name_and_shorthand():
    gemm, iir = ALL["gemm"], ALL["iir"]
    assert bench.parse_size(gemm, "8x9x10") == {"M": 8, "N": 9, "K": 10}
    assert bench.parse_size(gemm, "M=3,N=4,K=5") == {"M": 3, "N": 4, "K": 5}
    assert bench.parse_size(ALL["gemv"], "7") == {"M": 7, "N": 7}
    with pytest.raises(UnrollkitError, match=r"unknown \['Q'\]"):
        bench.parse_size(iir, "N=4,Q=3")
    with pytest.raises(UnrollkitError, match=r"missing \['K'\]"):
        bench.parse_size(gemm, "M=3,N=4")
    with pytest.raises(UnrollkitError, match="by name"):
        bench.parse_size(iir, "64", builtin=False)


def test_flops_and_bytes_of_any_kernel():
    gemm = bench.Workload(ALL["gemm"], "x", {"M": 3, "N": 4, "K": 5}, "f32")
    assert gemm.flops() == 2 * 3 * 4 * 5 and gemm.bytes() == 4 * (15 + 20 + 12)
    assert not gemm.streaming()
    jac = bench.Workload(ALL["jacobi1d"], "x", {"N": 10}, "f64")
    assert jac.flops() == 3 * 8 and jac.bytes() == 8 * 20
    assert bench.Workload(ALL["mac"], "x", {"N": 10}, "f32").streaming()


# ---------------------------------------------------------------- any kernel, the summary, the peak


TINY = {"mac": "100", "dot": "100", "gemm": "12x10x8", "gemv": "9", "jacobi1d": "100", "iir": "100",
        "prefix_sum": "100"}


@pytest.mark.parametrize("name", sorted(TINY))
def test_every_builtin_benchmarks_with_auto_numpy_and_the_peak(name, tmp_path, capsys):
    out = tmp_path / f"{name}.json"
    code = run_cli(["bench", name, "--sizes", TINY[name], "--factors", "1,2", "--json", str(out), *QUICK])
    text = capsys.readouterr().out
    assert code == 0, text
    data = json.loads(out.read_text())
    rows = {r["label"]: r for r in data["rows"]}
    assert rows["auto"]["verified"] and rows["auto"]["median_s"] > 0 and rows["auto"]["note"].startswith("=")
    assert all(r["verified"] for r in data["rows"] if not r["error"])
    assert ("numpy" in rows) == (name in NUMPY)
    assert ("blas" in rows) == (name == "gemm")
    if name in NUMPY:
        n = rows["numpy"]
        assert n["vs_numpy"] == pytest.approx(1.0) and len(n["paired_numpy"]) == 2
        assert len(rows["auto"]["paired_numpy"]) == 2 and rows["auto"]["vs_numpy"] > 0
        assert data["environment"]["numpy_reference"][TINY[name]].startswith(("np.", "out[0]"))
    peaks = data["environment"]["peaks"]
    assert peaks["fma"]["f32"]["gflops"] > 0 and peaks["bandwidth"]["DRAM"] > 0
    assert all(r["peak_pct"] > 0 for r in data["rows"] if r["samples"])
    flat = " ".join(text.split())  # rich wraps lines at 80 columns
    summary = flat[flat.index(f"{name} {TINY[name]}: auto"):]
    summary = summary[:summary.index("variant ×N")]
    assert ("× numpy" in summary) == (name in NUMPY) and "% of" in summary
    assert "best fixed variant" in summary


def test_a_user_kernel_file(tmp_path, capsys):
    src = tmp_path / "mine.py"
    src.write_text("import unrollkit as uk\n\n@uk.kernel\ndef saxpy(a: uk.f32, x: uk.f32['N'], "
                   "y: uk.f32['N']):\n    for i in range(N):\n        y[i] += a * x[i]\n")
    out = tmp_path / "s.json"
    code = run_cli(["bench", f"{src}:saxpy", "--size", "N=333", "--factors", "1,4", "--json", str(out),
                    *QUICK])
    assert code == 0, capsys.readouterr().out
    rows = json.loads(out.read_text())["rows"]
    assert {r["label"] for r in rows} >= {"none", "affine", "auto", "vector-acc"}
    assert "numpy" not in {r["label"] for r in rows}  # a user kernel has no numpy equivalent
    assert all(r["verified"] for r in rows if not r["error"])
    capsys.readouterr()
    assert run_cli(["bench", f"{src}:saxpy", *QUICK]) == 2
    assert "--size N=1024" in capsys.readouterr().out
    assert run_cli(["bench", f"{src}:saxpy", "--size", "N=10,M=3", *QUICK]) == 2
    assert "unknown ['M']" in capsys.readouterr().out
    assert run_cli(["bench", f"{src}:saxpy", "--size", "N=10", "--variants", "c-pragma", *QUICK]) == 2
    assert "mac, dot and gemm only" in capsys.readouterr().out


def test_a_wrong_user_kernel_result_is_caught_by_the_interpreter(monkeypatch, capsys):
    """A kernel without numpy's equivalent is checked against the reference interpreter."""
    real_call = bench.IRRunner.call

    def corrupt(self, arrays):
        real_call(self, arrays)
        if self.jk.plan.variant == "pragma":
            arrays[2][5] += 1e-3
    monkeypatch.setattr(bench.IRRunner, "call", corrupt)
    assert run_cli(["bench", "iir", "--sizes", "64", "--factors", "1,2", "--variants", "pragma",
                    *QUICK]) != 0
    assert "MISMATCH" in capsys.readouterr().out


def test_factor_sweep_prints_speedup_and_compile_time_and_plots_both(tmp_path, capsys):
    png = tmp_path / "iir.png"
    code = run_cli(["bench", "iir", "--sizes", "64", "--factors", "1,2,4,8,16,32,64",
                    "--variants", "affine", "--plot", str(png), *QUICK])
    text = capsys.readouterr().out
    assert code == 0, text
    assert "speedup against none ×1, by unroll factor" in text and "compile time, s" in text
    line = next(ln for ln in text.splitlines() if ln.lstrip().startswith("affine ") and "×" not in ln)
    assert len(line.split()) == 1 + 6  # a value at every factor but 1
    if importlib.util.find_spec("matplotlib"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_tables_fit_80_columns_and_wide_shows_every_column():
    from typer.testing import CliRunner

    from unrollkit.cli.app import app
    args = ["bench", "gemm", "--sizes", "16", "--factors", "1,8", "--compilers", "gcc", *QUICK]
    narrow = CliRunner().invoke(app, args, env={"COLUMNS": "80"})
    assert narrow.exit_code == 0, narrow.output
    assert max(len(ln) for ln in narrow.output.splitlines()) <= 80
    assert "code B" not in narrow.output and "%pk" in narrow.output and "×np" in narrow.output
    assert "'no×4': it is not" in narrow.output  # the legend of the asm column
    assert "compute-bound: %pk of FMA peak" in narrow.output
    wide = CliRunner().invoke(app, args + ["--wide", "--variants", "none,pragma"], env={"COLUMNS": "80"})
    assert wide.exit_code == 0 and "code B" in wide.output and "spills" in wide.output


def test_the_peak_is_measured_once_per_cpu_and_cached(tmp_path, monkeypatch):
    from unrollkit.tools import peak
    monkeypatch.setenv("UNROLLKIT_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("UNROLLKIT_CACHE", raising=False)
    calls = []
    real = peak.measure
    monkeypatch.setattr(peak, "measure", lambda target=None: calls.append(1) or real(target))
    first = peak.peaks()
    second = peak.peaks()
    assert calls == [1] and not first["cached"] and second["cached"]
    files = list(tmp_path.glob("peak-*.json"))
    assert len(files) == 1 and json.loads(files[0].read_text())["cpu"] == first["cpu"]
    f32, f64 = first["fma"]["f32"]["gflops"], first["fma"]["f64"]["gflops"]
    assert f32 > f64 > 0  # f32 has twice the lanes
    files[0].write_text("{damaged")
    assert not peak.peaks()["cached"] and len(calls) == 2
    data = json.loads(files[0].read_text())
    data["features"] = "+other"  # another CPU's figures are not ours
    files[0].write_text(json.dumps(data))
    assert not peak.peaks()["cached"] and len(calls) == 3
    assert not peak.peaks(remeasure=True)["cached"] and len(calls) == 4


def test_rows_above_a_low_cached_peak_are_flagged(monkeypatch, capsys):
    from unrollkit.tools import peak
    low = {"fma": {"f32": {"gflops": 1e-3}, "f64": {"gflops": 1e-3}},
           "bandwidth": {lvl: 1e-3 for lvl in peak.LEVELS}, "cached": True,
           "footprints": {"L1": 16384, "L2": 1 << 19, "L3": 1 << 21, "DRAM": 1 << 27}}
    monkeypatch.setattr(peak, "peaks", lambda remeasure=False: low)
    assert run_cli(["bench", "mac", "--sizes", "64", "--factors", "1", "--variants", "none", *QUICK]) == 0
    assert "--remeasure-peak" in " ".join(capsys.readouterr().out.split())


def test_the_fma_loop_computes_its_chains():
    """The peak's kernel is real work: lane 0 of the sum of its chains after n trips."""
    import ctypes

    from unrollkit.codegen import backend
    from unrollkit.tools import peak
    mod = backend.optimize(peak.fma_loop_ir(4, 3, "double"), backend.LLVMPolicy())
    fn = backend.Engine(mod).function("uk_fma_peak", ctypes.c_double,
                                      [ctypes.c_int64, ctypes.c_double, ctypes.c_double])
    acc = 0.25
    for _ in range(7):
        acc = acc * 0.5 + 0.25
    assert fn(7, 0.5, 0.25) == pytest.approx(3 * acc)
    p = {"fma": {"f32": {"gflops": 100.0}}, "bandwidth": {"L1": 200.0, "L2": 100.0, "L3": 50.0,
                                                          "DRAM": 10.0},
         "footprints": {"L1": 16384, "L2": 1 << 19, "L3": 1 << 21, "DRAM": 1 << 27}}
    assert peak.roofline(2e9, 1e3, "f32", p)["bound"] == "compute"
    roof = peak.roofline(1e6, 1e9, "f32", p)
    assert roof["bound"] == "memory" and roof["level"] == "DRAM" and roof["seconds"] == pytest.approx(0.1)


def test_bench_validate_takes_validates_options_and_writes_only_where_told(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    args = ["--cases", "mac-L1-f64-odd", "--max-factor", "2", "--repeat", "1", "--target-ms", "0.5"]
    assert run_cli(["bench", "validate", *args]) == 0, capsys.readouterr().out
    assert run_cli(["validate", *args]) == 0, capsys.readouterr().out
    assert not any(tmp_path.iterdir())  # printed only: no bench/VALIDATE.md in the cwd
    assert run_cli(["bench", "validate", *args, "--out", "res"]) == 0
    assert sorted(p.name for p in (tmp_path / "res").iterdir()) == ["VALIDATE.md", "validate.json"]
    assert run_cli(["bench", "validate", "--cases", "nosuch"]) == 2
    assert "the cases are" in capsys.readouterr().out
    assert run_cli(["bench", "validate", "--sizes", "12"]) == 2
    assert run_cli(["bench", "mac", "--cases", "mac"]) == 2


def test_out_writes_json_markdown_and_figure(tmp_path):
    code = run_cli(["bench", "dot", "--sizes", "64", "--factors", "1,2", "--variants", "none,affine",
                    "--out", str(tmp_path / "o"), *QUICK])
    assert code == 0
    names = sorted(p.name for p in (tmp_path / "o").iterdir())
    assert names[:2] == ["dot.json", "dot.md"]
    assert "## dot 64: every row" in (tmp_path / "o" / "dot.md").read_text()


def test_more_builtins_by_name_with_numpy_rows():
    # softmax, layernorm, dot_scalar: named like the built-ins, beside numpy; multi-acc is
    # offered for their carried reductions (the row max, the row sums, acc += x*y)
    from unrollkit.tools.kernel_ref import resolve_kernel
    for name in ("softmax", "layernorm", "dot_scalar"):
        k = resolve_kernel(name)
        assert k is MORE[name] and bench_workload.is_builtin(k)
        got = bench.default_variants(k, {})
        assert {"numpy", "multi-acc", "vector-acc", "auto"} <= set(got), got
    assert bench.parse_size(MORE["softmax"], "33") == {"M": 33, "N": 33}


def test_size_names_integer_scalars_in_bounds():
    from differential import kernel_from
    k = kernel_from('''
def steps(tsteps: uk.i32, a: uk.T["N"]):
    for t in range(tsteps):
        for i in range(1, N):
            a[i] = a[i] + a[i - 1]
''')
    assert bench_workload.size_names(k) == ["N", "tsteps"]
    assert bench.parse_size(k, "N=9,tsteps=4", builtin=False) == {"N": 9, "tsteps": 4}
    with pytest.raises(UnrollkitError, match=r"missing \['tsteps'\]"):
        bench.parse_size(k, "N=9", builtin=False)
    work = bench.Workload(k, "N=9,tsteps=4", {"N": 9, "tsteps": 4}, "f64")
    assert work.inputs()[0] == 4
