"""The import graph (tools/import_graph.py, issue 16): the tool reads the real tree, there are
no import cycles, and each layer imports only the layers below it."""
from __future__ import annotations

import importlib.util
from pathlib import Path

TOOL = Path(__file__).resolve().parent.parent / "tools" / "import_graph.py"

#: the one function-local import of the package's own modules, and why it stays local
LAZY = {("unrollkit.tuning.variants", "unrollkit.kernels.manual")}  # parses the manual kernels on demand


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
    assert tool.upward(tool.graph()[0]) == []


def test_no_import_cycles():
    tool = load_tool()
    comps = tool.cycles(tool.graph()[0])
    assert comps == []


def test_every_module_belongs_to_a_layer():
    tool = load_tool()
    for m in tool.graph()[0]:
        tool.layer_of(m)  # ValueError for a module outside LAYERS


def test_an_upward_import_is_reported():
    tool = load_tool()
    edges = {"unrollkit.core.errors": {"unrollkit.runtime.bind"}, "unrollkit.runtime.bind": set()}
    assert tool.upward(edges) == [("unrollkit.core.errors", "unrollkit.runtime.bind")]


def test_imports_inside_functions_are_only_the_known_lazy_one():
    tool = load_tool()
    _, local = tool.graph()
    assert {(m, t) for m, items in local.items() for _, t in items} <= LAZY
