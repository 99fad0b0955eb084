"""``unrollkit explain KERNEL`` (the cost model's candidate table) and ``unrollkit validate``
(the model against measured sweeps). ``bench`` is a single command, not a group, so the
validation is its own top-level command. Registered on the app by one import in cli.py.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from unrollkit.cli.app import console, example_args, parse_sizes
from unrollkit.core.errors import UnrollkitError
import json
from unrollkit.tuning import cost_model, llvm_mca
from unrollkit.tools.kernel_ref import resolve_kernel
from unrollkit.runtime.jit_kernel import JitKernel
from unrollkit.core.target import host_target
from unrollkit.tuning.gemm_schedule import gemm_schedule
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from unrollkit.tools import cost_validate


def _f(x, fmt="{:.3g}") -> str:
    return "-" if x is None else fmt.format(x)


def candidate_table(choice, show_all: bool = False) -> Table:
    """The cost model's candidates for ``choice`` as a rich table: prediction, resources and the
    machine-code check of each; only the checked and the chosen ones unless ``show_all``."""
    p, t = choice.profile, choice.target
    title = (f"{p.kernel}: loop {p.loop!r}, trip {p.trip} × {p.instances}, {p.elem_bytes}-byte elements, "
             f"data in {p.level} (reuse footprint {p.footprint:,} B)")
    tab = Table(title=title, title_justify="left")
    cols = [("candidate", "left"), ("predicted", "right"), ("bound", "left"), ("vregs", "right"),
            ("gregs", "right"), ("uops", "right"), ("bytes", "right"), ("it/trip", "right"),
            ("insns", "right"), ("loop B", "right"), ("spill/rld", "right"), ("gather", "right"),
            ("mca c/trip", "right"), ("checked", "right"), ("verdict", "left")]
    for name, just in cols:
        tab.add_column(name, justify=just)
    for r in choice.rows:
        c, pr, f = r["candidate"], r["prediction"], r["facts"]
        win = c == choice.candidate
        if not show_all and not r["checked"] and not win:
            continue
        verdict = ("[bold green]CHOSEN[/bold green]" if win else
                   "[green]accepted[/green]" if r["accepted"] else f"[red]rejected[/red]: {r['why']}")
        found = f.get("found")
        tab.add_row(
            c.label, f"{pr.cycles:.3g}", pr.bound, str(pr.vec_regs) + (f"[red]+{pr.spill_regs}[/red]"
                                                                       if pr.spill_regs else ""),
            str(pr.gp_regs), f"{pr.uops:.0f}", str(pr.code_bytes),
            _f(r.get("iters") or (f.get("step_elements") if found else None), "{}"),
            _f(f.get("insns"), "{}"), _f(f.get("bytes"), "{}"),
            f"{f['spills']}/{f['reloads']}" if found else "-",
            (f"[red]{f['gathers'] + f['scatters']}[/red]" if found and f["gathers"] + f["scatters"]
             else "0" if found else "-"),
            _f(f.get("mca_cycles")),
            _f(r["cycles"]) if r["checked"] and found else "-",
            verdict)
    return tab


def explain_cmd(kernel: str = typer.Argument(..., help="built-in kernel name or path/to/file.py:function"),
                size: Optional[str] = typer.Option(None, "--size", help="sizes, e.g. N=1000,M=64 (default 64)"),
                dtype: str = typer.Option("f32", "--dtype", help="f32 | f64"),
                no_check: bool = typer.Option(False, "--no-check",
                                              help="analytical prediction only: compile nothing"),
                show_all: bool = typer.Option(False, "--all", help="also list candidates not machine-checked"),
                target_json: Optional[str] = typer.Option(None, "--target",
                                                          help="Target overrides: a JSON object or file")):
    """How factor="auto" decides for KERNEL at these sizes: every candidate's predicted cycles per
    iteration, registers, uops and bytes, the machine-code facts of the leading ones, the choice and why."""

    k = resolve_kernel(kernel)
    if dtype not in ("f32", "f64"):
        raise UnrollkitError(f"--dtype must be f32 or f64, got {dtype!r}")
    over = None
    if target_json:
        raw = target_json if target_json.strip().startswith("{") else Path(target_json).read_text()
        over = json.loads(raw)
    t = host_target(over)
    jk = JitKernel(k, factor="auto")
    sig, _ = jk.signature(example_args(k, parse_sizes(k, size), dtype))
    blocks = jk.parallel.blocks_for(sig) if jk.parallel else None
    if blocks:  # jit(factor="auto") runs row blocks in parallel: each block is what is chosen
        console.print(f"[bold]{jk.parallel.describe(blocks)}[/bold]", highlight=False, soft_wrap=True)
        sig = blocks[0][0]
    gemm = _explain_gemm(k, sig, t)
    if gemm and not show_all:
        return
    choice = cost_model.choose(k, sig, target=t, check=not no_check, keep=False)
    if choice.profile is None:
        console.print(f"[bold]choice:[/bold] {choice.describe()}", highlight=False)
        return
    out = console if console.is_terminal else Console(width=max(console.width, 180))
    out.print(f"target: {t.cpu} → family {t.family}; {t.vector_registers} vector registers "
              f"({t.vector_bits}-bit, LLVM prefers {t.preferred_vector_bits}); FMA latency {t.fma_latency}, "
              f"{t.fma_units} FMA/cycle; {t.load_ports} loads + {t.store_ports} stores/cycle; "
              f"issue {t.issue_width}; uop cache {t.uop_cache_uops}; L1d {t.l1d_bytes >> 10} KiB, "
              f"L2 {t.l2_bytes >> 10} KiB, L3 {t.l3_bytes >> 20} MiB; llvm-mca "
              + (f"-mcpu={t.mca_cpu}" if llvm_mca.mca_path() else "[yellow]not found: asm port counts instead[/yellow]"),
              highlight=False)
    out.print(candidate_table(choice, show_all or no_check))
    out.print("predicted and checked: cycles per original iteration; uops, bytes: analytical, per trip; "
              "insns, loop B, spill/rld, gather, mca: the hot loop of the real machine code", style="dim")
    if gemm:
        out.print("(these unroll-factor candidates are not what jit runs for this GEMM nest: see "
                  "the schedule above)", style="dim")
    else:
        out.print(f"[bold]choice:[/bold] {choice.describe()}", highlight=False)


def _explain_gemm(k, sig, t) -> bool:
    """A GEMM nest: jit(factor="auto") runs the derived BLAS-style schedule (what
    `runtime.JitKernel` does first), not an unroll-factor candidate; print it. False otherwise."""
    s = gemm_schedule(k, sig, t)
    if s is None:
        return False
    console.print(f"[bold]choice:[/bold] blas: GEMM nest: {s.describe()}; " + "; ".join(s.why),
                  highlight=False)
    console.print(f"pipeline: {s.pipeline().text()}", highlight=False, soft_wrap=True)
    console.print("jit(factor=\"auto\") runs this schedule for a GEMM nest; the unroll-factor "
                  "candidates (--all lists them) are not used", style="dim")
    return True


def validate_cmd(repeat: int = typer.Option(15, "--repeat", help="samples per configuration (median)"),
                 target_ms: float = typer.Option(10.0, "--target-ms", help="minimum duration of one sample"),
                 cases: Optional[str] = typer.Option(None, "--cases",
                                                     help="comma-separated case names or kernels (default: all)"),
                 out: Optional[Path] = typer.Option(None, "--out", help="write validate.json and "
                                                    "VALIDATE.md into this folder (default: print only)"),
                 json_out: Optional[Path] = typer.Option(None, "--json", help="write every measurement here"),
                 md_out: Optional[Path] = typer.Option(None, "--markdown", help="write the summary tables here"),
                 pin: Optional[int] = typer.Option(None, "--pin", help="run on this CPU only"),
                 max_factor: int = typer.Option(16, "--max-factor"),
                 dry_run: bool = typer.Option(False, "--dry-run", help="compile, verify and choose "
                                              "only; time nothing, write nothing")):
    """Sweep the corpus over factors 1..16 (accumulators and vector accumulators for reductions,
    unroll-and-jam for nests), LLVM's unroller off, and score factor="auto" against the measured
    best (and factor 1 and llvm-auto against it). Also ``unrollkit bench validate``. Nothing
    is written unless --out, --json or --markdown says where."""


    corpus = cost_validate.select(cost_validate.CORPUS, cases)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console, transient=True) as progress:
        task = progress.add_task("validate", total=len(corpus))

        def step(name):
            progress.update(task, description=f"validate {name}")
            progress.advance(task)
        result = cost_validate.run(corpus, repeat=repeat, sample_seconds=target_ms / 1000, pin=pin,
                                   max_factor=max_factor, progress=step, dry_run=dry_run)
    if dry_run:
        for c in result["cases"]:
            bad = c["mismatch"] or "ok"
            console.print(f"{c['name']:24} {c['configs']} configurations, model level {c['model_level']}, "
                          f"pick {c['pick']['label']} ({c['choose_s']:.1f} s): {bad}"
                          + (f"; {len(c['errors'])} refused" if c["errors"] else ""), highlight=False)
        if any(c["mismatch"] for c in result["cases"]):
            raise typer.Exit(1)
        return
    shown = console if console.is_terminal else Console(width=max(console.width, 160))
    shown.print(cost_validate.case_table(result))
    shown.print(cost_validate.summary_table(result))
    if out is not None:
        json_out = json_out or out / "validate.json"
        md_out = md_out or out / "VALIDATE.md"
    for path, text in ((json_out, lambda: json.dumps(result, indent=1, default=str)),
                       (md_out, lambda: cost_validate.markdown(result))):
        if path is not None and str(path):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text())
            console.print(f"wrote {path}")
    bad = [c for c in result["cases"] if c.get("mismatch")]
    if bad:
        for c in bad:
            console.print(f"[red]MISMATCH[/red] {c['name']}: {c['mismatch']}", highlight=False)
        raise typer.Exit(1)
