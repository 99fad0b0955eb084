"""`unrollkit.tuning.gemm_schedule`: the pipeline a schedule writes, step by step, its one-line
description, the remainder chain's register budget, and the boundaries of `register_tile` and
`derive` that `test_gemm_tiles.py`'s sizes do not reach (found by mutation testing).

A wrong step or size here is silent (the kernel stays correct, only slower, or the description
lies), so each expected value is worked out by hand in a comment, on targets given explicitly.
"""
from __future__ import annotations

import dataclasses

import pytest

from unrollkit.core.errors import TransformError
from unrollkit.core.target import make_target
from unrollkit.frontend.signature import Signature
from unrollkit.kernels import contractions as kc, dot, gemm
from unrollkit.codegen.pipeline import Pipeline
from unrollkit.tuning import gemm_blocks as gb, gemm_schedule as gs
from unrollkit.tuning.variants import plan


def _target(**kw):
    """Skylake-SP (AVX-512, 32 registers, FMA latency 4 × 2 units) with the given caches."""
    caches = dict(l1d=32 << 10, l1i=32 << 10, l2=1 << 20, l3=16 << 20, line=64)
    caches.update(kw)
    return make_target("skylake-avx512", {"avx512f", "avx2", "avx", "fma"}, caches)


NEST = gs.match_gemm(gemm)


def _derive(M, N, K, target=None, elem_bytes=4):
    return gs.derive(NEST, {"M": M, "N": N, "K": K}, elem_bytes, target or _target())


def _text(*steps):
    return Pipeline.parse(",".join(steps)).text()


_TAIL = ("unroll{loop=i,full=true}", "unroll{loop=k,factor=2}", "promote-to-registers{loop=k,strict=false}")


# ---------------------------------------------------------------- the pipeline


def test_pipeline_of_a_blocked_gemm_step_by_step():
    s = _derive(512, 512, 512)
    # 6×64 tile (6 × 4 vectors of 16 f32); KC = 512 (16 KiB / 24 B = 682 ≥ K); NC = 256 (512 KiB
    # / 2 KiB per column = 256 < N): both blocking loops outside i, then the register tile
    assert (s.mr, s.nr, s.kc, s.nc, s.ku, s.pad, s.pack_a) == (6, 64, 512, 256, 2, 0, False)
    assert s.pipeline().text() == _text(
        "permute{order=k:i:j}", "tile{j=256,k=512,order=j.tile:k.tile:k:i:j}",
        "rename{loop=j.tile,to=jc}", "rename{loop=k.tile,to=kc}", "permute{order=i:k:j}",
        "tile{i=6,j=64,order=i.tile:j.tile:k:i:j}", "rename{loop=i.tile,to=ir}", "rename{loop=j.tile,to=jr}",
        "pack{arg=1,loop=kc}", "vectorize{loop=j,width=16}", "in-bounds", "unroll{loop=j,full=true}", *_TAIL)


def test_pipeline_of_a_two_by_two_by_two_gemm():
    # K = 2 is blocked (one block of 2: the anchor of B's packing); M = N = 2 are both register
    # tiled (2 rows, 2 columns: a 2-wide vector for the partial tile's columns)
    s = dataclasses.replace(_derive(2, 2, 2), ku=2)
    assert s.pipeline().text() == _text(
        "permute{order=k:i:j}", "tile{k=2,order=k.tile:k}", "rename{loop=k.tile,to=kc}", "permute{order=i:k:j}",
        "tile{i=2,j=2,order=i.tile:j.tile:k:i:j}", "rename{loop=i.tile,to=ir}", "rename{loop=j.tile,to=jr}",
        "pack{arg=1,loop=kc}", "vectorize{loop=j,width=16}", "vectorize{loop=j.rem,width=2}", "in-bounds",
        "unroll{loop=j,full=true}", "unroll{loop=j.rem,full=true}", *_TAIL)


def test_pipeline_pack_steps_follow_the_nest_and_the_schedule():
    s = _derive(512, 512, 512)
    flags = dataclasses.replace(s, nest=dataclasses.replace(s.nest, b_transposed=True, scale="alpha"), pad=16)
    assert _text("pack{arg=1,loop=kc,pad=16,scale=true,transpose=true}") in flags.pipeline().text()
    # K = 1: no K block, yet a transposed B is packed, under the k loop itself
    one = _derive(64, 64, 1)
    assert "pack{" not in one.pipeline().text()
    moved = dataclasses.replace(one, nest=dataclasses.replace(one.nest, b_transposed=True))
    assert _text("pack{arg=1,loop=k,transpose=true}") in moved.pipeline().text()
    # A's sliver: packed (transposed, A[i, k] is row-major) when asked, under the row tile ir
    packed = dataclasses.replace(s, pack_a=True)
    assert _text("pack{arg=0,loop=ir,transpose=true}") in packed.pipeline().text()
    a_t = dataclasses.replace(packed, nest=dataclasses.replace(s.nest, a_transposed=True))
    assert "pack{arg=0,loop=ir}" in a_t.pipeline().text()
    # ... but not at K = 1 (nothing to reuse), nor for one row (no row tile ir)
    assert "arg=0" not in dataclasses.replace(one, pack_a=True).pipeline().text()
    assert "arg=0" in dataclasses.replace(_derive(64, 64, 2), pack_a=True).pipeline().text()
    assert "arg=0" not in dataclasses.replace(_derive(1, 64, 64), pack_a=True).pipeline().text()


def test_pipeline_unrolls_k_only_past_one():
    s = _derive(512, 512, 512)
    assert _text("unroll{loop=k,factor=2}") in s.pipeline().text()
    assert "factor" not in dataclasses.replace(s, ku=1).pipeline().text()


def test_scalar_columns_are_unrolled_not_vectorized():
    s = dataclasses.replace(_derive(64, 64, 64), lanes=1)
    text = s.pipeline().text()
    assert "vectorize" not in text and "in-bounds" not in text and _text("unroll{loop=j,full=true}") in text
    two = dataclasses.replace(_derive(64, 64, 64), lanes=2)
    assert "vectorize{loop=j,width=2}" in two.pipeline().text()


# ---------------------------------------------------------------- the remainder chain's budget


@pytest.mark.parametrize("registers,mr,partial,widths,tail", [
    # 47 = 2·16 + 15 columns: (32 - 1) // (6 + 1) = 4 pieces, 2 taken by the full vectors: 8 and 4,
    # then the budget is spent (the last 3 columns stay a rolled loop)
    (32, 6, 47, [8, 4], False),
    # 15 columns, 32 // 8 = 4 pieces: 8, 4, 2 and the scalar tail of 1 (3 + 1 ≤ 4)
    (33, 7, 15, [8, 4, 2], True),
    # 30 // 8 = 3 pieces: 8, 4, 2; no room for the tail
    (31, 7, 15, [8, 4, 2], False),
])
def test_remainder_chain_within_the_register_budget(registers, mr, partial, widths, tail):
    s = dataclasses.replace(_derive(64, 64, 64), registers=registers, mr=mr, N=partial, nc=64, nr=64, K=64)
    assert s.partial_n == partial
    names = ["j" + ".rem" * (n + 1) for n in range(len(widths))]
    want_vec = [_text(f"vectorize{{loop={n},width={w}}}") for n, w in zip(names, widths)]
    text = s.pipeline().text()
    for step in want_vec:
        assert step in text
    assert text.count("vectorize{") == 1 + len(widths)
    tail_name = "j" + ".rem" * (len(widths) + 1)
    assert (_text(f"unroll{{loop={tail_name},full=true}}") in text) == tail


# ---------------------------------------------------------------- the description


def test_describe_counts_the_accumulators_of_a_partial_register():
    s = _derive(64, 20, 32)
    # 13 rows × ceil(20 / 16) = 2 vectors: 26 accumulators
    assert s.describe() == ("GEMM 64×20×32: register tile 13×20 (26 accumulators of 16 lanes), KC=32, NC=20, "
                            "k unrolled ×2, B rows padded by 0; loops from the accesses: i M, k reduction, j N")
    flags = dataclasses.replace(s, nest=dataclasses.replace(s.nest, b_transposed=True, scale="alpha", split=True))
    assert flags.describe().endswith("loops from the accesses: i M, k reduction, j N; B packed transposed; "
                                     "alpha folded into B's packing; initialisation in its own nest")


def test_describe_and_pipeline_of_several_nests():
    shapes = {"alpha": (), "beta": (), "tmp": (8, 9), "A": (8, 5), "B": (5, 9), "C": (9, 7), "D": (8, 7)}
    sig = Signature(tuple((p, "f64") for p in shapes), tuple((p, s) for p, s in shapes.items() if s))
    s = gs.gemm_schedule(kc.polybench_2mm, sig, _target())
    assert isinstance(s, gs.Schedules) and len(s.parts) == 2
    one, two = s.parts
    assert s.describe() == f"2 nests: nest 1: {one.describe()}; nest 2: {two.describe()}"
    assert s.pipeline().text() == (one.pipeline() + two.pipeline()).text()
    assert s.why == tuple(f"nest 1: {w}" for w in one.why) + tuple(f"nest 2: {w}" for w in two.why)
    assert gs.gemm_pipeline(kc.polybench_2mm, sig, _target()).text() == s.pipeline().text()


# ---------------------------------------------------------------- register_tile's boundaries


@pytest.mark.parametrize("M,N,want", [
    # one row, 100 columns: 1×8 (8 accumulators ≥ 8 chains, 128 columns) scores 8/9 · 100/128 = 0.69;
    # 2×4 (64 columns) 8/6 · 1/2 · 100/128 = 0.52
    (1, 100, (1, 8)),
    # one row, 144 = 9·16 columns: 2×5 (80 columns, 144 in 160) beats every narrower tile
    (1, 144, (2, 5)),
    # one column: 9 rows of one vector (9 ≥ 8 chains); 17 rows fit 9 + 8
    (17, 1, (9, 1)),
])
def test_register_tile_at_the_edges_of_its_search(M, N, want):
    assert gb.register_tile(_target(), 4, M, N)[:2] == want


def test_register_tile_reads_the_512_bit_fma_units():
    t = dataclasses.replace(_target(), fma_units_512=1)
    mr, nv, why = gb.register_tile(t, 4, 512, 512)
    assert "(latency 4 × 1 units)" in why and mr * nv >= 4


def test_register_tile_why_in_full():
    # 6×4 vectors of 16: 24 accumulators, 6·4 + 4 + 1 = 29 registers, 24 / 10 = 2.40 FMAs per
    # load, 512 rows in 86 tiles of 6 (516): 99% in full tiles
    assert gb.register_tile(_target(), 4, 512, 512)[2] == (
        "6×4·16: 24 accumulators ≥ 8 FMA chains (latency 4 × 2 units), 29 of 32 registers, "
        "2.40 FMAs per load, 99% in full tiles")


def test_register_tile_with_three_registers_takes_one_row():
    assert gb.register_tile(dataclasses.replace(_target(), vector_registers=3), 4, 64, 64)[:2] == (1, 1)


# ---------------------------------------------------------------- derive's boundaries


@pytest.mark.parametrize("sizes", [(0, 4, 4), (4, 0, 4), (4, 4, 0)])
def test_derive_refuses_each_empty_dimension(sizes):
    with pytest.raises(TransformError, match="^GEMM schedule: an empty dimension$"):
        _derive(*sizes)


def test_derive_kc_on_integer_l1_blocks():
    # 16 KiB / (6 rows × 4 B) = 682 elements (682.67 rounded down): 1365 is 3 blocks of 455 -> 456
    s = _derive(64, 64, 1365)
    assert s.mr == 6 and s.kc == 456
    # an L1 too small for two elements of a 6-row sliver: KC = 1
    tiny = _derive(64, 64, 4, _target(l1d=64))
    assert tiny.kc == 1


def test_derive_kc_falls_back_to_the_cap_as_an_integer():
    # KC ≤ 682 (above); K = 1363 is 2 blocks of 681.5 -> 682 -> 684 rounded up to a multiple of 4,
    # over the cap: KC falls back to the cap's multiple of 4, 680 — an integer, as tile sizes
    # must be (a float cap made KC 680.0, which `tile` refuses)
    s = _derive(64, 64, 1363)
    assert s.kc == 680 and type(s.kc) is int
    assert "k=680," in s.pipeline().text()


def test_derive_nc_blocks_whole_register_tiles():
    s = _derive(512, 289, 512)
    # NR = 80; 512 KiB / (512 × 4 B) = 256 -> NC ≤ 240 (3 tiles); N = 289 > 240: the 240 columns
    # of whole tiles in one block of 240 (all of N, 289, would split into 2 blocks of 160)
    assert (s.nr, s.nc) == (80, 240)


def test_derive_k_unroll_at_its_ends():
    # 64 registers: a 13×4 tile, body 13·4 + 4 + 13 = 69 uops: 2 / 69 = 2.9% already: no unroll
    big = _derive(64, 64, 512, dataclasses.replace(_target(), vector_registers=64))
    assert (big.mr, big.nr, big.ku) == (13, 64, 1)
    # one FMA chain: a 1×1 tile, a 3-uop body: unrolled ×8, the cap, though still 8.3%
    small = _derive(1, 1, 512, dataclasses.replace(_target(), fma_latency=1, fma_units=1, fma_units_512=1))
    assert small.ku == 8 and small.why[3] == "k ×8: loop overhead 8.3% of a 3-uop body"


def test_derive_pads_on_a_set_stride_that_is_not_a_power_of_two():
    # 32 KiB / 6 ways: a set stride of 5461 B; 5461 f32 columns are 4 strides: pad one line of 16
    assert _derive(8, 5461, 8, _target(l1d_ways=6)).pad == 16
    assert "B rows padded by 16;" in _derive(64, 1024, 64).describe()


def test_derive_keeps_the_element_size_and_the_register_count():
    haswell = make_target("haswell", {"avx2", "avx", "fma"}, {})
    s = _derive(64, 64, 64, haswell, elem_bytes=8)
    assert (s.elem_bytes, s.registers, s.lanes) == (8, 16, 4)


# ---------------------------------------------------------------- the hooks


def _gemm_sig(m, n, k):
    return Signature((("A", "f32"), ("B", "f32"), ("C", "f32")), (("A", (m, k)), ("B", (k, n)), ("C", (m, n))))


def test_gemm_plan_uses_the_target_and_the_placeholder():
    placeholder = plan(gemm, variant="blas")
    sig = _gemm_sig(512, 512, 512)
    p, s = gs.gemm_plan(gemm, sig, placeholder, _target(l1d_ways=4))
    assert s == gs.derive(NEST, {"M": 512, "N": 512, "K": 512}, 4, _target(l1d_ways=4)) and s.pack_a
    assert p.factors == placeholder.factors and p.variant == "blas" and p.kernel is (s.nest.kernel or gemm)
    assert p.pipeline.text() == (s.pipeline() + placeholder.pipeline).text()


def test_gemm_plan_runs_the_rewritten_kernel_of_a_split_nest():
    shapes = {"alpha": (), "beta": (), "tmp": (8, 9), "A": (8, 5), "B": (5, 9), "C": (9, 7), "D": (8, 7)}
    sig = Signature(tuple((p, "f64") for p in shapes), tuple((p, s) for p, s in shapes.items() if s))
    p, s = gs.gemm_plan(kc.polybench_2mm, sig, plan(kc.polybench_2mm, variant="blas"), _target())
    assert s.nest.kernel is not None and p.kernel is s.nest.kernel


def test_gemm_pipeline_refuses_what_is_not_a_gemm():
    sig = Signature((("x", "f32"), ("y", "f32"), ("out", "f32")), (("x", (8,)), ("y", (8,)), ("out", (1,))))
    with pytest.raises(TransformError, match="^kernel 'dot' is not a GEMM nest C"):
        gs.gemm_pipeline(dot, sig)
    assert gs.gemm_pipeline(gemm, _gemm_sig(64, 64, 64), _target()).text() == _derive(64, 64, 64).pipeline().text()
