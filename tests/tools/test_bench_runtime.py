"""`unrollkit bench runtime` (unrollkit/tools/bench_runtime.py): its measurements run end to end and
check every contender's result first. Timings themselves are not asserted (benchmarks, not
unit tests)."""
from __future__ import annotations

import numpy as np

from unrollkit.runtime import parallel

from unrollkit.tools import bench_runtime


def test_paired_rounds_report_medians_and_ratios_to_the_first():
    calls = {"a": 0, "b": 0}

    def a():
        calls["a"] += 1

    def b():
        calls["b"] += 1
        sum(range(200))

    rows = bench_runtime.paired({"a": a, "b": b}, rounds=3, seconds=0.002)
    assert set(rows) == {"a", "b"} and rows["a"][1] == 1.0
    assert rows["b"][1] > 1.0 and calls["a"] > 3 and calls["b"] > 3


def test_call_overhead_and_scaling_run_and_check_their_results():
    overhead = bench_runtime.call_overhead(1, 0.001)
    names = [n for n, _, _ in overhead]
    assert any("fast path" in n for n in names) and any("raw ctypes" in n for n in names)
    assert all(t > 0 for _, t, _ in overhead)
    scale = bench_runtime.scaling(1, 0.001, quick=True)
    assert [s[0].split()[0] for s in scale] == ["gemm", "mac", "2-D"]
    for _, rows, flops, threads in scale:
        assert "unrollkit, 1 thread" in rows and f"unrollkit, {threads} threads" in rows
        assert flops > 0


def test_small_calls_stay_on_one_thread_below_the_threshold():
    """At the threshold a call splits when it has two threads or more (pinned to one CPU, or
    UNROLLKIT_NUM_THREADS=1, it never does)."""
    rows = bench_runtime.small_calls(1, 0.001, quick=True)
    splits = parallel.default_threads() > 1
    assert [(m, split) for m, split, _ in rows] == [(4096, False), (parallel.AUTO_MIN_ITERATIONS, splits)]


def test_markdown_names_the_machine_and_every_table():
    env = {"cpu_model": "CPU", "cpu": "znver4", "cpus": 2, "time": "now", "numpy": np.__version__,
           "versions": {"unrollkit": "0", "mlir": "22", "llvmlite_llvm": "22.1", "llvmlite": "0.50"},
           "blas": [{"internal_api": "openblas", "version": "0.3"}]}
    small = [(4096, False, {"parallel=False": (1e-6, 1.0), "default (auto decides)": (1e-6, 1.0)})]
    returns = [(1000, {"s = f(x, y)": (1e-6, 1.0), "g(x, y, out)": (2e-6, 2.0),
                       "out[0] = 0; g(x, y, out)": (3e-6, 3.0)})]
    text = bench_runtime.markdown([("call", 1e-6, 1.0)], returns,
                                  [("gemm", {"unrollkit, 1 thread": (1.0, 1.0)}, 2e9, 2)], small,
                                  [("mac 4096", 0.5, "vector-acc×1")], env, "unrollkit bench runtime")
    assert "## Call overhead" in text and "## Parallel scaling" in text and "auto" in text
    assert "## Calls too small to split" in text and "| 4,096 | no | 1 µs | 1 µs | 1.00 |" in text
    assert "| gemm | unrollkit, 1 thread | 1 s | 2.0 | 1.00 |" in text
    assert "## A returned scalar" in text and "| 1,000 | 1 µs | 2 µs | 3 µs | 2.00 | 3.00 |" in text


def test_the_returned_scalar_rows_check_both_forms_and_time_each():
    rows = bench_runtime.returned_scalar(1, 0.001, quick=True)
    assert [n for n, _ in rows] == [1000, 65536]
    for _, contenders in rows:
        assert list(contenders) == ["s = f(x, y)", "g(x, y, out)", "out[0] = 0; g(x, y, out)"]
        assert all(t > 0 for t, _ in contenders.values())
