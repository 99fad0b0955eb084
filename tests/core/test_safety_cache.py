"""Issue 11 (safety), the disk cache: nothing from the cache runs unless it provably is what was
asked for. Stale user passes, entries under another key, damaged-but-checksummed entries,
replaced C shared objects, untrusted folders, and `cache clear` on foreign files. Reproducers
that crashed (or wrote out of bounds) before the fix run in a subprocess."""
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import unrollkit as uk
import unrollkit.passes as P
from unrollkit.core import cache
from unrollkit.codegen import cvariants as cv, so_cache
from unrollkit.core.code_hash import function_digest
from unrollkit.kernels import mac
from conftest import OUTSIDE


def run_script(path, source: str, *args, cache_dir):
    """Run ``source`` from file ``path`` in a fresh interpreter on ``cache_dir``; (code, output)."""
    path.write_text(textwrap.dedent(source))
    env = dict(os.environ, UNROLLKIT_CACHE_DIR=str(cache_dir))
    env.pop("UNROLLKIT_CACHE", None)
    done = subprocess.run([sys.executable, str(path), *map(str, args)], capture_output=True, text=True,
                          env=env, cwd=OUTSIDE, timeout=600)
    return done.returncode, done.stdout + done.stderr


def run_mac(n=64, **kw):
    a, b, c = (np.full(n, 2, np.float32) for _ in range(3))
    f = uk.jit(mac, **kw)
    f(a, b, c)
    assert (c == 6).all()
    return f.last


# ---------------------------------------------------------------- user passes

USER_PASS = """
    import numpy as np
    import unrollkit as uk
    import unrollkit.passes as P
    import unrollkit.core.versions as V

    # the runs must differ in the pass only: pin the hash of unrollkit's own source, which an
    # edit of the checkout between two runs (a developer at work) would change
    V.versions.cache_clear()
    V.source_hash = lambda: "pinned"

    SCALE = {scale}

    def visit(op, value):
        for region in op.regions:
            for block in region.blocks:
                for inner in block.operations:
                    visit(inner.operation, value)
        if op.name == "arith.constant" and str(op.results[0].type) == "f32":
            from mlir import ir
            op.attributes["value"] = ir.FloatAttr.get(ir.F32Type.get(), value)

    @P.function_pass("set-constant")
    def set_constant(module):
        '''Every f32 constant becomes {value} times SCALE.'''
        visit(module.operation, {value} * SCALE)

    @uk.kernel
    def add_constant(x: uk.f32["N"]):
        for i in range(N):
            x[i] = x[i] + 1.0

    x = np.zeros(8, np.float32)
    f = uk.jit(add_constant, pipeline="set-constant")
    f(x)
    print("result", float(x[0]), f.last.from_cache)
"""


def test_a_changed_user_pass_is_recompiled(cache_dir, tmp_path):
    """Before: the second body was served the first one's machine code (2.0, from_cache True)."""
    script = tmp_path / "kernel_with_pass.py"

    def run(value, scale):
        code, out = run_script(script, USER_PASS.format(value=value, scale=scale), cache_dir=cache_dir)
        assert code == 0, out
        return out.split("result", 1)[1].split()

    assert run(2.0, 1) == ["2.0", "False"]
    assert run(2.0, 1) == ["2.0", "True"]      # unchanged: a cache hit
    assert run(3.0, 1) == ["3.0", "False"]     # the function's constant changed
    assert run(3.0, 2) == ["6.0", "False"]     # a global it names changed


def test_function_digest_sees_code_constants_closures_defaults_and_globals():
    def make(k, d=1):
        def f(module, x=d):
            return k + x + len([module])
        return f

    assert function_digest(make(1)) == function_digest(make(1))
    assert function_digest(make(1)) != function_digest(make(2))          # closure cell
    assert function_digest(make(1)) != function_digest(make(1, d=2))     # default

    def g(module):
        return module + 1

    def h(module):
        return module + 2

    assert function_digest(g) != function_digest(h)                      # constant
    global _LIMIT
    _LIMIT = 1
    first = function_digest(_uses_a_global)
    _LIMIT = 2
    assert function_digest(_uses_a_global) != first                     # global it names
    assert function_digest(_calls_a_helper) is not None


_LIMIT = 1


def _uses_a_global(module):
    return _LIMIT


def _helper(x):
    return np.asarray(x) * _LIMIT


def _calls_a_helper(module):
    return _helper(module)


class _Opaque:
    pass


_OPAQUE = _Opaque()


def test_an_unhashable_user_pass_bypasses_the_disk_cache(cache_dir):
    def opaque(module):
        return _OPAQUE  # an object whose repr is not its content

    assert function_digest(opaque) is None
    P.register_function("opaque-pass", opaque)
    try:
        first = run_mac(pipeline="opaque-pass")
        second = run_mac(pipeline="opaque-pass")
        assert not first.from_cache and not second.from_cache
        assert not list(cache_dir.glob("*.ukc"))
        assert run_mac(pipeline="canonicalize") is not None and run_mac(pipeline="canonicalize").from_cache
    finally:
        P.unregister("opaque-pass")


# ---------------------------------------------------------------- entries that are not what was asked


def test_an_entry_under_another_key_is_refused(cache_dir, tmp_path):
    """Before: the entry of mac at N=700 copied under N=82's key was run on 82-element arrays
    and wrote 618 elements past the output."""
    code, out = run_script(tmp_path / "entry_copied.py", """
    import shutil
    import numpy as np
    import unrollkit as uk
    from unrollkit.core import cache
    from unrollkit.codegen.compiler import cache_key
    from unrollkit.kernels import mac

    def key(n):
        f = uk.jit(mac)
        a = np.ones(n, np.float32)
        return cache_key(mac, f.signature((a, a, a))[0], f.plan)

    for n in (700, 82):
        a = np.ones(n, np.float32)
        uk.jit(mac)(a, a, a.copy())
    d = cache.directory()
    shutil.copy(d / (key(700) + cache.SUFFIX), d / (key(82) + cache.SUFFIX))
    big = np.zeros(82 + 1000, np.float32)
    a, c = np.ones(82, np.float32), big[:82]
    f = uk.jit(mac)
    f(a, a, c)
    assert (c == 1).all() and not big[82:].any(), int(np.count_nonzero(big[82:]))
    print("from_cache", f.last.from_cache)
    """, cache_dir=cache_dir)
    assert code == 0, out
    assert "from_cache False" in out


DAMAGE = """
    import base64, hashlib, json, sys
    import numpy as np
    import unrollkit as uk
    from unrollkit.core import cache
    from unrollkit.kernels import dot, mac

    def run():
        a, b, c = (np.full(64, 2, np.float32) for _ in range(3))
        f = uk.jit(mac)
        f(a, b, c)
        assert (c == 6).all(), c
        return f.last.from_cache

    def entries():
        return sorted(cache.directory().glob("*" + cache.SUFFIX))

    x = np.ones(16, np.float32)
    uk.jit(dot)(x, x, np.zeros(1, np.float32))
    (foreign,) = entries()
    foreign_body = json.loads(foreign.read_bytes()[len(cache.MAGIC) + 65:])
    foreign.unlink()
    assert run() is False
    (entry,) = entries()
    body = json.loads(entry.read_bytes()[len(cache.MAGIC) + 65:])
    obj = base64.b64decode(body["object"])

    def b64(data):
        return base64.b64encode(data).decode()

    damage = sys.argv[1]
    payload = None
    if damage == "not-elf":
        body["object"] = b64(b"definitely not an object file")
    elif damage == "truncated-elf":
        body["object"] = b64(obj[: len(obj) // 2])
    elif damage == "elf-header-over-zeros":
        body["object"] = b64(obj[:64] + bytes(len(obj) - 64))
    elif damage == "foreign-object":
        body["object"] = foreign_body["object"]
    elif damage == "bad-base64":
        body["object"] = "@@@@"
    elif damage == "missing-stages":
        del body["stages"]
    elif damage == "stage-not-text":
        body["stages"]["llvm-opt"] = 5
    elif damage == "bad-ir":
        body["stages"]["llvm-opt"] = "define garbage"
    elif damage == "code-bytes-text":
        body["code_bytes"] = "many"
    elif damage == "other-key":
        body["key"] = "0" * 64
    elif damage == "nested":
        payload = b"[" * 200000 + b"]" * 200000
    elif damage == "not-a-dict":
        payload = b"[1, 2, 3]"
    payload = payload if payload is not None else json.dumps(body).encode()
    entry.write_bytes(cache.MAGIC + hashlib.sha256(payload).hexdigest().encode() + b"\\n" + payload)
    print("after damage", run())
    print("after rebuild", run())
"""


@pytest.mark.parametrize("damage", ["not-elf", "truncated-elf", "elf-header-over-zeros",
                                    "foreign-object", "bad-base64", "missing-stages", "stage-not-text",
                                    "bad-ir", "code-bytes-text", "other-key", "nested", "not-a-dict"])
def test_a_checksummed_but_damaged_entry_is_rebuilt(cache_dir, tmp_path, damage):
    """Before: a truncated object crashed LLVM (SIGSEGV), deep nesting raised RecursionError and
    a missing field KeyError on every call."""
    code, out = run_script(tmp_path / "damage.py", DAMAGE, damage, cache_dir=cache_dir)
    assert code == 0, out
    assert "after damage False" in out and "after rebuild True" in out, out


# ---------------------------------------------------------------- trust in the folder


def test_the_folder_is_created_private(cache_dir):
    run_mac()
    assert cache_dir.stat().st_mode & 0o777 == 0o700


def test_a_folder_writable_by_others_is_ignored(cache_dir):
    cache_dir.mkdir(mode=0o700)
    cache_dir.chmod(0o777)
    with pytest.warns(cache.UntrustedCacheWarning, match="writable by group or others"):
        assert not run_mac(n=65).from_cache
    assert not run_mac(n=65).from_cache
    assert not list(cache_dir.iterdir())  # nothing written there either


@pytest.mark.parametrize("how", ["mode", "owner"])
def test_an_entry_others_could_write_is_ignored(cache_dir, how):
    run_mac(n=66)
    (entry,) = cache_dir.glob("*.ukc")
    if how == "mode":
        entry.chmod(0o666)
    elif os.geteuid() == 0:
        os.chown(entry, 65534, 65534)
    else:
        pytest.skip("changing a file's owner needs root")
    with pytest.warns(cache.UntrustedCacheWarning):
        assert not run_mac(n=66).from_cache
    assert run_mac(n=66).from_cache  # the rebuilt entry is this user's own again


# ---------------------------------------------------------------- C shared objects

def needs_gcc(test):
    """A test that builds a C shared object with gcc (skipped without it)."""
    return pytest.mark.needs_cc(pytest.mark.skipif("gcc" not in cv.compilers(), reason="needs gcc")(test))

BUILD_C = """
    import sys
    import numpy as np
    from unrollkit.codegen import cvariants as cv
    for _ in range(2):
        k = cv.build("mac", "c-plain", 1, "f32", compiler="gcc")
        a, b, c = (np.full(9, 2, np.float32) for _ in range(3))
        k(a, b, c)
        assert (c == 6).all(), c
        print("cache_hit", k.cache_hit, "so", k.so_path)
"""

EVIL_C = """
#include <stdio.h>
__attribute__((constructor)) static void boom(void) { FILE *f = fopen("%s", "w"); if (f) fclose(f); }
void uk_mac(float *a, float *b, float *c, long n) {}
double uk_mac_time(float *a, float *b, float *c, long n, long reps) { return 0; }
"""


@needs_gcc
@pytest.mark.parametrize("how", ["replaced", "emptied"])
def test_a_replaced_shared_object_is_not_loaded(cache_dir, tmp_path, how):
    """Before: the replaced object was dlopen'ed (its constructor ran, its uk_mac was called),
    and a 0-byte one failed every build."""
    code, out = run_script(tmp_path / "build_c.py", BUILD_C, cache_dir=cache_dir)
    assert code == 0, out
    so = out.split("so ")[-1].strip()
    assert so.startswith(str(cache_dir)) and "cache_hit True" in out, out
    marker = tmp_path / "constructor-ran"
    if how == "replaced":
        src = tmp_path / "evil.c"
        src.write_text(EVIL_C % marker)
        subprocess.run([cv.compilers()["gcc"], "-shared", "-fPIC", str(src), "-o", so], check=True)
    else:
        Path(so).write_bytes(b"")
    code, out = run_script(tmp_path / "build_c.py", BUILD_C, cache_dir=cache_dir)
    assert code == 0, out
    assert "cache_hit False" in out.splitlines()[0] and "cache_hit True" in out.splitlines()[1], out
    assert not marker.exists()


@needs_gcc
def test_a_c_folder_writable_by_others_is_not_used(cache_dir):
    cv.build("dot", "c-plain", 1, "f64", compiler="gcc")
    (cache_dir / "c").chmod(0o777)
    with pytest.warns(cache.UntrustedCacheWarning):
        k = cv.build("dot", "c-plain", 1, "f64", compiler="gcc")
    assert not k.cache_hit and not k.so_path.startswith(str(cache_dir))


# ---------------------------------------------------------------- cache clear


def test_clear_removes_only_what_the_cache_wrote(cache_dir):
    run_mac(n=67)
    if "gcc" in cv.compilers():
        cv.build("mac", "c-plain", 1, "f32", compiler="gcc")
    theirs = [cache_dir / "notes.txt", cache_dir / ".tmp-mine", cache_dir / "abc.ukc",
              cache_dir / "c" / "library.so", cache_dir / "c" / "settings.json"]
    (cache_dir / "c").mkdir(exist_ok=True)
    for f in theirs:
        f.write_text("keep me")
    env = dict(os.environ, UNROLLKIT_CACHE_DIR=str(cache_dir))
    out = subprocess.run([sys.executable, "-m", "unrollkit", "cache", "clear"], capture_output=True,
                         text=True, env=env, check=True, cwd=OUTSIDE).stdout
    assert "removed 1 entries" in out
    assert all(f.read_text() == "keep me" for f in theirs)
    assert sorted(p.name for p in cache_dir.rglob("*") if p.is_file()) == sorted(f.name for f in theirs)
    assert so_cache.clear() == 0


@pytest.mark.parametrize("candidate", [["no-such-variant", 2, 1, ""], [1, 2], ["affine", True, 1, ""],
                                       ["affine", 0, 1, ""], "affine"])
def test_a_damaged_auto_decision_is_decided_again(cache_dir, candidate):
    """Before: a cached decision with missing or odd fields raised on every call."""
    import hashlib
    import json
    from unrollkit.kernels import dot

    def run():
        x, out = np.ones(300, np.float32), np.zeros(1, np.float32)
        f = uk.jit(dot, factor="auto")
        f(x, x, out)
        assert out[0] == 300
        return f.last.choice.reason

    assert "disk cache" not in run()
    (entry,) = [e for e in cache_dir.glob("*.ukc") if b'"candidate"' in e.read_bytes()]
    body = json.loads(entry.read_bytes()[len(cache.MAGIC) + 65:])
    body["candidate"] = candidate
    payload = json.dumps(body).encode()
    entry.write_bytes(cache.MAGIC + hashlib.sha256(payload).hexdigest().encode() + b"\n" + payload)
    assert "disk cache" not in run()  # decided again
    assert "disk cache" in run()      # and kept
