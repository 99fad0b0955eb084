"""`tile` (passes/tile.py) at the edges mutation testing found no test for (bench/MUTATION.md):
one tile that is partial (the trip count below the size), the last partial tile's constant
bounds, a band that is not perfectly nested, tiling a tile loop, loops fully unrolled earlier in
the pipeline, every refusal's full text, the code-size check's text, what the tile loop takes
over from the loop it was made from (attributes, location), and `Tile.options`.

Unit: the IR the pass leaves (point-loop bounds, loop names) or its `TransformError`;
differential where the pass runs: the compiled kernel against the interpreter.
"""
from __future__ import annotations

import pytest
from mlir import ir

from unrollkit.core.errors import CodeSizeError, TransformError
from unrollkit.ir.ir_utils import bound_operands, constant_trip_count, loop_name, walk_ops
from unrollkit.passes.tile import Tile

from differential import check_against_reference, kernel_from, lowered_module, refuses, skew

LINE = kernel_from('''
    def line(x: uk.f64["N"], y: uk.f64["N"]):
        for i in range(N):
            y[i] = y[i] + x[i] * 2.0
    ''')
GRID = kernel_from('''
    def grid(A: uk.f64["N", "M"], B: uk.f64["N", "M"]):
        for i in range(N):
            for j in range(M):
                A[i, j] = A[i, j] * 0.5 + B[i, j]
    ''')


def _tiled(kernel, pipeline: str, sizes: dict) -> list:
    """(name, lower-bound operands, constant trip count, text) of every loop after ``pipeline``."""
    from unrollkit.codegen.pipeline import Pipeline
    ctx, module = lowered_module(kernel, sizes)
    with ctx, ir.Location.unknown():
        Pipeline.parse(pipeline).run(module)
        assert module.operation.verify()
        return [(loop_name(op), len(bound_operands(op)[0]) + len(bound_operands(op)[1]),
                 constant_trip_count(op)) for op in walk_ops(module.operation) if op.name == "affine.for"]


def test_one_partial_tile_keeps_the_loop_s_own_bound():
    """N = 3 < size 4: one tile, and it is partial: its point loop runs 0 to 3 (constant
    bounds), not a whole tile of 4."""
    assert _tiled(LINE, "tile{i=4}", {"N": 3}) == [("i.tile", 0, 1), ("i", 0, 3)]
    check_against_reference(LINE, {"N": 3}, "tile{i=4}")


def test_one_partial_tile_from_a_start_that_is_not_constant():
    """j in range(i, i + 3), size 4: one tile starting at i (no constant start), partial: its
    point loop must keep the bound i + 3, not run a whole tile to i + 4 (one column past)."""
    k = kernel_from('''
        def band(A: uk.f64["N", "M"]):
            for i in range(N):
                for j in range(i, i + 3):
                    A[i, j] = A[i, j] * 2.0 + 1.0
        ''')
    check_against_reference(k, {"N": 5, "M": 7}, "tile{j=4}")
    check_against_reference(k, {"N": 5, "M": 8}, "tile{j=4}")


def test_the_last_partial_tile_has_constant_bounds():
    """N = 10, size 4: full tiles i.tile 0..8 (point loops over the tile IV), then the last tile
    whose point loop is the constant 8 to 10 (a trip count unroll and vectorize can use)."""
    loops = _tiled(LINE, "tile{i=4}", {"N": 10})
    assert loops == [("i.tile", 0, 2), ("i", 2, 4), ("i.tile", 0, 1), ("i", 0, 2)]
    check_against_reference(LINE, {"N": 10}, "tile{i=4}")


def test_a_band_that_is_not_perfectly_nested_is_refused_naming_both():
    k = kernel_from('''
        def split(A: uk.f64["N", "M"]):
            for i in range(N):
                A[i, 0] = 1.0
                for j in range(M):
                    A[i, j] = A[i, j] * 2.0
        ''')
    text = refuses(k, "tile{i=2,j=2}", N=6, M=5)
    assert text == ("cannot tile loop 'j' with loops ['i']: they are not perfectly nested "
                    "(another statement sits between them)")


def test_a_tile_loop_can_be_tiled_again():
    """``tile{i=4},tile{i.tile=16}``: the second tiling's band is the loop named ``i.tile``,
    whose point loop keeps that name (it is no tile loop of this tiling)."""
    names = [n for n, _, _ in _tiled(LINE, "tile{i=4},tile{i.tile=16}", {"N": 64})]
    assert names == ["i.tile.tile", "i.tile", "i"]
    check_against_reference(LINE, {"N": 70}, "tile{i=4},tile{i.tile=16}")


def test_a_loop_unrolled_away_earlier_is_left_out_of_the_tiling():
    """j (5 trips) is fully unrolled by the factor 8 first: tile{i=2,j=2} tiles i alone."""
    pipeline = "unroll{loop=j,factor=8},tile{i=2,j=2}"
    names = [n for n, _, _ in _tiled(GRID, pipeline, {"N": 6, "M": 5})]
    assert names == ["i.tile", "i"]
    check_against_reference(GRID, {"N": 7, "M": 5}, pipeline)


def test_refusal_texts_in_full():
    assert refuses(LINE, "tile{i=1,order=i}", N=8) == "tile: order= given but no loop has a tile size > 1"
    dot = kernel_from('''
        def dot(x: uk.f64["N"], out: uk.f64[1]):
            for i in range(N):
                out[0] += x[i]
        ''')
    assert refuses(dot, "split-accumulators{loop=i,accumulators=2},tile{i=4}", N=8) == (
        "cannot tile loop 'i': it carries values (iter_args, e.g. after split-accumulators or "
        "vectorize with reductions); tile before those")
    assert refuses(skew, "tile{i=2,j=2}", N=8, M=8).startswith(
        "cannot tile loops ['i', 'j'] into order ['i.tile', 'j.tile', 'i', 'j']: a dependence on ")


def test_a_bound_with_a_symbol_is_refused():
    ctx = ir.Context()
    with ctx:
        module = ir.Module.parse('''
func.func @f(%a: memref<64xf32>, %n: index) {
  affine.for %i = 0 to affine_map<()[s0] -> (s0)>()[%n] {
    %v = affine.load %a[%i] : memref<64xf32>
    affine.store %v, %a[%i] : memref<64xf32>
  } {uk.name = "i"}
  return
}''')
    with ctx, ir.Location.unknown(), pytest.raises(TransformError) as e:
        Tile((("i", 4),)).apply(module)
    assert str(e.value) == "cannot tile loop 'i': bounds with symbols are not supported"


def test_the_tile_loop_takes_the_loop_s_attributes_and_location():
    ctx = ir.Context()
    with ctx:
        module = ir.Module.parse('''
func.func @f(%a: memref<64xf32>) {
  affine.for %i = 0 to 64 {
    %v = affine.load %a[%i] : memref<64xf32>
    affine.store %v, %a[%i] : memref<64xf32>
  } {uk.name = "i", uk.note = 7 : i64} loc("kernel.py":12:8)
  return
}''')
    with ctx, ir.Location.unknown():
        Tile((("i", 4),)).apply(module)
        tile = next(op for op in walk_ops(module.operation) if op.name == "affine.for")
        assert loop_name(tile) == "i.tile" and str(tile.attributes["uk.note"]) == "7 : i64"
        assert '"kernel.py":12:8' in str(tile.location)


def test_the_code_size_check_names_the_tiled_loops(monkeypatch):
    monkeypatch.setenv("UNROLLKIT_MAX_OPS", "10")
    ctx, module = lowered_module(GRID, {"N": 6, "M": 5})
    with ctx, ir.Location.unknown(), pytest.raises(CodeSizeError) as e:
        Tile((("i", 4), ("j", 2))).apply(module)
    assert str(e.value).startswith("tiling of loop 'i,j' would generate about "), str(e.value)


def test_options_match_the_pass_s_fields_and_text():
    """`Tile.options` (what ``unrollkit passes`` lists): the per-loop sizes, then ``order`` and
    ``separate`` with the pass's own defaults and the types its text gives them."""
    opts = Tile.options()
    assert opts == {"<loop>": (int, None), "order": (tuple, ()), "separate": (bool, True)}
    default = Tile()
    assert (default.order, default.separate) == (opts["order"][1], opts["separate"][1])
    parsed = Tile.from_text("i=3,order=i.tile:i,separate=false")
    assert isinstance(parsed.sizes[0][1], opts["<loop>"][0])
    assert isinstance(parsed.order, opts["order"][0]) and isinstance(parsed.separate, opts["separate"][0])
