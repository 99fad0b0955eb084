"""A pass that names its loops runs with the function's other nests parked (`nest_scope`):
the result, the recorded steps and the code-size budget are what running it on the whole
module gives; a pass that names no loop, or loops that are nowhere, sees everything; a pass
that fails leaves the module whole."""
from __future__ import annotations

import dataclasses
from typing import ClassVar

import numpy as np
import pytest
from mlir import ir

import unrollkit as uk
from differential import check_against_reference, lowered_module
from unrollkit.codegen import nest_scope
from unrollkit.codegen.pipeline import Pipeline
from unrollkit.core.errors import CodeSizeError, TransformError
from unrollkit.ir.ir_utils import affine_loops, count_ops, loop_name, loop_names
from unrollkit.passes.base import PARKED_OPS, UNMARKED_TRANSFERS, Pass, check_code_size

SIZES = {"M": 7, "N": 19, "K": 5}
#: a GEMM-like schedule per nest (the shape of the contraction scheduler's pipelines), with
#: passes that name no loop (canonicalize) between them
SCHEDULE = ("permute{order=k:i:j},tile{j=16,k=4,order=j.tile:k.tile:k:i:j},rename{loop=j.tile,to=jc},"
            "permute{order=i:k:j},tile{i=3,j=8,order=i.tile:j.tile:k:i:j},rename{loop=j.tile,to=jr},"
            "vectorize{loop=j,width=4},in-bounds,unroll{loop=i,full=true},unroll{loop=k,factor=2},"
            "promote-to-registers{loop=k,strict=false},canonicalize,"
            "interchange{a=p,b=q},tile{p=3,q=8},rename{loop=p.tile,to=pr},unroll{loop=r,factor=2},"
            "unroll{loop=p,full=true},in-bounds")


@uk.kernel
def two_products(A: uk.T["M", "K"], B: uk.T["K", "N"], C: uk.T["M", "N"], D: uk.T["M", "N"]):
    for i in range(M):
        for j in range(N):
            for k in range(K):
                C[i, j] += A[i, k] * B[k, j]
    for p in range(M):
        for q in range(N):
            D[p, q] *= 0.5
            for r in range(K):
                D[p, q] += A[p, r] * B[r, q]


@dataclasses.dataclass(frozen=True)
class Looks(Pass):
    """A probe: records the loops it sees and the parked operations; may fail or ask for a size."""
    name: ClassVar[str] = "looks"
    scope_options: ClassVar[tuple] = ("loop",)
    loop: str = ""
    seen: list = dataclasses.field(default_factory=list, compare=False, hash=False)
    fail: bool = False
    ask: int = -1  # check_code_size with this many operations more than the module it sees

    def text(self) -> str:
        return f"looks{{loop={self.loop}}}"

    def apply(self, module) -> None:
        seen = sorted({loop_name(op) for op in affine_loops(module)})
        assert loop_names(module) == ["i", "j", "k", "p", "q", "r"]  # (parked ones too)
        self.seen.append((seen, PARKED_OPS.get(), count_ops(module.operation)))
        if self.ask >= 0:
            check_code_size("probing", self.loop, count_ops(module.operation) + self.ask)
        if self.fail:
            raise TransformError("the probe fails")


def _run(pipeline, record=True):
    ctx, module = lowered_module(two_products, SIZES)
    with ctx, ir.Location.unknown():
        steps = Pipeline.coerce(pipeline).run(module, record=record)
        return str(module), [(s.name, s.ops, s.ir) for s in steps]


def test_scoped_pipeline_gives_what_the_whole_module_gives(monkeypatch):
    parked = []
    park = nest_scope.NestCensus._park
    monkeypatch.setattr(nest_scope.NestCensus, "_park", lambda self, chosen: (parked.append(len(chosen)),
                                                                             park(self, chosen)))
    scoped = _run(SCHEDULE)
    assert len(parked) == len(Pipeline.parse(SCHEDULE)) - 1  # every pass but canonicalize
    monkeypatch.setattr(nest_scope.NestCensus, "_to_park", lambda self, loops: [])
    assert scoped == _run(SCHEDULE)  # every step's IR and operation count alike


def test_scoped_pipeline_computes_the_products():
    check_against_reference(two_products, SIZES, pipeline=SCHEDULE, dtype=np.float32, seeds=(0, 1))


@pytest.mark.parametrize("loop, parked", [("r", True), ("q", True), ("k", True), ("", False),
                                          ("nowhere", False)])
def test_a_pass_sees_the_nests_of_its_loops_only(loop, parked):
    probe = Looks(loop)
    _run(Pipeline((probe,)))
    (names, parked_ops, seen_ops), = probe.seen
    whole = _run("")[1][0][1]
    if not parked:  # no loop named, or none of the module's: the pass sees everything
        assert (names, parked_ops, seen_ops) == (["i", "j", "k", "p", "q", "r"], 0, whole)
        return
    mine = {"i", "j", "k"} if loop in "ijk" else {"p", "q", "r"}
    assert set(names) == mine
    # what the pass sees (a placeholder for the parked nest), plus what is parked, is the module
    assert parked_ops > 0 and seen_ops + parked_ops == whole


def test_code_size_budget_counts_the_parked_nests(monkeypatch):
    whole = _run("")[1][0][1]
    monkeypatch.setenv("UNROLLKIT_MAX_OPS", str(whole + 100))
    _run(Pipeline((Looks("k", ask=100),)))  # the module and 100 operations more fit
    with pytest.raises(CodeSizeError, match="probing of loop 'k'"):
        _run(Pipeline((Looks("k", ask=101),)))  # one more does not


@pytest.mark.parametrize("pipeline, message", [
    ("tile{i=4,zz=3}", "tile: no loop named 'zz'"), ("permute{order=k:i:zz}", "no loop named 'zz'"),
    ("rename{loop=i,to=q}", "rename: a loop named 'q' exists already")])
def test_a_pass_refusing_a_loop_lists_every_loop(pipeline, message):
    with pytest.raises(TransformError) as e:
        _run(pipeline)
    assert message in str(e.value)
    if "the loops are" in message:
        assert "['i', 'j', 'k', 'p', 'q', 'r']" in str(e.value)


def test_a_failing_scoped_pass_leaves_the_module_whole():
    ctx, module = lowered_module(two_products, SIZES)
    before = str(module)
    with ctx, ir.Location.unknown():
        with pytest.raises(TransformError, match="the probe fails"):
            Pipeline((Looks("r", fail=True),)).run(module)
        assert str(module) == before and module.operation.verify()


def test_loop_scope_of_the_passes_that_name_loops():
    scopes = {t: Pipeline.parse(t).passes[0].loop_scope() for t in (
        "unroll{loop=k,factor=2}", "unroll{factor=2}", "tile{i=4,j=8,order=i.tile:j.tile:i:j}",
        "rename{loop=i.tile,to=ic}", "pack{arg=1,loop=kc,along=j}", "interchange{a=i,b=j}",
        "permute{order=k:i:j}", "vectorize{loop=j}", "promote-to-registers{loop=k}", "in-bounds",
        "canonicalize")}
    assert scopes == {
        "unroll{loop=k,factor=2}": {"k"}, "unroll{factor=2}": None,
        "tile{i=4,j=8,order=i.tile:j.tile:i:j}": {"i", "j", "i.tile", "j.tile"},
        "rename{loop=i.tile,to=ic}": {"i.tile", "ic"}, "pack{arg=1,loop=kc,along=j}": {"kc", "j"},
        "interchange{a=i,b=j}": {"i", "j"}, "permute{order=k:i:j}": {"i", "j", "k"},
        "vectorize{loop=j}": {"j"}, "promote-to-registers{loop=k}": {"k"}, "in-bounds": UNMARKED_TRANSFERS,
        "canonicalize": None}


#: two nests; only the second reads with a transfer not marked in bounds (provably in bounds)
TWO_NESTS = """
func.func @f(%a: memref<16xf32>, %b: memref<16xf32>) {
  %pad = arith.constant 0.0 : f32
  affine.for %i = 0 to 16 {
    %v = affine.load %a[%i] : memref<16xf32>
    affine.store %v, %b[%i] : memref<16xf32>
  } {uk.name = "i"}
  affine.for %j = 0 to 16 step 4 {
    %v = vector.transfer_read %a[%j], %pad {in_bounds = [false]} : memref<16xf32>, vector<4xf32>
    vector.transfer_write %v, %b[%j] {in_bounds = [true]} : vector<4xf32>, memref<16xf32>
  } {uk.name = "j"}
  return
}"""


def test_in_bounds_sees_the_nests_with_unmarked_transfers(monkeypatch):
    parked = []
    park = nest_scope.NestCensus._park
    monkeypatch.setattr(nest_scope.NestCensus, "_park", lambda self, chosen: (
        parked.append(sorted(n for t in chosen for n in t.names)), park(self, chosen)))
    with ir.Context(), ir.Location.unknown():
        module = ir.Module.parse(TWO_NESTS)
        Pipeline.parse("in-bounds").run(module)
        assert "in_bounds = [false]" not in str(module) and str(module).count("in_bounds = [true]") == 2
        Pipeline.parse("in-bounds").run(module)  # nothing left to mark: both nests parked
    assert parked == [["i"], ["i", "j"]]
