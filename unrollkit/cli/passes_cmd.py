"""``unrollkit opt`` and ``unrollkit passes``: run a pass pipeline on a kernel's affine IR and show
what each pass does; list the passes with their options and documentation.

    unrollkit opt gemm -p 'tile{i=32,j=32},unroll{loop=j,factor=4}' --size M=64,K=64,N=64
    unrollkit opt gemm -p 'permute{order=i:j:k}' --print-after-all
    unrollkit opt path/to/kernels.py:saxpy -p 'vectorize{width=8}' --diff --run
    unrollkit opt module.mlir -p 'unroll{factor=2},canonicalize'
    unrollkit passes [NAME]
"""
from __future__ import annotations

import inspect
import re
from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape
from rich.table import Table

from unrollkit.cli.app import console, example_args, parse_sizes
from unrollkit.core.errors import UnrollkitError
from mlir import ir
from unrollkit.tools.kernel_ref import resolve_kernel
from unrollkit.codegen.pipeline import Pipeline, diff_steps, lower_kernel
from unrollkit.ir.mlir_passes import diagnostics
import numpy as np
import unrollkit as uk
from unrollkit.runtime.interpreter import interpret
from unrollkit.passes import REGISTRY, is_user_pass


def _module_for(kernel_ref: str, sizes: dict, dtype: str, kernel=None):
    """(module, kernel or None, example args or None); a .mlir file is parsed in the current
    MLIR context, a kernel (``kernel``, already resolved, or resolved here) is lowered in a
    fresh one."""
    if kernel_ref.endswith(".mlir"):
        path = Path(kernel_ref)
        if not path.is_file():
            raise UnrollkitError(f"MLIR file {kernel_ref!r} not found")
        try:
            return ir.Module.parse(path.read_text()), None, None
        except ir.MLIRError as exc:
            raise UnrollkitError(f"cannot parse {kernel_ref}: {diagnostics(exc)}") from None
    k = kernel if kernel is not None else resolve_kernel(kernel_ref)
    return lower_kernel(k, sizes, dtype), k, example_args(k, sizes, dtype)


def opt_cmd(kernel: str = typer.Argument(..., help="built-in kernel name, path/to/file.py:function, "
                                                   "or a .mlir file"),
            pipeline: str = typer.Option("", "-p", "--pipeline",
                                         help="passes, e.g. 'tile{i=32,j=32},unroll{loop=j,factor=4}'"),
            print_after_all: bool = typer.Option(False, "--print-after-all",
                                                 help="print the IR after every pass"),
            diff: bool = typer.Option(False, "--diff", help="print what each pass changed (unified diff)"),
            size: Optional[str] = typer.Option(None, "--size", help="sizes, e.g. N=1000,M=64 (default 64)"),
            dtype: str = typer.Option("f32", "--dtype", help="element type of generic arrays"),
            run: bool = typer.Option(False, "--run", help="also compile the result, run it on random "
                                                          "data and compare with the reference interpreter")):
    """Run a pass pipeline on a kernel's affine IR and print the result."""

    k = None
    if not kernel.endswith(".mlir"):
        # import the kernel's file first: the passes it registers are then known to the parser
        k = resolve_kernel(kernel)
    pipe = Pipeline.parse(pipeline)  # validated before anything is built
    with ir.Context():
        module, k, args = _module_for(kernel, parse_sizes(k, size), dtype, k)
    with module.context, ir.Location.unknown():
        steps = pipe.run(module, record=True)
    if diff:
        for i in range(1, len(steps)):
            console.print(f"[bold]// ----- {escape(steps[i].name)}: {steps[i].seconds * 1e3:.2f} ms, "
                          f"{steps[i - 1].ops} → {steps[i].ops} ops[/bold]", highlight=False)
            typer.echo(diff_steps(steps, i - 1, i) or "(no change)")
    elif print_after_all:
        for s in steps:
            head = "input" if s.index == 0 else f"after {s.name}"
            typer.echo(f"// ----- IR {head} ({s.seconds * 1e3:.2f} ms, {s.ops} ops) -----")
            typer.echo(s.ir)
    else:
        typer.echo(steps[-1].ir)
    if run:
        _run_and_check(k, pipe, args)


def _run_and_check(k, pipe, args) -> None:

    if k is None:
        raise UnrollkitError("--run needs a kernel descriptor (a built-in or file.py:function), "
                             "not a .mlir file: the reference interpreter runs descriptors")
    got = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    want = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    uk.jit(k, pipeline=pipe)(*got)
    interpret(k, *want)
    worst = 0.0
    for p, g, w in zip(k.params, got, want):
        if p.is_array:
            if not np.allclose(g, w, rtol=1e-4, atol=1e-4, equal_nan=True):
                bad = np.argwhere(~np.isclose(g, w, rtol=1e-4, atol=1e-4, equal_nan=True))[0]
                console.print(f"[red]MISMATCH[/red] in {p.name} at {tuple(bad)}: compiled "
                              f"{g[tuple(bad)]!r}, reference {w[tuple(bad)]!r}", highlight=False)
                raise typer.Exit(1)
            if g.size:
                worst = max(worst, float(np.max(np.abs(g.astype(np.float64) - w))))
    console.print(f"run: result matches the reference interpreter (max abs difference {worst:.3g})",
                  highlight=False)


def passes_cmd(name: Optional[str] = typer.Argument(None, help="show only this pass")):
    """List the passes usable in a pipeline, with their options and documentation."""
    names = sorted(REGISTRY)
    if name is not None:
        if name not in REGISTRY:
            raise UnrollkitError(f"unknown pass {name!r}; the passes are {names}")
        names = [name]
    table = Table(title="unrollkit passes", show_lines=True)
    table.add_column("pass", style="bold cyan", no_wrap=True)
    table.add_column("options (type, default)")
    table.add_column("summary")
    for n in names:
        cls = REGISTRY[n]
        opts = "\n".join(f"{k.replace('_', '-')}: {getattr(t, '__name__', t)} = {_default(d)}"
                         for k, (t, d) in cls.options().items()) or "—"
        doc = plain_text(inspect.getdoc(cls) or "")
        summary = doc.split("\n\n")[0].replace("\n", " ")
        table.add_row(n + (" (user)" if is_user_pass(n) else ""), escape(opts), escape(summary))
    console.print(table)
    if name is not None:
        console.print(escape(plain_text(inspect.getdoc(REGISTRY[name]) or "")), highlight=False)


def plain_text(doc: str) -> str:
    """A docstring without its reStructuredText markup: ``code``, `refs`, :role:`x` and
    ``name <target>`` become their text; a paragraph's closing ``::`` becomes ``:``."""
    doc = re.sub(r":[a-z]+:`([^`]*)`", r"\1", doc)
    doc = re.sub(r"``([^`]*)``", r"\1", doc)
    doc = re.sub(r"`([^`<]*?)\s*(<[^`]*>)?`_{0,2}", r"\1", doc)
    return re.sub(r"::(\s*)$", r":\1", doc, flags=re.M)


def _default(v) -> str:
    if v is None:
        return "—"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, tuple):
        return ":".join(map(str, v)) or "()"
    return repr(v) if isinstance(v, str) else str(v)
