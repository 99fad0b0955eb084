"""The Pipeline object: registry, text form (round trip, property-based), validation, recording and
diffs, user passes, and `uk.jit(kernel, pipeline=...)` end to end."""
import dataclasses
import inspect
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import unrollkit as uk
import unrollkit.passes as P
from differential import steps, transformed
from unrollkit.core.errors import CodeSizeError, CompileError, TransformError
from unrollkit.ir.ir_utils import affine_loops, loop_name, set_loop_name
from unrollkit.kernels import dot, gemm, mac
from unrollkit.codegen.pipeline import Pipeline, make_pass, split_text

BUILTIN = {"unroll", "unroll-jam", "tile", "permute", "interchange", "peel", "pad", "vectorize",
           "split-accumulators", "scalar-replace", "canonicalize", "cse", "mlir", "promote-to-registers"}


# ------------------------------------------------------------------ the registry

def test_every_builtin_pass_is_registered():
    assert BUILTIN <= set(P.REGISTRY), sorted(BUILTIN - set(P.REGISTRY))


@pytest.mark.parametrize("name", sorted(BUILTIN))
def test_registered_pass_is_documented_typed_and_round_trips(name):
    cls = P.REGISTRY[name]
    assert cls.name == name
    assert dataclasses.is_dataclass(cls) and cls.__dataclass_params__.frozen
    doc = inspect.getdoc(cls)
    assert doc and "Options" in doc and "→" in doc, f"{name}: docstring needs options and a before → after sketch"
    src = Path(inspect.getsourcefile(cls))
    assert len(src.read_text().splitlines()) < 500, f"{src} is over 500 lines"
    for opt in cls.options():
        assert opt.startswith("<") or opt.replace("_", "-") in doc or opt in doc, f"{name}: option {opt} undocumented"
    body = "func.func(canonicalize)" if name == "mlir" else ""
    p = make_pass(name, body)
    assert Pipeline.parse(Pipeline((p,)).text()) == Pipeline((p,))


# ------------------------------------------------------------------ text form

_names = st.sampled_from(["i", "j", "k", "t", "i.tile", "j.rem"])
_pos = st.integers(1, 64)
PASS_STRATEGIES = {
    "unroll": st.builds(P.REGISTRY["unroll"], factor=_pos, loop=st.sampled_from(["", "i", "k.tile"]), full=st.booleans(),
              up_to_factor=st.booleans(),
              remainder=st.sampled_from(["cleanup", "peel-back", "peel-front", "unrolled-cleanup", "pad"])),
    "unroll-jam": st.builds(P.REGISTRY["unroll-jam"], loop=_names, factor=_pos,
                            remainder=st.sampled_from(["cleanup", "peel-back", "peel-front"])),
    "tile": st.builds(P.REGISTRY["tile"],
              sizes=st.lists(st.tuples(_names, _pos), max_size=3, unique_by=lambda t: t[0]).map(tuple),
              order=st.lists(_names, max_size=4).map(tuple), separate=st.booleans()),
    "permute": st.builds(P.REGISTRY["permute"], order=st.lists(_names, min_size=2, max_size=4).map(tuple)),
    "interchange": st.builds(P.REGISTRY["interchange"], a=_names, b=_names),
    "peel": st.builds(P.REGISTRY["peel"], loop=_names, factor=_pos, side=st.sampled_from(["back", "front"])),
    "pad": st.builds(P.REGISTRY["pad"], loop=_names, factor=_pos),
    "vectorize": st.builds(P.REGISTRY["vectorize"], loop=_names, width=_pos, reductions=st.booleans()),
    "split-accumulators": st.builds(P.REGISTRY["split-accumulators"], loop=_names, accumulators=_pos),
    "scalar-replace": st.just(P.REGISTRY["scalar-replace"]()),
    "promote-to-registers": st.builds(P.REGISTRY["promote-to-registers"], loop=_names, strict=st.booleans()),
    "canonicalize": st.just(P.REGISTRY["canonicalize"]()),
    "cse": st.just(P.REGISTRY["cse"]()),
    "mlir": st.sampled_from(["func.func(affine-loop-normalize)", "canonicalize,cse",
                             "func.func(affine-super-vectorize{virtual-vector-size=8})"]).map(P.REGISTRY["mlir"]),
}


def test_strategies_cover_every_builtin_pass():
    assert set(PASS_STRATEGIES) == BUILTIN


@given(st.lists(st.one_of(list(PASS_STRATEGIES.values())), max_size=6))
def test_text_round_trips(passes):
    p = Pipeline(tuple(passes))
    text = p.text()
    again = Pipeline.parse(text)
    assert again == p
    assert again.text() == text
    assert len(split_text(text)) == len(passes) if passes else text == ""


def test_text_examples():
    p = Pipeline.parse("tile{i=32,j=32},unroll{loop=k,factor=4}")
    assert p.text() == "tile{i=32,j=32},unroll{loop=k}"  # factor=4 is the default
    assert Pipeline.parse("unroll{up-to-factor=false}") == Pipeline.parse("unroll{up_to_factor=0}")
    assert Pipeline.parse("mlir{func.func(affine-loop-unroll{unroll-factor=2})},cse").passes[0].pipeline == \
        "func.func(affine-loop-unroll{unroll-factor=2})"
    assert Pipeline.coerce(None) == Pipeline() == Pipeline.parse("")
    assert Pipeline.coerce("cse") + "canonicalize" == Pipeline.parse("cse,canonicalize")


def test_values_the_text_form_cannot_hold_are_refused():
    with pytest.raises(TransformError, match="cannot be written as pipeline text"):
        P.REGISTRY["unroll"](loop="a,b").text()


# ------------------------------------------------------------------ validation before running

@pytest.mark.parametrize("text,words", [
    ("unrol{factor=4}", ["unknown pass 'unrol'", "'unroll'", "'tile'", "'vectorize'"]),
    ("unroll{fctor=4}", ["no option 'fctor'", "'factor'", "'up-to-factor'", "'remainder'"]),
    ("unroll{factor=four}", ["factor='four'", "not a valid int"]),
    ("unroll{factor=0}", ["factor must be an integer >= 1"]),
    ("vectorize{reductions=maybe}", ["not a valid bool"]),
    ("tile{i=32", ["unbalanced '{'"]),
    ("tile{i=32}}", ["unbalanced '}'"]),
    ("cse,,canonicalize", ["empty pass"]),
    ("peel{side=left}", ["side must be one of"]),
    ("mlir{affine-loop-frobnicate}", ["invalid MLIR pass pipeline"]),
])
def test_invalid_pipelines_are_refused_when_parsed(text, words):
    with pytest.raises(TransformError) as e:
        Pipeline.parse(text)
    for w in words:
        assert w in str(e.value), str(e.value)


def test_pipeline_holds_only_passes():
    with pytest.raises(TransformError, match="holds passes"):
        Pipeline(("unroll",))


# ------------------------------------------------------------------ recording and diffs

def test_run_records_ir_and_time_after_every_pass():
    p, recorded = steps(mac, "unroll{factor=2},canonicalize", N=6)
    assert [s.name for s in recorded] == ["input", "unroll{factor=2}", "canonicalize"]
    assert [s.index for s in recorded] == [0, 1, 2]
    assert all("func.func @mac" in s.ir for s in recorded)
    assert all(s.seconds >= 0 for s in recorded) and recorded[1].seconds > 0
    assert recorded[1].ops > recorded[0].ops
    assert p.steps is recorded


def test_diff_between_two_steps():
    p, recorded = steps(mac, "unroll{factor=2},canonicalize", N=6)
    d = p.diff(0, 1)
    assert d.startswith("--- 0: input\n+++ 1: unroll{factor=2}")
    assert "-    affine.for %arg3 = 0 to 6 {" in d
    assert "+    affine.for %arg3 = 0 to 6 step 2 {" in d
    assert p.diff(1, 1) == ""
    assert p.diff() == p.diff(0, 2)
    with pytest.raises(TransformError, match="no step 7"):
        p.diff(0, 7)


def test_trace_lowers_a_kernel_and_records_each_step():
    p = Pipeline.parse("tile{i=4},unroll-jam{loop=i,factor=2}")
    recorded = p.trace(gemm, M=9, K=3, N=5)
    assert len(recorded) == 3 and "memref<9x3xf32>" in recorded[0].ir
    assert 'uk.name = "i.tile"' in recorded[1].ir and "step 2" in recorded[2].ir
    assert "+++ 2: unroll-jam{loop=i}" in p.diff(1, 2)
    with pytest.raises(uk.UnrollkitError, match="no size 'Q'"):
        p.trace(gemm, Q=3)


def test_steps_before_a_recorded_run_is_an_error():
    with pytest.raises(TransformError, match="no recorded run"):
        Pipeline.parse("cse").steps


def test_code_size_budget_stops_a_pipeline(monkeypatch):
    monkeypatch.setenv("UNROLLKIT_MAX_OPS", "300")
    with pytest.raises(CodeSizeError, match="budget"):
        transformed(gemm, "tile{i=4},unroll{loop=k,factor=8},unroll{loop=j,factor=8}", M=8, K=8, N=8)


# ------------------------------------------------------------------ user passes

def test_user_function_pass_with_options_is_usable_by_name():
    def rename(module, old: str = "i", new: str = "x"):
        """Rename loops ``old`` to ``new``."""
        for op in affine_loops(module):
            if loop_name(op) == old:
                set_loop_name(op, new)

    P.register_function("test-rename", rename)
    try:
        assert P.is_user_pass("test-rename")
        assert "Rename loops" in inspect.getdoc(P.REGISTRY["test-rename"])
        p = Pipeline.parse("test-rename{new=outer},unroll{loop=outer,factor=2}")
        assert p.text() == "test-rename{new=outer},unroll{factor=2,loop=outer}"
        ir = transformed(mac, p, N=4)
        assert 'uk.name = "outer"' in ir and "step 2" in ir
        with pytest.raises(TransformError, match="no option 'newname'"):
            Pipeline.parse("test-rename{newname=y}")
        # and through the JIT, end to end
        f = uk.jit(mac, pipeline="test-rename{new=z},unroll{loop=z,factor=4}")
        a, b, c = (np.arange(10, dtype=np.float32) for _ in range(3))
        f(a, b, c)
        np.testing.assert_allclose(c, np.arange(10) + np.arange(10) ** 2)
        assert 'uk.name = "z"' in f.ir("transformed")
    finally:
        P.unregister("test-rename")
    assert "test-rename" not in P.REGISTRY


def test_user_pass_decorator_errors_and_clashes():
    @P.function_pass("test-fail")
    def fail(module, why: str = "boom"):
        raise RuntimeError(why)

    try:
        with pytest.raises(TransformError, match="user pass 'test-fail' failed: RuntimeError: bang"):
            transformed(mac, "test-fail{why=bang}", N=4)
        with pytest.raises(ValueError, match="replace=True"):
            P.register_function("test-fail", lambda m: None)
        P.register_function("test-fail", lambda m: None, replace=True)
        transformed(mac, "test-fail", N=4)
    finally:
        P.unregister("test-fail")
    with pytest.raises(ValueError, match="built-in"):
        P.register_function("unroll", lambda m: None)
    with pytest.raises(TypeError, match="needs a default"):
        P.register_function("test-bad", lambda m, x: None)


# ------------------------------------------------------------------ uk.jit end to end

def test_jit_accepts_a_pipeline_object_and_its_text():
    p = Pipeline.parse("split-accumulators{accumulators=4},unroll{factor=2}")
    x = np.linspace(0, 1, 1027, dtype=np.float32)
    y = np.linspace(1, 2, 1027, dtype=np.float32)
    for pipeline in (p, p.text()):
        out = np.zeros(1, np.float32)
        f = uk.jit(dot, pipeline=pipeline)
        f(x, y, out)
        np.testing.assert_allclose(out[0], np.dot(x.astype(np.float64), y), rtol=1e-5)
        assert "iter_args" in f.ir("transformed")


def test_jit_refuses_a_bad_pipeline_before_compiling():
    with pytest.raises(TransformError, match="unknown pass 'tiel'"):
        uk.jit(gemm, pipeline="tiel{i=4}")
    f = uk.jit(gemm, pipeline="tile{q=4}")
    with pytest.raises(TransformError, match="no loop named 'q'"):
        f(np.zeros((2, 2), np.float32), np.zeros((2, 2), np.float32), np.zeros((2, 2), np.float32))


def test_invalid_ir_from_a_user_pass_is_caught_after_it():
    def break_ir(module):
        loop = affine_loops(module)[0]
        loop.regions[0].blocks[0].operations[len(loop.regions[0].blocks[0].operations) - 1].erase()

    P.register_function("test-break", break_ir)
    try:
        with pytest.raises(CompileError, match="invalid IR after pass 'test-break'"):
            transformed(mac, "test-break", N=4)
    finally:
        P.unregister("test-break")


def test_vectorize_lowers_to_plain_vector_loads_where_upstream_masks():
    """Our transfers are in_bounds (the loop was peeled to whole vectors): LLVM gets plain vector
    loads. Upstream's super-vectorizer, reachable through mlir{...}, leaves masked ones."""
    n = 1027
    a, b = np.linspace(0, 1, n, dtype=np.float32), np.linspace(1, 2, n, dtype=np.float32)
    for text, masked in (("vectorize{width=8}", False),
                         ("mlir{func.func(affine-super-vectorize{virtual-vector-size=8})}", True)):
        c = np.ones(n, np.float32)
        f = uk.jit(mac, pipeline=text)
        f(a, b, c)
        np.testing.assert_allclose(c, 1 + a * b, rtol=1e-6)
        llvm_ir = f.ir("llvm")
        assert "load <8 x float>" in llvm_ir or "masked.load" in llvm_ir
        assert ("llvm.masked.load" in llvm_ir) == masked, text


# ------------------------------------------------------------------ raw mlir{...} steps: an allowlist (issue 11, item 7)

@pytest.mark.parametrize("pipeline,name", [
    ("snapshot-op-locations{filename=SNAP}", "snapshot-op-locations"),  # writes a file
    ("view-op-graph", "view-op-graph"),                                 # writes/opens a graph
    ("print-ir", "print-ir"),
    ("func.func(affine-data-copy-generate)", "affine-data-copy-generate"),
    ("symbol-dce", "symbol-dce"),
    ("func.func(cse,affine-parallelize)", "affine-parallelize"),
])
def test_raw_mlir_step_refuses_passes_outside_the_allowlist(pipeline, name, tmp_path):
    snap = tmp_path / "snap.mlir"
    text = "mlir{" + pipeline.replace("SNAP", str(snap)) + "}"
    with pytest.raises(TransformError) as e:
        uk.jit(mac, pipeline=text)
    msg = str(e.value)
    assert f"upstream pass {name!r} is not allowed" in msg, msg
    assert "'affine-loop-normalize'" in msg and "'canonicalize'" in msg  # the allowed ones are listed
    assert not snap.exists()


@pytest.mark.parametrize("pipeline,words", [
    ("gpu.module(cse)", ["nesting on 'gpu.module' is not allowed"]),
    ("canonicalize{disable-patterns=/tmp/x}", ["may name a file", "disable-patterns"]),
    ("canonicalize{disable-patterns=patterns.txt}", ["may name a file"]),
])
def test_raw_mlir_step_refuses_anchors_and_file_options(pipeline, words):
    with pytest.raises(TransformError) as e:
        Pipeline.parse("mlir{" + pipeline + "}")
    for w in words:
        assert w in str(e.value), str(e.value)


def test_every_allowed_upstream_pass_exists():
    """The allowlist names passes this MLIR registers (a typo would silently allow nothing)."""
    from unrollkit.passes.mlir_raw import ALLOWED
    for name in sorted(ALLOWED):
        Pipeline.parse(f"mlir{{func.func({name})}}")


def test_allowed_raw_mlir_steps_run_and_are_right():
    n = 37
    a, b = np.linspace(0, 1, n, dtype=np.float32), np.linspace(1, 2, n, dtype=np.float32)
    c = np.ones(n, np.float32)
    text = "tile{i=8},mlir{func.func(affine-loop-normalize,affine-scalrep),canonicalize,cse},unroll{factor=2}"
    uk.jit(mac, pipeline=text)(a, b, c)
    np.testing.assert_allclose(c, 1 + a * b, rtol=1e-6)
    assert Pipeline.parse("mlir{func.func(lower-affine)}").passes[0].pipeline == "func.func(lower-affine)"
