"""The transformed-IR proof (`unrollkit.analysis.affine_to_isl`) on the index values and
conditions it must follow exactly: ``scf.if`` / ``arith.select`` on every signed comparison,
``andi`` / ``ori`` of comparisons (either side restricting), constant conditions,
``affine.apply`` / ``affine.min`` / ``affine.max`` results as ``memref.load`` subscripts (the
restricting result anywhere in the list), casts that keep the value and ones that may not.
Each case is a pair: the last element accepted, one past refused (or the refusal's reason).
Found by mutation testing (bench/MUTATION.md): the proof's tests reached none of these.
"""
from __future__ import annotations

import pytest

from test_bounds_mutants import _exact, _scf_index
from test_bounds_proof import pair, refusal

GUARDED = '''  %c0 = arith.constant 0 : index
  %c7 = arith.constant 7 : index
  %c8 = arith.constant 8 : index
  %c9 = arith.constant 9 : index
  %c10 = arith.constant 10 : index
  affine.for %i = 0 to 12 {{
    {cond}
    scf.if %c {{
      {then}
    }} else {{
      {orelse}
    }}
  }}'''
LOAD = "%v = memref.load %a[%i] : memref<8xf32>"


def _guarded(cond: str, in_then: bool = True) -> str:
    return GUARDED.format(cond=cond, then=LOAD if in_then else "", orelse="" if in_then else LOAD)


@pytest.mark.parametrize("last,past", [
    ("%c = arith.cmpi slt, %i, %c8 : index", "%c = arith.cmpi slt, %i, %c9 : index"),
    ("%c = arith.cmpi sle, %i, %c7 : index", "%c = arith.cmpi sle, %i, %c8 : index"),
    ("%c = arith.cmpi sgt, %c8, %i : index", "%c = arith.cmpi sgt, %c9, %i : index"),
    ("%c = arith.cmpi sge, %c7, %i : index", "%c = arith.cmpi sge, %c8, %i : index"),
    ("%c = arith.cmpi eq, %i, %c7 : index", "%c = arith.cmpi eq, %i, %c8 : index"),
], ids=["slt", "sle", "sgt", "sge", "eq"])
def test_a_comparison_restricts_the_then_branch(last, past):
    pair(_guarded(last), _guarded(past))


def test_ne_restricts_the_else_branch():
    pair(_guarded("%c = arith.cmpi ne, %i, %c7 : index", False),
         _guarded("%c = arith.cmpi ne, %i, %c8 : index", False))


def _two(op: str, first: str, second: str) -> str:
    return (f"%p = arith.cmpi {first} : index\n    %q = arith.cmpi {second} : index\n"
            f"    %c = arith.{op} %p, %q : i1")


@pytest.mark.parametrize("swap", [False, True])
def test_andi_restricts_by_either_side(swap):
    def cond(bound):
        sides = [f"slt, %i, {bound}", "slt, %i, %c10"]
        return _two("andi", *(sides[::-1] if swap else sides))
    pair(_guarded(cond("%c8")), _guarded(cond("%c9")))


@pytest.mark.parametrize("swap", [False, True])
def test_ori_leaves_the_else_branch_where_neither_holds(swap):
    def cond(bound):
        sides = [f"sge, %i, {bound}", "sge, %i, %c10"]
        return _two("ori", *(sides[::-1] if swap else sides))
    pair(_guarded(cond("%c8"), False), _guarded(cond("%c9"), False))


@pytest.mark.parametrize("op", ["andi", "ori"])
@pytest.mark.parametrize("swap", [False, True])
def test_a_combination_with_a_side_the_proof_cannot_read_is_not_followed(op, swap):
    """(i < 8) and/or (i <u 10): the unsigned side is no condition the proof reads, so neither
    is the combination: the branch keeps the loop's whole domain and i reaches 11."""
    sides = ["slt, %i, %c8", "ult, %i, %c10"]
    assert refusal(_guarded(_two(op, *(sides[::-1] if swap else sides)))) is not None


def test_a_constant_condition():
    pair(_guarded("%c = arith.constant false"), _guarded("%c = arith.constant true"))
    pair(_guarded("%c = arith.constant true", False), _guarded("%c = arith.constant false", False))
    # outside every loop: a condition over no loop variables
    top = ("  %c9 = arith.constant 9 : index\n  %c = arith.constant B\n"
           "  scf.if %c {\n    %v = memref.load %a[%c9] : memref<8xf32>\n  }")
    pair(top.replace("B", "false"), top.replace("B", "true"))


def test_an_i1_that_is_no_comparison_is_not_followed():
    """xori of two comparisons is no condition the proof reads (nor a constant)."""
    assert refusal(_guarded(_two("xori", "slt, %i, %c8", "slt, %i, %c10"))) is not None


def test_an_unsigned_comparison_is_not_followed():
    """ult is no condition the proof reads: the branch keeps the loop's whole domain."""
    assert refusal(_guarded("%c = arith.cmpi ult, %i, %c8 : index")) is not None


def test_a_select_on_a_comparison():
    def sel(bound):
        return (f"  %c0 = arith.constant 0 : index\n  %b = arith.constant {bound} : index\n"
                "  affine.for %i = 0 to 12 {\n    %c = arith.cmpi slt, %i, %b : index\n"
                "    %j = arith.select %c, %i, %c0 : index\n"
                "    %v = memref.load %a[%j] : memref<8xf32>\n  }")
    pair(sel(8), sel(9))


def _index(ops: str, n: int) -> str:
    """A load of ``a[%j]`` in ``affine.for %i = 0 to n``, ``%j`` made by ``ops`` from ``%i``."""
    return (f"  %c3 = arith.constant 3 : index\n  affine.for %i = 0 to {n} {{\n    {ops}\n"
            "    %v = memref.load %a[%j] : memref<8xf32>\n  }")


@pytest.mark.parametrize("ops,last", [
    ("%j = affine.apply affine_map<(d0) -> (d0 + 4)>(%i)", 4),
    ("%j = affine.apply affine_map<(d0)[s0] -> (d0 + s0)>(%i)[%c3]", 5),
    ("%j = affine.apply affine_map<(d0)[s0] -> (d0 * 2 + s0 * 2)>(%i)[%c3]", 1),   # 2i + 6
    ("%c5 = arith.constant 5 : index\n    %j = affine.min affine_map<(d0)[s0, s1] -> (d0 + s1, 100)>(%i)[%c3, %c5]",
     3),
    ("%j = affine.min affine_map<(d0) -> (d0, 7, 9)>(%i)", None),
    ("%j = affine.min affine_map<(d0) -> (9, d0, 7)>(%i)", None),
    ("%j = affine.min affine_map<(d0) -> (7, d0, 9)>(%i)", None),
    ("%j = affine.max affine_map<(d0) -> (d0 - 4, 0)>(%i)", 12),
    ("%j = affine.max affine_map<(d0) -> (0, d0 - 4, 1)>(%i)", 12),
], ids=["apply", "apply-symbol", "apply-scaled-symbol", "min-second-symbol", "min-first", "min-last", "min-middle", "max", "max-three"])
def test_affine_apply_min_and_max_as_subscripts(ops, last):
    if last is None:  # a min capped at 7: any trip count; the cap one higher is refused
        assert refusal(_index(ops, 12)) is None
        assert refusal(_index(ops.replace("7", "8"), 12)) is not None
    else:
        pair(_index(ops, last), _index(ops, last + 1))


def test_casts_that_keep_the_value_are_followed():
    ops = ("%x = arith.index_cast %i : index to i64\n    %u = arith.index_castui %x : i64 to index\n"
           "    %k = arith.constant 3 : i32\n    %e = arith.extsi %k : i32 to i64\n"
           "    %y = arith.index_cast %e : i64 to index\n    %j = arith.addi %u, %y : index")
    pair(_index(ops, 5), _index(ops, 6))


@pytest.mark.parametrize("ops,reason", [
    ("%k = arith.constant 3 : i32\n    %e = arith.extui %k : i32 to i64\n"
     "    %j = arith.index_cast %e : i64 to index",
     "an index goes through arith.extui from i32 to i64, which may change its value"),
    ("%k = arith.constant 3 : i32\n    %s = arith.addi %k, %k : i32\n    %j = arith.index_cast %s : i32 to index",
     "an index is computed by arith.addi in i32"),
], ids=["extui", "narrow-addi"])
def test_what_may_change_an_index_is_refused_with_its_reason(ops, reason):
    msg = refusal(_index(ops, 2))
    assert msg is not None and reason in msg, msg


def test_what_touches_no_memory_of_the_caller_is_accepted():
    """A transfer from a tensor is no memory access; a memref carried through an scf.for's
    iter_args and yielded back (the yield only passes it on) is read in bounds."""
    tensor = ("  %c0 = arith.constant 0 : index\n  %p = arith.constant 0.0 : f32\n"
              "  %v = vector.transfer_read %t[%c0], %p : tensor<8xf32>, vector<4xf32>")
    assert refusal(tensor, args="%a: memref<8xf32>, %t: tensor<8xf32>") is None
    carried = '''  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %r = scf.for %i = %c0 to %c2 step %c1 iter_args(%m = %a) -> (memref<8xf32>) {
    %v = affine.load %m[K] : memref<8xf32>
    scf.yield %m : memref<8xf32>
  }'''
    pair(carried.replace("K", "7"), carried.replace("K", "8"))


def test_a_parallel_band_s_variables_are_told_from_the_loop_around_it():
    """The ranges memoised per nest are keyed by a variable's dimension: the band's second
    variable (dimension 2) must not be taken for the outer loop's (dimension 0), whose range
    [0, 1] was found first."""
    band = '''  affine.for %i = 0 to 2 {
    affine.parallel (%x, %y) = (0, 0) to (2, N) {
      %u = affine.load %a[%i] : memref<8xf32>
      %v = affine.load %a[%y] : memref<8xf32>
    }
  }'''
    pair(band.replace("N", "8"), band.replace("N", "9"))


def test_divsi_is_the_quotient_not_the_remainder():
    _exact("%x = arith.divsi %i, %c2 : index", 4)                    # 8 / 2 = 4 (8 rem 2 = 0)


def test_a_value_added_to_itself_or_times_zero():
    """The memo shape of ``i + i`` is 2·i (one coefficient summed, not overwritten); ``i · 0``
    drops i (a coefficient of 0, no division by it)."""
    _exact("%x = arith.addi %i, %i : index", 16)
    _exact("%z = arith.muli %i, %c0 : index\n %x = arith.addi %z, %c7 : index", 7)


@pytest.mark.parametrize("ops,reason", [
    ("%x = arith.muli %i, %i : index", "arith.muli of an index multiplies two values that vary: not affine"),
    ("%x = arith.ceildivsi %c9, %i : index",
     "arith.ceildivsi of an index divides by a value that is not a nonzero constant"),
    ("%x = arith.divsi %c9, %i : index", "arith.divsi of an index divides by a value that is not a nonzero constant"),
    ("%x = affine.apply affine_map<(d0)[s0] -> (d0 mod s0)>(%i)[%cm2]",
     "d0 mod s0 divides by a value that is not a positive constant"),
    ("%x = affine.apply affine_map<(d0)[s0] -> (d0 ceildiv s0)>(%i)[%cm2]",
     "d0 ceildiv s0 divides by a value that is not a positive constant"),
    ("%x = affine.apply affine_map<(d0)[s0] -> (d0 * s0)>(%i)[%i]", "d0 * s0 multiplies two values that vary: not affine"),
    ("%x = affine.apply affine_map<(d0)[s0] -> (d0 floordiv s0)>(%i)[%i]",
     "d0 floordiv s0 divides by a value that is not a nonzero constant"),
    ("%p = arith.cmpi ult, %i, %c4 : index\n %x = arith.select %p, %c7, %i : index",
     "an index is an arith.select on a condition the proof cannot follow"),
    ("%x = arith.shli %i, %c1 : index", "an index is computed by arith.shli, which the bounds proof does not follow"),
], ids=["muli", "ceildivsi", "divsi", "affine-mod", "affine-ceildiv", "affine-mul", "affine-floordiv", "select",
        "shli"])
def test_an_index_the_proof_cannot_follow_is_refused_with_the_operation(ops, reason):
    msg = refusal(_scf_index(ops, 20), args="%a: memref<20xf32>")
    assert msg is not None and "stays in bounds: " in msg and (reason + ". The kernel") in msg, msg


def test_affine_divisions_by_a_constant_symbol_are_exact():
    _exact("%x = affine.apply affine_map<(d0)[s0] -> (d0 floordiv s0)>(%i)[%c2]", 4)
    _exact("%x = affine.apply affine_map<(d0)[s0] -> (d0 mod s0)>(%i)[%c5]", 4)
    _exact("%x = affine.apply affine_map<(d0)[s0] -> (d0 ceildiv s0)>(%i)[%c3]", 3)


@pytest.mark.parametrize("cond,last,past", [
    # two inequalities: i in [2, 9], the load at i - 2 in [0, 7]
    ("affine_set<(d0) : (d0 - 2 >= 0, -d0 + K >= 0)>(%i)", 9, 10),
    # the same with the bound as a symbol, and a constraint in parentheses
    ("affine_set<(d0)[s0] : ((d0 - s0) * 2 >= 0, -d0 + K >= 0)>(%i)[%c2]", 9, 10),
    # an equality: i = K
    ("affine_set<(d0) : (d0 - 2 >= 0, d0 - K == 0)>(%i)", 9, 10),
], ids=["two", "symbol-parentheses", "equality"])
def test_an_affine_if_restricts_its_then_branch_to_its_set(cond, last, past):
    def guarded(k):
        return ("  %c2 = arith.constant 2 : index\n  affine.for %i = 0 to 12 {\n"
                f"    affine.if {cond.replace('K', str(k))} {{\n"
                "      %v = affine.load %a[%i - 2] : memref<8xf32>\n    }\n  }")
    pair(guarded(last), guarded(past))


def test_an_affine_apply_reads_its_second_symbol():
    """``d0 + s1`` over (%i)[%c0, %c5]: the copies' memo shape names each operand, the second
    symbol too (i + 5 for i < 3 is at most 7; for i < 4, 8)."""
    ops = "%c5 = arith.constant 5 : index\n    %j = affine.apply affine_map<(d0)[s0, s1] -> (d0 + s1)>(%i)[%c3, %c5]"
    pair(_index(ops, 3), _index(ops, 4))
