"""Property-based differential tests: random kernels × pipelines × variants == the interpreter."""
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, strategies as st

from unrollkit.tools.fuzz import Case, RandomChooser, gen_case, run_case, save_case
from conftest import OUTSIDE


class HypothesisChooser:
    """The fuzzer's chooser interface over hypothesis' ``data``: failures shrink."""

    def __init__(self, data):
        self.data = data

    def int(self, lo, hi):
        return self.data.draw(st.integers(lo, hi))

    def choice(self, seq):
        return self.data.draw(st.sampled_from(list(seq)))


@given(st.data())
def test_random_kernels_match_the_interpreter(data):
    # in process only: the classes that need a child process run in test_fuzz_classes.py
    case = gen_case(HypothesisChooser(data), isolated=False)
    assert run_case(case) in ("ok", "refused")


def test_generated_kernels_cover_the_space():
    cases = [gen_case(RandomChooser(s)) for s in range(200)]
    assert {c.dtype for c in cases} == {"f32", "f64", "i32", "f16", "i8", "u8", "i16"}
    assert any("range(i + 1" in c.source or "range(j + 1" in c.source for c in cases)  # triangular
    assert any(", 2):" in c.source or ", 3):" in c.source for c in cases)  # steps
    assert any("unroll" in c.pipeline for c in cases)
    assert {c.variant for c in cases} >= {"affine", "none", "llvm-auto", "pragma", "macro", "vector-acc",
                                          "multi-acc", "blas", "auto"}
    assert {c.factor for c in cases} >= {1, 2, 3, 4, 8, 16, 32, 64}
    sources = "\n".join(c.source for c in cases)
    assert "for j2 in range(" in sources and "unroll-jam{loop=i" in "".join(c.pipeline for c in cases)
    assert "C[i, j] += A[i, k] * B[k, j]" in sources and "A[k, i]" in sources  # contractions
    assert "I[n, ci, h + kh, w + kw]" in sources and "I[n, ci, h, w]" in sources  # convolutions
    assert "//" in sources and "%" in sources
    assert ", -1):" in sources and "N - m)" in sources  # backward loops, index scalars
    assert "uk.i8(w[i])" in sources or "uk.u8(w[i])" in sources  # conversions
    assert "acc += j" in sources or "acc += -(-(j))" in sources  # multi-acc's typing case
    assert "uk.zeros(" in sources and "return total" in sources and "uk.unroll(range(" in sources
    assert "mlir{" in "".join(c.pipeline for c in cases)
    assert any(c.isolated() and not c.scenario for c in cases)  # libc or non-ASCII names
    assert {c.scenario.split(":")[0] for c in cases} >= {"", "threads", "tamper"}


def test_a_wrong_result_is_caught(monkeypatch):
    """The oracle comparison can fail: corrupt the compiled output and expect a Mismatch."""
    import unrollkit.runtime.jit_kernel as runtime
    from unrollkit.tools.fuzz import Mismatch
    real_call = runtime.JitKernel.__call__

    def corrupting(self, *args, **kwargs):  # (an odd data seed calls by keyword)
        real_call(self, *args, **kwargs)
        for a in args + tuple(kwargs.values()):
            if isinstance(a, np.ndarray) and a.size:
                a.flat[0] += 1
    monkeypatch.setattr(runtime.JitKernel, "__call__", corrupting)
    case = Case('def fuzz_kernel(x: uk.f64["N"], out: uk.f64["N"]):\n'
                '    for i in range(1, N - 1):\n        out[i] = x[i] * 2.0\n',
                "f64", (("N", 6),), "", "affine", 1)
    with pytest.raises(Mismatch, match="differs from the interpreter"):
        run_case(case)


def test_saved_case_replays(tmp_path):
    case = gen_case(RandomChooser(7))
    path = save_case(case, tmp_path)
    out = subprocess.run([sys.executable, str(path)], capture_output=True, text=True,
                         env=dict(os.environ), timeout=120, cwd=OUTSIDE)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() in ("ok", "refused")


def test_fuzz_cli_runs_clean(tmp_path):
    out = subprocess.run([sys.executable, "-m", "unrollkit", "fuzz", "--examples", "25",
                          "--seed", "3", "--save-dir", str(tmp_path)],
                         capture_output=True, text=True, timeout=300, cwd=OUTSIDE)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "25 examples" in out.stdout and "0 mismatches" in out.stdout
    assert not list(tmp_path.glob("case_*.py"))


def test_a_float64_result_of_a_half_precision_sum_is_judged_at_half_precision():
    # fuzz case 7927910688 (seed 1,000,000 + k): multi-acc reassociates the f16 sum `acc`, and
    # `wout = f64(out) + wout` carries its 1-ulp f16 differences into a float64 array
    case = Case(source='def fuzz_kernel(x: uk.f16["N"], z: uk.f16["N", "M"], w: uk.f64["N"], s: uk.f16, out: uk.f16["N"], wout: uk.f64["N"]):\n    for i in range(N):\n        acc = x[i]\n        for j in range(1, M):\n            acc += uk.f16(w[i] * 3.0) * 3.0\n        out[i] = acc\n        wout[i] = uk.f64(out[i]) + wout[i]\n',
                dtype='f16', sizes=(('N', 10), ('M', 7)), pipeline='mlir{canonicalize,cse}', variant='multi-acc',
                data_seed=25115, factor=2, scenario='')
    assert run_case(case) == "ok"
