"""Run each pass of a pipeline on the loop nests it names only (`NestCensus`).

A pass that names its loops (`Pass.loop_scope`: ``unroll{loop=k_1}``, ``tile{i_2=5,...}``)
reads and changes only the top-level nests of the function that hold one of those loops. The
other nests are *parked* while it runs: detached from the function, each leaving a placeholder
operation where it stood, and put back at their placeholders afterwards, unchanged. The pass's
own walks (every pass looks its loops up by name over the whole module), the verifier and the
pipeline's census after the pass then see one nest, not all of them.

Why: a kernel of several contractions gets one GEMM schedule per nest, ~15 passes each, and
every pass used to walk, verify and count the whole module, so the time grew with the square
of the number of nests: PolyBench 3mm at 1024 f64 spent 2.0 s of a 3.2 s cold compile in
the passes, over half of it walking the other two (already unrolled) nests.

What stays exact: the operation count and loop names the pipeline records per pass (the parked
nests' census is kept from when they were last active: nothing touches them while parked),
the code-size budget a pass checks (`passes.base.PARKED_OPS` adds the parked operations), the
loops a pass lists in a message or asks `loop_names` about (`ir_utils.PARKED_LOOP_NAMES`), and
a pass whose loops are nowhere runs on the whole module (its error lists every loop). A pass
that names no loop (``canonicalize``, ``mlir{...}``) always sees everything; ``in-bounds``
sees the nests holding a vector transfer it may mark (`passes.base.UNMARKED_TRANSFERS`).
"""
from __future__ import annotations

import contextlib
import dataclasses

from mlir import ir

from unrollkit.ir.census import census, census_flagging
from unrollkit.ir.ir_utils import PARKED_LOOP_NAMES
from unrollkit.passes.base import PARKED_OPS, TRANSFERS, UNMARKED_TRANSFERS, unmarked_transfer

#: the attribute of a parked nest's placeholder (an ``arith.constant`` of a type no kernel uses,
#: so no folder mistakes it for a constant it may reuse); its value indexes the parked nests
PLACEHOLDER_ATTR = "uk.parked"
_PLACEHOLDER_BITS = 3


@dataclasses.dataclass
class TopOp:
    """One operation of a function body and its census: ``ops`` counts it and everything nested
    in it; ``names`` are the source names of the loops in it; ``unmarked``: whether it holds a
    vector transfer not marked in bounds (what `in-bounds` may change)."""
    op: object
    ops: int
    names: frozenset
    unmarked: bool = False


class NestCensus:
    """The census of a module per top-level operation of its functions, kept up to date across
    the passes of a pipeline, and `scope` to run one pass with the nests it does not name parked.

    A module whose body holds anything but single-block functions is counted whole and never
    parked (`scope` then changes nothing)."""

    def __init__(self, module):
        self.module = module
        self.blocks = _function_blocks(module)
        self.top: list = []
        self._parked: list = []      # [(placeholder, TopOp)] while a pass runs
        self.parked_any = False      # whether some pass ran with nests parked
        self.recount()

    def total(self) -> int:
        """Operations nested under the module, as `census` counts them (parked ones included)."""
        if self.blocks is None:
            return self._whole[0]
        return len(self.blocks) + sum(t.ops for t in self.top)

    def names(self) -> set:
        """The source names of every loop of the module (parked nests included)."""
        if self.blocks is None:
            return set(self._whole[1])
        return set().union(*(t.names for t in self.top))

    def recount(self) -> None:
        """Count again what a pass may have changed: every top-level operation that is not parked
        (a parked nest's placeholder stands for its kept census)."""
        if self.blocks is None:
            self._whole = census(self.module.operation)
            return
        parked = {i: t for i, (_, t) in enumerate(self._parked)}
        top = []
        for block in self.blocks:
            for op in block.operations:
                if PLACEHOLDER_ATTR in op.attributes:
                    top.append(parked[ir.IntegerAttr(op.attributes[PLACEHOLDER_ATTR]).value])
                    continue
                n, names, unmarked = census_flagging(op, unmarked_transfer, TRANSFERS)
                top.append(TopOp(op, n + 1, frozenset(names), unmarked))
        self.top = top

    @contextlib.contextmanager
    def scope(self, loops):
        """Run the body with every nest that holds none of the loops named ``loops`` parked (None:
        the whole module; `UNMARKED_TRANSFERS`: the nests holding no such transfer). With loop
        names, nothing is parked when no nest holds one of them (the pass then reports, or
        skips, a missing loop as it would on the whole module). Call `recount` inside, after
        the pass: the parked nests are put back on leaving."""
        chosen = self._to_park(loops)
        if not chosen:
            yield
            return
        # (each parked nest leaves a placeholder in the module the pass counts)
        token = PARKED_OPS.set(sum(t.ops - 1 for t in chosen))
        names = PARKED_LOOP_NAMES.set(frozenset().union(*(t.names for t in chosen)))
        self.parked_any = True
        try:
            self._park(chosen)
            yield
        finally:
            PARKED_OPS.reset(token)
            PARKED_LOOP_NAMES.reset(names)
            self._unpark()

    def _to_park(self, loops) -> list:
        if loops is None or self.blocks is None:
            return []
        if loops is UNMARKED_TRANSFERS:  # (none anywhere: the pass has nothing to do)
            active = [t.unmarked for t in self.top]
        else:
            active = [bool(t.names & frozenset(loops)) for t in self.top]
            if not any(active):
                return []
        return [t for t, a in zip(self.top, active) if not a and t.names and not len(t.op.results)]

    def _park(self, chosen: list) -> None:
        ty = ir.IntegerType.get_signless(_PLACEHOLDER_BITS)
        i64 = ir.IntegerType.get_signless(64)
        for t in chosen:
            mark = ir.Operation.create(
                "arith.constant", results=[ty], ip=ir.InsertionPoint(t.op),
                attributes={"value": ir.IntegerAttr.get(ty, 0),
                            PLACEHOLDER_ATTR: ir.IntegerAttr.get(i64, len(self._parked))})
            self._parked.append((mark, TopOp(t.op.detach_from_parent(), t.ops, t.names)))

    def _unpark(self) -> None:
        parked, self._parked = self._parked, []
        for mark, t in parked:
            ir.InsertionPoint(mark).insert(t.op)  # (its handle, kept in the census, stays valid)
            mark.erase()


def _function_blocks(module) -> list | None:
    """The body block of each function of ``module``, or None when the module holds anything
    else (another kind of operation, a function of several blocks): then nothing is parked."""
    blocks = []
    for op in module.body.operations:
        if op.operation.name != "func.func" or len(op.regions) != 1 or len(op.regions[0].blocks) != 1:
            return None
        blocks.append(op.regions[0].blocks[0])
    return blocks
