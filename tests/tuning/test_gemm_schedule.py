"""The derived GEMM schedule (unrollkit.tuning.gemm_schedule) and its passes: pack, rename, in-bounds.

Correctness against numpy at every size class (1, 5, 17, 64, 100, 257, 512 and awkward
shapes), f32 and f64, through ``factor="auto"`` and ``variant="blas"``; the derivation's
rules against targets given explicitly; FileCheck on the IR and assembly. No timing here.
"""
from __future__ import annotations

import numpy as np
import pytest

import unrollkit as uk
from unrollkit.tuning import gemm_blocks as gb, gemm_schedule as gs
from unrollkit.core.errors import TransformError
from unrollkit.kernels import dot, gemm, gemm_order
from unrollkit.codegen.pipeline import Pipeline
from unrollkit.core.target import host_target, make_target

SQUARE = [1, 5, 17, 64, 100, 257, 512]
AWKWARD = [(37, 53, 29), (1, 7, 3), (7, 1, 5), (3, 9, 1), (65, 130, 3), (6, 64, 4), (13, 161, 70)]
TOL = {np.float32: 2e-5, np.float64: 1e-12}


def _inputs(m, n, k, dt, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((m, k)).astype(dt), rng.standard_normal((k, n)).astype(dt),
            rng.standard_normal((m, n)).astype(dt))


def _check(f, m, n, k, dt):
    A, B, C = _inputs(m, n, k, dt)
    want = C.astype(np.float64) + A.astype(np.float64) @ B.astype(np.float64)
    f(A, B, C)
    scale = max(1.0, np.abs(want).max()) * max(1, k)
    assert np.abs(C - want).max() <= TOL[dt] * scale, (m, n, k, dt)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("n", SQUARE)
def test_auto_square_matches_numpy(n, dt):
    f = uk.jit(gemm, factor="auto")
    _check(f, n, n, n, dt)
    assert f.last.plan.variant == "blas"


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("mnk", AWKWARD)
def test_blas_awkward_matches_numpy(mnk, dt):
    _check(uk.jit(gemm, variant="blas"), *mnk, dt)


@pytest.mark.parametrize("blocks", [dict(l1d_bytes=4 << 10, l2_bytes=64 << 10),
                                    dict(vector_bits=256, vector_registers=16),
                                    dict(vector_bits=128, vector_registers=16, fma_latency=5)])
def test_small_caches_and_narrow_vectors_match_numpy(blocks):
    """Targets that force every level of blocking (K and N blocks with partial last blocks),
    or narrower vectors and fewer registers: still exact."""
    t = host_target().replace(**blocks)
    A, B, C = _inputs(45, 203, 150, np.float32)
    f = uk.jit(gemm)
    sig, _ = f.signature((A, B, C))
    s = gs.gemm_schedule(gemm, sig, t)
    assert s.kc <= 150 and s.mr * -(-s.nr // s.lanes) + -(-s.nr // s.lanes) + 1 <= t.vector_registers
    g = uk.jit(gemm, variant="none", pipeline=s.pipeline())
    want = C.astype(np.float64) + A.astype(np.float64) @ B.astype(np.float64)
    g(A, B, C)
    assert np.abs(C - want).max() < 1e-3


def test_other_loop_order_is_scheduled_too():
    ijk = gemm_order("ijk")
    assert gs.match_gemm(ijk) is not None
    _check(uk.jit(ijk, factor="auto"), 40, 70, 33, np.float32)


def test_non_gemm_kernels_are_not_matched():
    assert gs.match_gemm(dot) is None
    with pytest.raises(TransformError, match="variant 'blas' schedules contractions"):
        uk.jit(dot, variant="blas")
    # factor="auto" on a non-GEMM kernel still goes to the cost model
    a = np.arange(100, dtype=np.float32)
    c = np.zeros(1, np.float32)
    f = uk.jit(dot, factor="auto")
    f(a, a, c)
    assert f.last.plan.variant != "blas"
    assert np.isclose(c[0], a @ a)


# ---------------------------------------------------------------- the derivation


def _sched(m, n, k, dtype="f32", target=None):
    from unrollkit.frontend.signature import Signature
    sig = Signature((("A", dtype), ("B", dtype), ("C", dtype)),
                    (("A", (m, k)), ("B", (k, n)), ("C", (m, n))))
    return gs.gemm_schedule(gemm, sig, target)


def _skx(**kw):
    caches = dict(l1d=32 << 10, l1i=32 << 10, l2=1 << 20, l3=16 << 20, line=64)
    caches.update(kw)
    return make_target("skylake-avx512", {"avx512f", "avx2", "avx", "fma"}, caches)


def test_register_tile_from_registers_and_latency():
    t = _skx()
    s = _sched(512, 512, 512, target=t)
    nv = s.nr // s.lanes
    assert s.lanes == 16 and s.mr * nv >= t.fma_latency * t.fma_units_512
    assert s.mr * nv + nv + 1 <= 32
    assert (s.mr, s.nr) == (6, 64)  # the tile the hand-written prototype used at 512
    s64 = _sched(512, 512, 512, "f64", t)
    assert s64.lanes == 8 and s64.nr % 8 == 0 and s64.mr * (s64.nr // 8) >= 8
    # AVX2: 16 registers, 8 lanes
    t2 = make_target("haswell", {"avx2", "avx", "fma"}, {})
    s2 = _sched(512, 512, 512, target=t2)
    assert s2.lanes == 8 and s2.mr * (s2.nr // 8) + s2.nr // 8 + 1 <= 16


def test_cache_blocks_follow_cache_sizes():
    s = _sched(2048, 2048, 2048, target=_skx())
    assert s.mr * s.kc * 4 <= (32 << 10) // 2            # A sliver: half of L1
    assert s.kc * s.nc * 4 <= (1 << 20) // 2             # B block: half of L2
    assert s.nc % s.nr == 0
    big = _sched(2048, 2048, 2048, target=_skx(l1d=64 << 10, l2=4 << 20))
    assert big.kc > s.kc and big.kc * big.nc > s.kc * s.nc
    # K split into equal blocks, none a sliver
    s3 = _sched(64, 64, 1100, target=_skx())
    blocks = -(-1100 // s3.kc)
    assert 1100 - (blocks - 1) * s3.kc > s3.kc // 2


def test_a_transposed_read_in_place_counts_its_sliver_in_lines():
    """A[k, i] read in place: each k's MR elements sit in a line of their own, so KC lines
    (not MR·KC elements) fill half of L1, and no more than L2 keeps at A's row stride; the
    untransposed product keeps the element count."""
    from unrollkit.frontend.signature import Signature
    from unrollkit.kernels import contractions as kc
    t = _skx()
    for dtype, e in (("f32", 4), ("f64", 8)):
        sig = Signature((("A", dtype), ("B", dtype), ("C", dtype)),
                        (("A", (1024, 1024)), ("B", (1024, 1024)), ("C", (1024, 1024))))
        s = gs.gemm_schedule(kc.ALL["gemm_at"], sig, t)
        plain = _sched(1024, 1024, 1024, dtype, target=t)
        assert s.mr * e < 64 and not s.pack_a
        assert s.kc <= (32 << 10) // 2 // 64 and s.kc < plain.kc, (dtype, s.kc, plain.kc)
        assert plain.mr * plain.kc * e <= (32 << 10) // 2
        assert any(f"A sliver {s.kc}×64 B" in w for w in s.why)
        # rows 1024·e bytes apart fall in 2048 / gcd(2048, 16·e) of L2's 2048 sets, 8 ways each
        assert s.kc <= 8 * 2048 // (16 * e), (dtype, s.kc)
    assert gb._lines_kept(t, 8192) == 128 and gb._lines_kept(t, 8192 + 64) == 2048 * 8
    assert gb._lines_kept(t, 100) == 2048 * 8  # not a whole number of lines apart


def test_pipeline_text_round_trips():
    p = _sched(777, 1031, 513).pipeline()
    assert Pipeline.parse(p.text()) == p
    assert "pack{arg=1,loop=kc" in p.text() and "vectorize{loop=j.rem" in p.text()


# ---------------------------------------------------------------- IR and assembly


def test_ir_has_packing_and_vector_fma(check_ir):
    A, B, C = _inputs(64, 128, 96, np.float32)
    f = uk.jit(gemm, factor="auto", parallel=False)  # one call: the IR below is all of it
    f(A, B, C)
    # CHECK: memref.alloc() {alignment = 64 : i64} : memref<96x128xf32>
    # CHECK: affine.store {{.*}}, %alloc[{{.*}}] : memref<96x128xf32>
    # CHECK: } {uk.name = "kc.pack1.1"}
    # CHECK: vector.transfer_read %arg2{{.*}} {in_bounds = [true]} : memref<64x128xf32>, vector<16xf32>
    # CHECK: vector.transfer_read %alloc{{.*}} {in_bounds = [true]} : memref<96x128xf32>, vector<16xf32>
    # CHECK: arith.mulf {{.*}} fastmath<contract> : vector<16xf32>
    # CHECK: arith.addf {{.*}} fastmath<contract> : vector<16xf32>
    # CHECK: memref.dealloc %alloc
    check_ir(f.ir("transformed"))


def test_asm_has_zmm_fma_and_aligned_alloc(check_ir):
    if "avx512f" not in host_target().features:
        pytest.skip("needs AVX-512")
    A, B, C = _inputs(64, 128, 96, np.float32)
    f = uk.jit(gemm, factor="auto", parallel=False)  # one call: the IR below is all of it
    f(A, B, C)
    # ASM: aligned_alloc
    # ASM: vfmadd{{[0-9]+}}ps {{.*}}%zmm{{[0-9]+}}, %zmm{{[0-9]+}}
    check_ir(f.ir("asm"), prefix="ASM")
    asm = f.ir("asm")
    assert asm.count("vfmadd") >= 24 and "{%k" not in asm  # whole tiles, no masked transfers


# ---------------------------------------------------------------- the passes alone


def test_pack_refuses_a_written_array():
    with pytest.raises(TransformError, match="writes the array"):
        Pipeline.parse("tile{i=4,j=4},pack{arg=2,loop=i.tile}").trace(gemm, M=8, N=8, K=8)


def test_pack_transpose_and_pad_layout(check_ir):
    steps = Pipeline.parse("tile{i=4,j=8},pack{arg=0,loop=i.tile,transpose=true,pad=16}").trace(
        gemm, M=8, N=16, K=6)
    # CHECK: memref.alloc() {alignment = 64 : i64} : memref<6x20xf32>
    # CHECK: affine.store {{.*}}, %alloc[%{{.*}}, %{{.*}}] : memref<6x20xf32>
    check_ir(steps[-1].ir)


def test_rename_and_in_bounds_passes():
    with pytest.raises(TransformError, match="no loop named"):
        Pipeline.parse("rename{loop=q,to=r}").trace(gemm, M=8, N=8, K=8)
    with pytest.raises(TransformError, match="exists already"):
        Pipeline.parse("rename{loop=i,to=j}").trace(gemm, M=8, N=8, K=8)
    # two levels of tiles over j: vectorize alone cannot prove C's transfers, in-bounds can
    text = ("tile{j=32},rename{loop=j.tile,to=jc},tile{j=16},vectorize{loop=j,width=16}")
    before = Pipeline.parse(text).trace(gemm, M=4, N=64, K=4)[-1].ir
    after = Pipeline.parse(text + ",in-bounds").trace(gemm, M=4, N=64, K=4)[-1].ir
    assert after.count("in_bounds = [true]") >= before.count("in_bounds = [true]")
    assert "in_bounds = [false]" not in after


def test_pack_scale_folds_the_factor_into_the_copy(check_ir):
    """pack{scale=true}: alpha * B[k, j] is multiplied once per copied element, and the body
    reads the product from the buffer; the result is bit for bit the unpacked kernel's."""
    from unrollkit.kernels.contractions import polybench_gemm
    from unrollkit.tuning.contraction import recognise
    c = recognise(polybench_gemm)
    assert c.scale == "alpha"
    text = f"tile{{k=4}},pack{{arg={c.b},loop=k.tile,scale=true}}"
    steps = Pipeline.parse(text).trace(c.kernel, M=5, N=6, K=8)
    # CHECK: %[[V:.*]] = affine.load %arg4
    # CHECK-NEXT: %[[P:.*]] = arith.mulf %arg0, %[[V]] : f32
    # CHECK-NEXT: affine.store %[[P]], %alloc
    # CHECK: %[[A:.*]] = affine.load %arg3
    # CHECK-NEXT: %[[BP:.*]] = affine.load %alloc
    # CHECK-NEXT: arith.mulf %[[A]], %[[BP]]
    check_ir(steps[-1].ir)
    assert steps[-1].ir.count("arith.mulf") == 3  # beta, the copy's alpha, A × packed B
    rng = np.random.default_rng(3)
    args = [np.float64(1.5), np.float64(0.5), rng.standard_normal((5, 6)),
            rng.standard_normal((5, 8)), rng.standard_normal((8, 6))]
    plain, packed = [a.copy() if isinstance(a, np.ndarray) else a for a in args], args
    uk.jit(c.kernel, variant="none")(*plain)
    uk.jit(c.kernel, variant="none", pipeline=text)(*packed)
    assert np.array_equal(plain[2], packed[2])


def test_pack_scale_refuses_a_read_not_scaled_by_an_argument():
    with pytest.raises(TransformError, match="scale=true"):
        Pipeline.parse("tile{k=4},pack{arg=1,loop=k.tile,scale=true}").trace(
            gemm, M=4, N=4, K=8)
