"""Every transformed-IR proof of the test suite (or of fuzz cases) timed again in a plain process.

Inside pytest the same proof takes 1.6–2.9× the CPU time it takes in a plain Python process
(measured: conv2d_3x3 at 64 channels, 56² pixels, f32: 22 ms alone, 36–65 ms inside pytest,
with the garbage collector off too; pure-Python loops and the MLIR bindings' calls alone run
at the same speed in both). What a user's call pays is the plain process's. So the modules
are collected where they are proved and each one is proved again here, alone::

    python tools/proof_retime.py collect DIR -- tests -q -p no:cacheprovider    # the suite
    python tools/proof_retime.py fuzz DIR --examples 1000 --seed 0              # fuzz cases
    python tools/proof_retime.py retime DIR [--limit-ms 20]                     # the table

``collect`` runs pytest in this process with `ir_bounds.check_module` wrapped: each module it
proves after a pipeline is written to DIR as MLIR text, with the kernel's name and the
pipeline. ``fuzz`` does the same for the in-process fuzz cases (`unrollkit.tools.fuzz`; a case
run in a child process is not collected). ``retime`` parses each file in a fresh context and
times `module_bounds.first_refusal` on it (CPU time of this thread, the first run), then prints
`proof_times.summary`'s table.
"""
from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path

from proof_times import summary

HEADER = "// proof-retime: "


def _collector(out: Path):
    """Wrap `ir_bounds.check_module` (as the compiler calls it) to save each module it proves."""
    from unrollkit.codegen import compiler

    original = compiler.ir_bounds.check_module
    counter = itertools.count(len(list(out.glob("*.mlir"))))

    def check_module(module, after, *args, **kwargs):
        # only the compiler's proof of a transformed module (the tests also call it directly)
        if sys._getframe(1).f_code.co_name == "optimised_stages":
            (out / f"{next(counter):06d}.mlir").write_text(f"{HEADER}{after}\n{module}")
        return original(module, after, *args, **kwargs)
    compiler.ir_bounds.check_module = check_module


def collect(out: Path, pytest_args: list) -> int:
    """Run pytest on ``pytest_args`` in this process, saving every transformed module proved."""
    import pytest
    out.mkdir(parents=True, exist_ok=True)
    _collector(out)
    return pytest.main(pytest_args)


def fuzz(out: Path, examples: int, seed: int) -> None:
    """Run ``examples`` fuzz cases from ``seed`` in this process, saving every module proved."""
    from unrollkit.tools.fuzz import Mismatch, RandomChooser, gen_case, run_case
    out.mkdir(parents=True, exist_ok=True)
    _collector(out)
    for k in range(examples):
        try:
            run_case(gen_case(RandomChooser(seed + k)))
        except Mismatch as exc:  # (the fuzzer's own run reports these; here only the proofs count)
            print(f"seed {seed + k}: {exc}", file=sys.stderr)


def retime(folder: Path) -> list:
    """(kernel, seconds, "transformed", after) per saved module: its proof's CPU time here."""
    from mlir import ir
    from unrollkit.analysis.module_bounds import first_refusal
    records = []
    for path in sorted(folder.glob("*.mlir")):
        head, _, text = path.read_text().partition("\n")
        after = head[len(HEADER):]
        with ir.Context(), ir.Location.unknown():
            module = ir.Module.parse(text)
            t = time.thread_time()
            first_refusal(module)
            seconds = time.thread_time() - t
        name = text.split("func.func @", 1)[1].split("(", 1)[0] if "func.func @" in text else path.stem
        records.append((name, seconds, "transformed", after))
    return records


def main() -> None:
    """The command line (see the module docstring)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)
    c = sub.add_parser("collect")
    c.add_argument("dir")
    c.add_argument("pytest_args", nargs=argparse.REMAINDER)
    f = sub.add_parser("fuzz")
    f.add_argument("dir")
    f.add_argument("--examples", type=int, default=1000)
    f.add_argument("--seed", type=int, default=0)
    r = sub.add_parser("retime")
    r.add_argument("dir")
    r.add_argument("--limit-ms", type=float, default=20.0)
    a = ap.parse_args()
    if a.command == "collect":
        sys.exit(collect(Path(a.dir), [x for x in a.pytest_args if x != "--"]))
    if a.command == "fuzz":
        fuzz(Path(a.dir), a.examples, a.seed)
        return
    print(summary(retime(Path(a.dir)), a.limit_ms))


if __name__ == "__main__":
    main()
