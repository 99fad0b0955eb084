"""Print unrollkit's import graph: its cycles and its function-local imports.

    python tools/import_graph.py            # the cycles (strongly connected components)
    python tools/import_graph.py --locals   # also every import inside a function, by module
    python tools/import_graph.py --json     # the graph, for other tools

It also checks the layers (``LAYERS``, bottom to top): a module may import its own layer and the
layers below it, never one above; every violation is printed as ``upward: a -> b``.

Reads the source with `ast` (nothing is imported, so it runs without the package installed),
maps the installed names to the folders (``unrollkit.passes`` → ``passes/``,
``unrollkit.kernels`` → ``kernels/``), and counts both module-level and function-level
imports as edges: an import hidden in a function still ties the two modules together.
"""
from __future__ import annotations

import argparse
import ast
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: installed package → source folder (pyproject.toml's package-dir)
PACKAGES = {"unrollkit": ROOT / "unrollkit", "unrollkit.passes": ROOT / "passes",
            "unrollkit.kernels": ROOT / "kernels"}

#: the layers, bottom to top (README "Layout"): each imports only itself and the layers below
LAYERS = ("core", "frontend", "kernels", "analysis", "ir", "passes", "codegen", "tuning",
          "runtime", "", "tools", "cli", "__main__")  # "" = the package root, the public API


def layer_of(module: str) -> int:
    """Index in LAYERS of a dotted module name (``unrollkit.codegen.compiler`` → codegen)."""
    parts = module.split(".")
    return LAYERS.index(parts[1] if len(parts) > 1 else "")


def upward(edges: dict) -> list:
    """[(importer, imported)] for every import of a higher layer."""
    return sorted((a, b) for a, bs in edges.items() for b in bs if layer_of(b) > layer_of(a))


def modules() -> dict:
    """{dotted module name: path} for every .py file of the package."""
    out = {}
    for pkg, folder in PACKAGES.items():
        for path in sorted(folder.rglob("*.py")):
            rel = path.relative_to(folder).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            out[".".join([pkg] + parts)] = path
    return out


def extension_modules(mods: dict) -> set:
    """Dotted names of the C extension modules beside the packages' ``.py`` files."""
    return {pkg + "." + c.stem for pkg, p in mods.items() if p.name == "__init__.py"
            for c in p.parent.glob("*.c")}


def _resolve(name: str, node, mods: dict, extensions: set) -> str | None:
    """The module of ``mods`` an import in module ``name`` refers to (longest known prefix);
    None for an import of one of the C ``extensions`` or of anything outside the package."""
    if isinstance(node, ast.ImportFrom):
        if node.level:
            base = name.split(".")
            is_pkg = mods[name].name == "__init__.py"
            base = base[:len(base) - node.level + (1 if is_pkg else 0)]
            target = ".".join(base + ([node.module] if node.module else []))
        else:
            target = node.module or ""
        cands = [target + "." + a.name for a in node.names] + [target]
    else:
        cands = [a.name for a in node.names]
    if any(c in extensions for c in cands):
        return None  # a C extension module (no Python source, no imports of its own)
    for c in cands:
        while c:
            if c in mods:
                return c
            c = c.rpartition(".")[0]
    return None


def graph() -> tuple[dict, dict]:
    """(edges {module: set of modules}, function-local imports {module: [(line, target)]})."""
    mods = modules()
    extensions = extension_modules(mods)
    edges, local = {m: set() for m in mods}, {m: [] for m in mods}
    for name, path in mods.items():
        tree = ast.parse(path.read_text(), str(path))
        funcs = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
        inside = {id(n) for f in funcs for n in ast.walk(f)}
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                target = _resolve(name, node, mods, extensions)
                if target is None or target == name:
                    continue
                edges[name].add(target)
                if id(node) in inside:
                    local[name].append((node.lineno, target))
    return edges, local


def cycles(edges: dict) -> list:
    """Strongly connected components with more than one module (Tarjan), largest first."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(max(10000, sys.getrecursionlimit()))
    for v in sorted(edges):
        if v not in index:
            visit(v)
    return sorted(out, key=len, reverse=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--locals", action="store_true", help="list every function-local import")
    ap.add_argument("--json", action="store_true", help="print the graph as JSON")
    args = ap.parse_args(argv)
    edges, local = graph()
    comps = cycles(edges)
    if args.json:
        print(json.dumps({"edges": {k: sorted(v) for k, v in edges.items()}, "cycles": comps,
                          "local_imports": local}, indent=1))
        return 0
    n_local = sum(len(v) for v in local.values())
    print(f"{len(edges)} modules, {sum(len(v) for v in edges.values())} imports "
          f"({n_local} inside functions), {len(comps)} cycles")
    for comp in comps:
        print(f"cycle of {len(comp)}: " + " ".join(m.replace("unrollkit.", "") for m in comp))
    ups = upward(edges)
    print(f"{len(ups)} imports of a higher layer (layers, bottom to top: "
          + " < ".join(x or "unrollkit" for x in LAYERS) + ")")
    for a, b in ups:
        print(f"upward: {a.replace('unrollkit.', '')} -> {b.replace('unrollkit.', '')}")
    if args.locals:
        paths = modules()
        for m, items in sorted(local.items()):
            for line, target in items:
                print(f"{paths[m].relative_to(ROOT)}:{line}: imports {target} inside a function")
    return 0


if __name__ == "__main__":
    sys.exit(main())
