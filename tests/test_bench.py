"""``unrollkit bench``: the command on tiny sizes, its JSON, and that a wrong result fails the run."""
from __future__ import annotations

import json

import numpy as np
import pytest

from unrollkit import bench
from unrollkit.cli import main

QUICK = ["--repeat", "2", "--target-ms", "1"]


def run_cli(argv):
    """Run the command in process; its exit code (0 when it returns normally)."""
    try:
        main(argv)
    except SystemExit as exc:
        return exc.code
    return 0


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
    args = bench.make_inputs("mac", {"N": 100}, "f32")
    assert [a.ctypes.data % 4096 for a in args] == list(bench.PAGE_OFFSETS)
    assert [a.ctypes.data % 4096 for a in bench.fresh(args)] == list(bench.PAGE_OFFSETS)


def test_plan_rows_skip_what_is_the_same_code():
    rows = bench.plan_rows("mac", ["16"], ["none", "llvm-auto", "affine", "manual", "multi-acc",
                                           "c-plain", "c-pragma"], [1, 2, 3], "f32", {"gcc": "gcc"})
    got = [(r.label, r.factor) for r in rows]
    assert got == [("numpy", 1), ("none", 1), ("llvm-auto", 1), ("affine", 2), ("affine", 3),
                   ("manual", 2), ("c-plain gcc", 1), ("c-pragma gcc", 1), ("c-pragma gcc", 2),
                   ("c-pragma gcc", 3)]


def test_tolerance_catches_one_ulp_scaled_errors_but_not_rounding():
    dims = {"N": 10000}
    arrays = bench.make_inputs("dot", dims, "f32")
    want, scale = bench.reference("dot", arrays)
    tol = bench.tolerance("dot", dims, "f32")
    # a float32 sequential sum is within tolerance; adding one element's worth is not
    got = np.float32(arrays[2][0])
    for x, y in zip(arrays[0], arrays[1]):
        got = np.float32(got + x * y)
    assert abs(float(got) - want[0]) / scale[0] <= tol
    assert abs(float(got) + 0.25 - want[0]) / scale[0] > tol
