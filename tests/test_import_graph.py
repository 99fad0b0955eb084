"""The import graph (tools/import_graph.py, issue 16): the tool reads the real tree, there are
no import cycles, and each layer imports only the layers below it."""
from __future__ import annotations

import importlib.util
from pathlib import Path

TOOL = Path(__file__).resolve().parent.parent / "tools" / "import_graph.py"

#: imports still crossing the layers upward (ir_utils' range analysis borrows passes.dependence's;
#: the isl legality analysis removes it)
KNOWN_UPWARD = {("unrollkit.ir.ir_utils", "unrollkit.passes.dependence")}


def load_tool():
    spec = importlib.util.spec_from_file_location("import_graph", TOOL)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_the_graph_covers_every_layer_and_finds_a_known_edge():
    tool = load_tool()
    edges, local = tool.graph()
    assert {"unrollkit.runtime.jit_kernel", "unrollkit.passes.unroll", "unrollkit.kernels.gemm"} <= set(edges)
    assert "unrollkit.codegen.compiler" in edges["unrollkit.runtime.jit_kernel"]
    assert any(local.values())


def test_cycles_are_found_exactly():
    tool = load_tool()
    assert tool.cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b"]]
    assert tool.cycles({"a": {"b"}, "b": {"c"}, "c": set()}) == []


def test_no_layer_imports_a_layer_above_it():
    tool = load_tool()
    assert set(tool.upward(tool.graph()[0])) <= KNOWN_UPWARD


def test_no_import_cycles_beyond_the_known_upward_import():
    tool = load_tool()
    comps = tool.cycles(tool.graph()[0])
    assert all(set(c) <= {m for pair in KNOWN_UPWARD for m in pair} for c in comps), comps


def test_every_module_belongs_to_a_layer():
    tool = load_tool()
    for m in tool.graph()[0]:
        tool.layer_of(m)  # ValueError for a module outside LAYERS


def test_an_upward_import_is_reported():
    tool = load_tool()
    edges = {"unrollkit.core.errors": {"unrollkit.runtime.bind"}, "unrollkit.runtime.bind": set()}
    assert tool.upward(edges) == [("unrollkit.core.errors", "unrollkit.runtime.bind")]
