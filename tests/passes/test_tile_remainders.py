"""``tile`` (passes/tile.py): strip-mining and the separation of the last partial tile in the
cases mutation testing found unexercised (bench/MUTATION.md): a loop whose own upper bound is
already a ``min`` (the point loop's bound then has three results), two nests whose loops share
a name (one skipped by the separation, the other not), steps, divisible trip counts, and the
options' text. Checked on the IR (the point loops' bounds) and against the interpreter.
"""
from __future__ import annotations

import pytest
from mlir import ir

from unrollkit.core.errors import TransformError
from unrollkit.ir.ir_utils import bound_maps, step_of
from unrollkit.kernels import dot
from unrollkit.passes.tile import Tile
from unrollkit.codegen.pipeline import Pipeline

from differential import check_against_reference, kernel_from, loops_named, lowered_module


def _results(amap) -> list:
    """The results of a bound map as integers (None for a non-constant one)."""
    out = []
    for e in amap.results:
        try:
            out.append(ir.AffineConstantExpr(e).value)
        except (ValueError, TypeError):
            out.append(None)
    return out


CAPPED = kernel_from('''
    def capped(x: uk.f64["N"], y: uk.f64["N"]):
        for i in range(min(N, 10)):
            y[i] = y[i] * 0.5 + x[i]
    ''')


@pytest.mark.parametrize("n", [12, 10, 7, 3])
@pytest.mark.parametrize("size", [3, 4])
def test_tile_a_loop_capped_by_min_matches(n, size):
    check_against_reference(CAPPED, {"N": n}, f"tile{{i={size}}}", seeds=(0, 1))
    check_against_reference(CAPPED, {"N": n}, f"tile{{i={size},separate=false}}")


def test_tile_a_loop_capped_by_min_keeps_both_bounds_in_the_partial_tile():
    """Unit: range(min(12, 10)) by 4: full tiles 0 and 4 (point loops t .. t + 4), the partial
    tile 8 .. min(12, 10)."""
    ctx, module = lowered_module(CAPPED, {"N": 12})
    with ctx, ir.Location.unknown():
        Pipeline.parse("tile{i=4}").run(module)
        full, last = loops_named(module, "i.tile")
        assert _results(bound_maps(full)[1]) == [8] and _results(bound_maps(last)[0]) == [8], str(module)
        points = loops_named(module, "i")
        assert len(points) == 2
        full_point, last_point = points
        assert str(bound_maps(full_point)[1]) == "(d0) -> (d0 + 4)", str(module)
        assert _results(bound_maps(last_point)[0]) == [8]
        assert sorted(_results(bound_maps(last_point)[1])) == [10, 12], str(module)


TWO_NESTS = kernel_from('''
    def two(x: uk.f64["N"], y: uk.f64["N"]):
        for i in range(max(2, N - 9), N):
            y[i] = y[i] + x[i]
        for i in range(N):
            x[i] = x[i] * 2.0
    ''')


def test_tile_separates_every_nest_of_the_name_past_one_it_skips():
    """Unit: the first nest named i starts at a max() (not separated), the second one is:
    its last tile's point loop gets constant bounds."""
    ctx, module = lowered_module(TWO_NESTS, {"N": 10})
    with ctx, ir.Location.unknown():
        Pipeline.parse("tile{i=4}").run(module)
        tiles = loops_named(module, "i.tile")
        assert len(tiles) == 3, str(module)
        points = loops_named(module, "i")
        assert _results(bound_maps(points[-1])[0]) == [8] and _results(bound_maps(points[-1])[1]) == [10], \
            str(module)
        assert str(bound_maps(points[1])[1]) == "(d0) -> (d0 + 4)", str(module)


def test_tile_two_nests_sharing_a_name_match():
    for n in (10, 13, 4):
        check_against_reference(TWO_NESTS, {"N": n}, "tile{i=4}", seeds=(0, 1))
        check_against_reference(TWO_NESTS, {"N": n}, "tile{i=3}")


DIVIDES_THEN_NOT = kernel_from('''
    def two(x: uk.f64["N"], y: uk.f64["M"]):
        for i in range(N):
            x[i] = x[i] * 2.0
        for i in range(M):
            y[i] = y[i] + 1.0
    ''')


def test_tile_separates_a_nest_after_one_whose_size_divides():
    ctx, module = lowered_module(DIVIDES_THEN_NOT, {"N": 8, "M": 10})
    with ctx, ir.Location.unknown():
        Pipeline.parse("tile{i=4}").run(module)
        points = loops_named(module, "i")
        # N = 8: one nest, no partial tile; M = 10: full tiles and the last tile 8 .. 10
        assert len(points) == 3, str(module)
        assert _results(bound_maps(points[-1])[0]) == [8] and _results(bound_maps(points[-1])[1]) == [10], \
            str(module)
    check_against_reference(DIVIDES_THEN_NOT, {"N": 8, "M": 10}, "tile{i=4}")


def test_strip_mine_with_a_step_and_a_divisible_trip_count():
    """Unit: range(2, 26, 3) has 8 trips; by 4 every tile is full: the tile loop steps by 12,
    the point loop runs t .. t + 12 step 3, no min and no partial tile."""
    k = kernel_from('''
        def strided(x: uk.f64["N"]):
            for i in range(2, N, 3):
                x[i] = x[i] + 1.0
        ''')
    ctx, module = lowered_module(k, {"N": 26})
    with ctx, ir.Location.unknown():
        Pipeline.parse("tile{i=4}").run(module)
        (tile,) = loops_named(module, "i.tile")
        (point,) = loops_named(module, "i")
        assert step_of(tile) == 12 and step_of(point) == 3, str(module)
        assert str(bound_maps(point)[1]) == "(d0) -> (d0 + 12)", str(module)
    for n in (26, 27, 28, 29, 3):
        check_against_reference(k, {"N": n}, "tile{i=4}")
        check_against_reference(k, {"N": n}, "tile{i=4,separate=false}")


def test_tile_refuses_a_loop_carrying_values():
    ctx, module = lowered_module(dot, {"N": 16})
    with ctx, ir.Location.unknown():
        with pytest.raises(TransformError, match="cannot tile loop 'i': it carries values"):
            Pipeline.parse("split-accumulators{loop=i,accumulators=2},tile{i=4}").run(module)


@pytest.mark.parametrize("text,message", [
    ("tile{i}", "tile option 'i' needs a value"),
    ("tile{i=x}", "tile size of loop 'i' must be an integer, got 'x'"),
    ("tile{i=4,separate=maybe}", "tile option separate='maybe' is not a bool"),
    ("tile{i=0}", "tile size of loop 'i' must be an integer >= 1, got 0"),
    ("tile{i=4,i=8}", "tile: a loop is given two sizes"),
])
def test_tile_options_are_checked(text, message):
    with pytest.raises(TransformError, match=message):
        Pipeline.parse(text)


def test_tile_text_round_trips():
    for text in ("tile{i=4}", "tile{i=4,j=8,order=i.tile:j.tile:j:i}", "tile{i=3,separate=false}", "tile"):
        assert Pipeline.parse(text).passes[0].text() == text
    assert Pipeline.parse("tile{i=4,separate=1}").passes[0].separate is True
    assert Pipeline.parse("tile{i=4,separate=0}").passes[0].separate is False
    assert Tile(sizes=(("i", 4),), order=("i.tile", "i")).order == ("i.tile", "i")


def test_tile_size_one_and_order_without_sizes():
    ctx, module = lowered_module(CAPPED, {"N": 12})
    with ctx, ir.Location.unknown():
        before = str(module)
        Pipeline.parse("tile{i=1}").run(module)
        assert str(module) == before
        with pytest.raises(TransformError, match="tile: order= given but no loop has a tile size > 1"):
            Pipeline.parse("tile{i=1,order=i}").run(module)
        with pytest.raises(TransformError, match=r"tile: no loop named 'q'; the loops are \['i'\]"):
            Pipeline.parse("tile{q=4}").run(module)
