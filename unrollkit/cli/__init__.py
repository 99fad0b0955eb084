"""The command line, `unrollkit ...` (the top layer: nothing in the library imports it).

`app` (in `unrollkit.cli.app`) holds the Typer application with the commands that need no
subsystem of their own (``ir``, ``fuzz``, ``cache``); the others live in their modules and are
registered here, in the order ``unrollkit --help`` lists them.
"""
from unrollkit.cli import bench, explain, passes_cmd
from unrollkit.cli.app import app, main

for _name, _command in (("bench", bench.bench_cmd), ("opt", passes_cmd.opt_cmd),
                        ("passes", passes_cmd.passes_cmd), ("explain", explain.explain_cmd),
                        ("validate", explain.validate_cmd)):
    app.command(_name)(_command)

__all__ = ["app", "main"]
