"""Pipelines of loop passes (the upstream MLIR pass strings are spelled in `unrollkit.ir.mlir_passes`).

A `Pipeline` is an ordered tuple of passes (see `unrollkit.passes`) with a text form that
round-trips: ``tile{i=32,j=32},unroll{loop=k,factor=4}``. Running it records the IR and the
time after every pass. Raw upstream MLIR passes can be mixed in as ``mlir{...}`` steps.
"""
from __future__ import annotations

import dataclasses
import difflib
import functools
import re
import time
import typing

from mlir import ir

from unrollkit.core.errors import CodeSizeError, TransformError
from unrollkit.frontend.semantics import check_types
from unrollkit.frontend.signature import signature_at, sizes_of
from unrollkit.codegen.nest_scope import NestCensus
from unrollkit.ir.ir_utils import UNROLLED_AWAY, affine_loops, count_ops
from unrollkit.ir.lower_affine import LOOP_NAME_ATTR, lower
from unrollkit.ir.mlir_passes import diagnostics, verify
from unrollkit.passes import REGISTRY
from unrollkit.core.target import Target, host_target
from unrollkit.passes.base import Pass, check_module_size, max_ops, target_context
from unrollkit.passes.user import is_user_pass

# ---------------------------------------------------------------- the Pipeline object


@dataclasses.dataclass(frozen=True)
class Step:
    """The module after one pass: ``name`` is the pass in text form (``input`` first)."""
    index: int
    name: str
    ir: str
    seconds: float
    ops: int


@dataclasses.dataclass(frozen=True)
class Pipeline:
    """An ordered tuple of passes; ``Pipeline.parse("tile{i=32},unroll{loop=i,factor=4}")``.

    ``run(module, record=True)`` returns (and keeps, for `diff`) a `Step` per pass."""
    passes: tuple = ()
    _steps: list = dataclasses.field(default=None, init=False, compare=False, hash=False, repr=False)

    def __post_init__(self):
        passes = tuple(self.passes)
        for p in passes:
            if not isinstance(p, Pass):
                raise TransformError(f"a Pipeline holds passes (see unrollkit.passes), got {p!r}")
        object.__setattr__(self, "passes", passes)

    @classmethod
    def parse(cls, text: str) -> "Pipeline":
        """Parse ``name{opt=value,...},name,...``; unknown passes or options list the valid ones."""
        if not text.strip():
            return cls(())
        return cls(tuple(make_pass(name, opts) for name, opts in split_text(text)))

    @classmethod
    def coerce(cls, value) -> "Pipeline":
        """A Pipeline, its text, a single pass, or None (empty)."""
        if value is None:
            return cls(())
        if isinstance(value, Pipeline):
            return value
        if isinstance(value, str):
            return cls.parse(value)
        if isinstance(value, Pass):
            return cls((value,))
        return cls(tuple(value))

    def __add__(self, other) -> "Pipeline":
        return Pipeline(self.passes + Pipeline.coerce(other).passes)

    def __len__(self) -> int:
        return len(self.passes)

    def text(self) -> str:
        """The pipeline's text form (``tile{i=32},unroll{loop=k,factor=4}``), which `parse` reads."""
        return ",".join(p.text() for p in self.passes)

    def raw_steps(self) -> list:
        """The steps whose code unrollkit does not own (``mlir{...}``, user passes), in text
        form: an access they produce is theirs to answer for, not a bug to report."""
        return [p.text() for p in self.passes if p.name == "mlir" or is_user_pass(p.name)]

    def __str__(self) -> str:
        return self.text()

    def run(self, module, record: bool = False, target: Target | None = None) -> list:
        """Apply every pass in order, verifying the IR after each; with ``record``, each step
        keeps the IR text (``str(module)``) too. Returns the steps (``input`` first).
        ``target``: the machine the passes compile for (`passes.base.current_target`; the
        host's when not given), so a pass's output never depends on where it runs.

        A pass that names a loop an earlier pass removed at these sizes (fully unrolled: its
        trip count was at most the factor) does nothing, see `unrollkit.ir.ir_utils.vanished`."""
        check_loop_names(module)
        n = count_ops(module.operation)
        if n > max_ops():  # (a macro expansion is refused before it is built: `macro_unroll`)
            check_module_size(module, "as written,")
        steps = [Step(0, "input", str(module) if record else "", 0.0, n)]
        gone: set = set()  # loop names unrolled away so far: naming one later does nothing
        token = UNROLLED_AWAY.set(gone)
        try:
            with target_context(target or host_target()):
                self._run_passes(module, record, steps, gone)
                check_module_size(module, f"after the pipeline {self.text()!r}," if self.passes else "as written,")
        finally:
            UNROLLED_AWAY.reset(token)
        # Each pass was held to the budget in operations (that bounds building the IR); what
        # LLVM gets is held to it here, once, with vectors counted per register (a 64-register
        # vector-acc body is one MLIR operation per value but 64 instructions' worth to LLVM)
        # and no straight-line block over an eighth of it (LLVM's time grows superlinearly):
        # checked above, inside the target's context (vector registers are the target's).
        if record:
            object.__setattr__(self, "_steps", steps)
        return steps

    def _run_passes(self, module, record: bool, steps: list, gone: set) -> None:
        # a pass that names its loops runs with the other nests parked: its walks, the verifier
        # and the census see its nests only (`nest_scope`); the census is kept per nest
        nests = NestCensus(module)
        names = nests.names()
        for i, p in enumerate(self.passes, 1):
            before = names
            with nests.scope(p.loop_scope()):
                t0 = time.perf_counter()
                try:
                    p.apply(module)
                except (ValueError, ir.MLIRError) as exc:
                    raise TransformError(f"pass {p.text()!r} failed: {diagnostics(exc)}") from None
                dt = time.perf_counter() - t0
                verify(module, f"pass {p.text()!r}")
                nests.recount()  # one walk of what the pass saw: the size and the loops left
            n, names = nests.total(), nests.names()
            if getattr(p, "removes_loops", False):
                gone.update(before - names)
            if n > max_ops():
                raise CodeSizeError(f"after pass {p.text()!r} the module has {n:,} operations, over "
                                    f"the code-size budget of {max_ops():,}; lower the factor, or raise "
                                    "the budget with UNROLLKIT_MAX_OPS=<n> if you really want that much code")
            steps.append(Step(i, p.text(), str(module) if record else "", dt, n))
        if nests.parked_any:  # each pass verified what it saw: the whole function once more
            verify(module, f"the pipeline {self.text()!r}")

    def trace(self, kernel, dtype: str = "f32", **sizes) -> list:
        """Lower ``kernel`` (sizes by name, 64 if not given; generic arrays of ``dtype``), run
        the pipeline on it recording every step, and return the steps (``diff`` works after)::

            p = uk.Pipeline.parse("tile{i=32},unroll{loop=i,factor=4}")
            p.trace(gemm, M=100, K=50, N=70)[-1].ir; print(p.diff(1, 2))
        """
        module = lower_kernel(kernel, sizes, dtype)
        with module.context, ir.Location.unknown():
            return self.run(module, record=True)

    @property
    def steps(self) -> list:
        """The steps of the last recorded run."""
        if self._steps is None:
            raise TransformError("no recorded run: call pipeline.run(module, record=True) first")
        return self._steps

    def diff(self, i: int = 0, j: int = -1, context: int = 3) -> str:
        """Unified diff of the IR between recorded steps ``i`` and ``j`` (0 = input, -1 = last)."""
        return diff_steps(self.steps, i, j, context)


def check_loop_names(module) -> None:
    """Refuse a loop whose ``uk.name`` is not a string (IR from a ``.mlir`` file): every pass
    reads loop names, and a malformed one was a raw traceback from the first of them."""
    for op in affine_loops(module):
        if LOOP_NAME_ATTR in op.attributes and not isinstance(op.attributes[LOOP_NAME_ATTR], ir.StringAttr):
            raise TransformError(f"the loop at {op.location} has {LOOP_NAME_ATTR} = "
                                 f"{op.attributes[LOOP_NAME_ATTR]}; a loop's name must be a string, "
                                 f'e.g. {{{LOOP_NAME_ATTR} = "i"}}')


def lower_kernel(kernel, sizes: dict, dtype: str = "f32"):
    """The affine module of a kernel descriptor at ``sizes`` (a fresh MLIR context)."""
    sig = signature_at(kernel, sizes, dtype)
    check_types(kernel, sig.ptypes())  # (a literal that does not fit its type: file:line, not a raw error)
    ctx = ir.Context()
    with ctx, ir.Location.unknown():
        return lower(kernel, sizes_of(kernel, sig), sig.ptypes(), sig.shape_map())


def diff_steps(steps: list, i: int = 0, j: int = -1, context: int = 3) -> str:
    """Unified diff of the IR between recorded pipeline steps ``i`` and ``j`` (default: first and
    last), ``context`` lines; a `TransformError` when there is no such step."""
    try:
        a, b = steps[i], steps[j]
    except IndexError:
        raise TransformError(f"no step {i if abs(i) >= len(steps) else j}; the steps are "
                             f"0..{len(steps) - 1}") from None
    return "\n".join(difflib.unified_diff(a.ir.splitlines(), b.ir.splitlines(),
                                          fromfile=f"{a.index}: {a.name}", tofile=f"{b.index}: {b.name}",
                                          lineterm="", n=context))


def split_text(text: str) -> list:
    """``a{x=1,y=2},b`` → ``[("a", "x=1,y=2"), ("b", "")]``; braces may nest (raw MLIR)."""
    items, depth, cur = [], 0, ""
    for ch in text.strip():
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth < 0:
                raise TransformError(f"unbalanced '}}' in pipeline text {text!r}")
        if ch == "," and depth == 0:
            items.append(cur)
            cur = ""
        else:
            cur += ch
    if depth:
        raise TransformError(f"unbalanced '{{' in pipeline text {text!r}")
    items.append(cur)
    out = []
    for it in items:
        it = it.strip()
        if not it:
            raise TransformError(f"empty pass in pipeline text {text!r}")
        m = re.fullmatch(r"([A-Za-z_][\w\-]*)\s*(?:\{(.*)\})?", it, re.S)
        if not m:
            raise TransformError(f"cannot parse pipeline step {it!r}; expected name or name{{opt=value,...}}")
        out.append((m.group(1), m.group(2) or ""))
    return out


@functools.lru_cache(None)
def _option_types(cls) -> tuple:
    """({field name: field}, {field name: type}) of a pass class; evaluating the (string)
    annotations compiles each one, which a cache hit of a GEMM schedule paid 4 ms for."""
    return {f.name: f for f in dataclasses.fields(cls)}, typing.get_type_hints(cls)


def parse_options(cls, body: str) -> dict:
    """Option text → typed values for the dataclass ``cls``."""
    fields, hints = _option_types(cls)
    out = {}
    for item in filter(None, (x.strip() for x in body.split(","))):
        if "=" not in item:
            key, raw = item, "true"
        else:
            key, raw = (x.strip() for x in item.split("=", 1))
        key = key.replace("-", "_")
        if key not in fields:
            raise TransformError(f"pass {cls.name!r} has no option {key.replace('_', '-')!r}; its options "
                                 f"are {sorted(k.replace('_', '-') for k in fields) or 'none'}")
        out[key] = coerce(cls.name, key, raw, hints[key])
    return out


def coerce(pname: str, key: str, raw: str, ty):
    """Option text ``raw`` as a value of type ``ty`` (bool, int, str, or a colon-separated tuple); a
    `TransformError` naming pass ``pname`` and option ``key`` otherwise."""
    try:
        if ty is bool:
            if raw.lower() not in ("true", "false", "1", "0"):
                raise ValueError(raw)
            return raw.lower() in ("true", "1")
        if ty is int:
            return int(raw)
        if ty is str:
            return raw
        if ty is tuple or typing.get_origin(ty) is tuple:
            return tuple(int(x) if x.lstrip("-").isdigit() else x for x in raw.split(":"))
    except ValueError:
        pass
    raise TransformError(f"option {key}={raw!r} of pass {pname!r} is not a valid {getattr(ty, '__name__', ty)}")


def make_pass(name: str, body: str = ""):
    """The registered pass ``name`` with the options of ``body`` (the text between its braces); an
    unknown name is a `TransformError` listing the passes."""
    cls = REGISTRY.get(name)
    if cls is None:
        raise TransformError(f"unknown pass {name!r}; the passes are {sorted(REGISTRY)}")
    if hasattr(cls, "from_text"):
        return cls.from_text(body)
    return cls(**parse_options(cls, body))
