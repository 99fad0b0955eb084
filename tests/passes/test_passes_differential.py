"""Differential tests: every pass with representative options, alone and in pipelines, on every
built-in kernel at sizes {1, 7, 64, 1000, 1027}, compiled and run, must match numpy.

A pass that cannot apply to a kernel must refuse with a `TransformError` naming the loop; which
(pass, kernel) pairs refuse is written down here, so an unexpected refusal fails as surely as a
wrong result does."""
import numpy as np
import pytest

import unrollkit as uk
from references import check_outputs, make_args, reference
from unrollkit.core.errors import TransformError
from unrollkit.kernels import ALL

SIZES = (1, 7, 64, 1000, 1027)

#: kernel → (outer loop, innermost loop)
LOOPS = {"mac": ("i", "i"), "dot": ("i", "i"), "gemm": ("i", "j"), "gemv": ("i", "j"),
         "jacobi1d": ("i", "i"), "iir": ("t", "t"), "prefix_sum": ("t", "t")}

ONE_D = {"mac", "dot", "jacobi1d", "iir", "prefix_sum"}
REDUCTIONS = {"dot", "gemv"}
RECURRENCES = {"iir", "prefix_sum"}

# (id, pipeline template over {outer}/{inner}, kernels expected to refuse → words of the error)
CASES = [
    ("unroll", "unroll{{factor=4}}", {}),
    ("unroll-peel-front", "unroll{{loop={inner},factor=3,remainder=peel-front}}", {}),
    ("unroll-unrolled-cleanup", "unroll{{factor=4,remainder=unrolled-cleanup}}", {}),
    ("unroll-up-to-factor", "unroll{{factor=8,up-to-factor=false}}", {}),
    ("unroll-jam", "unroll-jam{{loop={outer},factor=2}}", {}),
    ("tile-outer", "tile{{{outer}=4}}", {}),
    ("tile-2d", "tile{{{outer}=4,{inner}=8}}", {k: "two sizes" for k in ONE_D}),
    ("permute", "permute{{order={inner}:{outer}}}",
     {**{k: "named twice" for k in ONE_D}, "gemm": "perfect nest"}),
    ("peel-back", "peel{{factor=4}}", {}),
    ("peel-front", "peel{{loop={inner},factor=4,side=front}}", {}),
    ("vectorize", "vectorize{{width=8}}",
     {**{k: "reduction" for k in REDUCTIONS}, **{k: "dependence" for k in RECURRENCES}}),
    ("vectorize-reductions", "vectorize{{width=8,reductions=true}}", {k: "dependence" for k in RECURRENCES}),
    ("split-accumulators", "split-accumulators{{loop={inner},accumulators=4}}",
     {k: "no reduction" for k in ALL if k not in REDUCTIONS}),
    ("scalar-replace", "scalar-replace", {}),
    ("promote-to-registers", "unroll{{factor=4}},promote-to-registers", {}),
    ("canonicalize", "canonicalize", {}),
    ("cse", "cse", {}),
    ("mlir-normalize", "mlir{{func.func(affine-loop-normalize)}}", {}),
    # pipelines
    ("tile-unroll-cleanup", "tile{{{outer}=8}},unroll{{loop={inner},factor=2}},canonicalize,cse", {}),
    ("peel-vectorize-unroll", "peel{{loop={inner},factor=8}},vectorize{{loop={inner},width=8,reductions=true}},"
     "unroll{{loop={inner},factor=2}},scalar-replace",
     {k: "dependence" for k in RECURRENCES}),
    ("split-unroll-cse", "split-accumulators{{loop={inner},accumulators=8}},unroll{{loop={inner},factor=2}},cse",
     {k: "no reduction" for k in ALL if k not in REDUCTIONS}),
    ("jam-vectorize-scalrep", "unroll-jam{{loop={outer},factor=2}},vectorize{{loop={inner},width=4}},"
     "scalar-replace,canonicalize",
     {**{k: "step is 2" for k in ONE_D}, "gemv": "reduction"}),
]


@pytest.mark.parametrize("case_id,template,refusals", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("name", sorted(ALL))
def test_pass_matches_numpy(name, case_id, template, refusals):
    outer, inner = LOOPS[name]
    text = template.format(outer=outer, inner=inner)
    if name in refusals:
        with pytest.raises(TransformError) as e:
            f = uk.jit(ALL[name], pipeline=text)
            f(*make_args(name, 64, np.float32))
        msg = str(e.value)
        assert refusals[name] in msg and (f"'{inner}'" in msg or f"'{outer}'" in msg), msg
        return
    f = uk.jit(ALL[name], pipeline=text)
    for n in SIZES:
        args = make_args(name, n, np.float32, seed=n)
        expected = reference(name, args)
        f(*args)
        check_outputs(name, args, expected)


def test_gemm_pipelines_at_uneven_sizes():
    """The issue's walk: tile → interchange → unroll-jam → vectorize → peel on gemm."""
    pipes = ["tile{i=8,j=16,order=i.tile:j.tile:k:i:j},unroll-jam{loop=i,factor=2},"
             "vectorize{loop=j,width=8},unroll{loop=j.rem,full=true},scalar-replace,canonicalize",
             "tile{i=8,j=16,separate=false},permute{order=i.tile:j.tile:k:i:j},unroll-jam{loop=k,factor=2},"
             "canonicalize,cse",
             "tile{i=4,j=8,k=3,order=k.tile:i.tile:j.tile:i:k:j},unroll{loop=j,factor=4},cse",
             "permute{order=i:j:k},split-accumulators{loop=k,accumulators=4},unroll{loop=j,factor=2}",
             "interchange{a=k,b=j},unroll-jam{loop=j,factor=3},unroll-jam{loop=i,factor=2}",
             "unroll-jam{loop=k,factor=4},unroll-jam{loop=i,factor=3,remainder=peel-front}",
             "tile{j=16,separate=false},unroll{loop=j.tile,factor=2,remainder=peel-back}"]
    for text in pipes:
        f = uk.jit(ALL["gemm"], pipeline=text)
        for n in (7, 64, 1027):
            args = make_args("gemm", n, np.float32, seed=n)
            expected = reference("gemm", args)
            f(*args)
            check_outputs("gemm", args, expected)


def test_pad_on_caller_padded_buffers():
    from differential import padded_axpy
    f = uk.jit(padded_axpy, pipeline="unroll{factor=8,remainder=pad}")
    for n in (9, 23, 64):
        x = np.arange(n, dtype=np.float32)
        y = np.ones(n, np.float32)
        f(x, y)
        # the first n - 8 elements are the kernel's; the slack got padded iterations' writes
        np.testing.assert_allclose(y[:n - 8], 1 + 2 * x[:n - 8])


# (kernel, pipeline, refusal words or None): legal reorderings of loops that carry dependences
# must be allowed and correct; illegal ones refused. The oracle is the reference interpreter.
DEPENDENT = [
    ("rows", "interchange{a=i,b=j}", None),
    ("rows", "tile{i=4,j=4}", None),
    ("rows", "unroll-jam{loop=i,factor=3}", None),
    ("rows", "vectorize{loop=j,width=4}", None),
    ("rows", "permute{order=j:i},unroll-jam{loop=j,factor=2}", None),
    ("cols", "interchange{a=i,b=j},unroll-jam{loop=j,factor=3}", None),
    ("cols", "tile{i=2,j=8},unroll-jam{loop=i,factor=2}", None),
    ("cols", "vectorize{loop=j}", ["loop 'j'", "dependence"]),
    ("skew", "tile{j=4},unroll{loop=j,factor=2}", None),
    ("skew", "interchange{a=i,b=j}", ["'i'", "'j'"]),
]


@pytest.mark.parametrize("kname,text,refusal", DEPENDENT, ids=[f"{k}-{t}" for k, t, _ in DEPENDENT])
def test_dependences_allow_legal_and_refuse_illegal_reorderings(kname, text, refusal):
    import differential as H
    from unrollkit.runtime.interpreter import interpret
    kernel = getattr(H, kname)
    f = uk.jit(kernel, pipeline=text)
    for n, m in ((1, 1), (7, 9), (13, 20)):
        rng = np.random.default_rng(n)
        args = [rng.standard_normal((n, m)).astype(np.float32) for _ in kernel.params]
        want = [a.copy() for a in args]
        # at 1 x 1 no iteration depends on another (the dependent loops are empty): the exact
        # analysis accepts the reordering there, and the result must still be right
        if refusal and n > 1:
            with pytest.raises(TransformError) as e:
                f(*args)
            assert all(w in str(e.value) for w in refusal), str(e.value)
            continue
        f(*args)
        interpret(kernel, *want)
        np.testing.assert_allclose(args[0], want[0], rtol=1e-5, atol=1e-5)


# ------------------------------------------------------------------ random pipelines

def _random_pass(draw, loops):
    from hypothesis import strategies as st
    names = loops + [n + ".tile" for n in loops] + [n + ".rem" for n in loops]
    loop = draw(st.sampled_from(names))
    f = draw(st.sampled_from([1, 2, 3, 4, 8]))
    return draw(st.sampled_from([
        f"unroll{{loop={loop},factor={f},remainder=" + draw(st.sampled_from(
            ["cleanup", "peel-back", "peel-front", "unrolled-cleanup"])) + "}",
        f"unroll-jam{{loop={loop},factor={f}}}",
        "tile{" + ",".join(f"{n}={f}" for n in loops) + "}",
        "permute{order=" + ":".join(draw(st.permutations(loops))) + "}",
        f"peel{{loop={loop},factor={f},side=front}}",
        f"vectorize{{loop={loop},width=4,reductions=true}}",
        f"split-accumulators{{loop={loop},accumulators={f}}}",
        f"promote-to-registers{{loop={loop}}}", "promote-to-registers{strict=false}",
        "scalar-replace", "canonicalize", "cse"]))


def test_random_pipelines_match_numpy_or_refuse_by_name():
    """Random pass sequences: each either runs and matches numpy, or is refused with a
    TransformError (never a crash, invalid IR or a wrong result)."""
    from hypothesis import given
    from hypothesis import strategies as st
    all_loops = {"mac": ["i"], "dot": ["i"], "gemm": ["i", "k", "j"], "gemv": ["i", "j"],
                 "jacobi1d": ["i"], "iir": ["t"], "prefix_sum": ["t"]}

    @st.composite
    def cases(draw):
        name = draw(st.sampled_from(sorted(ALL)))
        n = draw(st.sampled_from(SIZES[:-1] if name == "gemm" else SIZES))
        k = draw(st.integers(1, 4))
        return name, n, ",".join(_random_pass(draw, all_loops[name]) for _ in range(k))

    @given(cases())
    def check(case):
        name, n, text = case
        args = make_args(name, n, np.float32, seed=n)
        expected = reference(name, args)
        try:
            uk.jit(ALL[name], pipeline=text)(*args)
        except TransformError as exc:
            assert "'" in str(exc), str(exc)  # names a loop, pass or option
            return
        check_outputs(name, args, expected)

    check()
