"""``mlir``: a raw upstream MLIR pass pipeline, for passes unrollkit does not wrap.

Options: the text between the braces is the pipeline, anchored on the module, exactly as
``mlir-opt --pass-pipeline='builtin.module(...)'`` takes it; nested braces are allowed.

Example: ``tile{i=32},mlir{func.func(affine-loop-normalize,affine-scalrep)},unroll{loop=i}``.
The pipeline is parsed (and rejected with MLIR's message) when the pipeline is built, before
anything runs. Only the loop and cleanup transformations in `ALLOWED` may appear (anchored on
``builtin.module``, ``func.func`` or ``any``): upstream registers passes that write files
(``snapshot-op-locations{filename=...}``), open viewers (``view-op-graph``) or print, and none
of those belongs in a kernel's compile; no option value may name a file either. Upstream
passes know nothing of ``uk.name``: loops they create are unnamed, and a name survives only
on loops they modify in place. A pass that multiplies code (an unroll factor, a full-unroll
threshold, a virtual vector size) is refused before it runs when the code it may produce is
over the code-size budget; the result is checked against the budget after it too.

Before → after (``mlir{func.func(affine-loop-normalize)}``)::

    affine.for %i = 2 to 10 step 2 { S(%i) }   →   affine.for %n = 0 to 4 { S(2 * %n + 2) }
"""
from __future__ import annotations

import dataclasses
import re
from typing import ClassVar

from unrollkit.core.errors import TransformError
from unrollkit.ir.mlir_passes import check_mlir_pipeline, run_mlir_passes

from .base import Pass, check_code_size, code_size, register
from unrollkit.ir.ir_utils import affine_loops, is_innermost

#: The upstream passes an ``mlir{...}`` step may run: transformations of the loop nest and the
#: cleanups that go with them, which is what a kernel's pipeline needs. Everything else is
#: refused by name: passes that write files or print (snapshot-op-locations, view-op-graph,
#: print-ir, ...), move data between memory spaces or to DMA (affine-data-copy-generate,
#: affine-pipeline-data-transfer), make parallel loops the lowering cannot run
#: (affine-parallelize), delete symbols (symbol-dce), or lower dialects out from under the
#: passes that follow (the LLVM lowering runs after the pipeline, not inside it).
ALLOWED = frozenset({
    # affine loop transformations
    "affine-loop-normalize", "affine-loop-unroll", "affine-loop-unroll-jam", "affine-loop-tile",
    "affine-loop-fusion", "affine-loop-invariant-code-motion", "affine-loop-coalescing",
    "affine-super-vectorize", "affine-scalrep", "affine-simplify-structures",
    "affine-simplify-min-max", "affine-expand-index-ops", "affine-raise-from-memref",
    # affine → scf, and scf loop transformations
    "lower-affine", "scf-for-loop-canonicalization", "scf-for-loop-peeling",
    "scf-for-loop-range-folding", "scf-for-loop-specialization",
    # cleanups
    "canonicalize", "cse", "sccp", "loop-invariant-code-motion", "loop-invariant-subset-hoisting",
    "control-flow-sink",
})
#: op anchors a nested pipeline may name
ANCHORS = frozenset({"builtin.module", "func.func", "any"})
#: option names that could only mean a file or an output
_FILE_OPTION = re.compile(r"file|path|dir|output|dump|print|graph", re.I)
#: an option value naming a file: a path separator, ``~``, or a name with an extension
_FILE_VALUE = re.compile(r"[/\\~]|\.[A-Za-z]")
#: options by which a pass multiplies the code of a loop (see `growth`)
_GROWTH = {"affine-loop-unroll": ("unroll-factor", "unroll-full-threshold"),
           "affine-loop-unroll-jam": ("unroll-jam-factor",),
           "affine-super-vectorize": ("virtual-vector-size",)}


@register
@dataclasses.dataclass(frozen=True)
class MLIRPasses(Pass):
    """MLIRPasses(pipeline): the ``mlir`` pass; `register` gives it the module docstring (options,
    before → after)."""
    name: ClassVar[str] = "mlir"
    removes_loops: ClassVar[bool] = True
    pipeline: str = ""

    def __post_init__(self):
        if not self.pipeline.strip():
            raise TransformError("mlir{...} needs a pass pipeline between the braces, e.g. "
                                 "mlir{func.func(affine-loop-normalize)}")
        check_allowed(self.pipeline, check_mlir_pipeline(self.pipeline))

    @classmethod
    def options(cls) -> dict:
        """Option name → (type, default): the one option, ``<pipeline>``, is the text between the
        braces."""
        return {"<pipeline>": (str, None)}

    @classmethod
    def from_text(cls, body: str) -> "MLIRPasses":
        """The pass of pipeline text ``mlir{<body>}``: the body, stripped, is the upstream pipeline."""
        return cls(body.strip())

    def text(self) -> str:
        """The pass in pipeline text form: ``mlir{<pipeline>}``."""
        return "mlir{" + self.pipeline + "}"

    def apply(self, module) -> None:
        """Run the upstream pipeline on ``module`` in place, refusing beforehand an unrolling the
        code-size budget cannot take (`growth`) and afterwards a module over it."""
        what = f"MLIR pipeline {self.pipeline!r}"
        factor = growth(parse_canonical(check_mlir_pipeline(self.pipeline)))
        if factor > 1:
            inner = sum(code_size(op) for op in affine_loops(module) if is_innermost(op))
            check_code_size(what, "<innermost>", code_size(module) + inner * (factor - 1))
        run_mlir_passes(module, self.pipeline)
        check_code_size(what, "<all>", code_size(module))


def check_allowed(text: str, canonical: str) -> None:
    """Refuse a pass outside `ALLOWED`, an anchor outside `ANCHORS`, or an option naming a
    file, by name. ``canonical``: MLIR's own printing of the parsed pipeline (every alias and
    spelling resolved, options explicit), so what is checked is what would run."""
    for anchors, name, opts in parse_canonical(canonical):
        for a in anchors:
            if a not in ANCHORS:
                raise TransformError(f"mlir{{{text}}}: nesting on {a!r} is not allowed; nest on "
                                     f"{sorted(ANCHORS)}")
        if name not in ALLOWED:
            raise TransformError(f"mlir{{{text}}}: upstream pass {name!r} is not allowed in a kernel "
                                 f"pipeline; the allowed passes are {sorted(ALLOWED)}")
        for key, value in opts.items():
            if _FILE_OPTION.search(key) or _FILE_VALUE.search(value):
                raise TransformError(f"mlir{{{text}}}: option {key}={value!r} of {name!r} may name a "
                                     "file; options of mlir{...} steps take numbers, flags and words")


def growth(passes: list) -> int:
    """How many times the largest code-multiplying pass may copy a loop body."""
    out = 1
    for _, name, opts in passes:
        for key in _GROWTH.get(name, ()):
            nums = [int(x) for x in re.findall(r"\d+", opts.get(key, ""))]
            factor = 1
            for x in nums:
                factor *= max(1, x)
            if name == "affine-loop-unroll" and key == "unroll-factor":
                factor **= max(1, min(int(opts.get("unroll-num-reps", "1") or 1), 64))
            out = max(out, factor)
    return out


def parse_canonical(text: str) -> list:
    """``builtin.module(func.func(a{x=1 y={2,3}}),b)`` → ``[(("builtin.module", "func.func"),
    "a", {"x": "1", "y": "{2,3}"}), (("builtin.module",), "b", {})]``."""
    out: list = []
    pos = _parse_list(text, 0, (), out)
    if pos != len(text):
        raise TransformError(f"cannot read MLIR's pipeline {text!r} at {text[pos:]!r}")
    return out


def _parse_list(text: str, pos: int, anchors: tuple, out: list) -> int:
    while True:
        m = re.compile(r"\s*([\w.\-]+)").match(text, pos)
        if not m:
            raise TransformError(f"cannot read MLIR's pipeline {text!r} at {text[pos:]!r}")
        name, pos = m.group(1), m.end()
        opts = {}
        if text.startswith("{", pos):
            end = _matching(text, pos)
            opts = _options(text[pos + 1:end])
            pos = end + 1
        if text.startswith("(", pos):
            pos = _parse_list(text, pos + 1, anchors + (name,), out)
            if not text.startswith(")", pos):
                raise TransformError(f"cannot read MLIR's pipeline {text!r} at {text[pos:]!r}")
            pos += 1
        else:
            out.append((anchors, name, opts))
        if not text.startswith(",", pos):
            return pos
        pos += 1


def _matching(text: str, pos: int) -> int:
    """Index of the ``}`` closing the ``{`` at ``pos`` (quoted strings skipped)."""
    depth, quoted = 0, False
    for i in range(pos, len(text)):
        ch = text[i]
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch == "{":
            depth += 1
        elif not quoted and ch == "}":
            depth -= 1
            if depth == 0:
                return i
    raise TransformError(f"unbalanced '{{' in MLIR's pipeline {text!r}")


def _options(body: str) -> dict:
    """``x=1 y={2,3} z="a b"`` → ``{"x": "1", "y": "{2,3}", "z": "a b"}``."""
    out, pos = {}, 0
    while pos < len(body):
        m = re.compile(r"\s*([\w\-]+)(=?)").match(body, pos)
        if not m or not m.group(1):
            break
        key, pos = m.group(1), m.end()
        value = ""
        if m.group(2):
            if body.startswith("{", pos):
                end = _matching(body, pos) + 1
            elif body.startswith('"', pos):
                end = body.index('"', pos + 1) + 1 if '"' in body[pos + 1:] else len(body)
            else:
                end = pos + len(re.compile(r"[^\s]*").match(body, pos).group(0))
            value, pos = body[pos:end].strip('"'), end
        out[key] = value
    if body[pos:].strip():
        raise TransformError(f"cannot read the options {body!r} in MLIR's pipeline")
    return out
