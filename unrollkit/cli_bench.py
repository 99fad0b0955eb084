"""``unrollkit bench gemm|mac|dot``: every way of unrolling one kernel, measured side by side.

The harness is `unrollkit.bench`; this module is the command: options, progress bar, tables,
``--json``, ``--markdown`` and ``--plot``. Registered on the ``unrollkit`` app by one import in cli.py.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from . import bench
from .cli import app, console
from .errors import UnrollkitError


def _csv(text: str) -> list:
    return [t.strip() for t in text.split(",") if t.strip()]


def _factors(text: str) -> list:
    try:
        out = sorted({int(t) for t in _csv(text)})
    except ValueError:
        raise UnrollkitError(f"--factors takes integers, e.g. 1,2,4,8; got {text!r}") from None
    if not out or out[0] < 1:
        raise UnrollkitError(f"--factors must be positive integers, got {text!r}")
    if 1 not in out:
        out.insert(0, 1)  # the baseline (none at factor 1) every speedup is against
    return out


@app.command("bench")
def bench_cmd(
        kernel: str = typer.Argument(..., help="gemm | mac | dot | validate (the cost model's "
                                     "validation, as `unrollkit validate`)"),
        sizes: Optional[str] = typer.Option(None, "--sizes", help="comma-separated; gemm: N or MxNxK "
                                            "(default gemm 128,512; mac and dot 4096,262144)"),
        factors: str = typer.Option("1,2,4,8", "--factors", help="unroll factors"),
        variants: Optional[str] = typer.Option(None, "--variants",
                                               help="comma-separated (default: every IR variant and, "
                                                    "where a C compiler exists, every C variant)"),
        dtype: str = typer.Option("f32", "--dtype", help="f32 | f64"),
        repeat: Optional[int] = typer.Option(None, "--repeat", help="samples per row (the median is "
                                             "reported; default 11, validate 15)"),
        target_ms: Optional[float] = typer.Option(None, "--target-ms", help="minimum duration of one "
                                                  "sample (default 20 ms, validate 10 ms)"),
        compilers: Optional[str] = typer.Option(None, "--compilers", help="C compilers (default: all found)"),
        json_out: Optional[Path] = typer.Option(None, "--json", help="write every row and the environment"),
        plot_out: Optional[Path] = typer.Option(None, "--plot", help="speedup-vs-factor figure (matplotlib)"),
        md_out: Optional[Path] = typer.Option(None, "--markdown", help="write the tables as markdown"),
        pin: Optional[int] = typer.Option(None, "--pin", help="run on this CPU only (sched_setaffinity)"),
        use_cache: bool = typer.Option(False, "--use-cache", help="reuse cached compiles (compile "
                                       "times then show cache loads)")):
    """Time every unrolling variant of KERNEL against numpy; verify every result."""
    if repeat is not None and repeat < 1:
        raise UnrollkitError("--repeat must be at least 1")
    if kernel == "validate":
        # the cost model's sweep is a benchmark suite too; its own options are on `unrollkit validate`
        from .cli_explain import validate_cmd
        if sizes or variants or compilers or plot_out or factors != "1,2,4,8" or dtype != "f32":
            raise UnrollkitError("`unrollkit bench validate` takes --repeat, --target-ms, --json, "
                                 "--markdown and --pin; its corpus options are on `unrollkit validate`")
        validate_cmd(repeat=repeat or 15, target_ms=target_ms or 10.0, cases=None,
                     json_out=json_out or Path("bench/validate.json"),
                     md_out=md_out if md_out is not None else Path("bench/VALIDATE.md"), pin=pin,
                     max_factor=16, dry_run=False)
        return
    repeat, target_ms = repeat or 11, target_ms or 20.0
    size_list = _csv(sizes or bench.DEFAULT_SIZES.get(kernel, "1024"))
    for s in size_list:
        bench.parse_size(kernel, s)
    found = bench.available_compilers(_csv(compilers) if compilers else None)
    if variants:
        variant_list = _csv(variants)
    else:
        variant_list = list(bench.IR_VARIANTS) + (list(bench.C_VARIANTS) if found else [])
        if not found:
            console.print("[yellow]no C compiler found (or unrollkit.cvariants missing): "
                          "C variants skipped[/yellow]")
    if plot_out is not None:
        _require_matplotlib()
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console, transient=True) as progress:
        def factory(total, description):
            task = progress.add_task(f"{kernel} {description}", total=total)
            return lambda: progress.advance(task)
        result = bench.run(kernel, size_list, variant_list, _factors(factors), dtype=dtype,
                           repeat=repeat, target=target_ms / 1000, pin=pin,
                           progress_factory=factory, compilers=found, use_cache=use_cache)
    rows = result["rows"]
    env = result["environment"]
    console.print(f"[bold]{kernel}[/bold] {dtype} on {env['cpu_model']} ({env['cpu']}), "
                  f"LLVM {env['versions'].get('llvmlite_llvm')}, MLIR {env['versions'].get('mlir')}, "
                  f"{repeat} samples of ≥ {target_ms:g} ms per row, buffers aligned to ≥ "
                  f"{min((a for r in rows for a in r.alignment), default=bench.ALIGN)} bytes "
                  f"at page offsets {list(bench.PAGE_OFFSETS)}"
                  + (f", pinned to CPU {pin}" if pin is not None else ""))
    # tables are wide: do not squeeze them into 80 columns when the output is not a terminal
    out = console if console.is_terminal else Console(width=max(console.width, 150))
    for size in size_list:
        out.print(table(kernel, size, [r for r in rows if r.size == size]))
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps({"kernel": kernel, "dtype": dtype, "sizes": size_list,
                                        "environment": env,
                                        "rows": [r.record() for r in rows]}, indent=1, default=str))
        console.print(f"wrote {json_out}")
    if md_out is not None:
        md_out.parent.mkdir(parents=True, exist_ok=True)
        md_out.write_text(markdown(kernel, dtype, size_list, rows, env))
        console.print(f"wrote {md_out}")
    if plot_out is not None:
        plot(kernel, dtype, rows, plot_out, env)
        console.print(f"wrote {plot_out}")
    bad = [r for r in rows if r.verified is False]
    failed = [r for r in rows if r.error]
    for r in failed:
        console.print(f"[yellow]skipped[/yellow] {r.label} factor {r.factor} ({r.size}): {r.error}",
                      highlight=False)
    if bad:
        for r in bad:
            console.print(f"[red]MISMATCH[/red] {r.label} factor {r.factor} size {r.size}: "
                          f"relative error {r.max_error:.3g} against numpy", highlight=False)
        # an UnrollkitError: `unrollkit` prints it and exits non-zero (a typer.Exit would be
        # swallowed by the app running in non-standalone mode)
        raise bench.BenchMismatch(f"{len(bad)} result(s) differ from numpy's; see MISMATCH above")




COLUMNS = ("variant", "factor", "median", "spread", "{unit}", "speedup", "compile", "code B",
           "loop insns", "spills", "unroll in asm", "check")


def cells(r) -> list:
    """One row's cells as plain text (the rich table colours some of them)."""
    f = r.facts or {}
    if r.unroll_seen is None:
        seen = "-"
    elif r.unroll_ok is None:
        seen = f"×{r.unroll_seen:.3g}"
    else:
        seen = ("yes" if r.unroll_ok else "no") + f" ×{r.unroll_seen:.3g}"
    if f.get("gathers") or f.get("scatters"):
        seen += f" {f.get('gathers', 0)}g/{f.get('scatters', 0)}s"
    check = "skipped" if r.error else "-" if r.verified is None else "ok" if r.verified else "MISMATCH"
    return [r.label + (f" ({r.note})" if r.note else ""), str(r.factor), bench.format_time(r.median),
            f"±{r.spread * 50:.1f}%" if r.spread is not None else "-",
            f"{r.rate:.3g}" if r.rate is not None else "-",
            f"{r.speedup:.2f}x" if r.speedup is not None else "-",
            f"{r.compile_s:.2f} s" if r.compile_s is not None else "-",
            str(r.code_bytes) if r.code_bytes is not None else "-",
            str(f.get("insns", "-")), f"{f['spills']}/{f['reloads']}" if f.get("found") else "-",
            seen, check]


_COLOR = {"yes": "green", "no": "red", "ok": "green", "MISMATCH": "red", "skipped": "yellow"}


def table(kernel: str, size: str, rows: list) -> Table:
    _, unit = bench.work(kernel, bench.parse_size(kernel, size), rows[0].dtype if rows else "f32")
    t = Table(title=f"{kernel} {size}: speedup against none at factor 1", title_justify="left")
    for col in COLUMNS:
        t.add_column(col.format(unit=unit), justify="left" if col in ("variant", "unroll in asm",
                                                                      "check") else "right")
    for r in rows:
        c = cells(r)
        for k in (-2, -1):
            word = c[k].split()[0] if c[k] else ""
            if word in _COLOR:
                c[k] = f"[{_COLOR[word]}]{c[k]}[/{_COLOR[word]}]"
        t.add_row(*c)
    return t


def markdown(kernel: str, dtype: str, sizes: list, rows: list, env: dict) -> str:
    out = [f"# unrollkit bench {kernel} ({dtype})", "",
           f"{env.get('cpu_model')} ({env.get('cpu')}), LLVM {env['versions'].get('llvmlite_llvm')}, "
           f"MLIR {env['versions'].get('mlir')}, {env.get('time')}; median of {env.get('repeat')} "
           f"samples of ≥ {env.get('target_sample_s', 0) * 1000:g} ms; spread = half the "
           "interquartile range; unroll in asm = elements per hot-loop trip against the rolled "
           "code of the same toolchain (g/s: gathers/scatters in the hot loop); spills = "
           "stack stores/loads in the hot loop.", ""]
    for size in sizes:
        here = [r for r in rows if r.size == size]
        out += sweep(kernel, size, here)
    for size in sizes:
        here = [r for r in rows if r.size == size]
        _, unit = bench.work(kernel, bench.parse_size(kernel, size), dtype)
        out += [f"## {kernel} {size}: every row", "", "| " + " | ".join(c.format(unit=unit) for c in COLUMNS) + " |",
                "|" + "|".join("---" for _ in COLUMNS) + "|"]
        out += ["| " + " | ".join(cells(r)) + " |" for r in here]
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


def _require_matplotlib():
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise UnrollkitError("--plot needs matplotlib, an optional extra: "
                             "pip install 'unrollkit[plot]' (or pip install matplotlib)") from None


def plot(kernel: str, dtype: str, rows: list, path: Path, env: dict) -> None:
    """Speedup against factor, one line per variant (and C compiler), one panel per size."""
    _require_matplotlib()
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    sizes = list(dict.fromkeys(r.size for r in rows))
    colors = plt.get_cmap("tab20")
    fig, axes = plt.subplots(1, len(sizes), figsize=(6.5 * len(sizes), 4.8), squeeze=False)
    for ax, size in zip(axes[0], sizes):
        here = [r for r in rows if r.size == size and r.speedup is not None]
        # the rolled loop (none, factor 1, same loop order) is every IR line's factor-1 point
        anchors = {r.order: r for r in here if r.variant == "none"}
        labels = list(dict.fromkeys(r.label for r in here if r.variant != "none"))
        ax.axhline(1.0, color="grey", linewidth=0.8)
        for n, label in enumerate(labels):
            line = [r for r in here if r.label == label]
            pts = sorted((r.factor, r.speedup) for r in line)
            if label == "numpy" or line[0].variant in ("llvm-auto", "c-plain"):
                # no factor of their own: a level to compare against
                ax.axhline(pts[0][1], linestyle=":", linewidth=1.2, color=colors(n % 20), label=label)
                continue
            anchor = anchors.get(line[0].order)
            if line[0].toolchain == "mlir" and anchor is not None and pts[0][0] != 1:
                pts = [(1, anchor.speedup)] + pts
            style = "-o" if line[0].toolchain == "mlir" else "--s"
            ax.plot([p[0] for p in pts], [p[1] for p in pts], style, label=label, markersize=4,
                    color=colors(n % 20))
        ax.set_xscale("log", base=2)
        ax.set_xticks(sorted({r.factor for r in here}))
        ax.get_xaxis().set_major_formatter(matplotlib.ticker.ScalarFormatter())
        ax.set_xlabel("unroll factor")
        ax.set_ylabel("speedup vs none, factor 1")
        ax.set_title(f"{kernel} {size} ({dtype})")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7, ncol=2)
    fig.suptitle(f"unrollkit bench {kernel}: {env.get('cpu_model', '')}", fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
