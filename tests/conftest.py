"""Shared test setup: an isolated compile cache, hypothesis profiles, FileCheck, the markers
for what needs a tool (``needs_cc``, ``needs_llvm_mca``), and ``tests/`` on the import path.

The tests mirror the package's layers (tests/core, tests/frontend, ..., tests/cli; whole-product
tests in tests/ itself). They are not packages (no ``__init__.py``: the test files' names are
unique), and the shared helpers (``differential``, ``references``, this ``conftest``) are imported
by name from any folder, because this folder is on ``sys.path``."""
from __future__ import annotations

import inspect
import os
import sys
import tempfile

import pytest
from hypothesis import HealthCheck, settings

from unrollkit.runtime import dispatch

#: working directory for Python subprocesses: never the repository root, where `python -m`
#: and `python -c` would import the source tree's unrollkit/ (without its kernels/ and
#: passes/, which only the installed package maps in) instead of the installed one
OUTSIDE = tempfile.mkdtemp(prefix="unrollkit-test-cwd-")

#: parallel calls need the native thread pool of the optional `_fastcall` extension (built at
#: install; a platform without a C compiler runs every call on one thread, through the full checks)
needs_pool = pytest.mark.skipif(dispatch.run_split is None, reason="the _fastcall extension is not built")

# the shared helpers import by name from every folder, whatever pytest's import mode
HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

# Tests never touch the user's cache; set before unrollkit reads it.
os.environ.setdefault("UNROLLKIT_CACHE_DIR", tempfile.mkdtemp(prefix="unrollkit-test-cache-"))

# CI is derandomized (the same examples every run: a red CI is a reproducible one); a local
# run explores new examples each time. `unrollkit fuzz` runs many more.
settings.register_profile("ci", max_examples=60, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=15, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


def run_filecheck(text: str, checks: str) -> tuple[int, str]:
    """Run the `filecheck` package (LLVM FileCheck semantics) on ``text``; (exit code, output)."""
    import contextlib
    import io

    from filecheck.matcher import Matcher
    from filecheck.options import parse_argv_options
    with tempfile.TemporaryDirectory() as d:
        cf, inp = os.path.join(d, "checks"), os.path.join(d, "input")
        open(cf, "w").write(checks)
        open(inp, "w").write(text)
        out = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            code = Matcher.from_opts(parse_argv_options(["filecheck", cf, "--input-file", inp])).run()
    return code, out.getvalue()


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    """An empty compile cache of the test's own (``UNROLLKIT_CACHE_DIR``), enabled."""
    d = tmp_path / "cache"
    monkeypatch.setenv("UNROLLKIT_CACHE_DIR", str(d))
    monkeypatch.delenv("UNROLLKIT_CACHE", raising=False)
    return d


@pytest.fixture
def check_ir(request):
    """``check_ir(text, prefix="CHECK")``: match ``text`` against the ``# CHECK:`` comments written
    in the calling test's own source, next to the code that builds the IR."""
    src = inspect.getsource(request.function)

    def check(text: str, prefix: str = "CHECK"):
        lines = [ln.strip()[1:].strip() for ln in src.splitlines()
                 if ln.strip().startswith(f"# {prefix}")]
        assert lines, f"test has no '# {prefix}' lines"
        checks = "\n".join(ln.replace(prefix, "CHECK", 1) if prefix != "CHECK" else ln for ln in lines)
        code, out = run_filecheck(text, checks)
        assert code == 0, f"FileCheck failed:\n{out}\n--- input ---\n{text}"

    return check


def _have_cc() -> bool:
    """A C compiler the C variants can use (what `cvariants.compilers` finds)."""
    from unrollkit.codegen import cvariants
    return bool(cvariants.compilers())


def _have_llvm_mca() -> bool:
    """llvm-mca or llvm-mc, found as the cost model's machine-code check finds them."""
    from unrollkit.tuning import asm_facts, llvm_mca
    return llvm_mca.mca_path() is not None or asm_facts._tool("llvm-mc") is not None


#: marker → (is the tool there, reason to skip); each test also keeps its own finer skipif
NEEDS = {"needs_cc": (_have_cc, "needs a C compiler (gcc or clang)"),
         "needs_llvm_mca": (_have_llvm_mca, "needs llvm-mca / llvm-mc")}


def pytest_collection_modifyitems(config, items):
    """Skip a test marked ``needs_cc`` / ``needs_llvm_mca`` when the machine lacks that tool
    (probed once, only when a marked test is collected)."""
    found = {}
    for item in items:
        for name, (probe, reason) in NEEDS.items():
            if item.get_closest_marker(name) is None:
                continue
            if name not in found:
                found[name] = probe()
            if not found[name]:
                item.add_marker(pytest.mark.skip(reason=reason))
