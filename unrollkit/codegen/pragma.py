"""``llvm.loop.unroll.count`` metadata on the LLVM dialect: the IR form of ``#pragma unroll N``.

MLIR has no path for it from ``affine.for``: lower-affine drops discardable attributes (an
``llvm.loop_annotation`` on ``affine.for`` does not reach ``scf.for``), so the annotation is
attached after lowering to the LLVM dialect, on each loop's back-edge branch (LLVM reads loop
metadata from the latch's terminator). Loops are matched to back-edges by order: lower-affine
and scf-to-cf lay blocks out in program order, so loop headers appear in the pre-order of the
``affine.for`` nest they came from.
"""
from __future__ import annotations

import typing

from mlir import ir

from unrollkit.core.errors import CompileError, TransformError
from unrollkit.ir.ir_utils import affine_loops, constant_trip_count, has_iter_args, is_innermost, loop_name
from unrollkit.passes.base import check_code_size, code_size, measure


class LoopRow(typing.NamedTuple):
    """One ``affine.for`` of the function, as `annotate` needs it. ``size``, ``block``,
    ``module_size``: the loop's code, its body's straight-line part, and the module's
    (`unrollkit.passes.base.measure`), to hold unroll counts to the budget."""
    name: str
    innermost: bool
    size: int = 0
    trips: int | None = None
    module_size: int = 0
    block: int = 0


def loop_table(module, func_name: str) -> list:
    """`LoopRow`s of the ``affine.for`` loops of ``func_name``, pre-order.

    Taken from the IR that is lowered next: every loop in it becomes one back-edge, except a
    loop that carries values (``iter_args``) with a constant trip count of 0, which the
    lowering's canonicalisation folds away; `annotate` checks the count."""
    total = code_size(module)
    out = []
    for op in affine_loops(module):
        fn = op.parent
        while fn is not None and fn.name != "func.func":
            fn = fn.parent
        if fn is None or ir.StringAttr(fn.attributes["sym_name"]).value != func_name:
            continue
        if constant_trip_count(op) == 0 and has_iter_args(op):
            continue
        m = measure(op)
        out.append(LoopRow(loop_name(op) or "", is_innermost(op), m.total, constant_trip_count(op), total, m.own))
    _refuse_lowered_loops(module, func_name)
    return out


#: loops the pipeline may leave that are not ``affine.for``: their back-edges cannot be told
#: apart from the affine loops' after lowering, so no pragma can be placed by order
_OTHER_LOOPS = frozenset({"scf.for", "scf.while", "scf.parallel", "affine.parallel"})


def _refuse_lowered_loops(module, func_name: str) -> None:
    def walk(op):
        for region in op.regions:
            for block in region.blocks:
                for inner in block.operations:
                    yield inner.operation
                    yield from walk(inner.operation)
    for op in module.body.operations:
        op = op.operation
        if op.name != "func.func" or ir.StringAttr(op.attributes["sym_name"]).value != func_name:
            continue
        for inner in walk(op):
            if inner.name in _OTHER_LOOPS:
                raise TransformError(
                    f"variant 'pragma' puts its unroll counts on affine.for loops, but the pipeline "
                    f"left a {inner.name} (a raw mlir{{lower-affine}} step?): run the pragma on "
                    f"affine loops, or choose another variant")


def find_llvm_func(module, name: str):
    """The ``llvm.func`` named ``name`` in ``module``; a `CompileError` when lowering left none."""
    for op in module.body.operations:
        op = op.operation
        if op.name == "llvm.func" and ir.StringAttr(op.attributes["sym_name"]).value == name:
            return op
    raise CompileError(f"no llvm.func @{name} after lowering")


def back_edges(fn) -> list:
    """``[(header index, latch index, branch op), ...]`` sorted by header, in block order."""
    blocks = list(fn.regions[0].blocks)
    edges = []
    for bi, b in enumerate(blocks):
        term = list(b.operations)[-1]
        for s in term.successors:
            si = _index(blocks, s)
            if si <= bi:
                edges.append((si, bi, term))
    return sorted(edges, key=lambda e: (e[0], e[1]))


def _index(blocks, block) -> int:
    for i, b in enumerate(blocks):
        if b == block:
            return i
    raise CompileError("branch to a block outside its function")


def annotation(count: int) -> ir.Attribute:
    """The loop annotation asking LLVM to unroll a loop ``count`` times (``#pragma unroll``)."""
    return ir.Attribute.parse(
        f"#llvm.loop_annotation<unroll = #llvm.loop_unroll<count = {int(count)} : i32>>")


def annotate(module, func_name: str, loops: list, counts: tuple) -> int:
    """Put unroll-count metadata on the back-edges of the loops named in ``counts``.

    ``loops``: `loop_table` of the function before lowering (a `CodeSizeError` when the
    unrolled copies would be over the code-size budget). ``counts``: ((name or "", n), ...),
    "" meaning every innermost loop. Returns how many back-edges were annotated.
    """
    loops = [LoopRow(*row) for row in loops]
    total = loops[0].module_size if loops else 0
    fn = find_llvm_func(module, func_name)
    edges = back_edges(fn)
    if len(edges) != len(loops):
        raise CompileError(f"cannot place unroll metadata: lowering {func_name!r} left "
                           f"{len(edges)} loops where the kernel had {len(loops)}")
    by_name = {name: n for name, n in counts if name}
    inner_n = next((n for name, n in counts if not name), None)
    done = 0
    for row, (_, _, br) in zip(loops, edges):
        n = by_name.get(row.name, inner_n if row.innermost else None)
        if n is not None and n > 1:
            # LLVM honours the count without its own size limit: the copies are held to the
            # budget here (a count above a constant trip count unrolls the loop fully)
            copies = min(n, row.trips if row.trips is not None else n)
            total += row.size * (copies - 1)
            check_code_size(f"llvm.loop.unroll.count {n}", row.name or "<unnamed>", total,
                            block=row.block * copies)
            br.attributes["loop_annotation"] = annotation(n)
            done += 1
    return done
