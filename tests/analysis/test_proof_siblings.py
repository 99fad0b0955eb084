"""The transformed-IR proof's shortcuts for unrolled code stay exact (`module_bounds`,
`affine_to_isl.ValueForms.index_shapes`): accesses that differ only in constant offsets share one
isl range of their common part, memoised per index value (or per map and operand shapes)
and per nest — yet each access's own offset is added and checked, so one access one past the
end among hundreds of in-bounds siblings is still refused, vector transfers lane by lane too,
and a value's range in one domain never answers for another domain."""
from __future__ import annotations

import pytest
from mlir import ir

from unrollkit.analysis import ir_bounds
from unrollkit.core.errors import CompileError


def refusal(body: str, args: str) -> str | None:
    """None if the function ``body`` is proved in bounds, else the refusal's message."""
    text = f"func.func @k({args}) {{\n{body}\n  return\n}}"
    with ir.Context(), ir.Location.unknown():
        module = ir.Module.parse(text)
        try:
            ir_bounds.check_module(module, "pipeline 'test'", arrays=["a", "b"])
        except CompileError as exc:
            return str(exc)
    return None


def unrolled(copies: int, n: int, access) -> str:
    """A loop over i (0 to n - copies, step copies) whose body holds ``copies`` accesses at
    i + 0 ... i + copies - 1, each through its own ``affine.apply`` (as `unroll` leaves them);
    ``access(k, index)`` spells copy k's access."""
    lines = [f"affine.for %i = 0 to {n - copies + 1} step {copies} {{"]
    for k in range(copies):
        lines.append(f"  %x{k} = affine.apply affine_map<(d0) -> (d0 + {k})>(%i)")
        lines.append("  " + access(k, f"%x{k}"))
    lines.append("}")
    return "\n".join(lines)


def load(k, index):
    return f"%v{k} = memref.load %a[{index}] : memref<128xf32>"


@pytest.mark.parametrize("bad", [0, 17, 63])
def test_one_copy_past_the_end_among_many_is_refused(bad):
    # i takes 0 and 64; the 64 copies reach exactly the last element, 127. One copy's offset
    # raised to 64, wherever it sits among its siblings (first, middle, last), is refused
    ok = unrolled(64, 128, load)
    assert refusal(ok, "%a: memref<128xf32>") is None
    past = ok.replace(f"(d0) -> (d0 + {bad})>", "(d0) -> (d0 + 64)>", 1)
    assert past != ok
    msg = refusal(past, "%a: memref<128xf32>")
    assert msg is not None and "index range [64, 128] in dimension 0, outside [0, 127]" in msg


def test_one_copy_before_the_start_among_many_is_refused():
    ok = unrolled(32, 64, lambda k, ix: load(k, ix).replace("128", "64"))
    assert refusal(ok, "%a: memref<64xf32>") is None
    bad = ok.replace("(d0) -> (d0 + 9)>", "(d0) -> (d0 - 1)>", 1)
    msg = refusal(bad, "%a: memref<64xf32>")
    assert msg is not None and "[-1, 31]" in msg


def test_affine_map_siblings_are_each_checked():
    # affine.load's own map: the copies share the map but not their operands (memo per map,
    # result and operands), and the loads of one copy share operands but not maps
    body = ["affine.for %i = 0 to 8 {"]
    for k in range(8):
        body.append(f"  %x{k} = affine.apply affine_map<(d0) -> (d0 * 8 + {k})>(%i)")
        body.append(f"  %v{k} = affine.load %a[%x{k}] : memref<64xf32>")
        body.append(f"  %w{k} = affine.load %a[%x{k} - {k}] : memref<64xf32>")
    body.append("}")
    ok = "\n".join(body)
    assert refusal(ok, "%a: memref<64xf32>") is None
    # the last copy's own operand one further: its load (the same map as its siblings') is out
    bad = ok.replace("(d0) -> (d0 * 8 + 7)>", "(d0) -> (d0 * 8 + 8)>")
    msg = refusal(bad, "%a: memref<64xf32>")
    assert msg is not None and "[8, 64]" in msg
    # one copy's own map one further
    bad = ok.replace("%w5 = affine.load %a[%x5 - 5]", "%w5 = affine.load %a[%x5 + 3]")
    msg = refusal(bad, "%a: memref<64xf32>")
    assert msg is not None and "[8, 64]" in msg


def transfers(last: int, in_bounds: bool = True) -> str:
    """i in {0, 1}; 8 copies read 4 lanes at i*32 + 4k, copy 7 at i*32 + ``last``."""
    mark = " {in_bounds = [true]}" if in_bounds else ""
    lines = ["%pad = arith.constant 0.0 : f32", "affine.for %i = 0 to 2 {"]
    for k in range(8):
        off = last if k == 7 else 4 * k
        lines.append(f"  %x{k} = affine.apply affine_map<(d0) -> (d0 * 32 + {off})>(%i)")
        lines.append(f"  %v{k} = vector.transfer_read %a[%x{k}], %pad{mark} : memref<64xf32>, vector<4xf32>")
    return "\n".join(lines + ["}"])


def test_vector_transfer_one_lane_past_the_end_among_siblings_is_refused():
    assert refusal(transfers(28), "%a: memref<64xf32>") is None  # its last lane at 63
    msg = refusal(transfers(29), "%a: memref<64xf32>")  # ... at 64
    assert msg is not None and "vector.transfer_read" in msg and "[29, 64]" in msg
    # not marked in bounds, the lanes past the end are masked off: accepted
    assert refusal(transfers(29, in_bounds=False), "%a: memref<64xf32>") is None


@pytest.mark.parametrize("first, second", [
    ("%pad : memref<64xf32>, vector<4xf32>", "%pad {in_bounds = [true]} : memref<64xf32>, vector<4xf32>"),
    ("%pad {in_bounds = [true]} : memref<64xf32>, vector<2xf32>",
     "%pad {in_bounds = [true]} : memref<64xf32>, vector<4xf32>"),
])
def test_a_transfers_lanes_are_its_own_not_a_siblings(first, second):
    """What `access_of` memoises for the transfers of an unrolled body (lanes, masked dims) is
    keyed by every attribute and type it is read from: a masked transfer, or a narrower one,
    reading at 62 is inside 64 elements; the next one, in bounds and 4 lanes wide at the same
    index, reaches 65 and is refused."""
    body = "\n".join([
        "%pad = arith.constant 0.0 : f32",
        "%c62 = arith.constant 62 : index",
        f"%u = vector.transfer_read %a[%c62], {first}",
        f"%w = vector.transfer_read %a[%c62], {second}"])
    assert refusal(body.replace("%w = ", "// "), "%a: memref<64xf32>") is None
    msg = refusal(body, "%a: memref<64xf32>")
    assert msg is not None and "index range [62, 65] in dimension 0, outside [0, 63]" in msg, msg


def test_a_values_range_in_one_domain_does_not_answer_for_another():
    # %c = i + 1 is read in both branches of an if on i: in the then branch (i < 9) it stays
    # inside 10 elements, in the else branch (i = 9) it is 10: refused, though the value (and
    # its memoised linear shape) is the same
    then_only = """affine.for %i = 0 to 10 {
  %c = affine.apply affine_map<(d0) -> (d0 + 1)>(%i)
  affine.if affine_set<(d0) : (8 - d0 >= 0)>(%i) {
    %v = memref.load %a[%c] : memref<10xf32>
  }
}"""
    assert refusal(then_only, "%a: memref<10xf32>") is None
    both = then_only.replace("  }\n}", "  } else {\n    %w = memref.load %a[%c] : memref<10xf32>\n  }\n}")
    msg = refusal(both, "%a: memref<10xf32>")
    assert msg is not None and "[10, 10]" in msg
    # sibling loops at the same depth (their variables share a memo key by dimension) with
    # other bounds: each judged in its own domain
    siblings = """affine.for %i = 0 to 4 {
  affine.for %j = 0 to 4 {
    %v = memref.load %a[%j] : memref<4xf32>
  }
  affine.for %k = 0 to 5 {
    %w = memref.load %a[%k] : memref<4xf32>
  }
}"""
    msg = refusal(siblings, "%a: memref<4xf32>")
    assert msg is not None and "[0, 4]" in msg


_SUM = "affine_map<(d0, d1) -> (d0 + d1)>"


@pytest.mark.parametrize("first, second, ok", [
    ("%j, %j", "%i, %j", False),   # 2j ≤ 8 in bounds, then i + j up to 13: refused
    ("%j, %j", "%j, %i", False),
    ("%i, %j", "%j, %j", False),   # refused at the first access already
    ("%j, %j", "%c1, %j", True),   # 1 + j ≤ 5
])
def test_one_map_over_operands_of_other_shapes_is_planned_per_shape(first, second, ok):
    """Accesses through one affine map share its plan only when their operands have the same
    linear shapes: an in-bounds access through ``(d0, d1) -> (d0 + d1)`` over (j, j) must not
    answer for the same map over (i, j), whose range leaves the array."""
    body = "\n".join([
        "%c1 = arith.constant 1 : index",
        "affine.for %i = 0 to 10 {",
        "  affine.for %j = 0 to 5 {",
        # (the generic form keeps the map as written: `%a[%j + %j]` would parse as (d0) -> (d0 * 2))
        f"    %u = \"affine.load\"(%a, {first}) {{map = {_SUM}}} : (memref<10xf32>, index, index) -> f32",
        f"    %w = \"affine.load\"(%a, {second}) {{map = {_SUM}}} : (memref<10xf32>, index, index) -> f32",
        "  }", "}"])
    msg = refusal(body, "%a: memref<10xf32>")
    assert (msg is None) == ok, msg
    if not ok:
        assert "outside [0, 9]" in msg
