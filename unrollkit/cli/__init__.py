"""The command line, `unrollkit ...` (the top layer: nothing in the library imports it).

`app` (in `unrollkit.cli.app`) holds the Typer application and the commands that need no
subsystem of their own; importing the command modules below registers theirs on it, in
the order `unrollkit --help` lists them.
"""
from unrollkit.cli import bench  # noqa: F401  (registers `unrollkit bench`)
from unrollkit.cli import passes_cmd  # noqa: F401  (registers `unrollkit opt` and `unrollkit passes`)
from unrollkit.cli import explain  # noqa: F401,I001  (registers `unrollkit explain` and `unrollkit validate`)
from unrollkit.cli.app import app, main

__all__ = ["app", "main"]
