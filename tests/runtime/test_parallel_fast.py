"""The fast path of parallel calls (`parallel.SplitCall`, `_fastcall.run_split`): a parallel call
signature checked once runs its row blocks without the Python checks, computes what numpy
computes, gives every other argument to the full checks, and never runs a block outside the
call's arrays."""
from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

import unrollkit as uk
from unrollkit.kernels import gemm, mac
from unrollkit.runtime import dispatch, parallel
from unrollkit.runtime.jit_kernel import JitKernel

from conftest import OUTSIDE, needs_pool



def mac_args(n, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return [rng.random(n).astype(dtype) for _ in range(3)]


@needs_pool
def test_later_calls_skip_the_python_checks_and_stay_right(monkeypatch):
    f = uk.jit(mac, factor=4, parallel=True, threads=2)
    a, b, c = mac_args(1001)
    f(a, b, c)
    assert len(f._fast_split) == 1 and f._last_blocks is not None

    def no_checks(self, args):
        raise AssertionError("the full checks ran")
    monkeypatch.setattr(JitKernel, "signature", no_checks)
    for seed in range(1, 6):  # new data every call, through the fast path only
        a2, b2, c2 = mac_args(1001, seed)
        want = c2 + a2 * b2
        f(a2, b2, c2)
        np.testing.assert_allclose(c2, want, rtol=1e-12)
    assert f.last is f._fast_split[0].owner


@needs_pool
def test_the_fast_path_covers_every_block_of_an_odd_gemm():
    f = uk.jit(gemm, factor=2, parallel=True, threads=3)
    rng = np.random.default_rng(3)
    A, B = rng.random((101, 7)), rng.random((7, 9))
    for _ in range(3):
        C = rng.random((101, 9))
        want = C + A @ B
        f(A, B, C)
        np.testing.assert_allclose(C, want, rtol=1e-12)
    split = f._fast_split[0]
    assert [lo for _, lo in split.blocks] == [lo for _, lo, _ in split.plan] == [
        lo for lo, _ in parallel.blocks(101, 3 * parallel.CHUNKS_PER_THREAD)]


def changed_args(change):
    """mac arguments that differ from a checked 1000-element float64 signature by ``change``."""
    a, b, c = mac_args(2000)
    if change == "strided":
        return a[::2], b[::2], c[::2]
    if change == "shape":
        return a[:999], b[:999], c[:999]
    if change == "dtype":
        return a[:1000].astype(np.float32), b[:1000], c[:1000]
    return a[:1000], b[:1000], a[:1000]  # aliased: the output is an input too


def outcome(fn, args):
    """The output array after the call, or the refusal (type, message)."""
    try:
        fn(*args)
    except Exception as exc:  # compared between the two calls
        return type(exc), str(exc)
    return args[2].copy()


@needs_pool
@pytest.mark.parametrize("change", ["strided", "shape", "dtype", "aliased"])
def test_other_arguments_take_the_full_checks(change):
    f = uk.jit(mac, factor=2, parallel=True, threads=2)
    f(*mac_args(1000))
    got = outcome(f, changed_args(change))
    want = outcome(uk.jit(mac, factor=2), changed_args(change))  # the same checks, one thread
    if isinstance(want, tuple):
        assert got == want
    else:
        np.testing.assert_allclose(got, want, rtol=1e-12)


@needs_pool
def test_the_whole_call_matcher_never_runs_code():
    f = uk.jit(mac, factor=2, parallel=True, threads=2)
    args = mac_args(640)
    f(*args)
    split = f._fast_split[0]
    before = args[2].copy()
    assert split.matcher(tuple(args)) is False   # a check-only FastCall: it answers, never runs
    np.testing.assert_array_equal(args[2], before)
    assert split(tuple(args)) is True


@needs_pool
@pytest.mark.parametrize("shift", ["past the end", "negative", "other kernel"])
def test_a_block_outside_the_arrays_is_refused_before_anything_runs(shift):
    f = uk.jit(mac, factor=2, parallel=True, threads=2)
    args = mac_args(640)
    f(*args)
    split = f._fast_split[0]
    (fc0, _), *middle, (fc1, lo1) = split.blocks
    if shift == "past the end":
        blocks = ((fc0, 0), *middle, (fc1, lo1 + 1))      # one row beyond the last
    elif shift == "negative":
        blocks = ((fc0, -1), *middle, (fc1, lo1))
    else:  # a block compiled for other arrays (a float32 signature)
        h = uk.jit(mac, factor=2, parallel=True, threads=2)
        h(*mac_args(640, dtype=np.float32))
        blocks = ((h._fast_split[0].blocks[0][0], 0), *middle, (fc1, lo1))
    before = args[2].copy()
    with pytest.raises(RuntimeError, match="a row block does not fit the call's arrays"):
        dispatch.run_split(split.matcher, tuple(args), blocks, split.sliced, 2)
    np.testing.assert_array_equal(args[2], before)


@needs_pool
def test_an_idle_pool_wakes_up_for_the_next_call():
    # the workers spin for a fraction of a millisecond after a call, then sleep: a call after
    # they fell asleep must still wake them (not hang, not run a block twice)
    import time
    f = uk.jit(mac, factor=2, parallel=True, threads=2)
    for pause in (0.0, 0.01, 0.0, 0.05):
        a, b, c = mac_args(4096, int(pause * 100))
        want = c + a * b
        time.sleep(pause)
        f(a, b, c)
        np.testing.assert_allclose(c, want, rtol=1e-12)


@needs_pool
def test_a_fork_during_a_parallel_call_in_another_thread_does_not_hang_the_child():
    # the pool's locks are re-made in the child (pthread_atfork): one held by the parent's
    # calling thread at the fork would otherwise be held forever
    code = textwrap.dedent("""
        import os, threading, numpy as np, unrollkit as uk
        from unrollkit.kernels import mac
        f = uk.jit(mac, factor=2, parallel=True, threads=2)
        big = [np.ones(1 << 20) for _ in range(3)]
        f(*big)
        stop = []
        def hammer():
            while not stop:
                f(*big)
        t = threading.Thread(target=hammer)
        t.start()
        ok = 0
        for _ in range(10):
            pid = os.fork()
            if pid == 0:
                a = [np.ones(4096) for _ in range(3)]
                f(*a)
                os._exit(0 if a[2][0] == 2.0 else 3)
            ok += os.WEXITSTATUS(os.waitpid(pid, 0)[1]) == 0
        stop.append(1)
        t.join()
        print(ok)
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=OUTSIDE)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "10"
