"""A last line of defence: prove every memory access of the transformed IR in bounds.

The frontend proves the user's subscripts in bounds (`kernel_bounds.check_bounds`); loop passes
and raw ``mlir{...}`` steps then rewrite bounds and subscripts. A wrong rewrite would let
machine code write outside the caller's arrays — heap corruption, not an exception. So before
lowering, every operation that touches memory is checked by the exact (isl) proof of
`unrollkit.analysis.module_bounds`: ``affine``/``memref``/``vector`` loads and stores and
vector transfers (lane by lane, honouring ``in_bounds``) inside ``affine.for``/``scf.for``/
``affine.if``/``scf.if``/parallel loops. An access that is not proved — out of range, an
index the analysis cannot express, an operation on a memref it does not know — is refused
with the array, the operation, the pipeline and the reason, instead of running.
"""
from __future__ import annotations

import re

from mlir import ir

from unrollkit.analysis.module_bounds import Refusal, first_refusal
from unrollkit.core.errors import CompileError


def signature(module) -> list:
    """The argument types of each function of ``module`` (as text), to compare before and
    after a pipeline: the proof trusts the memref types of the arguments, so no step may
    change them (a user pass could declare an array larger than the caller's)."""
    return [(ir.StringAttr(op.attributes["sym_name"]).value, [str(t) for t in op.type.inputs])
            for op in module.body.operations if op.operation.name == "func.func"]


def check_module(module, after: str, arrays=None, raw=(), before=None) -> None:
    """Raise CompileError if some access of ``module`` is not proved inside its memref.

    ``after`` names the stage (e.g. ``pipeline 'unroll{factor=4}'``); ``arrays`` names the
    function's arguments by position (the kernel's parameters); ``raw`` lists the raw steps of
    the pipeline (`Pipeline.raw_steps`); ``before``: the `signature` of the module before it, whose
    functions must keep their argument types."""
    if before is not None:
        now = dict(signature(module))
        for name, types in before:
            if now.get(name) != types:
                raise CompileError(f"after {after}: function {name} had the arguments {types}, now "
                                   f"{now.get(name)}: a step changed what the caller passes; refusing "
                                   "to run it")
    r = first_refusal(module)
    if r is not None:
        raise CompileError(_message(r, after, arrays, list(raw)))


def _message(r: Refusal, after: str, arrays, raw: list) -> str:
    name = r.op.operation.name
    where = _location(r.op)
    what = f"{name}{where} of {_array(r.memref, arrays)}" if r.memref is not None else f"{name}{where}"
    if r.out_of_range:
        head = (f"after {after}: {what} may touch index range [{r.lo}, {r.hi}] in dimension {r.dim}, "
                f"outside [0, {r.size - 1}]")
    else:
        head = f"after {after}: cannot prove that {what} stays in bounds: {r.reason}"
    if raw:
        return (f"{head}. The pipeline's raw step{'s' if len(raw) > 1 else ''} {', '.join(raw)} "
                "may have produced this access: refusing to run it")
    return (f"{head}. The kernel's own subscripts were proved in bounds, so a transformation "
            "produced this access: refusing to run it (please report the kernel and pipeline)")


def _array(memref, arrays) -> str:
    ty = memref.type
    if isinstance(memref, ir.BlockArgument):
        n = memref.arg_number
        owner = memref.owner.owner
        if owner is not None and owner.operation.name == "func.func":
            if arrays is not None and n < len(arrays):
                return f"array {arrays[n]!r} ({ty})"
            return f"argument #{n} ({ty})"
        return f"a memref block argument ({ty})"
    return f"a {ty} made by {memref.owner.operation.name}"


def _location(op) -> str:
    m = re.match(r'loc\("([^"]*)":(\d+)', str(op.location))
    return f" (from {m.group(1)}:{m.group(2)})" if m and m.group(1) != "-" else ""
