"""The GEMM schedule's tile derivation (unrollkit.tuning.gemm_schedule: `register_tile`, `_balanced`,
`derive`, `GemmSchedule.partial_n`, the L1 associativity `Target.l1d_ways`): each rule of the module docstring checked on
values worked out by hand, against targets given explicitly (no dependence on this machine).

A wrong tile is silent: the kernel stays correct and only gets slower, so these numbers are
the only thing that catches it.
"""
from __future__ import annotations

import dataclasses
import math

import pytest

from unrollkit.tuning import gemm_blocks as gb, gemm_schedule as gs
from unrollkit.frontend.signature import Signature
from unrollkit.core.errors import TransformError
from unrollkit.kernels import gemm
from unrollkit.core.target import make_target, read_caches


def _skx(**kw):
    caches = dict(l1d=32 << 10, l1i=32 << 10, l2=1 << 20, l3=16 << 20, line=64)
    caches.update(kw)
    return make_target("skylake-avx512", {"avx512f", "avx2", "avx", "fma"}, caches)


def _sched(m, n, k, dtype="f32", target=None, ways=8, monkeypatch=None):
    """The schedule of gemm at m×n×k on ``target`` (default: Skylake-SP with an L1D of ``ways``)."""
    sig = Signature((("A", dtype), ("B", dtype), ("C", dtype)),
                    (("A", (m, k)), ("B", (k, n)), ("C", (m, n))))
    return gs.gemm_schedule(gemm, sig, target or _skx(l1d_ways=ways))


# ---------------------------------------------------------------- _balanced


@pytest.mark.parametrize("n,cap,multiple,want", [
    (100, 100, 7, 100),     # fits: one block of n
    (50, 100, 8, 50),
    (101, 100, 7, 56),      # 2 blocks of 51 -> 56 (a multiple of 7)
    (1100, 512, 4, 368),    # 3 blocks of 367 -> 368
    (1000, 300, 8, 256),    # 4 blocks of 250 -> 256
    (97, 48, 16, 48),       # 3 blocks of 33 -> 48: exactly the cap
    (97, 47, 16, 32),       # 48 > 47: the largest multiple under the cap
    (10, 3, 4, 3),          # no multiple of 4 fits under 3: the cap itself
    (9, 3, 3, 3),           # 3 equal blocks
    (7, 2, 1, 2),           # 4 blocks of 2 (the last one 1)
])
def test_balanced_blocks(n, cap, multiple, want):
    assert gb._balanced(n, cap, multiple) == want


@pytest.mark.parametrize("n,cap,multiple,want", [
    (1024, 409, 4, 256),    # 3 blocks do not divide 1024 (344, 344, 336): 4 of 256 do
    (1024, 819, 4, 512),
    (2048, 819, 4, 512),    # not 3 × 684
    (1000, 409, 4, 200),    # 5 blocks of 200 (3 or 4 leave a partial one)
    (1021, 300, 4, 256),    # prime: no exact split, _balanced's 4 blocks (256, 256, 256, 253)
    (100, 100, 4, 100),
])
def test_dividing_blocks(n, cap, multiple, want):
    assert gb._dividing(n, cap, multiple) == want


def test_dividing_blocks_divide_or_balance():
    for n in range(1, 400, 3):
        for cap in (4, 16, 48, 100):
            b = gb._dividing(n, cap, 4)
            assert b <= max(cap, n if n <= cap else 0) or b == gb._balanced(n, cap, 4)
            if n % b == 0 and n > cap:
                assert n // b <= 2 * math.ceil(n / cap) and b % 4 == 0
            elif n > cap:
                assert b == gb._balanced(n, cap, 4)


def test_balanced_blocks_are_few_and_not_slivers():
    for n in range(1, 300, 7):
        for cap in (4, 16, 48, 100):
            for multiple in (1, 4, 16):
                b = gb._balanced(n, cap, multiple)
                assert 1 <= b <= max(cap, 1) and (b == n or b <= cap)
                if n <= cap:
                    assert b == n
                elif b % multiple == 0 and cap >= multiple:
                    # as few blocks as the cap allows (rounding may add one when it had to shrink)
                    assert math.ceil(n / b) <= math.ceil(n / cap) + (b < math.ceil(n / math.ceil(n / cap)))


# ---------------------------------------------------------------- register_tile


def _model_best(t, elem_bytes, M, N):
    """Every tile the model admits, with its score (the docstring's rule, spelled out)."""
    w = t.vector_lanes(elem_bytes, t.vector_bits)
    units = t.fma_units_512 if t.vector_bits > 256 else t.fma_units
    chains = t.fma_latency * units
    rows = {}
    for nv in range(1, 9):
        for mr in range(1, 17):
            if mr * nv + nv + 1 <= t.vector_registers and mr * nv >= chains:
                full = (M / (math.ceil(M / mr) * mr)) * (N / (math.ceil(N / (nv * w)) * nv * w))
                rows[(mr, nv)] = mr * nv / (mr + nv) * full
    return rows


@pytest.mark.parametrize("target", ["skx", "haswell"])
@pytest.mark.parametrize("mn", [(512, 512), (100, 100), (6, 64), (7, 1000), (1000, 17), (1, 1), (96, 48)])
@pytest.mark.parametrize("elem_bytes", [4, 8])
def test_register_tile_is_a_best_tile_of_the_model(target, mn, elem_bytes):
    t = _skx() if target == "skx" else make_target("haswell", {"avx2", "avx", "fma"}, {})
    M, N = mn
    mr, nv, why = gb.register_tile(t, elem_bytes, M, N)
    rows = _model_best(t, elem_bytes, M, N)
    assert (mr, nv) in rows, why
    best = max(rows.values())
    assert rows[(mr, nv)] >= best * (1 - gb.TIE)
    # among the tiles within TIE of the best: the widest, then the best score
    near = [k for k, v in rows.items() if v >= best * (1 - gb.TIE)]
    assert nv == max(k[1] for k in near)
    assert rows[(mr, nv)] == max(rows[k] for k in near if k[1] == nv)
    assert f"{mr}×{nv}·" in why and f"{mr * nv} accumulators" in why


def test_register_tile_known_values():
    t = _skx()
    assert gb.register_tile(t, 4, 512, 512)[:2] == (6, 4)  # the hand-written prototype's tile
    assert gb.register_tile(t, 4, 2048, 2048)[:2] == (5, 5)
    # even for one row, 8 FMA chains (latency 4 × 2 units) need 8 accumulators in 32 registers
    mr, nv, _ = gb.register_tile(t, 4, 1, 512)
    assert mr * nv >= 8 and mr * nv + nv + 1 <= 32


def test_register_tile_with_too_few_registers_takes_the_largest_that_fits():
    t = dataclasses.replace(_skx(), vector_registers=8)
    mr, nv, why = gb.register_tile(t, 4, 512, 512)
    assert (mr, nv) == (6, 1) and why == "8 registers cannot hide 8 FMA chains"


# ---------------------------------------------------------------- derive


def test_derive_cache_blocks_and_k_unroll(monkeypatch):
    s = _sched(2048, 2048, 2048, monkeypatch=monkeypatch)
    assert (s.mr, s.nr, s.lanes) == (5, 80, 16)
    # KC: A sliver 5 x KC x 4 B in 16 KiB: KC <= 819; 3 blocks do not divide 2048, 4 of 512 do
    assert s.kc == 512
    # NC: B block 512 x NC x 4 B in 512 KiB: NC <= 256 -> 240 (a multiple of 80); the 2000
    # columns of whole tiles in 9 blocks of 223 -> 240
    assert s.nc == 240
    # k unroll: body 5·5 + 5 + 5 = 35 uops; 2/35 = 5.7% > 3%, 2/70 = 2.9%: x2
    assert s.ku == 2
    assert s.why[1] == "KC=512: A sliver 5×512×4 B ≤ L1/2 (16384 B)"
    assert s.why[2] == "NC=240: B block 512×240×4 B ≤ L2/2 (524288 B)"
    assert s.why[3] == "k ×2: loop overhead 2.9% of a 35-uop body"


def test_derive_k_unroll_grows_for_a_small_body(monkeypatch):
    # a 1-row tile (M = 1): body 1·nv + nv + 1 uops, so k is unrolled further (at most x8)
    s = _sched(1, 2048, 2048, monkeypatch=monkeypatch)
    body = s.mr * (s.nr // s.lanes) + s.nr // s.lanes + s.mr
    assert 2 / (body * s.ku) <= gs.LOOP_OVERHEAD or s.ku == 8
    assert s.ku == 1 or 2 / (body * s.ku // 2) > gs.LOOP_OVERHEAD
    assert s.ku in (1, 2, 4, 8)


@pytest.mark.parametrize("m,n,k", [(512, 1023, 2048), (64, 5000, 300), (100, 300, 1), (7, 10000, 2048)])
def test_derive_nc_covers_whole_register_tiles_only(m, n, k, monkeypatch):
    """NC: the B block KC×NC in half of L2, equal blocks (a multiple of NR) over the columns
    of whole register tiles; N itself when it fits."""
    s = _sched(m, n, k, monkeypatch=monkeypatch)
    nc_max = max(s.nr, (1 << 20) // 2 // (s.kc * 4) // s.nr * s.nr)
    if n <= nc_max:
        assert s.nc == n
    else:
        assert s.nc == gb._balanced(n // s.nr * s.nr, nc_max, s.nr)
        assert s.nc % s.nr == 0 and s.kc * s.nc * 4 <= (1 << 20) // 2


def test_derive_clamps_the_register_tile_to_the_matrix(monkeypatch):
    s = _sched(3, 10, 50, monkeypatch=monkeypatch)
    assert s.mr <= 3 and s.nr == 10
    assert _sched(1, 1, 1, monkeypatch=monkeypatch).mr == 1


def test_derive_pads_b_rows_on_the_l1_set_stride(monkeypatch):
    # 32 KiB / 8 ways: rows 4096 B apart share a set; N = 1024 f32 is exactly that: pad a line
    assert _sched(64, 1024, 64, ways=8, monkeypatch=monkeypatch).pad == 16
    assert _sched(64, 512, 64, "f64", ways=8, monkeypatch=monkeypatch).pad == 8
    assert _sched(64, 1000, 64, ways=8, monkeypatch=monkeypatch).pad == 0
    # 16 ways: a stride of 2048 B; 512 f32 is one
    assert _sched(64, 512, 64, ways=16, monkeypatch=monkeypatch).pad == 16
    assert _sched(64, 512, 64, ways=4, monkeypatch=monkeypatch).pad == 0


def test_derive_packs_a_only_when_its_rows_could_collide(monkeypatch):
    assert _sched(512, 512, 512, ways=4, monkeypatch=monkeypatch).pack_a       # 6 rows > 4 ways
    assert not _sched(512, 512, 512, ways=6, monkeypatch=monkeypatch).pack_a   # 6 rows, 6 ways
    assert not _sched(512, 512, 512, ways=8, monkeypatch=monkeypatch).pack_a


def test_derive_refuses_an_empty_dimension(monkeypatch):
    nest = gs.match_gemm(gemm)
    with pytest.raises(TransformError, match="GEMM schedule: an empty dimension"):
        gs.derive(nest, {"M": 0, "N": 4, "K": 4}, 4, _skx())


# ---------------------------------------------------------------- partial_n


@pytest.mark.parametrize("N,K,nc,nr,lanes,want", [
    (1023, 512, 192, 64, 16, 63),   # 5 blocks of 192 + 63: the last block's partial tile
    (1024, 512, 256, 64, 16, 0),    # NR divides every block
    (1000, 1, 256, 64, 16, 40),     # K = 1: no N blocking, 1000 = 15·64 + 40
    (10, 512, 10, 10, 16, 10),      # NR clamped to a narrow N: 10 columns, 10 % 16
    (70, 512, 70, 64, 16, 6),
    (960, 512, 192, 64, 16, 0),
])
def test_partial_n(N, K, nc, nr, lanes, want, monkeypatch):
    s = dataclasses.replace(_sched(64, 64, 64, monkeypatch=monkeypatch), N=N, K=K, nc=nc, nr=nr, lanes=lanes)
    assert s.partial_n == want


# ---------------------------------------------------------------- the L1 associativity


def _cache_dir(root, index, level, kind, ways):
    d = root / f"index{index}"
    d.mkdir()
    (d / "level").write_text(f"{level}\n")
    (d / "type").write_text(f"{kind}\n")
    (d / "size").write_text("32K\n")
    (d / "coherency_line_size").write_text("64\n")
    if ways is not None:
        (d / "ways_of_associativity").write_text(f"{ways}\n")


def _l1_ways(root) -> int:
    return make_target("skylake-avx512", {"avx512f"}, read_caches(str(root))).l1d_ways


def test_l1_ways_reads_the_l1_data_cache(tmp_path):
    _cache_dir(tmp_path, 0, 1, "Instruction", 4)
    _cache_dir(tmp_path, 1, 1, "Data", 12)
    _cache_dir(tmp_path, 2, 2, "Unified", 16)
    assert _l1_ways(tmp_path) == 12


def test_l1_ways_falls_back_to_8(tmp_path):
    assert _l1_ways(tmp_path / "missing") == 8
    _cache_dir(tmp_path, 0, 2, "Data", 16)
    _cache_dir(tmp_path, 1, 1, "Data", None)   # unreadable: skipped
    assert _l1_ways(tmp_path) == 8
    (tmp_path / "index1" / "ways_of_associativity").write_text("many\n")
    assert _l1_ways(tmp_path) == 8
