"""The ``unrollkit`` command. Sub-commands live with the code they drive; this module wires them."""
from __future__ import annotations

import sys
from typing import Optional

import typer
from rich.console import Console

from unrollkit.core.errors import UnrollkitError
import unrollkit as uk
from unrollkit.tools.kernel_ref import resolve_kernel
from unrollkit.tools.testdata import make_args
from unrollkit.core import cache
from unrollkit.codegen import so_cache
from collections import Counter
from pathlib import Path
from rich.progress import Progress
from unrollkit.tools.fuzz import Mismatch, RandomChooser, gen_case, run_case, save_case
from unrollkit.frontend.scalar_bounds import index_scalars
from unrollkit.tools.bench_workload import size_names

app = typer.Typer(help="unrollkit: a loop-unrolling kernel compiler for Python.",
                  no_args_is_help=True, add_completion=False)
cache_app = typer.Typer(help="The disk cache of compiled kernels.", no_args_is_help=True)
app.add_typer(cache_app, name="cache")
console = Console()


def parse_sizes(kernel, sizes: Optional[str]) -> dict:
    """``"N=1000,M=64"`` → {"N": 1000, "M": 64}; sizes not given default to 64. A name the
    kernel does not have is an error (``kernel`` None: a .mlir file, any name goes)."""
    out = {}
    if sizes:
        for item in sizes.split(","):
            if "=" not in item:
                raise UnrollkitError(f"--size expects NAME=VALUE pairs, got {item!r}")
            k, v = item.split("=", 1)
            try:
                out[k.strip()] = int(v)
            except ValueError:
                raise UnrollkitError(f"--size {k.strip()} must be an integer, got {v!r}") from None
    if kernel is not None:
        names = size_names(kernel) + list(index_scalars(kernel))  # (tsteps=5: a scalar's value)
        unknown = [n for n in out if n not in names]
        if unknown:
            raise UnrollkitError(f"kernel {kernel.name!r} has no size {', '.join(map(repr, unknown))}; "
                                 f"its sizes are {names}")
    return out


def example_args(kernel, sizes: dict, dtype: str = "f32"):
    """Arrays and scalars for ``kernel`` with the given sizes (`testdata.make_args`: random,
    reproducible, values in [0, 1), sizes not given 64)."""
    return make_args(kernel, sizes, dtype, default_size=64)


@app.command("ir")
def ir_cmd(kernel: str = typer.Argument(..., help="built-in kernel name or path/to/file.py:function"),
           factor: str = typer.Option("1", "--factor", help="unroll factor of the innermost loops, "
                                      "or auto: what jit(factor=\"auto\") runs"),
           stage: str = typer.Option("transformed", "--stage",
                                     help="affine | transformed | llvm | llvm-opt | asm"),
           variant: str = typer.Option("affine", "--variant", help="none, llvm-auto, pragma, macro, "
                                       "manual, affine, multi-acc, vector-acc, blas or auto"),
           size: Optional[str] = typer.Option(None, "--size", help="sizes, e.g. N=1000,M=64"),
           dtype: str = typer.Option("f32", "--dtype")):
    """Print a kernel's code at one stage."""
    k = resolve_kernel(kernel)
    f = uk.jit(k, factor=_factor(factor), variant=variant)
    args = example_args(k, parse_sizes(k, size), dtype)
    typer.echo(f.ir(stage, *args))


def _factor(text: str):
    """``--factor``: a positive integer or ``auto``."""
    if text.strip() == "auto":
        return "auto"
    try:
        return int(text)
    except ValueError:
        raise UnrollkitError(f"--factor takes a positive integer or auto, got {text!r}") from None


@cache_app.command("info")
def cache_info():
    """Where the cache is, and how many entries and bytes it holds."""
    i = cache.info()
    console.print(f"directory: {i['directory']}\nenabled: {i['enabled']}\n"
                  f"entries: {i['entries']}\nbytes: {i['bytes']}")


@cache_app.command("clear")
def cache_clear():
    """Remove every entry (only the files the cache wrote: other files in the folder stay)."""
    n = cache.clear()
    c = so_cache.clear()
    console.print(f"removed {n} entries from {cache.directory()}"
                  + (f" and {c} files of C variants" if c else ""))


@app.command("fuzz")
def fuzz_cmd(examples: int = typer.Option(1000, "--examples", help="how many random cases"),
             seed: int = typer.Option(0, "--seed", help="first seed; case k uses seed + k"),
             save_dir: str = typer.Option("fuzz-failures", "--save-dir",
                                          help="where failing cases are written as replayable files")):
    """Differential fuzzing: random kernels x pipelines x variants against the reference interpreter."""


    counts, failures = Counter(), []
    last = Path(save_dir) / "last-case.py"  # survives a crash of this process, for replay
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("fuzzing", total=examples)
        for k in range(examples):
            case = gen_case(RandomChooser(seed + k))
            save_case(case, save_dir).replace(last)
            try:
                counts[run_case(case)] += 1
            except Mismatch as exc:
                counts["mismatch"] += 1
                failures.append((save_case(case, save_dir), str(exc).splitlines()[0]))
            except Exception as exc:  # an unexpected exception is a bug too: keep the case
                counts["error"] += 1
                failures.append((save_case(case, save_dir), f"{type(exc).__name__}: {exc}"))
            bar.advance(task)
    last.unlink(missing_ok=True)
    if not any(Path(save_dir).iterdir()):
        Path(save_dir).rmdir()
    bad = counts["mismatch"] + counts["error"]
    console.print(f"{examples} examples: {counts['ok']} ok, {counts['refused']} refused by a pass, "
                  f"{counts['mismatch']} mismatches, {counts['error']} errors")
    for path, why in failures[:20]:
        console.print(f"  {path}: {why}", highlight=False)
    if bad:
        raise typer.Exit(1)


def main(argv=None):
    """Run the ``unrollkit`` command on ``argv`` (default: the process's arguments); an
    `UnrollkitError` is printed as ``error: ...`` and exits with status 2."""
    try:
        # non-standalone mode returns (rather than raises) the code of a `typer.Exit`
        code = app(args=argv, standalone_mode=False)
        if isinstance(code, int) and code:
            sys.exit(code)
    except UnrollkitError as exc:
        console.print(f"[red]error:[/red] {exc}", highlight=False)
        sys.exit(2)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except Exception as exc:  # usage errors (click's, as bundled by typer) in non-standalone mode
        if hasattr(exc, "show") and hasattr(exc, "exit_code"):
            exc.show()
            sys.exit(exc.exit_code)
        raise



if __name__ == "__main__":
    main()
