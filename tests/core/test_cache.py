"""The disk cache: hits, invalidation by key, corruption, relocation, concurrency, CLI."""
import multiprocessing as mp
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import unrollkit as uk
from unrollkit.core import cache
from unrollkit.kernels import gemm, mac
from conftest import OUTSIDE


def run_mac(factor=4, n=64, dt=np.float32, **kw):
    a, b, c = (np.full(n, 2, dt) for _ in range(3))
    f = uk.jit(mac, factor=factor, **kw)
    f(a, b, c)
    assert (c == 6).all()
    return f.last


def test_second_compile_is_a_disk_hit(cache_dir):
    first = run_mac()
    assert not first.from_cache
    assert len(list(cache_dir.glob("*.ukc"))) == 1
    second = run_mac()
    assert second.from_cache
    assert second.ir("transformed") == first.ir("transformed")
    assert "mac:" in second.ir("asm")
    assert second.code_bytes == first.code_bytes > 0


@pytest.mark.parametrize("change", [dict(factor=2), dict(n=65), dict(dt=np.float64),
                                    dict(llvm=uk.LLVMPolicy(unroll=True)),
                                    dict(pipeline="canonicalize")])
def test_key_covers_what_changes_the_code(cache_dir, change):
    run_mac()
    other = run_mac(**change)
    assert not other.from_cache
    assert len(list(cache_dir.glob("*.ukc"))) == 2


def test_kernel_source_is_in_the_key(cache_dir):
    @uk.kernel
    def k1(x: uk.f32["N"]):
        for i in range(N):  # noqa: F821
            x[i] = x[i] + 1.0

    @uk.kernel
    def k2(x: uk.f32["N"]):
        for i in range(N):  # noqa: F821
            x[i] = x[i] + 2.0

    x = np.zeros(4, np.float32)
    uk.jit(k1)(x)
    f = uk.jit(k2.__class__(**{**k2.__dict__, "name": "k1"}))  # same name, other body
    f(x)
    assert not f.last.from_cache
    assert (x == 3).all()


@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage", "empty"])
def test_corrupted_entry_is_detected_and_rebuilt(cache_dir, damage):
    run_mac()
    (entry,) = cache_dir.glob("*.ukc")
    data = entry.read_bytes()
    if damage == "truncate":
        entry.write_bytes(data[: len(data) // 2])
    elif damage == "flip":
        i = len(data) - 100
        entry.write_bytes(data[:i] + bytes([data[i] ^ 0xFF]) + data[i + 1:])
    elif damage == "garbage":
        entry.write_bytes(os.urandom(len(data)))
    else:
        entry.write_bytes(b"")
    again = run_mac()
    assert not again.from_cache  # rebuilt, and correct (run_mac checks the result)
    assert run_mac().from_cache  # and the rebuilt entry is whole again


def test_cache_can_be_disabled(cache_dir, monkeypatch):
    monkeypatch.setenv("UNROLLKIT_CACHE", "0")
    run_mac()
    assert not run_mac().from_cache
    assert not cache_dir.exists() or not list(cache_dir.glob("*.ukc"))


def test_unwritable_cache_only_costs_a_recompile(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("UNROLLKIT_CACHE_DIR", str(blocker / "sub"))
    assert not run_mac().from_cache


def _compile_in_child(d, q):
    os.environ["UNROLLKIT_CACHE_DIR"] = d
    import numpy as np
    import unrollkit as uk
    from unrollkit.kernels import gemm
    A = np.ones((40, 30), np.float32)
    B = np.ones((30, 20), np.float32)
    C = np.zeros((40, 20), np.float32)
    uk.jit(gemm, factor=4)(A, B, C)
    q.put(bool((C == 30).all()))


def test_two_processes_compiling_the_same_kernel_both_succeed(cache_dir):
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    procs = [ctx.Process(target=_compile_in_child, args=(str(cache_dir), q)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0]
    assert [q.get(timeout=5), q.get(timeout=5)] == [True, True]
    assert len(list(cache_dir.glob("*.ukc"))) == 1
    assert not list(cache_dir.glob(".tmp-*"))


def test_cache_cli_info_and_clear(cache_dir):
    run_mac()
    env = dict(os.environ, UNROLLKIT_CACHE_DIR=str(cache_dir))
    exe = [sys.executable, "-m", "unrollkit"]
    out = subprocess.run(exe + ["cache", "info"], capture_output=True, text=True, env=env, check=True,
                         cwd=OUTSIDE).stdout
    assert str(cache_dir) in out and "entries: 1" in out
    out = subprocess.run(exe + ["cache", "clear"], capture_output=True, text=True, env=env, check=True,
                         cwd=OUTSIDE).stdout
    assert "removed 1 entries" in out
    assert cache.info()["entries"] == 0


def test_gemm_cache_hit_is_fast_enough_to_matter(cache_dir):
    """Not a timing assertion: the hit path must skip MLIR and code generation entirely."""
    A, B, C = np.ones((64, 64), np.float32), np.ones((64, 64), np.float32), np.zeros((64, 64), np.float32)
    uk.jit(gemm, factor=4)(A, B, C)
    f = uk.jit(gemm, factor=4)
    f(A, B, C)
    assert f.last.from_cache and set(f.last.times) == {"cache-load"}
    assert (C == 128).all()
