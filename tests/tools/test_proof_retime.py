"""tools/proof_retime.py: the transformed modules the compiler proves are collected (and only
those: a test's direct call of the proof is not), then proved again in this process and
tabulated. No timing thresholds: the measured seconds are only checked to be measured."""
from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np
from mlir import ir

import unrollkit as uk
from unrollkit.analysis import ir_bounds
from unrollkit.codegen import compiler
from unrollkit.kernels import dot

TOOLS = Path(__file__).resolve().parent.parent.parent / "tools"


def _tool(monkeypatch):
    monkeypatch.syspath_prepend(str(TOOLS))
    return importlib.import_module("proof_retime")


def test_the_compilers_proofs_are_collected_and_proved_again(tmp_path, monkeypatch, cache_dir):
    tool = _tool(monkeypatch)
    tmp_path = tmp_path / "modules"
    tmp_path.mkdir()
    monkeypatch.setattr(compiler.ir_bounds, "check_module", ir_bounds.check_module)  # (restored after)
    tool._collector(tmp_path)
    x = np.arange(37, dtype=np.float32)
    out = np.zeros(1, np.float32)
    uk.jit(dot, factor=4)(x, x, out)
    assert out[0] == float(np.dot(x, x))
    files = sorted(tmp_path.glob("*.mlir"))
    assert len(files) == 1 and files[0].read_text().startswith("// proof-retime: pipeline 'unroll'")
    with ir.Context(), ir.Location.unknown():  # a direct call (as the analysis tests make): not kept
        compiler.ir_bounds.check_module(ir.Module.parse("func.func @f() { return }"), "direct")
    assert len(list(tmp_path.glob("*.mlir"))) == 1
    records = tool.retime(tmp_path)
    assert [(r[0], r[2]) for r in records] == [("dot", "transformed")] and records[0][1] >= 0
    table = tool.summary(records, 20.0)
    assert "| transformed | 1 |" in table
