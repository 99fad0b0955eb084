"""Pipelines of loop passes, and the only place MLIR pass strings are spelled.

A `Pipeline` is an ordered tuple of passes (see `unrollkit.passes`) with a text form that
round-trips: ``tile{i=32,j=32},unroll{loop=k,factor=4}``. Running it records the IR and the
time after every pass. Raw upstream MLIR passes can be mixed in as ``mlir{...}`` steps.
"""
from __future__ import annotations

import dataclasses
import re
import time
import typing

from mlir import ir
from mlir.passmanager import PassManager

from .errors import CompileError, TransformError

#: affine (after our passes) → LLVM dialect, bare-pointer memrefs so ``noalias`` reaches LLVM.
LOWER_TO_LLVM = ",".join([
    "lower-affine",
    "convert-scf-to-cf",
    "canonicalize",
    "cse",
    "convert-vector-to-llvm",
    "finalize-memref-to-llvm",
    "convert-arith-to-llvm",
    "convert-math-to-llvm",
    "convert-ub-to-llvm",
    "convert-cf-to-llvm",
    "convert-func-to-llvm{use-bare-ptr-memref-call-conv=1}",
    "reconcile-unrealized-casts",
])

#: Upstream passes that unrollkit passes wrap, by our name.
UPSTREAM = {
    "canonicalize": "canonicalize",
    "cse": "cse",
    "scalar-replace": "func.func(affine-scalrep)",
    "normalize": "func.func(affine-loop-normalize)",
}


def run_mlir_passes(module, text: str) -> None:
    """Run an upstream pass pipeline (anchored on the module) in process."""
    try:
        pm = PassManager.parse(f"builtin.module({text})")
    except (ValueError, ir.MLIRError) as exc:
        raise TransformError(f"invalid MLIR pass pipeline {text!r}: {exc}") from None
    try:
        pm.run(module.operation)
    except ir.MLIRError as exc:
        msgs = "; ".join(d.message for d in exc.error_diagnostics) or str(exc)
        raise CompileError(f"MLIR pipeline {text!r} failed: {msgs}") from None


def run_upstream(key: str, module) -> None:
    run_mlir_passes(module, UPSTREAM[key])


def lower_to_llvm_dialect(module) -> None:
    run_mlir_passes(module, LOWER_TO_LLVM)


# ---------------------------------------------------------------- the Pipeline object


@dataclasses.dataclass(frozen=True)
class Step:
    name: str
    ir: str
    seconds: float


@dataclasses.dataclass(frozen=True)
class Pipeline:
    passes: tuple = ()

    @classmethod
    def parse(cls, text: str) -> "Pipeline":
        """Parse ``name{opt=value,...},name,...``; unknown passes or options list the valid ones."""
        return cls(tuple(make_pass(name, opts) for name, opts in split_text(text)))

    def __add__(self, other: "Pipeline") -> "Pipeline":
        return Pipeline(self.passes + other.passes)

    def text(self) -> str:
        return ",".join(p.text() for p in self.passes)

    def __str__(self) -> str:
        return self.text()

    def run(self, module, record: bool = False) -> list:
        """Apply every pass in order; with ``record``, the IR and time after each."""
        steps = [Step("input", str(module) if record else "", 0.0)]
        for p in self.passes:
            t0 = time.perf_counter()
            p.apply(module)
            dt = time.perf_counter() - t0
            steps.append(Step(p.text(), str(module) if record else "", dt))
        return steps


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


def parse_options(cls, body: str) -> dict:
    """Option text → typed values for the dataclass ``cls``."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    out = {}
    for item in filter(None, (x.strip() for x in body.split(","))):
        if "=" not in item:
            key, raw = item, "true"
        else:
            key, raw = (x.strip() for x in item.split("=", 1))
        key = key.replace("-", "_")
        if key not in fields:
            raise TransformError(f"pass {cls.name!r} has no option {key!r}; its options are "
                                 f"{sorted(fields) or 'none'}")
        out[key] = coerce(cls.name, key, raw, hints[key])
    return out


def coerce(pname: str, key: str, raw: str, ty):
    try:
        if ty is bool:
            if raw.lower() not in ("true", "false", "1", "0"):
                raise ValueError(raw)
            return raw.lower() in ("true", "1")
        if ty is int:
            return int(raw)
        if ty is str:
            return raw
        if typing.get_origin(ty) is tuple:
            return tuple(int(x) if x.lstrip("-").isdigit() else x for x in raw.split(":"))
    except ValueError:
        pass
    raise TransformError(f"option {key}={raw!r} of pass {pname!r} is not a valid {getattr(ty, '__name__', ty)}")


def make_pass(name: str, body: str = ""):
    from unrollkit.passes import REGISTRY
    cls = REGISTRY.get(name)
    if cls is None:
        raise TransformError(f"unknown pass {name!r}; the passes are {sorted(REGISTRY)}")
    if hasattr(cls, "from_text"):
        return cls.from_text(body)
    return cls(**parse_options(cls, body))
