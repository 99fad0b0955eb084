"""Resources: compiled code is released (LRU), and a compiled kernel is safe to call from threads."""
import gc
import threading
import weakref

import numpy as np

import unrollkit as uk
import unrollkit.runtime.jit_kernel as runtime
from unrollkit.kernels import gemm, mac


def rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20


def test_many_signatures_keep_memory_bounded(monkeypatch):
    """150 distinct shapes through one jitted kernel: at most MAX_SIGNATURES engines stay alive.
    Measured here: ~0.1 MiB per compile with eviction (LLVM's pass-pipeline construction keeps a
    little), ~0.9 MiB without; the bound below fails if evicted engines are not released."""
    monkeypatch.setenv("UNROLLKIT_CACHE", "0")
    monkeypatch.setattr(runtime, "MAX_SIGNATURES", 8)
    f = uk.jit(gemm, factor=8)
    B = np.ones((16, 24), np.float32)

    def run(n):
        A = np.ones((n, 16), np.float32)
        C = np.zeros((n, 24), np.float32)
        f(A, B, C)
        assert (C == 16).all()

    for n in range(1, 31):
        run(n)
    gc.collect()
    before = rss_mib()
    for n in range(31, 181):
        run(n)
    gc.collect()
    grown = rss_mib() - before
    assert len(f._compiled) == 8
    assert grown < 150 * 0.4, f"memory grew {grown:.1f} MiB over 150 compiles"


def test_evicted_engines_are_released_once_unreferenced(monkeypatch):
    """Eviction drops the LRU's reference only: a handle the caller kept stays callable; an
    engine nothing references any more is freed (issue 11)."""
    monkeypatch.setattr(runtime, "MAX_SIGNATURES", 2)
    f = uk.jit(mac)
    a = np.ones(3, np.float32)
    f(a, a, a.copy())
    kept = f.last
    for n in range(4, 12):  # evicts n=3 from the LRU (and from any recent-signature table)
        b = np.ones(n, np.float32)
        f(b, b, b.copy())
    assert len(f._compiled) == 2 and kept.engine.alive  # evicted but held: still callable
    c = np.zeros(3, np.float32)
    kept.cfunc(a.ctypes.data, a.ctypes.data, c.ctypes.data)
    assert (c == 1).all()
    engine = weakref.ref(kept.engine)
    del kept
    gc.collect()
    assert engine() is None  # released once unreferenced
    c = a.copy()
    f(a, a, c)  # recompiled on demand, still correct
    assert (c == 2).all()


def test_one_compiled_kernel_called_from_many_threads():
    f = uk.jit(gemm, factor=4)
    rng = np.random.default_rng(1)
    A = rng.random((64, 48)).astype(np.float32)
    B = rng.random((48, 40)).astype(np.float32)
    expected = A @ B
    errors = []

    def worker():
        try:
            for _ in range(20):
                C = np.zeros((64, 40), np.float32)
                f(A, B, C)
                np.testing.assert_allclose(C, expected, rtol=1e-5)
        except Exception as exc:  # collected and re-raised in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]
    assert len(f._compiled) == 1  # all threads shared one compile


def test_first_calls_from_many_threads_compile_once():
    f = uk.jit(mac, factor=2)
    a = np.ones(100, np.float32)
    outs = [np.ones(100, np.float32) for _ in range(8)]
    threads = [threading.Thread(target=f, args=(a, a, o)) for o in outs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all((o == 2).all() for o in outs)
    assert len(f._compiled) == 1
