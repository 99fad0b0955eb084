"""Time the first ``factor="auto"`` call of each PolyBench/C kernel with an empty compile cache
(issue 14's target: <= 3 s each at MEDIUM).

    python tools/polybench_auto_times.py                    # all 30, MEDIUM, float64
    python tools/polybench_auto_times.py --only gemm,syrk   # some of them
    python tools/polybench_auto_times.py --profile syrk     # cProfile of one first call

Each kernel runs in a fresh Python process (nothing compiled or imported before) with a fresh
``UNROLLKIT_CACHE_DIR``; the time is the first call ``uk.jit(kernel, factor="auto")(*args)``
(choosing, compiling and running once), measured inside that process. The result is checked
against the kernel's numpy reference. Prints one row per kernel: seconds (wall), the CPU
seconds of the process and its tool subprocesses (llvm-mc, llvm-mca: steadier than the wall
time on a shared machine), the candidates whose machine code was checked, whether the result
matched, and what auto chose. Run it from anywhere but the repository root (there
``python -c`` would import the source folder, without the installed kernels/passes mapping):
the child processes run in a temporary directory.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

#: what one child process runs: argv = name, size, dtype, profile-or-empty
CHILD = r'''
import cProfile, io, json, os, pstats, sys, time
import numpy as np
import unrollkit as uk
from unrollkit.kernels.polybench import REGISTRY
name, size, dtype, profile = sys.argv[1:5]
kernel, reference, init, sizes = REGISTRY[name]
args = init(sizes[size], np.dtype(dtype).type)
expected = reference(*args)
f = uk.jit(kernel, factor="auto")
prof = cProfile.Profile() if profile else None
t0, c0 = time.perf_counter(), os.times()
if prof:
    prof.enable()
f(*args)
seconds, c1 = time.perf_counter() - t0, os.times()
cpu = sum(c1[:4]) - sum(c0[:4])  # this process and its finished children (llvm-mc, llvm-mca)
if prof:
    prof.disable()
params = [p.name for p in kernel.params]
ok = True
for out, want in expected.items():
    got = np.asarray(args[params.index(out)])[tuple(slice(0, n) for n in np.shape(want))]
    ok &= bool(np.max(np.abs(got - want)) <= 1e-6 * max(np.max(np.abs(want)), 1e-300))
choice = getattr(f.last, "choice", None)
label = f"{choice.candidate.label} ({choice.reason.split(';')[0][:70]})" if choice is not None else "-"
text = ""
if prof:
    s = io.StringIO()
    pstats.Stats(prof, stream=s).sort_stats("cumulative").print_stats(40)
    text = s.getvalue()
checked = sum(1 for r in choice.rows if r["checked"]) if choice is not None else 0
print(json.dumps({"seconds": seconds, "cpu": cpu, "checked": checked, "choice": label, "ok": ok, "profile": text}))
'''


def time_one(name: str, size: str, dtype: str, timeout: float, profile: bool = False) -> dict:
    """Run one kernel's first auto call in a fresh process with an empty cache."""
    with tempfile.TemporaryDirectory(prefix="uk-auto-") as tmp:
        env = dict(os.environ, UNROLLKIT_CACHE_DIR=os.path.join(tmp, "cache"))
        try:
            out = subprocess.run([sys.executable, "-c", CHILD, name, size, dtype, "1" if profile else ""],
                                 cwd=tmp, env=env, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return {"seconds": None, "choice": f"(timed out after {timeout:.0f} s)", "ok": None}
    if out.returncode != 0:
        last = (out.stderr.strip().splitlines() or ["?"])[-1]
        return {"seconds": None, "choice": f"(failed: {last[:100]})", "ok": None}
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    """Print the table (or one kernel's profile)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", default="", help="comma-separated kernel names (default: all 30)")
    ap.add_argument("--size", default="MEDIUM", choices=("SMALL", "MEDIUM"))
    ap.add_argument("--dtype", default="float64", choices=("float32", "float64"))
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds per kernel")
    ap.add_argument("--profile", default="", help="print the cProfile of this kernel's first call")
    a = ap.parse_args(argv)
    if a.profile:
        r = time_one(a.profile, a.size, a.dtype, a.timeout, profile=True)
        print(f"{a.profile}: {r['seconds']} s, chose {r['choice']}\n{r.get('profile', '')}")
        return 0
    names = a.only.split(",") if a.only else None
    if names is None:
        from unrollkit.kernels.polybench import REGISTRY
        names = list(REGISTRY)
    print(f"first factor='auto' call, empty cache, fresh process; {a.size}, {a.dtype}")
    print(f"{'kernel':16s} {'seconds':>8s} {'cpu s':>6s} {'checked':>7s}  {'result':8s} choice")
    for name in names:
        r = time_one(name, a.size, a.dtype, a.timeout)
        secs = f"{r['seconds']:8.2f}" if r["seconds"] is not None else f"{'-':>8s}"
        ok = {True: "ok", False: "WRONG", None: "-"}[r["ok"]]
        cpu = f"{r['cpu']:6.2f}" if r.get("cpu") is not None else f"{'-':>6s}"
        print(f"{name:16s} {secs} {cpu} {r.get('checked', 0):7d}  {ok:8s} {r['choice']}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
