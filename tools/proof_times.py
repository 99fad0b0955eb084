"""The distribution of bounds-proof times from a log of ``unrollkit.proof`` records.

Collect the records over the test suite (or a fuzz run) with the standard logging options,
then summarise::

    pytest -q --log-file=/tmp/proofs.log --log-file-level=DEBUG
    python tools/proof_times.py /tmp/proofs.log [--limit-ms 20] [--clock cpu|wall]

Each record is one proof (``kernel``: the descriptor's accesses before lowering; ``transformed``:
the module after the pass pipeline), logged by `unrollkit.codegen.compiler`.
"""
from __future__ import annotations

import argparse
import re
import statistics

RECORD = re.compile(r"unrollkit\.proof.*?(\S+) (\d+\.\d+) (?:(\d+\.\d+) )?(kernel|transformed) (.*)$")


def read(path: str, clock: str = "cpu") -> list:
    """(kernel, seconds, which, pipeline) per record in the log at ``path``: the proof's CPU
    time (``clock="cpu"``; records without one are skipped) or its wall time (``"wall"``)."""
    out = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            m = RECORD.search(line)
            if m and (clock == "wall" or m[3] is not None):
                out.append((m[1], float(m[2] if clock == "wall" else m[3]), m[4], m[5].strip()))
    return out


def quantile(xs: list, q: float) -> float:
    """The ``q`` quantile of ``xs`` (nearest rank)."""
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def summary(records: list, limit_ms: float) -> str:
    """A markdown table: per proof kind, count, median, p90, p99, max, and how many exceed the limit."""
    lines = ["| proof | count | median | p90 | p99 | max | over %g ms |" % limit_ms,
             "|---|---:|---:|---:|---:|---:|---:|"]
    for which in ("kernel", "transformed"):
        xs = [s * 1e3 for _, s, w, _ in records if w == which]
        if not xs:
            continue
        over = sum(x > limit_ms for x in xs)
        lines.append(f"| {which} | {len(xs)} | {statistics.median(xs):.2f} ms | {quantile(xs, .9):.2f} ms | "
                     f"{quantile(xs, .99):.2f} ms | {max(xs):.1f} ms | {over} |")
    slow = sorted((r for r in records if r[1] * 1e3 > limit_ms), key=lambda r: -r[1])[:10]
    if slow:
        lines += ["", f"Slowest over {limit_ms:g} ms:", ""]
        lines += [f"- {k} ({w}): {s * 1e3:.1f} ms, pipeline `{p}`" for k, s, w, p in slow]
    return "\n".join(lines)


def main() -> None:
    """Print the summary of the log given on the command line."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("log")
    ap.add_argument("--limit-ms", type=float, default=20.0)
    ap.add_argument("--clock", choices=("cpu", "wall"), default="cpu",
                    help="the proof's CPU time (default: what it costs) or wall time (also waits)")
    args = ap.parse_args()
    print(summary(read(args.log, args.clock), args.limit_ms))


if __name__ == "__main__":
    main()
