"""Issue 11 (safety), the runtime: machine code outlives every caller, kernel symbols never
collide, masked arrays are refused, C-variant builds fail loudly. A reproducer that crashed
before the fix runs in a subprocess, so a crash fails its test instead of killing the suite."""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import unrollkit as uk
from unrollkit.codegen import cvariants as cv
from unrollkit.core.errors import ArgumentError, CompileError
from unrollkit.kernels import mac
from unrollkit.codegen.to_llvm import kernel_symbol
from conftest import OUTSIDE


def run_script(tmp_path, source: str, *args, env=None, timeout=600):
    """Run ``source`` as a file in a fresh interpreter with its own cache; (exit code, output)."""
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(source))
    env = dict(os.environ, UNROLLKIT_CACHE_DIR=str(tmp_path / "cache"), **(env or {}))
    done = subprocess.run([sys.executable, str(script), *map(str, args)], capture_output=True,
                          text=True, env=env, cwd=OUTSIDE, timeout=timeout)
    return done.returncode, done.stdout + done.stderr


# ---------------------------------------------------------------- code freed while in use

LONG_CALL = """
    import threading, time
    import numpy as np
    import unrollkit as uk

    @uk.kernel
    def spin(x: uk.f64["N"], w: uk.f64["T"], s: uk.f64[1]):
        for t in range(T):
            for i in range(N):
                s[0] = s[0] * 0.5 + x[i]

    # the 33 other signatures first, into the disk cache, so that the eviction race below is
    # a matter of milliseconds and the long call need not be very long
    warm = uk.jit(spin)
    others = [(np.ones(n), np.zeros(1), np.zeros(1)) for n in range(1, 34)]
    for args in others:
        warm(*args)
    t0 = time.perf_counter()
    for args in others:
        uk.jit(spin)(*args)
    loads = time.perf_counter() - t0

    f = uk.jit(spin)
    x, s = np.ones(1000), np.zeros(1)
    w = np.zeros(1000)
    f(x, w, s)  # compiled; time one call of 10^6 iterations
    t0 = time.perf_counter()
    f(x, w, s)
    per_t = (time.perf_counter() - t0) / 1000
    for stretch in (4, 16):  # T so that the call outlasts the loads, longer if it did not
        T = int(max(1.0, stretch * loads) / per_t)
        w, s = np.zeros(T), np.zeros(1)
        f.compiled(x, w, s)
        started = threading.Event()
        th = threading.Thread(target=lambda: (started.set(), f(x, w, s)))
        th.start()
        started.wait()
        time.sleep(0.02)
        for args in others:  # 33 other signatures: the long call's is evicted (MAX_SIGNATURES=32)
            f(*args)
        overlapped = th.is_alive()
        th.join()
        assert sig_evicted(f, x, w, s)
        assert abs(s[0] - 2.0) < 1e-12, s[0]
        if overlapped:
            break
    print("overlapped", overlapped)
"""


def test_a_long_call_survives_the_eviction_of_its_code(tmp_path):
    """Before: SIGSEGV (the LRU closed the engine under the running thread)."""
    helper = """
    def sig_evicted(f, *args):
        return f.signature(args)[0] not in f._compiled
    """
    code, out = run_script(tmp_path, helper + LONG_CALL)
    assert code == 0, out
    assert "overlapped True" in out, out  # the eviction did happen during the call


def test_a_kept_handle_stays_callable_after_eviction(tmp_path):
    """Before: the handle's code was freed (use after free; the process crashed at exit)."""
    code, out = run_script(tmp_path, """
    import gc
    import numpy as np
    import unrollkit as uk
    from unrollkit.kernels import mac
    f = uk.jit(mac, factor=4)
    a, c = np.full(7, 2, np.float32), np.zeros(7, np.float32)
    ck = f.compiled(a, a, c)
    for n in range(8, 8 + 40):
        b = np.ones(n, np.float32)
        f(b, b, b.copy())
    gc.collect()
    assert f.signature((a, a, c))[0] not in f._compiled
    ck.cfunc(a.ctypes.data, a.ctypes.data, c.ctypes.data)
    assert (c == 4).all(), c
    ck.time_native([a, a, c], 10)
    ck.crepeat(a.ctypes.data, a.ctypes.data, c.ctypes.data, 5)
    assert (c == 64).all(), c
    fn = ck.cfunc
    del ck, f
    gc.collect()
    fn(a.ctypes.data, a.ctypes.data, c.ctypes.data)  # a bare function pointer holds the code too
    assert (c == 68).all(), c
    print("ok")
    """)
    assert code == 0 and "ok" in out, out


# ---------------------------------------------------------------- symbols

LIBC_NAMES = ["free", "aligned_alloc", "malloc", "memset", "memcpy", "main", "abort", "ñame", "名前"]


@pytest.mark.parametrize("variant", ["blas", "auto", "affine"])
def test_kernel_names_never_collide_with_library_symbols(tmp_path, variant):
    """Before: `free` / `aligned_alloc` with blas or auto crashed (the module declares them);
    non-ASCII names raised UnicodeEncodeError after a full compile."""
    code, out = run_script(tmp_path, """
    import dataclasses, sys
    import numpy as np
    import unrollkit as uk
    from unrollkit.kernels import gemm
    variant, names = sys.argv[1], sys.argv[2:]
    rng = np.random.default_rng(0)
    for name in names:
        k = dataclasses.replace(gemm, name=name)
        A = rng.random((33, 17)).astype(np.float32)
        B = rng.random((17, 29)).astype(np.float32)
        C = np.zeros((33, 29), np.float32)
        f = uk.jit(k, factor="auto") if variant == "auto" else uk.jit(k, factor=4, variant=variant)
        f(A, B, C)
        np.testing.assert_allclose(C, A @ B, rtol=1e-5)
        f.last.time_native([A, B, C], 2)
        np.testing.assert_allclose(C, 3 * (A @ B), rtol=1e-5)
        assert f.last.symbol.isascii() and f.last.symbol.startswith("uk_"), f.last.symbol
        print("ok", name, f.last.symbol)
    """, variant, *LIBC_NAMES)
    assert code == 0, out
    assert out.count("ok ") == len(LIBC_NAMES), out


def test_a_non_ascii_kernel_from_source(tmp_path):
    code, out = run_script(tmp_path, """
    import numpy as np
    import unrollkit as uk

    @uk.kernel
    def échelle(x: uk.f32["N"], y: uk.f32["N"]):
        for i in range(N):
            y[i] = 2.0 * x[i]

    x, y = np.arange(5, dtype=np.float32), np.zeros(5, np.float32)
    f = uk.jit(échelle, factor=2)
    f(x, y)
    assert (y == 2 * x).all()
    assert 'func.func @"\\C3\\A9chelle"' in f.ir("affine")  # MLIR escapes non-ASCII names
    assert "define void @uk__xe9_chelle(" in f.ir("llvm")
    print("ok")
    """)
    assert code == 0 and "ok" in out, out


def test_kernel_symbols_are_injective_ascii_and_prefixed():
    names = ["a", "a_", "a__", "_a", "a_b", "a__b", "aé", "a_xe9_", "a_xe9", "é", "_xe9_", "名前",
             "free", "uk_free", "x1", "x_1"]
    symbols = [kernel_symbol(n) for n in names]
    assert len(set(symbols)) == len(names)
    for s in symbols:
        assert s.startswith("uk_") and s.isascii() and s.replace("_", "").isalnum()


def test_c_kernels_have_fixed_prefixed_symbols():
    """C variants call uk_<kernel> of a fixed list: a C kernel named free or main is refused."""
    for name in ("free", "main", "aligned_alloc"):
        with pytest.raises(cv.CVariantError, match="no C source"):
            cv.build(name, "c-plain", 1)


# ---------------------------------------------------------------- arguments


def test_a_masked_array_is_refused():
    a = np.ma.masked_array(np.ones(8, np.float32), mask=[0, 1] * 4)
    b, c = np.ones(8, np.float32), np.zeros(8, np.float32)
    f = uk.jit(mac)
    for args in [(a, b, c), (b, a, c), (b, b, np.ma.masked_array(c))]:
        with pytest.raises(ArgumentError, match="masked array"):
            f(*args)
    assert (c == 0).all()
    f(b, b, c)  # plain arrays still run
    assert (c == 1).all()


@pytest.mark.needs_cc
@pytest.mark.skipif("gcc" not in cv.compilers(), reason="needs gcc")
def test_a_masked_array_is_refused_by_the_c_variants():
    k = cv.build("mac", "c-plain", 1, "f32", compiler="gcc")
    a = np.ma.masked_array(np.ones(8, np.float32), mask=[0, 1] * 4)
    with pytest.raises(ArgumentError, match="masked array"):
        k(a, np.ones(8, np.float32), np.zeros(8, np.float32))


# ---------------------------------------------------------------- C builds


def test_a_compiler_that_writes_nothing_is_an_error(tmp_path, monkeypatch):
    fake = tmp_path / "bin" / "gcc"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\necho 'gcc (fake) 1.0'\nexit 0\n")
    fake.chmod(0o755)
    monkeypatch.setenv("UNROLLKIT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(cv.shutil, "which", lambda cmd: str(fake) if cmd == "gcc" else None)
    with pytest.raises(CompileError, match="wrote no shared object"):
        cv.build("mac", "c-plain", 1, "f32", compiler="gcc")
    left = list((tmp_path / "cache").rglob("*.so"))
    assert not left, left  # before: a 0-byte .so stayed in the cache


def test_bench_of_c_variants_without_a_compiler_fails_loudly(tmp_path):
    """Before: the C row was dropped silently and the command exited 0."""
    empty = tmp_path / "bin"
    empty.mkdir()
    env = dict(os.environ, PATH=str(empty), UNROLLKIT_CACHE_DIR=str(tmp_path / "cache"))
    done = subprocess.run([sys.executable, "-m", "unrollkit", "bench", "mac", "--variants", "c-plain",
                           "--sizes", "1000"], capture_output=True, text=True, env=env, cwd=OUTSIDE,
                          timeout=300)
    assert done.returncode != 0
    assert "needs a C compiler" in done.stdout + done.stderr
