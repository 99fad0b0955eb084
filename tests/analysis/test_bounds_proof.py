"""The in-bounds proofs (isl, `unrollkit.analysis`): the last element accepted, one past refused.

Both proofs — of the transformed IR (`ir_bounds.check_module`) and of the user's kernel
(`kernel_bounds.check_bounds`) — are exact: every test below pairs an access that reaches exactly
the last element (accepted) with the same access one further (refused), and random nests are
compared with a brute-force enumeration of their iterations.
"""
import random

import pytest
from mlir import ir

import unrollkit as uk
from unrollkit.frontend import descriptor as d
from unrollkit.analysis import ir_bounds
from unrollkit.analysis import kernel_bounds
from unrollkit.frontend import semantics
from unrollkit.core.errors import CompileError, KernelSyntaxError


def refusal(body: str, args: str = "%a: memref<8xf32>", raw=()) -> str | None:
    """None if the function ``body`` is proved in bounds, else the refusal's message."""
    text = f"func.func @k({args}) {{\n{body}\n  return\n}}"
    with ir.Context(), ir.Location.unknown():
        module = ir.Module.parse(text)
        try:
            ir_bounds.check_module(module, "pipeline 'test'", arrays=["a", "b"], raw=raw)
        except CompileError as exc:
            return str(exc)
    return None


def pair(last: str, past: str, **kw):
    """``last`` (reaching the last element) is accepted, ``past`` (one more) refused."""
    assert refusal(last, **kw) is None, refusal(last, **kw)
    msg = refusal(past, **kw)
    assert msg is not None, "an access one past the end was accepted"
    return msg


# ---------------------------------------------------------------- affine accesses


def test_affine_load_one_past_the_end_is_refused():
    msg = pair("affine.for %i = 0 to 8 { %v = affine.load %a[%i] : memref<8xf32> }",
               "affine.for %i = 0 to 8 { %v = affine.load %a[%i + 1] : memref<8xf32> }")
    assert "affine.load of array 'a' (memref<8xf32>) may touch index range [1, 8] in dimension 0, " \
           "outside [0, 7]" in msg
    assert "a transformation produced this access" in msg


def test_affine_store_one_before_the_start_is_refused():
    msg = pair("%c = arith.constant 1.0 : f32\n affine.for %i = 1 to 9 { affine.store %c, %a[%i - 1] : memref<8xf32> }",
               "%c = arith.constant 1.0 : f32\n affine.for %i = 0 to 8 { affine.store %c, %a[%i - 1] : memref<8xf32> }")
    assert "[-1, 6]" in msg


def test_steps_are_followed_exactly():
    # i takes 0, 4, 8: i + 3 reaches 11, the last element of 12 (of 11: one past)
    loop = "affine.for %i = 0 to 10 step 4 {{ %v = affine.load %a[%i + 3] : memref<{n}xf32> }}"
    assert refusal(loop.format(n=12), args="%a: memref<12xf32>") is None
    msg = refusal(loop.format(n=11), args="%a: memref<11xf32>")
    assert msg is not None and "[3, 11]" in msg


def test_min_max_bounds_and_a_triangle():
    last = """affine.for %i = 0 to 8 {
      affine.for %j = max affine_map<(d0) -> (0, d0 - 2)>(%i) to min affine_map<(d0) -> (8, d0 + 3)>(%i) {
        %v = affine.load %a[%i, %j] : memref<8x8xf32>
        %w = affine.load %a[%j, %i] : memref<8x8xf32> } }"""
    pair(last, last.replace("(8, d0 + 3)", "(9, d0 + 3)"), args="%a: memref<8x8xf32>")
    tri = """affine.for %i = 0 to 8 {
      affine.for %j = 0 to affine_map<(d0) -> (d0 + 1)>(%i) {
        %v = affine.load %a[%i, 7 - %i + %j] : memref<8x8xf32> } }"""
    msg = pair(tri, tri.replace("7 - %i", "8 - %i"), args="%a: memref<8x8xf32>")
    assert "in dimension 1" in msg


def test_floordiv_and_mod_are_exact():
    # (i floordiv 3) * 3 + i mod 3 == i: exactly [0, 8], though the parts bound it loosely
    last = "affine.for %i = 0 to 9 { %v = affine.load %a[(%i floordiv 3) * 3 + %i mod 3] : memref<9xf32> }"
    pair(last, last.replace("0 to 9", "0 to 10"), args="%a: memref<9xf32>")
    # a ceildiv
    last = "affine.for %i = 0 to 9 { %v = affine.load %a[%i ceildiv 2] : memref<5xf32> }"
    pair(last, last.replace("0 to 9", "0 to 10"), args="%a: memref<5xf32>")


def test_an_access_in_a_loop_that_never_runs_is_accepted():
    assert refusal("affine.for %i = 5 to 5 { %v = affine.load %a[%i + 100] : memref<8xf32> }") is None
    # empty exactly where the index would be out of range (issue 14's guard loop, in IR)
    body = """affine.for %i = 0 to 8 {
      affine.for %j = affine_map<(d0) -> (8 - d0)>(%i) to min affine_map<(d0) -> (9 - d0, 8)>(%i) {
        %v = affine.load %a[8 - %i] : memref<8xf32> } }"""
    assert refusal(body) is None
    assert refusal(body.replace("(9 - d0, 8)", "(9 - d0, 9)")) is not None


def test_affine_if_restricts_the_domain():
    guarded = "affine.for %i = 0 to 16 { affine.if affine_set<(d0) : (7 - d0 >= 0)>(%i) { %v = affine.load %a[%i] : memref<8xf32> } }"
    pair(guarded, guarded.replace("7 - d0", "8 - d0"))
    other = "affine.for %i = 0 to 16 { affine.if affine_set<(d0) : (7 - d0 >= 0)>(%i) { } else { %v = affine.load %a[%i - 8] : memref<8xf32> } }"
    pair(other, other.replace("%i - 8", "%i - 7"))


def test_affine_parallel_and_vector_load():
    last = "affine.parallel (%i, %j) = (0, 0) to (2, 8) step (1, 4) { %v = affine.vector_load %a[%i, %j] : memref<2x8xf32>, vector<4xf32> }"
    pair(last, last.replace("step (1, 4)", "step (1, 3)"), args="%a: memref<2x8xf32>")


def test_two_results_of_a_rational_domain():
    # a domain whose equality makes isl's objective rational (3j = 11 + i): still exact
    body = """affine.for %i = 1 to 5 {
      affine.for %j = affine_map<(d0) -> (d0 floordiv 3 + 3)>(%i) to 6 step 1 {
        affine.if affine_set<(d0, d1) : (3 * d1 - d0 - 11 == 0)>(%i, %j) {
          %v = affine.load %a[%j + 2] : memref<8xf32> } } }"""
    pair(body, body.replace("%j + 2", "%j + 3"))


# ---------------------------------------------------------------- vector transfers


def _transfer(index: str, n: int, in_bounds: str, write: bool = False) -> str:
    if write:
        op = (f"vector.transfer_write %v, %a[%j] {{in_bounds = [{in_bounds}]}} : "
              f"vector<4xf32>, memref<{n}xf32>")
    else:
        op = (f"%r = vector.transfer_read %a[%j], %p {{in_bounds = [{in_bounds}]}} : "
              f"memref<{n}xf32>, vector<4xf32>")
    return (f"%p = arith.constant 0.0 : f32\n %v = vector.broadcast %p : f32 to vector<4xf32>\n"
            f" affine.for %i = 0 to 9 step 4 {{ %j = affine.apply affine_map<(d0) -> ({index})>(%i)\n {op} }}")


@pytest.mark.parametrize("write", [False, True])
def test_transfer_whose_last_lane_is_one_past_is_refused(write):
    # i = 0, 4, 8: lanes i + 1 .. i + 4 end at 12: memref<13> holds them, memref<12> does not
    assert refusal(_transfer("d0 + 1", 13, "true", write), args="%a: memref<13xf32>") is None
    msg = refusal(_transfer("d0 + 1", 12, "true", write), args="%a: memref<12xf32>")
    assert msg is not None and "[1, 12]" in msg and "outside [0, 11]" in msg


@pytest.mark.parametrize("write", [False, True])
def test_a_masked_transfer_may_run_past_the_end_but_not_before_the_start(write):
    # in_bounds = [false]: lanes past the end are masked off, so one past is fine ...
    assert refusal(_transfer("d0 + 1", 12, "false", write), args="%a: memref<12xf32>") is None
    # ... but a lane before the start is not masked
    msg = refusal(_transfer("d0 - 1", 12, "false", write), args="%a: memref<12xf32>")
    assert msg is not None and "[-1," in msg


def test_vector_load_and_store_lanes():
    body = """%p = arith.constant 0.0 : f32
    %c0 = arith.constant 0 : index
    %c4 = arith.constant 4 : index
    %cN = arith.constant 9 : index
    scf.for %i = %c0 to %cN step %c4 {
      %v = vector.load %a[%i] : memref<12xf32>, vector<4xf32>
      vector.store %v, %a[%i] : memref<12xf32>, vector<4xf32> }"""
    assert refusal(body, args="%a: memref<12xf32>") is None
    assert "[0, 11]" in refusal(body.replace("memref<12xf32>", "memref<11xf32>"), args="%a: memref<11xf32>")


def test_the_in_bounds_pass_marks_only_what_is_proved():
    from unrollkit.passes.in_bounds import InBounds
    for n, marked in ((13, True), (12, False)):
        with ir.Context(), ir.Location.unknown():
            module = ir.Module.parse(f"func.func @k(%a: memref<{n}xf32>) {{\n"
                                     f"{_transfer('d0 + 1', n, 'false')}\n return }}")
            InBounds().apply(module)
            assert ("in_bounds = [true]" in str(module)) == marked
            ir_bounds.check_module(module, "in-bounds")  # masked or proved: accepted either way


# ---------------------------------------------------------------- scf and memref (lower-affine)


_SCF = """%c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %cN = arith.constant {n} : index
  %f = arith.constant 1.0 : f32
  scf.for %i = %c0 to %cN step %c1 {{
    %h = arith.floordivsi %i, %c2 : index
    %r = arith.remsi %i, %c2 : index
    %t = arith.addi %h, %r : index
    %m = arith.muli %t, %c2 : index
    %x = arith.index_cast %m : index to i64
    %y = arith.index_cast %x : i64 to index
    memref.store %f, %a[%y] : memref<7xf32>
  }}"""


def test_memref_store_in_scf_for_is_proved_exactly():
    # 2 * (i // 2 + i % 2) for i < n: 0, 2, 2, 4, 4, 6, 6, 8: it reaches 6 (the last of 7)
    # for n = 6 and 7, and 8 for n = 8
    for n, ok in ((6, True), (7, True), (8, False)):
        assert (refusal(_SCF.format(n=n), args="%a: memref<7xf32>") is None) == ok, n


def test_scf_if_on_a_comparison_restricts_the_domain():
    body = """%c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %c16 = arith.constant 16 : index
    %c7 = arith.constant 7 : index
    scf.for %i = %c0 to %c16 step %c1 {
      %ok = arith.cmpi sle, %i, %c7 : index
      scf.if %ok { %v = memref.load %a[%i] : memref<8xf32> } }"""
    pair(body, body.replace("%c7 = arith.constant 7", "%c7 = arith.constant 8"))


def test_what_the_proof_cannot_follow_is_refused_with_the_reason():
    var_step = """%c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %c8 = arith.constant 8 : index
    scf.for %s = %c1 to %c8 step %c1 {
      scf.for %i = %c0 to %c8 step %s { %v = memref.load %a[%i] : memref<8xf32> } }"""
    msg = refusal(var_step)
    assert "cannot prove that memref.load of array 'a'" in msg and "step is not a positive constant" in msg
    square = """%c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %c3 = arith.constant 3 : index
    scf.for %i = %c0 to %c3 step %c1 {
      %j = arith.muli %i, %i : index
      %v = memref.load %a[%j] : memref<8xf32> }"""
    assert "multiplies two values that vary" in refusal(square)
    narrow = """%c0 = arith.constant 0 : i32
    %j = arith.index_cast %c0 : i32 to index
    %k = arith.addi %j, %j : index
    %c = arith.constant 3 : i32
    %d = arith.addi %c, %c : i32
    %e = arith.index_cast %d : i32 to index
    %v = memref.load %a[%e] : memref<8xf32>"""
    assert "in i32" in refusal(narrow)


def test_operations_on_memrefs_the_proof_does_not_know_are_refused_by_name():
    msg = refusal("%s = memref.subview %a[0][4][1] : memref<8xf32> to memref<4xf32, strided<[1]>>")
    assert "memref.subview touches a memref" in msg
    msg = refusal("memref.copy %a, %b : memref<8xf32> to memref<8xf32>", args="%a: memref<8xf32>, %b: memref<8xf32>")
    assert "memref.copy" in msg
    # allocation and deallocation touch no element
    assert refusal("%m = memref.alloc() : memref<4xf32>\n memref.dealloc %m : memref<4xf32>") is None


def test_a_raw_step_is_named_instead_of_asking_for_a_report():
    msg = refusal("affine.for %i = 0 to 8 { %v = affine.load %a[%i + 1] : memref<8xf32> }",
                  raw=["mlir{lower-affine}"])
    assert "raw step mlir{lower-affine} may have produced this access: refusing to run it" in msg
    assert "please report" not in msg


# ---------------------------------------------------------------- random nests vs enumeration


def _random_nest(rng):
    """(MLIR body, memref size, [accessed index per iteration]) of a random 2-deep nest."""
    lo_i, hi_i, st_i = rng.randint(-2, 3), rng.randint(0, 9), rng.randint(1, 3)
    a, b, c = rng.randint(-1, 2), rng.randint(0, 2), rng.randint(1, 4)
    kind = rng.choice(["plain", "floordiv", "mod"])
    ub_j = rng.randint(2, 9)
    st_j = rng.randint(1, 3)
    off = rng.randint(-3, 6)
    div = rng.randint(2, 4)
    idx_txt = {"plain": f"%i * {a} + %j * {b} + {off}",
               "floordiv": f"(%i + %j * {b}) floordiv {div} + {off}",
               "mod": f"(%i * {c} + %j) mod {div} + %j + {off}"}[kind]
    idx_fn = {"plain": lambda i, j: i * a + j * b + off,
              "floordiv": lambda i, j: (i + j * b) // div + off,
              "mod": lambda i, j: (i * c + j) % div + j + off}[kind]
    body = (f"affine.for %i = {lo_i} to {hi_i} step {st_i} {{\n"
            f"  affine.for %j = max affine_map<(d0) -> (0, d0 - 1)>(%i) to min affine_map<(d0) -> ({ub_j}, d0 + {c + 1})>(%i) step {st_j} {{\n"
            f"    %v = affine.load %a[{idx_txt}] : memref<NxF> }} }}")
    seen = [idx_fn(i, j) for i in range(lo_i, hi_i, st_i)
            for j in range(max(0, i - 1), min(ub_j, i + c + 1), st_j)]
    return body, seen


def test_random_nests_agree_with_enumeration():
    rng = random.Random(14)
    checked = 0
    for _ in range(150):
        body, seen = _random_nest(rng)
        for n in sorted({max(1, max(seen, default=0) + 1), max(1, max(seen, default=0)), 5}):
            ok = all(0 <= x < n for x in seen)
            got = refusal(body.replace("memref<NxF>", f"memref<{n}xf32>"), args=f"%a: memref<{n}xf32>")
            assert (got is None) == ok, (body, n, seen, got)
            checked += 1
    assert checked > 300


# ---------------------------------------------------------------- the kernel descriptor


def _loop(var, lo, hi, body, step=1):
    return d.Loop(var, tuple(lo), tuple(hi), step, tuple(body), var)


def _kernel(body, n_arrays=1):
    params = tuple(d.Param(f"x{k}", uk.f32, ("N",)) for k in range(n_arrays))
    return d.Kernel("k", params, tuple(body))


def _check(kernel, n, size=None):
    try:
        kernel_bounds.check_bounds(kernel, {"N": n}, {"x0": (size if size is not None else n,)})
    except KernelSyntaxError as exc:
        return str(exc)
    return None


def test_descriptor_step_loop_pair():
    # for i in range(0, N, 3): x[i + 2]; N = 9 reaches 8 (last); N = 8 reaches 8 too (one past)
    i = d.Var("i")
    body = [_loop("i", [d.Lit(0)], [d.Var("N")], [d.Store("x0", (d.Add(i, d.Lit(2)),), d.Const(1.0))], step=3)]
    assert _check(_kernel(body), 9) is None
    assert "ranges over [2, 8]" in _check(_kernel(body), 8)


def test_descriptor_floordiv_pair():
    # x[(i + N) // 2] for i < N peaks at N - 1 ... and (i + N + 1) // 2 at N
    i, n = d.Var("i"), d.Var("N")
    ok = [_loop("i", [d.Lit(0)], [n], [d.Store("x0", (d.FloorDiv(d.Add(i, n), 2),), d.Const(1.0))])]
    bad = [_loop("i", [d.Lit(0)], [n], [d.Store("x0", (d.FloorDiv(d.Add(d.Add(i, n), d.Lit(1)), 2),),
                                                  d.Const(1.0))])]
    assert _check(_kernel(ok), 10) is None
    assert "ranges over [5, 10]" in _check(_kernel(bad), 10)


def _random_descriptor(rng):
    i, j = d.Var("i"), d.Var("j")
    lo_i, st_i = rng.randint(0, 3), rng.randint(1, 3)
    hi_i = rng.choice([d.Var("N"), d.Add(d.Var("N"), d.Lit(-rng.randint(0, 3)))])
    lo_j = rng.choice([[d.Lit(0)], [i], [d.Lit(0), d.Add(i, d.Lit(-2))]])
    hi_j = rng.choice([[d.Var("N")], [d.Add(i, d.Lit(1))], [d.Var("N"), d.Add(i, d.Lit(3))]])
    st_j = rng.randint(1, 3)
    off = rng.randint(-2, 3)
    idx = rng.choice([d.Add(j, d.Lit(off)), d.Add(d.FloorDiv(d.Add(i, j), 2), d.Lit(off)),
                      d.Add(d.Mul(i, -1), d.Add(d.Var("N"), d.Lit(off)))])
    inner = _loop("j", lo_j, hi_j, [d.Store("x0", (idx,), d.Const(1.0))], step=st_j)
    return _kernel([_loop("i", [d.Lit(lo_i)], [hi_i], [inner], step=st_i)]), idx


def _enumerate(kernel, sizes):
    """Every subscript value the kernel's (single) store takes, by running its loops."""
    seen = []

    def run(body, env):
        for s in body:
            if isinstance(s, d.Loop):
                lo = max(d.aff_eval(e, env) for e in s.lower)
                hi = min(d.aff_eval(e, env) for e in s.upper)
                for v in range(lo, hi, s.step):
                    run(s.body, {**env, s.var: v})
            else:
                seen.append(d.aff_eval(s.index[0], env))

    run(kernel.body, dict(sizes))
    return seen


def test_random_descriptors_agree_with_enumeration():
    rng = random.Random(18)
    for _ in range(200):
        kernel, _ = _random_descriptor(rng)
        n = rng.randint(0, 7)
        seen = _enumerate(kernel, {"N": n})
        for size in {n, max(seen, default=0), max(seen, default=0) + 1}:
            if size < 0:
                continue
            ok = all(0 <= x < size for x in seen)
            got = _check(kernel, n, size)
            assert (got is None) == ok, (kernel, n, size, seen, got)


# ---------------------------------------------------------------- sibling loops share a domain

def test_sibling_copies_share_ranges_but_each_access_is_judged():
    # the copies a full unroll leaves: sibling loops with the same bounds share one domain
    # and one memo of ranges (keyed by dimension, not by induction variable); the offsets
    # and the other siblings' accesses are still judged each on its own
    copies = "\n".join(f"affine.for %k{c} = 0 to 6 {{ %v{c} = affine.load %a[%k{c} + {c}] : memref<8xf32> }}"
                       for c in range(3))
    pair(copies, copies + "\naffine.for %k3 = 0 to 6 { %v3 = affine.load %a[%k3 + 3] : memref<8xf32> }")
    # the same bounds text under different outer loops is a different domain
    nested = ("affine.for %i = 0 to {n} {{ affine.for %k = 0 to 4 {{ %v = affine.load %a[%i + %k] : memref<8xf32> }} }}\n"
              "affine.for %j = 0 to 5 {{ affine.for %k2 = 0 to 4 {{ %w = affine.load %a[%j + %k2] : memref<8xf32> }} }}")
    assert refusal(nested.format(n=5)) is None
    assert "[0, 8]" in refusal(nested.format(n=6))


def test_sibling_bands_with_different_bounds_are_not_shared():
    last = ("affine.for %k = 0 to 8 { %v = affine.load %a[%k] : memref<8xf32> }\n"
            "affine.for %m = 0 to 8 step 2 { %w = affine.load %a[%m + 1] : memref<8xf32> }")
    pair(last, last.replace("%m = 0 to 8 step 2", "%m = 0 to 9 step 2"))
    pair(last, last.replace("affine.for %m = 0 to 8", "affine.for %m = 1 to 8"))
    same_step = ("affine.for %k = 0 to 8 { %v = affine.load %a[%k] : memref<8xf32> }\n"
                 "affine.for %m = 0 to 8 { %w = affine.load %a[%m] : memref<8xf32> }")
    pair(same_step, same_step.replace("%m = 0 to 8", "%m = 0 to 9"))


@pytest.mark.parametrize("enabled", [True, False])
def test_the_collector_is_paused_for_the_proof_only(enabled, monkeypatch):
    """The proof pauses Python's cyclic collector (each collection walks the whole process's
    heap) and leaves it as it found it, also when a refusal or an error ends the proof."""
    import gc
    from unrollkit.analysis import module_bounds
    seen = []
    real = module_bounds._first_refusal

    def spy(module):
        seen.append(gc.isenabled())
        return real(module)

    monkeypatch.setattr(module_bounds, "_first_refusal", spy)
    (gc.enable if enabled else gc.disable)()
    try:
        assert refusal("affine.for %i = 0 to 8 { %v = affine.load %a[%i + 1] : memref<8xf32> }") is not None
        assert refusal("affine.for %i = 0 to 8 { %v = affine.load %a[%i] : memref<8xf32> }") is None
        assert gc.isenabled() == enabled
        monkeypatch.setattr(module_bounds, "_first_refusal", lambda m: 1 / 0)
        with pytest.raises(ZeroDivisionError):
            refusal("%c = arith.constant 0 : index")
        assert gc.isenabled() == enabled
    finally:
        gc.enable()
    assert seen == [False, False]


def test_a_compiled_call_leaves_the_collector_on():
    """A jit call proves its kernel twice (descriptor, transformed IR): the application's
    collector is on afterwards, as before."""
    import gc
    import numpy as np
    from unrollkit.kernels import dot
    assert gc.isenabled()
    x = np.arange(37.0)
    out = np.zeros(1)
    uk.jit(dot, factor=4)(x, x, out)
    assert out[0] == float(x @ x) and gc.isenabled()
