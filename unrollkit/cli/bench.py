"""``unrollkit bench KERNEL``: every way of unrolling one kernel, measured side by side.

The harness is `unrollkit.tools.bench`, the tables and figures `unrollkit.tools.bench_report`; this module
is the command: options, progress bar, ``--json``, ``--markdown`` and ``--plot``. Registered
on the ``unrollkit`` app by one import in cli.py.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from unrollkit.tools import bench
from unrollkit.tools import bench_report as report
from unrollkit.cli.app import console
from unrollkit.tools.bench_environment import blas_forced
from unrollkit.core.errors import UnrollkitError
from unrollkit.tools.bench_workload import is_builtin, size_names
from unrollkit.tools.kernel_ref import resolve_kernel
from unrollkit.tools import bench_runtime
import importlib.util
from unrollkit.cli import explain
from unrollkit.tools import bench_contractions


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


def _sizes(kernel: str, sizes: Optional[str], size: Optional[List[str]]) -> list:
    """Size texts: every --size (NAME=VALUE pairs), or --sizes (a comma-separated list of
    built-in shorthands), or the kernel's defaults."""
    k = resolve_kernel(kernel)
    if size and sizes:
        raise UnrollkitError("give --size (NAME=VALUE pairs, repeatable) or --sizes (a list), not both")
    if size:
        out = list(size)
    elif sizes:
        out = _csv(sizes)
    elif is_builtin(k):
        out = _csv(bench.DEFAULT_SIZES.get(k.name, "1024"))
    else:
        raise UnrollkitError(f"{kernel}: give the sizes of a user kernel, e.g. --size "
                             + ",".join(f"{n}=1024" for n in size_names(k)))
    for s in out:
        bench.parse_size(k, s, is_builtin(k))
    return out


def bench_cmd(
        kernel: str = typer.Argument(..., help="a built-in (" + ", ".join(bench.DEFAULT_SIZES)
                                     + "), path/to/file.py:function, validate (the cost "
                                     "model's validation: takes `unrollkit validate`'s options), "
                                     "or runtime (call overhead, parallel scaling, auto compile "
                                     "times: bench/RUNTIME.md)"),
        sizes: Optional[str] = typer.Option(None, "--sizes", help="comma-separated built-in sizes: "
                                            "N (every size N), gemm MxNxK (default gemm 128,512; "
                                            "mac, dot, jacobi1d 4096,262144; iir, prefix_sum "
                                            "4096,65536; gemv 128,1024)"),
        size: Optional[List[str]] = typer.Option(None, "--size", help="one size by name, e.g. "
                                                 "N=1000 or M=64,N=32,K=16 (repeatable); an integer scalar in "
                                                 "bounds too: N=1000,tsteps=50"),
        factors: str = typer.Option("1,2,4,8", "--factors", help="unroll factors"),
        variants: Optional[str] = typer.Option(None, "--variants", help="comma-separated, from "
                                               + ", ".join(bench.IR_VARIANTS + bench.CHOOSING_VARIANTS
                                                           + bench.C_VARIANTS) + ", numpy "
                                               "(default: every one that applies to the kernel)"),
        dtype: str = typer.Option("f32", "--dtype", help="f32 | f64"),
        repeat: Optional[int] = typer.Option(None, "--repeat", help="samples per row (the median is "
                                             "reported; default 11, validate 15)"),
        target_ms: Optional[float] = typer.Option(None, "--target-ms", help="minimum duration of one "
                                                  "sample (default 20 ms, validate 10 ms)"),
        compilers: Optional[str] = typer.Option(None, "--compilers", help="C compilers (default: all found)"),
        json_out: Optional[Path] = typer.Option(None, "--json", help="write every row and the environment"),
        plot_out: Optional[Path] = typer.Option(None, "--plot", help="speedup and compile time against "
                                                "the factor (matplotlib, the [plot] extra)"),
        md_out: Optional[Path] = typer.Option(None, "--markdown", help="write the tables as markdown"),
        out_dir: Optional[Path] = typer.Option(None, "--out", help="write KERNEL.json, KERNEL.md "
                                               "(and KERNEL.png with matplotlib) into this folder; "
                                               "validate: validate.json and VALIDATE.md (default: "
                                               "print only)"),
        wide: bool = typer.Option(False, "--wide", help="every column (default: what fits 80 columns)"),
        pin: Optional[int] = typer.Option(None, "--pin", help="run on this CPU only (sched_setaffinity)"),
        use_cache: bool = typer.Option(False, "--use-cache", help="reuse cached compiles (compile "
                                       "times then show cache loads)"),
        remeasure_peak: bool = typer.Option(False, "--remeasure-peak", help="measure the machine's "
                                            "peaks again (else the ones cached for this CPU)"),
        cases: Optional[str] = typer.Option(None, "--cases", help="validate: case names or kernels; contractions: kernel names"),
        max_factor: int = typer.Option(16, "--max-factor", help="validate only: largest factor swept"),
        dry_run: bool = typer.Option(False, "--dry-run", help="validate only: compile, verify and "
                                     "choose; time nothing")):
    """Time every way of unrolling KERNEL (auto and numpy included) and verify every result;
    each row also as a % of the machine's peak. (Long in its signature only: Typer declares
    each of the command's options inline, with its help text.)"""
    if repeat is not None and repeat < 1:
        raise UnrollkitError("--repeat must be at least 1")
    forced = blas_forced()
    if forced:
        console.print("[yellow]warning:[/yellow] " + escape(forced), highlight=False)
    if kernel == "validate":
        if sizes or size or variants or compilers or plot_out or wide or factors != "1,2,4,8" \
                or dtype != "f32":
            raise UnrollkitError("`unrollkit bench validate` takes `unrollkit validate`'s options: "
                                 "--cases, --repeat, --target-ms, --out, --json, --markdown, "
                                 "--pin, --max-factor, --dry-run")
        explain.validate_cmd(repeat=repeat or 15, target_ms=target_ms or 10.0, cases=cases, out=out_dir,
                     json_out=json_out, md_out=md_out, pin=pin, max_factor=max_factor,
                     dry_run=dry_run)
        return
    if kernel == "runtime":
        bench_runtime_cmd(repeat or 15, target_ms or 20.0, out_dir, json_out, md_out, pin)
        return
    if kernel == "contractions":  # kernels/contractions.py beside numpy (unrollkit.tools.bench_contractions)
        return bench_contractions.cli(sizes, dtype, repeat, target_ms, out_dir, md_out, json_out, cases)
    if cases or dry_run or max_factor != 16:
        raise UnrollkitError("--cases, --max-factor and --dry-run are options of `bench validate`")
    repeat, target_ms = repeat or 11, target_ms or 20.0
    size_list = _sizes(kernel, sizes, size)
    if out_dir is not None:
        stem = out_dir / Path(kernel.rsplit(":", 1)[-1]).name
        json_out = json_out or stem.with_suffix(".json")
        md_out = md_out or stem.with_suffix(".md")
        if plot_out is None and _has_matplotlib():
            plot_out = stem.with_suffix(".png")
    found = bench.available_compilers(_csv(compilers) if compilers else None)
    asked_c = [v for v in _csv(variants) if v in bench.C_VARIANTS] if variants else []
    if asked_c and not found:  # else their rows would silently vanish (issue 11)
        raise UnrollkitError(f"--variants {','.join(asked_c)} needs a C compiler, and none of "
                             f"{compilers or 'gcc, clang'} is on PATH")
    if plot_out is not None:
        report.require_matplotlib()
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console, transient=True) as progress:
        def factory(total, description):
            task = progress.add_task(f"{kernel} {description}", total=total)
            return lambda: progress.advance(task)
        result = bench.run(kernel, size_list, _csv(variants) if variants else None, _factors(factors),
                           dtype=dtype, repeat=repeat, sample_seconds=target_ms / 1000, pin=pin,
                           progress_factory=factory, compilers=found, use_cache=use_cache,
                           remeasure_peak=remeasure_peak)
    show(kernel, dtype, size_list, result, repeat, target_ms, pin, wide, factors != "1,2,4,8")
    write(kernel, dtype, size_list, result, json_out, md_out, plot_out)
    fail_on_mismatch(result["rows"])


def bench_runtime_cmd(repeat: int, target_ms: float, out_dir, json_out, md_out, pin) -> None:
    """``unrollkit bench runtime``: what a call costs, what a second core gives, how long
    ``factor="auto"`` takes to choose (`unrollkit.tools.bench_runtime`)."""
    if pin is not None:
        raise UnrollkitError("bench runtime measures parallel calls: it cannot be pinned to one CPU")
    if out_dir is not None:
        md_out, json_out = md_out or out_dir / "RUNTIME.md", json_out or out_dir / "runtime.json"
    for path in (md_out, json_out):  # before the run: a missing folder must not lose its results
        if path is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    with console.status("measuring call overhead, parallel scaling and auto compile times"):
        text, raw = bench_runtime.run(rounds=repeat, seconds=target_ms / 1000,
                                      command="unrollkit bench runtime" + (f" --out {out_dir}" if out_dir else ""))
    console.print(text, markup=False, highlight=False, soft_wrap=True)
    if md_out is not None:
        Path(md_out).write_text(text)
    if json_out is not None:
        Path(json_out).write_text(json.dumps(raw, indent=1, default=str))


def _has_matplotlib() -> bool:
    return importlib.util.find_spec("matplotlib") is not None


def show(kernel, dtype, size_list, result, repeat, target_ms, pin, wide, sweep) -> None:
    """The header, a table and a summary line per size, the legend (and the sweep tables)."""
    rows, env, works = result["rows"], result["environment"], result["works"]
    peaks = env.get("peaks")
    name = works[size_list[0]].name
    console.print(f"[bold]{name}[/bold] {dtype} on {env['cpu_model']} ({env['cpu']}), "
                  f"LLVM {env['versions'].get('llvmlite_llvm')}; median of {repeat} samples of "
                  f"≥ {target_ms:g} ms per row"
                  + (f", pinned to CPU {pin}" if pin is not None else "")
                  + (f"; peaks{' (cached)' if peaks.get('cached') else ''}: FMA "
                     f"{peaks['fma'][dtype]['gflops']:.0f} GFLOP/s, bandwidth "
                     + ", ".join(f"{lvl} {bw:.0f}" for lvl, bw in peaks["bandwidth"].items())
                     + " GB/s" if peaks else ""), highlight=False)
    out = console
    if wide and not console.is_terminal:
        out = Console(width=max(console.width, 180))
    for s in size_list:
        here = [r for r in rows if r.size == s]
        out.print(report.table(works[s], here, peaks, wide))
        if sweep:
            for t in report.sweep_tables(works[s], here):
                out.print(t)
    for s in size_list:
        console.print("[bold]" + report.summary(works[s], [r for r in rows if r.size == s], peaks)
                      + "[/bold]", highlight=False)
    over = [r for r in rows if r.peak_pct is not None and r.peak_pct > 110]
    if over:  # a peak measured while the machine was busy is too low: say so, do not hide it
        console.print(f"[yellow]{len(over)} row(s) above 110% of the cached peak (e.g. {over[0].label}: "
                      f"{over[0].peak_pct:.0f}%): the peak was measured on a busy machine; rerun "
                      "with --remeasure-peak on a quiet one[/yellow]", highlight=False)
    numpy_forms = {t for t in env.get("numpy_reference", {}).values() if t}
    console.print(report.LEGEND + (" numpy: " + "; ".join(sorted(numpy_forms)) + ", one thread, "
                                   "outputs preallocated." if numpy_forms else ""),
                  style="dim", highlight=False)


def write(kernel, dtype, size_list, result, json_out, md_out, plot_out) -> None:
    """Write the ``bench`` result where asked: ``--json`` (environment and every row's record),
    ``--markdown`` and ``--plot``; a path that is None is skipped."""
    rows, env, works = result["rows"], result["environment"], result["works"]
    name = works[size_list[0]].name
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps({"kernel": name, "dtype": dtype, "sizes": size_list,
                                        "environment": env,
                                        "rows": [r.record() for r in rows]}, indent=1, default=str))
        console.print(f"wrote {json_out}")
    if md_out is not None:
        md_out.parent.mkdir(parents=True, exist_ok=True)
        md_out.write_text(report.markdown(name, dtype, size_list, rows, env, works))
        console.print(f"wrote {md_out}")
    if plot_out is not None:
        report.plot(name, dtype, rows, plot_out, env)
        console.print(f"wrote {plot_out}")


def fail_on_mismatch(rows) -> None:
    """Report skipped rows; a wrong result fails the command."""
    bad = [r for r in rows if r.verified is False]
    skipped = {}  # one line per reason: a variant refused at every factor is one line
    for r in rows:
        if r.error:
            skipped.setdefault((r.label, r.size, r.error), []).append(f"×{r.factor}")
    for (label, size, error), factors in skipped.items():
        console.print(f"[yellow]skipped[/yellow] {label} {', '.join(factors)} ({size}): {error}",
                      highlight=False)
    if bad:
        for r in bad:
            console.print(f"[red]MISMATCH[/red] {r.label} ×{r.factor} size {r.size}: "
                          f"relative error {r.max_error:.3g} against the reference", highlight=False)
        # an UnrollkitError: `unrollkit` prints it and exits non-zero (a typer.Exit would be
        # swallowed by the app running in non-standalone mode)
        raise bench.BenchMismatch(f"{len(bad)} result(s) differ from the reference; see MISMATCH above")
