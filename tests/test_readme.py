"""The README's snippets run: every ``python`` code block (in order, as one script, in a
subprocess: a crash fails this test, not the suite), and every ``unrollkit`` command line of
its ``sh`` blocks parses (its options exist)."""
from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import OUTSIDE
from unrollkit.cli.app import app

REPO = Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text()
BENCH_README = (REPO / "bench" / "README.md").read_text()


def blocks(text: str, language: str) -> list:
    return re.findall(rf"^```{language}\n(.*?)^```", text, re.S | re.M)


def test_readme_has_python_blocks():
    assert len(blocks(README, "python")) >= 3


def test_every_python_block_runs(tmp_path):
    script = tmp_path / "readme_snippets.py"
    script.write_text("\n\n".join(blocks(README, "python")) + "\nprint('README OK')\n")
    env = dict(os.environ, UNROLLKIT_CACHE_DIR=str(tmp_path / "cache"))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env,
                          timeout=600, cwd=OUTSIDE)
    assert done.returncode == 0 and "README OK" in done.stdout, done.stdout[-3000:] + done.stderr[-3000:]


def command_lines() -> list:
    out = []
    for text in (README, BENCH_README):
        for block in blocks(text, "sh"):
            for line in block.splitlines():
                for part in line.split("&&"):
                    part = part.split("#")[0].strip().removeprefix(".venv/bin/")
                    if part.startswith("for "):  # bench/README's loop: its body is the command
                        part = part.split("do ", 1)[1].split(";")[0].replace("$k", "gemm")
                    if part.startswith("unrollkit "):
                        out.append(re.sub(r"\[([^\]]*)\]", r"\1", part))  # optional parts too
    return out


@pytest.mark.parametrize("line", command_lines())
def test_every_command_line_parses(line, tmp_path, monkeypatch):
    """The options exist (click checks each option before it reaches --help)."""
    monkeypatch.chdir(tmp_path)
    args = shlex.split(line)[1:]
    r = CliRunner().invoke(app, args + ["--help"], env={"COLUMNS": "120"})
    assert r.exit_code == 0, f"{line}: {r.output}"
    assert "Usage:" in r.output


def test_command_lines_were_found():
    lines = command_lines()
    assert any(ln.startswith("unrollkit bench gemm") for ln in lines)
    assert any("validate --cases" in ln for ln in lines)
