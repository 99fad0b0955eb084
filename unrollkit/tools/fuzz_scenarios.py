"""Fuzz cases that run in a child process: odd kernel names, threads, a tampered cache.

A case whose failure could be a crash (a kernel named ``free`` colliding with libc, machine code
freed under a running call, a cache entry for another shape) runs in ``python -c`` so that a
signal shows as a failing case, not a dead fuzzer. The child prints one JSON line: the outcome,
or the `Mismatch`/exception it met.

Scenarios (``Case.scenario``):

* ``threads``: one thread runs long native repeat loops through the `CompiledKernel` handle
  kept from the first call (without touching the jitted kernel, so its signature ages in the
  LRU) while two others compile and run 34 other signatures of the same jitted kernel, more
  than its in-memory LRU keeps; then the handle runs once more and the kernel is called
  again, both results checked. Machine code must outlive every caller.
* ``c:<compiler>``: a C variant of kernels/c built by that compiler
  (`unrollkit.tools.fuzz_cvariants`).
* ``tamper:<how>``: two signatures are compiled into a fresh disk cache, the entries are
  damaged (``TAMPERS``), and a new jitted kernel runs both again: each result must be right
  (a damaged entry rebuilt, an entry of another shape never taken for this one).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import numpy as np

from unrollkit.tools import fuzz_cvariants
from unrollkit.tools.fuzz_case import (Case, Mismatch, check_result, compile_options, make_data, oracle_sizes,
                                       out_of_bounds, run_in_process)
from unrollkit.core.errors import KernelSyntaxError, TransformError
from unrollkit.runtime.interpreter import interpret
import unrollkit as uk

TAMPERS = ("flip", "truncate", "empty", "swap", "append")
#: signatures compiled next to the hammered one: more than runtime's LRU of 32
OTHER_SIGNATURES = 34


def run_isolated(case: Case, timeout: float = 600) -> str:
    """Run ``case`` in a child process; "ok"/"refused", else `Mismatch` (crash, wrong result)."""
    code = "import sys; from unrollkit.tools.fuzz_scenarios import child_main; child_main(sys.argv[1])"
    env = dict(os.environ)
    env.setdefault("PYTHONIOENCODING", "utf-8")
    try:
        out = subprocess.run([sys.executable, "-c", code, repr(case)], capture_output=True, text=True,
                             timeout=timeout, env=env, cwd=tempfile.gettempdir())
    except subprocess.TimeoutExpired:
        raise Mismatch(f"the case did not finish in {timeout:.0f} s\n{case.describe()}") from None
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
    if out.returncode < 0 or not lines:
        raise Mismatch(f"the child process died (exit {out.returncode})\n{case.describe()}\n"
                       f"{out.stderr[-2000:]}")
    result = json.loads(lines[-1])
    if result.get("outcome"):
        return result["outcome"]
    if result.get("mismatch"):
        raise Mismatch(result["mismatch"])
    raise RuntimeError(f"{result['error']}\n{case.describe()}")


def child_main(case_repr: str) -> None:
    """The child's side of `run_isolated` (prints one JSON line)."""
    case = eval(case_repr, {"Case": Case})  # our own repr of a frozen dataclass of literals
    try:
        if case.scenario.startswith("c:"):
            outcome = fuzz_cvariants.run_cvariant(case)
        elif case.scenario and not _runs_as_given(case):
            outcome = run_in_process(case)  # refused (`%`, out of bounds): nothing to share
        elif case.scenario == "threads":
            outcome = run_threads(case)
        elif case.scenario.startswith("tamper:"):
            outcome = run_tampered(case, case.scenario.split(":", 1)[1])
        else:
            outcome = run_in_process(case)
        print(json.dumps({"outcome": outcome}), flush=True)
    except Mismatch as exc:
        print(json.dumps({"mismatch": str(exc)}), flush=True)
    except TransformError:  # a pass refused the pipeline, with its reason: as in-process cases
        print(json.dumps({"outcome": "refused"}), flush=True)
    except Exception as exc:  # noqa: BLE001  (reported to the parent as an error)
        print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}), flush=True)


def _runs_as_given(case: Case) -> bool:
    """Does ``case`` parse, with every access in bounds (else it must be refused, not run)?"""
    try:
        kernel, _ = make_data(case)
    except KernelSyntaxError:
        return False
    return out_of_bounds(kernel, oracle_sizes(case, kernel)) is None


def _in_bounds_sizes(case: Case, kernel, count: int) -> list:
    """Up to ``count`` other size maps at which ``kernel`` stays in its arrays."""
    return [s for s in _other_sizes(case, 2 * count)
            if out_of_bounds(kernel, oracle_sizes(case, kernel, s)) is None][:count]


def _expected(kernel, args):
    want = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    interpret(kernel, *want)
    return want


def _copies(args):
    return [a.copy() if isinstance(a, np.ndarray) else a for a in args]


def _other_sizes(case: Case, count: int) -> list:
    """``count`` size maps other than the case's, each a distinct signature."""
    base = dict(case.sizes)
    out, bump = [], 1
    names = sorted(base)
    while len(out) < count:
        s = dict(base)
        s[names[bump % len(names)]] += 1 + bump // len(names)
        if len(names) > 1:
            s[names[(bump + 1) % len(names)]] += bump % 3
        if s != base and s not in out:
            out.append(s)
        bump += 1
    return out


def _outcome_of_refusal(case, call):
    try:
        return call()
    except TransformError:
        return "refused"


def run_threads(case: Case) -> str:
    """The ``threads`` scenario: native loops on a kept `CompiledKernel` while two threads compile
    other signatures (evicting it); ``ok`` or ``refused``."""
    kernel, args = make_data(case)
    want = _expected(kernel, args)
    f = _outcome_of_refusal(case, lambda: uk.jit(kernel, **compile_options(case)))
    if f == "refused":
        return f
    first = _copies(args)
    if _outcome_of_refusal(case, lambda: f(*first)) == "refused":
        return "refused"
    check_result(case, kernel, first, want)
    kept = f.last
    others = [make_data(case, s, seed=n)
              for n, s in enumerate(_in_bounds_sizes(case, kernel, OTHER_SIGNATURES))]
    errors, stop = [], threading.Event()
    scratch = _copies(args)
    ready = f.signature(scratch)[1]
    reps = max(1, int(0.05 / max(kept.time_native(ready, 10) / 10, 1e-7)))  # ~50 ms a loop

    def hammer():
        try:
            while not stop.is_set():
                kept.time_native(ready, reps)  # a long native call, the GIL released
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    def compile_others(part):
        try:
            for k, (_, a) in enumerate(part):
                got = _copies(a)
                f(*got)
                if k % 4 == 0:
                    check_result(case, kernel, got, _expected(kernel, a))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=hammer)] + [
        threading.Thread(target=compile_others, args=(others[n::2],)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads[1:]:
        t.join()
    stop.set()
    threads[0].join()
    if errors:
        raise errors[0]
    got = _copies(args)
    kept.time_native(f.signature(got)[1], 1)  # the handle kept from before the evictions
    check_result(case, kernel, got, want)
    got = _copies(args)
    f(*got)
    check_result(case, kernel, got, want)
    return "ok"


def _damage(entries: list, how: str) -> None:
    """Damage the cache entries (files) of the first two signatures, in the way ``how``."""
    a, b = entries
    if how == "swap":  # a valid entry of one shape under the other shape's key
        b.write_bytes(a.read_bytes())
        return
    for p in (a, b):
        data = p.read_bytes()
        if how == "flip":
            i = len(data) // 2
            p.write_bytes(data[:i] + bytes([data[i] ^ 0x55]) + data[i + 1:])
        elif how == "truncate":
            p.write_bytes(data[: len(data) * 2 // 3])
        elif how == "empty":
            p.write_bytes(b"")
        elif how == "append":
            p.write_bytes(data + b"\x00garbage")


def run_tampered(case: Case, how: str) -> str:
    """The ``tamper:<how>`` scenario: two signatures compiled into a fresh disk cache, their entries
    damaged, then both run again by a new jitted kernel and checked; ``ok`` or ``refused``."""
    folder = Path(tempfile.mkdtemp(prefix="unrollkit-fuzz-cache-"))
    os.environ["UNROLLKIT_CACHE_DIR"] = str(folder)
    os.environ.pop("UNROLLKIT_CACHE", None)
    kernel, args = make_data(case)
    runs = [(args, _expected(kernel, args))]
    for sizes in _in_bounds_sizes(case, kernel, 1):
        other = make_data(case, sizes, seed=1)[1]
        runs.append((other, _expected(kernel, other)))
    if len(runs) < 2:
        return run_in_process(case)
    entries = []
    f = _outcome_of_refusal(case, lambda: uk.jit(kernel, **compile_options(case)))
    if f == "refused":
        return f
    for a, want in runs:
        before = set(folder.glob("*"))
        got = _copies(a)
        if _outcome_of_refusal(case, lambda: f(*got)) == "refused":
            return "refused"
        check_result(case, kernel, got, want)
        new = sorted(set(folder.glob("*")) - before, key=lambda p: p.stat().st_mtime)
        entries.append(new[-1] if new else None)
    if None in entries or entries[0] == entries[1]:
        return "ok"  # nothing cached per signature here (e.g. the cache is off): nothing to damage
    _damage(entries, how)
    again = uk.jit(kernel, **compile_options(case))
    for a, want in reversed(runs):
        got = _copies(a)
        again(*got)
        check_result(case, kernel, got, want)
    return "ok"
