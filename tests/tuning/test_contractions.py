"""Contractions recognised by their access functions (unrollkit.tuning.contraction) and run through the
derived BLAS-style schedule (unrollkit.tuning.gemm_schedule): every form of kernels/contractions.py
against numpy at odd sizes, f32 and f64, ``factor="auto"`` and ``variant="blas"``; the
recogniser's loop roles; kernels that are not contractions keep their old path. No timing.
"""
from __future__ import annotations

import numpy as np
import pytest

import unrollkit as uk
from unrollkit import T
from unrollkit.tuning.contraction import recognise
from unrollkit.core.errors import TransformError
from unrollkit.frontend.descriptor import Loop
from unrollkit.kernels import contractions as kc
from unrollkit.kernels import dot, gemm, gemv

#: (P, M, N, K): every dimension takes 1, 5 and 100 or more, 257 somewhere (P: batch count)
SIZES = [(1, 1, 257, 5), (3, 5, 1, 100), (2, 257, 17, 1), (3, 100, 5, 257)]
TOL = {np.float32: 3e-5, np.float64: 1e-12}


def _run_and_check(name, f, sizes, dt, seed=0):
    args = kc.arguments(name, sizes, dt, seed)
    want = [np.array(a, dtype=np.float64) if isinstance(a, np.ndarray) else float(a) for a in args]
    kc.NUMPY[name](*want)
    scale = max(1.0, *(float(np.abs(w).max(initial=0)) for w in want if isinstance(w, np.ndarray)))
    f(*args)
    for got, w in zip(args, want):
        if isinstance(got, np.ndarray):
            err = np.abs(got - w).max(initial=0)
            assert err <= TOL[dt] * scale * max(1, sizes["K"]), (name, sizes, dt, err)


@pytest.mark.parametrize("case", [0, 1])
@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(kc.ALL))
def test_every_form_matches_numpy_with_auto_and_blas(name, dt, case):
    """Two of the four size sets per dtype (f32 the first two, f64 the last two: every form
    sees all four); auto and blas compile the same schedule (the second a cache hit);
    parallel=False keeps each call one signature (row blocks have their own test below)."""
    p, m, n, k = SIZES[case + (2 if dt == np.float64 else 0)]
    sizes = {"P": p, "M": m, "N": n, "K": k}
    for how in (dict(factor="auto"), dict(variant="blas")):
        f = uk.jit(kc.ALL[name], parallel=False, **how)
        _run_and_check(name, f, sizes, dt, seed=m + n + k)
        assert f.last.plan.variant == "blas", (name, how)


@pytest.mark.parametrize("name", ["gemm_bt", "batched_shared_b", "batched_matmul"])
def test_row_blocks_in_parallel_match_numpy(name):
    """parallel.py slices the outermost loop's rows and calls the same kernel per block: each
    block is a contraction of its own (smaller) signature."""
    f = uk.jit(kc.ALL[name], factor="auto", parallel=True, threads=2)
    _run_and_check(name, f, {"P": 3, "M": 67, "N": 45, "K": 33}, np.float32)


# ---------------------------------------------------------------- the recogniser


ROLES = {
    "gemm_bt": (("i", "M"), ("j", "N"), ("k", "reduction")),
    "gemm_at": (("k", "reduction"), ("i", "M"), ("j", "N")),
    "gemm_ct": (("j", "M"), ("i", "N"), ("k", "reduction")),
    "gemm_renamed": (("q", "N"), ("r", "reduction"), ("p", "M")),
    "batched_matmul": (("b", "batch"), ("i", "M"), ("k", "reduction"), ("j", "N")),
    "batched_shared_b": (("b", "M"), ("i", "M"), ("j", "N"), ("k", "reduction")),
    "polybench_gemm": (("i", "M"), ("k", "reduction"), ("j", "N")),
}


@pytest.mark.parametrize("name", sorted(ROLES))
def test_recogniser_classifies_the_loops(name):
    c = recognise(kc.ALL[name])
    assert c is not None and c.roles == ROLES[name]
    tile = {"gemm_ct": ("j", "i", "k"), "gemm_renamed": ("p", "q", "r")}.get(name, ("i", "j", "k"))
    assert (c.i, c.j, c.k) == tile
    assert c.outer == (("b",) if name.startswith("batched") else ())
    assert c.b_transposed == (name in ("gemm_bt", "gemm_ct"))
    assert c.a_transposed == (name in ("gemm_at", "gemm_ct"))  # gemm_ct: B[k, j], j its rows
    params = [p.name for p in kc.ALL[name].params]
    # A holds the rows' loop, B the columns' (gemm_ct: the source's A is the columns' operand)
    assert (params[c.a], params[c.b]) == (("B", "A") if name == "gemm_ct" else ("X", "Y") if
                                         name == "gemm_renamed" else ("A", "B"))


def test_plain_gemm_is_one_case_with_its_kernel_unchanged():
    c = recognise(gemm)
    assert c.roles == (("i", "M"), ("k", "reduction"), ("j", "N")) and c.kernel is gemm
    assert not c.split and not c.b_transposed


def test_a_scalar_coefficient_is_folded_into_the_packing_of_b():
    from unrollkit.frontend.signature import Signature
    from unrollkit.tuning.gemm_schedule import gemm_schedule
    for name in ("polybench_gemm", "gemm_scaled", "gemm_scaled_inner"):
        c = recognise(kc.ALL[name])
        assert c.scale == "alpha"
        sig = Signature(tuple((p.name, "f32") for p in c.kernel.params),
                        (("C", (40, 50)), ("A", (40, 30)), ("B", (30, 50))))
        assert "scale=true" in gemm_schedule(kc.ALL[name], sig).pipeline().text()
    assert recognise(gemm).scale is None


def test_chained_products_are_one_contraction_per_nest():
    from unrollkit.tuning.contraction import recognise_all
    from unrollkit.tuning.gemm_schedule import Schedules, gemm_schedule
    from unrollkit.frontend.signature import Signature
    assert recognise(kc.polybench_2mm) is None  # not one contraction...
    two = recognise_all(kc.polybench_2mm)      # ...but two, in source order
    assert [c.order for c in two] == [("i", "j", "k"), ("i_1", "j_1", "k_1")]
    params = [p.name for p in kc.polybench_2mm.params]
    assert [(params[c.a], params[c.b], params[c.c]) for c in two] == [("A", "B", "tmp"), ("tmp", "C", "D")]
    assert two[0].scale == "alpha" and two[1].scale is None and all(c.split for c in two)
    three = recognise_all(kc.polybench_3mm)
    assert len(three) == 3 and len({c.kernel for c in three}) == 1
    shapes = {"E": (8, 9), "A": (8, 5), "B": (5, 9), "F": (9, 7), "C": (9, 6), "D": (6, 7), "G": (8, 7)}
    sig = Signature(tuple((p, "f64") for p in shapes), tuple(shapes.items()))
    s = gemm_schedule(kc.polybench_3mm, sig)
    assert isinstance(s, Schedules) and len(s.parts) == 3 and s.describe().startswith("3 nests: ")
    text = s.pipeline().text()
    assert "rename{loop=i_2.tile,to=i_2r}" in text and "pack{arg=5,loop=k_1c}" in text
    assert recognise_all(gemm) == (recognise(gemm),)


@uk.kernel
def second_nest_not_a_contraction(A: T["N", "N"], B: T["N", "N"], C: T["N", "N"], D: T["N", "N"]):
    for i in range(N):
        for k in range(N):
            for j in range(N):
                C[i, j] += A[i, k] * B[k, j]
    for i in range(N):
        for k in range(N):
            for j in range(N):
                D[i, j] += C[i, k] * D[k, j]


@uk.kernel
def trailing_statement(A: T["N", "N"], B: T["N", "N"], C: T["N", "N"]):
    for i in range(N):
        for k in range(N):
            for j in range(N):
                C[i, j] += A[i, k] * B[k, j]
    for i in range(N):
        C[i, i] += 1.0


def test_initialisation_is_split_into_its_own_nest():
    for name in ("polybench_gemm", "gemm_scaled", "gemm_scaled_inner"):
        c = recognise(kc.ALL[name])
        assert c.split
        first, last = c.kernel.body[0], c.kernel.body[-1]
        assert first.name == "i.init" and last.name == "i"
        names = c.kernel.loop_names()
        assert len(names) == len(set(names)), names  # no two loops share a name
        # the contraction is a perfect nest of its own loops
        body, depth = (last,), 0
        while len(body) == 1 and isinstance(body[0], Loop):
            body, depth = body[0].body, depth + 1
        assert depth == 3


@uk.kernel
def plus_elementwise(A: T["N", "N"], B: T["N", "N"], C: T["N", "N"]):
    for i in range(N):
        for k in range(N):
            for j in range(N):
                C[i, j] += A[i, k] * B[k, j] + A[i, j]


@uk.kernel
def reads_its_output(A: T["N", "N"], C: T["N", "N"]):
    for i in range(N):
        for k in range(N):
            for j in range(N):
                C[i, j] += A[i, k] * C[k, j]


@uk.kernel
def same_operand(A: T["N", "N"], C: T["N", "N"]):
    for i in range(N):
        for j in range(N):
            for k in range(N):
                C[i, j] += A[i, k] * A[j, k]


@uk.kernel
def one_sided_reduction(A: T["N", "N", "N"], B: T["N", "N"], C: T["N", "N"]):
    for i in range(N):
        for j in range(N):
            for k in range(N):
                for l in range(N):
                    C[i, j] += A[i, k, l] * B[k, j]


@uk.kernel
def triangular(A: T["N", "N"], B: T["N", "N"], C: T["N", "N"]):
    for i in range(N):
        for k in range(i + 1):
            for j in range(N):
                C[i, j] += A[i, k] * B[k, j]


@uk.kernel
def scaling_after(beta: T, A: T["N", "N"], B: T["N", "N"], C: T["N", "N"]):
    for i in range(N):
        for k in range(N):
            for j in range(N):
                C[i, j] += A[i, k] * B[k, j]
        for j in range(N):
            C[i, j] *= beta


@uk.kernel
def scaling_reads_another_element(beta: T, A: T["N", "N"], B: T["N", "N"], C: T["N", "N"]):
    for i in range(N):
        for j in range(N):
            C[i, j] = C[j, i] * beta
    for i in range(N):
        for k in range(N):
            for j in range(N):
                C[i, j] += A[i, k] * B[k, j]


@uk.kernel
def scaling_in_the_k_loop(beta: T, A: T["N", "N"], B: T["N", "N"], C: T["N", "N"]):
    for i in range(N):
        for k in range(N):
            for j in range(N):
                C[i, j] *= beta
                C[i, j] += A[i, k] * B[k, j]


NOT_CONTRACTIONS = [plus_elementwise, reads_its_output, same_operand, one_sided_reduction, triangular,
                    scaling_after, scaling_reads_another_element, scaling_in_the_k_loop, dot, gemv,
                    second_nest_not_a_contraction, trailing_statement]


@pytest.mark.parametrize("k", NOT_CONTRACTIONS, ids=lambda k: k.name)
def test_non_contractions_are_not_recognised(k):
    from unrollkit.tuning.contraction import recognise_all
    assert recognise(k) is None and recognise_all(k) is None
    with pytest.raises(TransformError, match="blas"):
        uk.jit(k, variant="blas")


@pytest.mark.parametrize("k", [plus_elementwise, reads_its_output, scaling_in_the_k_loop, triangular,
                               second_nest_not_a_contraction],
                         ids=lambda k: k.name)
def test_non_contractions_fall_back_and_stay_exact(k):
    """factor="auto" on them goes to the cost model, as before; the result is the reference
    interpreter's (the dependence in reads_its_output makes any reordering wrong)."""
    from unrollkit.runtime.interpreter import interpret
    rng = np.random.default_rng(1)
    n = 9
    args = [np.float64(0.75) if not p.is_array else rng.standard_normal((n,) * len(p.shape))
            for p in k.params]
    want = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    interpret(k, *want)
    f = uk.jit(k, factor="auto")
    f(*args)
    assert f.last.plan.variant != "blas"
    for got, w in zip(args, want):
        if isinstance(got, np.ndarray):
            np.testing.assert_allclose(got, w, rtol=1e-12, atol=1e-12)


def test_bench_contractions_checks_and_tabulates():
    """The table's machinery at a tiny size (no timing claims): every row checked against
    numpy first, one row per kernel and dtype; bad options are errors."""
    from unrollkit.tools.bench_contractions import cli, run
    from unrollkit.core.errors import UnrollkitError
    text, rows = run((9,), ("f64",), ("batched_matmul",), rounds=1, seconds=0.0005)
    assert "| kernel | size | dtype | unrollkit ms | numpy ms | ratio | % of peak | compile s |" in text
    assert text.count("| batched_matmul | 8×9³ | float64 |") == 1 and len(rows) == 1
    assert all(r["variant"] == "blas" and r["ratio"] > 0 for r in rows)
    with pytest.raises(UnrollkitError, match="dtype"):
        cli("9", "i32", 1, 0.5, None, None, None)
    with pytest.raises(UnrollkitError, match="sizes"):
        cli("9x", "f32", 1, 0.5, None, None, None)


def test_bench_contractions_makes_its_out_folder(tmp_path):
    """``--out`` into a folder that does not exist yet: made before the run (a crash after
    minutes of measuring lost every row), then the table and the rows are written there."""
    from unrollkit.tools.bench_contractions import cli
    out = tmp_path / "new" / "bench"
    cli("9", "f64", 1, 0.5, out, None, None, "batched_matmul")
    assert "| batched_matmul | 8×9³ | float64 |" in (out / "CONTRACTIONS.md").read_text()
    assert (out / "contractions.json").read_text().lstrip().startswith("[")


# ---------------------------------------------------------------- random forms


def _random_form(seed: int):
    """(source, einsum, sizes, alpha) of a random contraction: loop order and names, operand
    layouts (A, B or C transposed), a batch loop on both operands, one or none, placed in
    any dimension of C but the last, a coefficient or not, += or -=."""
    import random
    r = random.Random(seed)
    names = dict(zip("bijk", r.sample(["b", "i", "j", "k", "p", "q", "r", "s", "t"], 4)))
    batch = r.choice(["", "AB", "A", "B"])
    A = r.choice(["ik", "ki"])
    B = r.choice(["kj", "jk"])
    C = r.choice(["ij", "ji"])
    if batch:
        A, B = ("b" + A if "A" in batch else A), ("b" + B if "B" in batch else B)
        at = r.randrange(len(C))
        C = C[:at] + "b" + C[at:]
    loops = [v for v in "bijk" if batch or v != "b"]
    r.shuffle(loops)
    size = {"b": "P", "i": "M", "j": "N", "k": "K"}
    alpha = r.choice([None, 0.75])
    op = r.choice(["+=", "+=", "-="])
    sub = lambda s: ", ".join(names[v] for v in s)  # noqa: E731
    shape = lambda s: ", ".join(f'"{size[v]}"' for v in s)  # noqa: E731
    params = (["alpha: T"] if alpha else []) + [f"A: T[{shape(A)}]", f"B: T[{shape(B)}]",
                                                 f"C: T[{shape(C)}]"]
    body = [("    " * (d + 1)) + f"for {names[v]} in range({size[v]}):" for d, v in enumerate(loops)]
    coef = "alpha * " if alpha else ""
    body.append("    " * (len(loops) + 1) + f"C[{sub(C)}] {op} {coef}A[{sub(A)}] * B[{sub(B)}]")
    source = f"def form_{seed}({', '.join(params)}):\n" + "\n".join(body) + "\n"
    sizes = {"P": r.choice([1, 3]), "M": r.choice([1, 5, 17, 40]), "N": r.choice([1, 5, 17, 70]),
             "K": r.choice([1, 5, 33])}
    return source, f"{A},{B}->{C}", sizes, (alpha or 1.0) * (-1 if op == "-=" else 1)


@pytest.mark.parametrize("seed", range(10))
def test_random_forms_are_recognised_and_match_numpy(seed):
    from unrollkit.frontend.parse import parse_kernel
    source, spec, sizes, coef = _random_form(seed)
    kernel = parse_kernel(source, filename=f"<form {seed}>", env={"T": T})
    assert recognise(kernel) is not None, source
    size = {"b": "P", "i": "M", "j": "N", "k": "K"}
    dt = np.float64 if seed % 2 else np.float32
    rng = np.random.default_rng(seed)
    ins, out = spec.split("->")
    A, B = (rng.standard_normal(tuple(sizes[size[v]] for v in s)).astype(dt) for s in ins.split(","))
    C = rng.standard_normal(tuple(sizes[size[v]] for v in out)).astype(dt)
    want = C + coef * np.einsum(spec, A.astype(np.float64), B.astype(np.float64))
    f = uk.jit(kernel, factor="auto", parallel=False)
    f(*([abs(coef)] if "alpha" in source else []), A, B, C)
    assert f.last.plan.variant == "blas"
    np.testing.assert_allclose(C, want, rtol=TOL[dt] * 10, atol=TOL[dt] * sizes["K"] * 4, err_msg=source)


# ---------------------------------------------------------------- offsets and empty loops


@uk.kernel
def shifted(A: T["M", "K1"], B: T["K", "N1"], C: T["M", "N"]):
    for i in range(M):
        for k in range(K):
            for j in range(N):
                C[i, j] += A[i, k + 1] * B[k, j + 2]


@uk.kernel
def shifted_bt(A: T["M", "K"], B: T["N", "K"], C: T["M", "N"]):
    for i in range(M - 2):
        for j in range(N - 3):
            for k in range(K):
                C[i + 2, j] += A[i + 1, k] * B[j + 3, k]


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_constant_offsets_and_bounds_of_sizes_minus_constants(dt):
    rng = np.random.default_rng(5)
    for m, n, k in ((1, 1, 1), (37, 70, 33)):
        A, B = rng.standard_normal((m, k + 1)).astype(dt), rng.standard_normal((k, n + 2)).astype(dt)
        C = rng.standard_normal((m, n)).astype(dt)
        want = C + A[:, 1:].astype(np.float64) @ B[:, 2:]
        f = uk.jit(shifted, factor="auto", parallel=False)
        f(A, B, C)
        assert f.last.plan.variant == "blas"
        np.testing.assert_allclose(C, want, rtol=TOL[dt] * 10, atol=TOL[dt] * k * 4)
        M, N = m + 2, n + 3
        A, B = rng.standard_normal((M, k)).astype(dt), rng.standard_normal((N, k)).astype(dt)
        C = rng.standard_normal((M, N)).astype(dt)
        want = C.astype(np.float64)
        want[2:, :N - 3] += A[1:M - 1].astype(np.float64) @ B[3:].T
        f = uk.jit(shifted_bt, factor="auto", parallel=False)
        f(A, B, C)
        assert f.last.plan.variant == "blas"
        np.testing.assert_allclose(C, want, rtol=TOL[dt] * 10, atol=TOL[dt] * k * 4)


def test_an_empty_loop_falls_back_under_auto_and_is_refused_by_blas():
    A, B, C = np.ones((4, 3), np.float32), np.ones((3, 3), np.float32), np.ones((4, 3), np.float32)
    f = uk.jit(shifted_bt, factor="auto")
    f(A, B, C)  # N - 3 = 0 columns: nothing to do
    assert f.last.plan.variant != "blas" and C.sum() == 12
    A, B, C = np.ones((0, 3), np.float32), np.ones((3, 4), np.float32), np.ones((0, 4), np.float32)
    g = uk.jit(gemm, factor="auto")
    g(A, B, C)
    with pytest.raises(TransformError, match="empty"):
        uk.jit(gemm, variant="blas")(A, B, C)
