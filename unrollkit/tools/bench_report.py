"""What ``unrollkit bench`` prints and writes: the row tables (80 columns by default, every
column with ``--wide``), their legend, one summary line per size, the factor sweep (speedup
and compile time by factor), markdown, and the figure (speedup and compile time against the
unroll factor). The harness is `unrollkit.tools.bench`; the command is `unrollkit.cli.bench`.
"""
from __future__ import annotations

from pathlib import Path

from rich import box
from rich.table import Table

from unrollkit.tools import bench
from unrollkit.core.errors import UnrollkitError
from unrollkit.tools.bench_environment import blas_text
from unrollkit.tools.peak import roofline

#: (header, justify, in the 80-column table): the columns of a row
COLUMNS = (("variant", "left", True), ("median", "right", True),
           ("spread", "right", False), ("{unit}", "right", True), ("%pk", "right", True),
           ("×none", "right", True), ("×np", "right", True), ("build", "right", True),
           ("code B", "right", False), ("insns", "right", False), ("spills", "right", False),
           ("asm", "left", True), ("check", "left", False))

LEGEND = ("variant ×N: unroll factor N. median: time per call. %pk: % of the peak that bounds "
          "the kernel (in each title). ×none: speedup against `none` (×1); ×np: numpy's time "
          "over the row's, median of paired rounds. build: seconds to machine code (auto: with "
          "its decision). asm: elements per hot-loop trip against the rolled code of the same "
          "toolchain — 'yes×4': the requested factor is in the machine code; 'no×4': it is "
          "not, the code does only 4× the rolled loop's work per trip (e.g. at ×8); +1g: a "
          "gather (s: scatter) in the hot loop. A row that failed says so in its median.")


def unit(work) -> str:
    """The rate column's unit: bytes for a streaming kernel, FLOPs otherwise."""
    return "GB/s" if work.streaming() else "GFLOP/s"


def _seen(r) -> str:
    f = r.facts or {}
    if r.unroll_seen is None:
        seen = "-"
    elif r.unroll_ok is None:
        seen = f"×{r.unroll_seen:.3g}"
    else:
        seen = ("yes" if r.unroll_ok else "no") + f"×{r.unroll_seen:.3g}"
    if f.get("gathers"):
        seen += f" +{f['gathers']}g"
    if f.get("scatters"):
        seen += f" +{f['scatters']}s"
    return seen


def label(r) -> str:
    """The variant, its factor, and what auto chose."""
    text = r.label.replace(" (i-j-k)", " ijk")
    if r.variant not in bench.SINGLE:
        text += f" ×{r.factor}"
    return text + (f" {r.note}" if r.note else "")


def cells(r) -> list:
    """One row's cells as plain text, every column (the rich table colours some of them)."""
    f = r.facts or {}
    check = "skipped" if r.error else "-" if r.verified is None else "ok" if r.verified else "MISMATCH"
    median = bench.format_time(r.median) if r.median is not None or check == "ok" else check
    return [label(r), median,
            f"±{r.spread * 50:.1f}%" if r.spread is not None else "-",
            f"{r.rate:.3g}" if r.rate is not None else "-",
            f"{r.peak_pct:.0f}%" if r.peak_pct is not None else "-",
            f"{r.speedup:.2f}" if r.speedup is not None else "-",
            f"{r.vs_numpy:.2f}" if r.vs_numpy is not None else "-",
            f"{r.compile_s:.2f}s" if r.compile_s is not None else "-",
            str(r.code_bytes) if r.code_bytes is not None else "-",
            str(f.get("insns", "-")), f"{f['spills']}/{f['reloads']}" if f.get("found") else "-",
            _seen(r), check]


_COLOR = {"yes": "green", "no": "red", "ok": "green", "MISMATCH": "red", "skipped": "yellow"}


def bound_text(work, peaks) -> str:
    """"compute-bound: % of FMA peak 115 GFLOP/s f32" or "memory-bound (L2): ..."."""
    if not peaks:
        return "no peak measured"
    roof = roofline(work.flops(), work.bytes(), work.dtype, peaks)
    where = f" ({roof['level']})" if roof["bound"] == "memory" else ""
    return f"{roof['bound']}-bound{where}: %pk of {roof['peak']}"


def table(work, rows: list, peaks=None, wide: bool = False) -> Table:
    """The rows of one size; 80 columns unless ``wide``."""
    keep = [k for k, c in enumerate(COLUMNS) if wide or c[2]]
    if not any(r.vs_numpy is not None for r in rows):
        keep = [k for k in keep if COLUMNS[k][0] != "×np"]
    t = Table(title=f"{work.name} {work.label} {work.dtype}: {bound_text(work, peaks)}",
              title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1),
              collapse_padding=True)
    for k in keep:
        head, justify, _ = COLUMNS[k]
        t.add_column(head.format(unit=unit(work)), justify=justify,
                     overflow="fold", no_wrap=k != 0)
    for r in rows:
        c = cells(r)
        for k in (1, -2, -1):
            word = c[k][:3] if c[k][:3] in ("yes", "no×") else c[k].split()[0] if c[k] else ""
            word = word.rstrip("×")
            if word in _COLOR:
                c[k] = f"[{_COLOR[word]}]{c[k]}[/{_COLOR[word]}]"
        t.add_row(*[c[k] for k in keep])
    return t


def summary(work, rows: list, peaks=None) -> str:
    """One line: auto against numpy (or none) and the peak; the best fixed variant."""
    def pct(r):
        return f", {r.peak_pct:.0f}% of {'FMA peak' if _compute(work, peaks) else 'bandwidth'}" \
            if r.peak_pct is not None else ""

    def versus(r):
        if r.vs_numpy is not None:
            return f"{r.vs_numpy:.2f}× numpy"
        return f"{r.speedup:.2f}× none" if r.speedup is not None else "not timed"
    timed = [r for r in rows if r.samples]
    auto = next((r for r in timed if r.variant == "auto"), None)
    fixed = [r for r in timed if r.variant not in ("numpy", "auto", "blas") and r.speedup]
    parts = []
    if auto is not None:
        parts.append(f"auto{' (' + auto.note + ')' if auto.note else ''}: {versus(auto)}{pct(auto)}")
    if fixed:
        best = max(fixed, key=lambda r: r.speedup)
        name = label(best)
        parts.append(f"best fixed variant: {name}, {versus(best)}{pct(best)}")
    return f"{work.name} {work.label}: " + "; ".join(parts or ["nothing timed"])


def _compute(work, peaks) -> bool:
    return bool(peaks) and roofline(work.flops(), work.bytes(), work.dtype, peaks)["bound"] == "compute"


def sweep_tables(work, rows: list) -> list:
    """Two tables: speedup against none, and compile time, by factor (one line per variant)."""
    factors = sorted({r.factor for r in rows})
    labels = [lb for lb in dict.fromkeys(r.label for r in rows)
              if len({r.factor for r in rows if r.label == lb and r.samples}) > 1]
    out = []
    for title, value in (("speedup against none ×1", lambda r: f"{r.speedup:.2f}" if r.speedup else ""),
                         ("compile time, s", lambda r: f"{r.compile_s:.2f}" if r.compile_s else "")):
        t = Table(title=f"{work.name} {work.label}: {title}, by unroll factor", title_justify="left",
                  box=box.SIMPLE_HEAD, pad_edge=False)
        t.add_column("variant")
        for f in factors:
            t.add_column(f"×{f}", justify="right")
        for label in labels:
            got = {r.factor: r for r in rows if r.label == label}
            t.add_row(label, *[value(got[f]) if f in got else "" for f in factors])
        out.append(t)
    return out


def markdown(kernel: str, dtype: str, sizes: list, rows: list, env: dict, works: dict) -> str:
    """The factor sweep and every row of every size, as markdown."""
    peaks = env.get("peaks")
    out = [f"# unrollkit bench {kernel} ({dtype})", "",
           f"{env.get('cpu_model')} ({env.get('cpu')}), LLVM {env['versions'].get('llvmlite_llvm')}, "
           f"MLIR {env['versions'].get('mlir')}, {env.get('time')}; median of {env.get('repeat')} "
           f"samples of ≥ {env.get('target_sample_s', 0) * 1000:g} ms; spread = half the "
           "interquartile range; spills = stack stores/loads in the hot loop.", "", LEGEND, ""]
    out += [f"numpy's BLAS: {blas_text(env.get('blas', []))}.", ""]
    for size in sizes:
        out += sweep(kernel, size, [r for r in rows if r.size == size])
    for size in sizes:
        w = works[size]
        heads = [c[0].format(unit=unit(w)) for c in COLUMNS]
        out += [f"## {kernel} {size}: every row ({bound_text(w, peaks)})", "",
                summary(w, [r for r in rows if r.size == size], peaks), "",
                "| " + " | ".join(heads) + " |", "|" + "|".join("---" for _ in heads) + "|"]
        out += ["| " + " | ".join(cells(r)) + " |" for r in rows if r.size == size]
        out.append("")
    return "\n".join(out)


def sweep(kernel: str, size: str, rows: list) -> list:
    """Markdown lines: speedup against none at factor 1, one line per variant, one column per
    factor; ``(no)`` marks a factor whose unrolling is not in the machine code."""
    factors = sorted({r.factor for r in rows})
    labels = list(dict.fromkeys(r.label for r in rows))
    lines = [f"## {kernel} {size}: speedup by unroll factor", "",
             "| variant | " + " | ".join(f"×{f}" for f in factors) + " |",
             "|---|" + "|".join("---:" for _ in factors) + "|"]
    for label in labels:
        got = {r.factor: r for r in rows if r.label == label}
        cell = []
        for f in factors:
            r = got.get(f)
            if r is None or r.speedup is None:
                cell.append("")
            else:
                cell.append(f"{r.speedup:.2f}" + (" (no)" if r.unroll_ok is False else ""))
        lines.append(f"| {label} | " + " | ".join(cell) + " |")
    return lines + [""]


def require_matplotlib():
    """matplotlib is an optional extra: a clear error naming it when it is missing."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise UnrollkitError("--plot needs matplotlib, an optional extra: "
                             "pip install 'unrollkit[plot]' (or pip install matplotlib)") from None


def _level_lines(ax, here, colors, value):
    """Rows with no factor of their own (numpy, llvm-auto, c-plain, auto, blas): dotted levels."""
    for n, r in enumerate(r for r in here if r.variant in bench.SINGLE):
        v = value(r)
        if v is not None:
            ax.axhline(v, linestyle=":", linewidth=1.2, color=colors(n % 20), label=r.label)


def plot(kernel: str, dtype: str, rows: list, path: Path, env: dict) -> None:
    """Per size: speedup against factor (top) and compile time against factor (bottom), one
    line per variant (and C compiler)."""
    require_matplotlib()
    import matplotlib  # the optional [plot] extra (checked just above), loaded only to plot
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    sizes = list(dict.fromkeys(r.size for r in rows))
    colors = plt.get_cmap("tab20")
    fig, axes = plt.subplots(2, len(sizes), figsize=(6.5 * len(sizes), 8.5), squeeze=False)
    for col, size in enumerate(sizes):
        here = [r for r in rows if r.size == size and r.speedup is not None]
        anchors = {r.order: r for r in here if r.variant == "none"}
        labels = list(dict.fromkeys(r.label for r in here
                                    if r.variant != "none" and r.variant not in bench.SINGLE))
        for ax, what, value in ((axes[0][col], "speedup vs none, factor 1", lambda r: r.speedup),
                                (axes[1][col], "compile time, s", lambda r: r.compile_s)):
            if what.startswith("speedup"):
                ax.axhline(1.0, color="grey", linewidth=0.8)
            _level_lines(ax, here, colors, value)
            for n, label in enumerate(labels):
                line = [r for r in here if r.label == label and value(r) is not None]
                if not line:
                    continue
                pts = sorted((r.factor, value(r)) for r in line)
                anchor = anchors.get(line[0].order)
                if line[0].toolchain == "mlir" and anchor is not None and pts[0][0] != 1 \
                        and value(anchor) is not None:
                    pts = [(1, value(anchor))] + pts
                ax.plot([p[0] for p in pts], [p[1] for p in pts],
                        "-o" if line[0].toolchain == "mlir" else "--s", label=label, markersize=4,
                        color=colors((n + 5) % 20))
            ax.set_xscale("log", base=2)
            ax.set_xticks(sorted({r.factor for r in here}))
            ax.get_xaxis().set_major_formatter(matplotlib.ticker.ScalarFormatter())
            ax.set_xlabel("unroll factor")
            ax.set_ylabel(what)
            ax.set_title(f"{kernel} {size} ({dtype}): {what}")
            ax.grid(True, alpha=0.3)
        axes[0][col].legend(fontsize=7, ncol=2)
    fig.suptitle(f"unrollkit bench {kernel}: {env.get('cpu_model', '')}", fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
