"""The bounds proofs (`unrollkit.analysis`, `ir_bounds`) on the cases mutation testing found
unexercised (bench/MUTATION.md): each test pairs an access reaching exactly the last element
(accepted) with the same access one further (refused), or checks the refusal's reason.
"""
import pytest
from mlir import ir

from test_bounds_proof import _transfer, pair, refusal
from unrollkit.analysis import ir_bounds
from unrollkit.analysis.module_bounds import transfers_in_bounds
from unrollkit.analysis.nest import Nest
from unrollkit.core.errors import CompileError

# a value the proof cannot express: an index read from memory (a valid affine symbol at the
# top of the function, but no function of the loop variables)
_LOADED = "%z = arith.constant 0 : index\n %n = memref.load %b[%z] : memref<1xindex>\n"
_ARGS = "%a: memref<8xf32>, %b: memref<1xindex>"


# ---------------------------------------------------------------- parallel loops


def test_scf_parallel_one_past_the_end_is_refused():
    body = """%c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %c2 = arith.constant 2 : index
    %c4 = arith.constant 4 : index
    %c8 = arith.constant 8 : index
    scf.parallel (%i, %j) = (%c0, %c1) to (%c2, %c8) step (%c1, %c2) {
      %k = arith.muli %i, %c4 : index
      %x = arith.addi %k, %j : index
      %v = memref.load %a[%x] : memref<12xf32>
      scf.reduce }"""
    # i in {0, 1}, j in {1, 3, 5, 7}: 4 * i + j reaches 11, the last of 12
    assert refusal(body, args="%a: memref<12xf32>") is None
    msg = refusal(body.replace("memref<12xf32>", "memref<11xf32>"), args="%a: memref<11xf32>")
    assert "[1, 11]" in msg and "outside [0, 10]" in msg


def test_scf_parallel_step_is_followed_and_must_be_a_positive_constant():
    body = """%c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %c3 = arith.constant 3 : index
    %c9 = arith.constant 9 : index
    scf.parallel (%i) = (%c0) to (%c9) step (%c3) {
      %x = arith.addi %i, %c1 : index
      %v = memref.load %a[%x] : memref<8xf32>
      scf.reduce }"""
    # i = 0, 3, 6: i + 1 reaches 7 (with step 1 it would reach 9)
    assert refusal(body) is None
    assert "[1, 9]" in refusal(body.replace("step (%c3)", "step (%c1)"))
    varying = body.replace("scf.parallel", "scf.for %s = %c1 to %c3 step %c1 {\n scf.parallel")
    msg = refusal(varying.replace("step (%c3)", "step (%s)") + " }")
    assert "the bounds of its scf.parallel cannot be followed: a step is not a positive constant" in msg


def test_affine_parallel_upper_bound_with_operands():
    body = """affine.for %i = 0 to 4 {
      affine.parallel (%j) = (%i) to (%i + 5) { %v = affine.load %a[%j] : memref<8xf32> } }"""
    # j < i + 5 <= 8: the last element exactly
    pair(body, body.replace("(%i + 5)", "(%i + 6)"))


def test_affine_parallel_bounds_the_proof_cannot_follow_are_refused():
    body = _LOADED + """affine.parallel (%j) = (0) to (symbol(%n)) { %v = affine.load %a[%j] : memref<8xf32> }"""
    msg = refusal(body, args=_ARGS)
    assert "the bounds of its affine.parallel are not affine" in msg


def test_affine_for_bounds_the_proof_cannot_follow_are_refused():
    body = _LOADED + """affine.for %j = 0 to %n { %v = affine.load %a[%j] : memref<8xf32> }"""
    msg = refusal(body, args=_ARGS)
    assert "the bounds of its affine.for are not affine" in msg
    # an access that does not use the unknown variable is still proved
    assert refusal(body.replace("%a[%j]", "%a[7]"), args=_ARGS) is None
    assert refusal(body.replace("%a[%j]", "%a[8]"), args=_ARGS) is not None


# ---------------------------------------------------------------- conditions


def test_affine_if_on_a_condition_the_proof_cannot_follow_keeps_both_domains():
    body = _LOADED + """affine.for %i = 0 to 8 {
      affine.if affine_set<(d0)[s0] : (s0 - d0 >= 0)>(%i)[%n] { %v = affine.load %a[%i] : memref<8xf32> }
      else { %w = affine.load %a[%i] : memref<8xf32> } }"""
    # the condition is unknown: each branch must be in bounds over the whole loop
    assert refusal(body, args=_ARGS) is None
    assert "[1, 8]" in refusal(body.replace("%a[%i] : memref<8xf32> }\n", "%a[%i + 1] : memref<8xf32> }\n", 1),
                               args=_ARGS)
    assert "[1, 8]" in refusal(body.replace("%w = affine.load %a[%i]", "%w = affine.load %a[%i + 1]"),
                               args=_ARGS)


# ---------------------------------------------------------------- scf.for


_SCF_FOR = """%c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %c8 = arith.constant 8 : index
    %f = arith.constant 0.0 : f32
    %s = scf.for %i = %c0 to %c8 step %c1 iter_args(%acc = %f) -> (f32) {
      %v = memref.load %a[%i] : memref<8xf32>
      %t = arith.addf %acc, %v : f32
      scf.yield %t : f32 }"""


def test_scf_for_with_iter_args_is_proved_exactly():
    msg = pair(_SCF_FOR, _SCF_FOR.replace("%a[%i]", "%a[%i + 1]").replace(
        "%v = memref.load", "%i1 = arith.addi %i, %c1 : index\n %v = memref.load").replace("[%i + 1]", "[%i1]"))
    assert "[1, 8]" in msg


def test_scf_for_comparing_unsigned_is_refused():
    msg = refusal(_SCF_FOR.replace("scf.for %i", "scf.for unsigned %i"))
    assert "the bounds of its scf.for cannot be followed: it compares unsigned" in msg


def test_scf_for_with_a_varying_step_names_the_step():
    body = _SCF_FOR.replace("scf.for %i = %c0 to %c8 step %c1", "scf.for %k = %c1 to %c8 step %c1 {\n"
                            " scf.for %i = %c0 to %c8 step %k") + " }"
    body = body.replace("%s = scf.for %k", "scf.for %k")
    msg = refusal(body)
    assert "the bounds of its scf.for cannot be followed: its step is not a positive constant" in msg


# ---------------------------------------------------------------- transfers_in_bounds


def test_transfers_in_bounds_lists_only_masked_transfers_it_proves():
    text = """func.func @k(%a: memref<12xf32>, %b: memref<4xf32>) {
      %p = arith.constant 0.0 : f32
      %s = memref.subview %a[0][4][1] : memref<12xf32> to memref<4xf32, strided<[1]>>
      affine.for %i = 0 to 9 step 4 {
        %x = affine.load %a[%i] : memref<12xf32>
        %r = vector.transfer_read %a[%i], %p : memref<12xf32>, vector<4xf32>
        %q = vector.transfer_read %a[%i], %p {in_bounds = [true]} : memref<12xf32>, vector<4xf32>
        %j = affine.apply affine_map<(d0) -> (d0 + 1)>(%i)
        %u = vector.transfer_read %a[%j], %p : memref<12xf32>, vector<4xf32>
        %w = vector.transfer_read %b[%i], %p : memref<4xf32>, vector<4xf32> }
      return }"""
    with ir.Context(), ir.Location.unknown():
        module = ir.Module.parse(text)
        proved = transfers_in_bounds(module)
        # only %r: %q is marked already, %u's last lane is one past, %w runs past %b
        loop = [op for op in module.body.operations[0].regions[0].blocks[0].operations
                if op.operation.name == "affine.for"][0]
        reads = [op.operation for op in loop.regions[0].blocks[0].operations
                 if op.operation.name == "vector.transfer_read"]
        assert [op.operation for op in proved] == reads[:1], [str(op) for op in proved]


def test_a_division_over_a_symbol_is_exact():
    # (i + 3) floordiv 2 for i < 8 reaches 5: the last element of 6, one past the end of 5
    body = """%c3 = arith.constant 3 : index
    affine.for %i = 0 to 8 {{ %v = affine.load %a[(%i + symbol(%c3)) floordiv 2] : memref<{n}xf32> }}"""
    assert refusal(body.format(n=6), args="%a: memref<6xf32>") is None
    msg = refusal(body.format(n=5), args="%a: memref<5xf32>")
    assert "[1, 5]" in msg and "outside [0, 4]" in msg


# ---------------------------------------------------------------- other ops with regions


_C = "%c7 = arith.constant 7 : index\n %c8 = arith.constant 8 : index\n %c0 = arith.constant 0 : index\n"


def test_an_access_inside_scf_execute_region_is_proved():
    # (a bug found by mutation testing: the region of this pure op was never walked, so any
    # access inside it was accepted unchecked)
    body = _C + """%v = scf.execute_region -> f32 {
      %x = memref.load %a[%c7] : memref<8xf32>
      scf.yield %x : f32 }"""
    msg = pair(body, body.replace("%a[%c7]", "%a[%c8]"))
    assert "memref.load of array 'a' (memref<8xf32>) may touch index range [8, 8]" in msg


def test_an_access_inside_scf_reduce_is_proved():
    body = _C + """%c1 = arith.constant 1 : index
    %f = arith.constant 0.0 : f32
    %r = scf.parallel (%i) = (%c0) to (%c8) step (%c1) init (%f) -> f32 {
      %x = memref.load %a[%i] : memref<8xf32>
      scf.reduce(%x : f32) {
      ^bb0(%l: f32, %m: f32):
        %y = memref.load %a[%c7] : memref<8xf32>
        %s = arith.addf %l, %y : f32
        scf.reduce.return %s : f32 } }"""
    pair(body, body.replace("%a[%c7]", "%a[%c8]"))


def test_accesses_in_the_regions_of_other_ops_are_proved_in_the_enclosing_domain():
    scope = """affine.for %i = 0 to 8 {
      memref.alloca_scope { %x = affine.load %a[%i] : memref<8xf32> } }"""
    pair(scope, scope.replace("%a[%i]", "%a[%i + 1]"))
    loop = _C + """%r = scf.while (%arg = %c0) : (index) -> index {
      %x = memref.load %a[%c7] : memref<8xf32>
      %f = arith.constant false
      scf.condition(%f) %arg : index
    } do {
    ^bb0(%y: index):
      scf.yield %y : index }"""
    pair(loop, loop.replace("%a[%c7]", "%a[%c8]"))
    # an index from the loop's own block argument is not followed: refused with the reason
    msg = refusal(loop.replace("%a[%c7]", "%a[%arg]"))
    assert "block argument #0 of scf.while, which is not a loop induction variable" in msg


def test_an_operation_the_proof_cannot_see_is_refused_with_what_it_proves():
    msg = refusal("%s = memref.subview %a[0][4][1] : memref<8xf32> to memref<4xf32, strided<[1]>>")
    assert ("cannot prove that memref.subview stays in bounds: memref.subview touches a memref or "
            "pointer in a way the bounds proof cannot see (only loads, stores and vector transfers "
            "are proved)") in msg, msg


def test_a_rank_zero_memref_is_in_bounds_and_a_dynamic_shape_is_refused():
    assert refusal("%v = memref.load %s[] : memref<f32>\n memref.store %v, %s[] : memref<f32>",
                   args="%s: memref<f32>") is None
    msg = refusal("%c0 = arith.constant 0 : index\n %v = memref.load %d[%c0] : memref<?xf32>",
                  args="%d: memref<?xf32>")
    assert ("cannot prove that memref.load of array 'a' (memref<?xf32>) stays in bounds: the memref "
            "has a dynamic shape") in msg, msg


# ---------------------------------------------------------------- index arithmetic (affine_to_isl)


def _scf_index(expr_ops: str, n: int) -> str:
    """A load at index %x computed by ``expr_ops`` from %i in 0 .. 9 (constants %c0 .. %c9,
    %cm2 = -2, %cm3 = -3 available)."""
    consts = "\n".join(f"%c{k} = arith.constant {k} : index" for k in range(10))
    return (f"{consts}\n %cm2 = arith.constant -2 : index\n %cm3 = arith.constant -3 : index\n"
            f" scf.for %i = %c0 to %c9 step %c1 {{\n {expr_ops}\n"
            f" %v = memref.load %a[%x] : memref<{n}xf32> }}")


def _exact(expr_ops: str, top: int):
    """The index reaches exactly ``top`` over i in 0 .. 8 (accepted at top + 1, refused at top)."""
    assert refusal(_scf_index(expr_ops, top + 1), args=f"%a: memref<{top + 1}xf32>") is None
    msg = refusal(_scf_index(expr_ops, top), args=f"%a: memref<{top}xf32>")
    assert msg is not None and f", {top}] in dimension 0" in msg, msg


def test_arith_index_operations_are_exact():
    _exact("%x = arith.subi %c9, %i : index", 9)                     # 9 - i: 1 .. 9
    _exact("%x = arith.ceildivsi %i, %c3 : index", 3)                # ceil(8 / 3) = 3
    _exact("%n = arith.subi %c0, %i : index\n %x0 = arith.ceildivsi %n, %cm3 : index\n"
           " %x = arith.addi %x0, %c0 : index", 3)                    # ceil(-i / -3) = ceil(i / 3)
    _exact("%n = arith.subi %c0, %i : index\n %x = arith.floordivsi %n, %cm2 : index", 4)  # floor(-i / -2)
    _exact("%x = arith.divsi %i, %c3 : index", 2)                    # 8 / 3 = 2
    _exact("%x = arith.remsi %i, %c5 : index", 4)                    # i rem 5: 0 .. 4
    _exact("%x = arith.minsi %i, %c6 : index", 6)
    _exact("%x = arith.maxsi %i, %c2 : index", 8)
    _exact("%y = arith.muli %i, %c2 : index\n %x = arith.muli %c1, %y : index", 16)
    _exact("%p = arith.cmpi slt, %i, %c4 : index\n %x = arith.select %p, %c7, %i : index", 8)
    _exact("%p = arith.cmpi sge, %i, %c4 : index\n %x = arith.select %p, %c2, %i : index", 3)


def test_an_index_divided_by_what_is_not_a_constant_is_refused():
    msg = refusal(_scf_index("%x = arith.floordivsi %c9, %i : index", 20), args="%a: memref<20xf32>")
    assert "arith.floordivsi of an index divides by a value that is not a nonzero constant" in msg, msg
    msg = refusal(_scf_index("%x = arith.divsi %i, %c0 : index", 20), args="%a: memref<20xf32>")
    assert "divides by a value that is not a nonzero constant" in msg, msg
    msg = refusal(_scf_index("%x = arith.remsi %i, %i : index", 20), args="%a: memref<20xf32>")
    assert "divides by a value that is not a nonzero constant" in msg, msg
    msg = refusal("affine.for %i = 1 to 8 { %v = affine.load %a[%i mod 3] : memref<8xf32> }")
    assert msg is None
    msg = refusal(_scf_index("%p = arith.cmpi ult, %i, %c4 : index\n %x = arith.select %p, %c2, %i : index", 20),
                  args="%a: memref<20xf32>")
    assert "an index is an arith.select on a condition the proof cannot follow" in msg, msg


def test_a_masked_transfer_reports_its_range_clamped_at_the_end():
    # i = 0, 4, 8: lanes i - 1 .. i + 2 over memref<10>: the start -1 is refused; the lanes past
    # the end (10) are masked off, so the range reported ends at the last element, 9
    msg = refusal(_transfer("d0 - 1", 10, "false"), args="%a: memref<10xf32>")
    assert "may touch index range [-1, 9] in dimension 0, outside [0, 9]" in msg, msg


# ---------------------------------------------------------------- ir_bounds.check_module


def test_check_module_names_the_stage_and_refuses_a_changed_signature():
    msg = refusal("affine.for %i = 0 to 8 { %v = affine.load %a[%i + 1] : memref<8xf32> }")
    assert msg.startswith("after pipeline 'test': affine.load of array 'a'"), msg
    with ir.Context(), ir.Location.unknown():
        before = ir.Module.parse("func.func @k(%a: memref<8xf32>) { return }")
        after = ir.Module.parse("func.func @k(%a: memref<9xf32>) { return }")
        sig = ir_bounds.signature(before)
        assert sig == [("k", ["memref<8xf32>"])]
        ir_bounds.check_module(before, "pipeline 'p'", before=sig)  # unchanged: accepted
        try:
            ir_bounds.check_module(after, "pipeline 'p'", before=sig)
        except CompileError as exc:
            text = str(exc)
        else:
            raise AssertionError("a changed argument type was accepted")
    assert text == ("after pipeline 'p': function k had the arguments ['memref<8xf32>'], now "
                    "['memref<9xf32>']: a step changed what the caller passes; refusing to run it"), text


def test_a_domain_with_a_step_below_one_is_an_error():
    root = Nest.root()
    with pytest.raises(ValueError, match="loop step 0 is not positive"):
        root.loop([root.const(0)], [root.const(8)], 0)
    inner = root.loop([root.const(0)], [root.const(8)], 3)
    assert inner.range_of(inner.var(0)) == (0, 6)


def test_transfers_without_attributes_are_masked_on_their_minor_dimensions():
    def read(idx, vec, attrs=""):
        return (f"%p = arith.constant 0.0 : f32\n %c0 = arith.constant 0 : index\n"
                f" %c1 = arith.constant 1 : index\n %c3 = arith.constant 3 : index\n"
                f" %c5 = arith.constant 5 : index\n"
                f" %r = vector.transfer_read %a[{idx}], %p {attrs}: memref<4x8xf32>, {vec}")
    args = "%a: memref<4x8xf32>"
    # no in_bounds: lanes 5 .. 8 of the last dimension, the one past the end masked off
    assert refusal(read("%c1, %c5", "vector<4xf32>"), args=args) is None
    msg = refusal(read("%c1, %c5", "vector<4xf32>", "{in_bounds = [true]} "), args=args)
    assert "[5, 8] in dimension 1" in msg, msg
    # a 2-d vector spans both dimensions: rows 3 .. 4 (one past) are masked too when not in bounds
    assert refusal(read("%c3, %c0", "vector<2x4xf32>"), args=args) is None
    msg = refusal(read("%c3, %c0", "vector<2x4xf32>", "{in_bounds = [true, true]} "), args=args)
    assert "[3, 4] in dimension 0" in msg, msg
    assert refusal(read("%c1, %c0", "vector<2x8xf32>", "{in_bounds = [true, true]} "), args=args) is None
    # the last row, its last four lanes: a 1-d vector spans one row only
    assert refusal(read("%c3, %c4", "vector<4xf32>", "{in_bounds = [true]} ").replace(
        "%c3 = arith.constant 3 : index\n", "%c3 = arith.constant 3 : index\n %c4 = arith.constant 4 : index\n"),
        args=args) is None


def test_transfers_differing_only_in_in_bounds_or_map_are_judged_each_on_its_own():
    # the lanes of a transfer are memoised by its attributes: a masked read one past the end
    # (accepted) must not lend its mask to an unmasked one (refused), nor a broadcast its extents
    body = """%p = arith.constant 0.0 : f32
    %c0 = arith.constant 0 : index
    %c5 = arith.constant 5 : index
    %r = vector.transfer_read %a[%c0, %c5], %p {in_bounds = [false]} : memref<4x8xf32>, vector<4xf32>
    %s = vector.transfer_read %a[%c0, %c5], %p {in_bounds = [true]} : memref<4x8xf32>, vector<4xf32>"""
    msg = refusal(body, args="%a: memref<4x8xf32>")
    assert msg is not None and "[5, 8] in dimension 1" in msg, msg
    bcast = """%p = arith.constant 0.0 : f32
    %c0 = arith.constant 0 : index
    %c7 = arith.constant 7 : index
    %r = vector.transfer_read %a[%c0, %c7], %p {in_bounds = [true], permutation_map = affine_map<(d0, d1) -> (0)>} : memref<4x8xf32>, vector<4xf32>
    %s = vector.transfer_read %a[%c0, %c7], %p {in_bounds = [true]} : memref<4x8xf32>, vector<4xf32>"""
    msg = refusal(bcast, args="%a: memref<4x8xf32>")
    assert msg is not None and "[7, 10] in dimension 1" in msg, msg
    assert refusal(bcast.split("\n    %s")[0], args="%a: memref<4x8xf32>") is None  # the broadcast alone


# ---------------------------------------------------------------- prefetches, memrefs of vectors


def test_affine_prefetch_one_past_the_end_is_refused():
    """affine.prefetch has no result: its index is an access of one element all the same."""
    msg = pair("affine.for %i = 0 to 8 { affine.prefetch %a[%i], read, locality<3>, data : memref<8xf32> }",
               "affine.for %i = 0 to 8 { affine.prefetch %a[%i + 1], read, locality<3>, data : memref<8xf32> }")
    assert "affine.prefetch of array 'a'" in msg and "[1, 8]" in msg


@pytest.mark.parametrize("op", ["%v = affine.load %a[%i] : memref<8xvector<4xf32>>",
                                "%v = memref.load %a[%i] : memref<8xvector<4xf32>>"])
def test_a_memref_of_vectors_is_accessed_one_element_at_a_time(op):
    """The loaded value is a vector<4xf32>, but it is one element of memref<8xvector<4xf32>>:
    a[7] is the last one (not lanes 7..10 of the memref), a[8] is one past."""
    last = f"affine.for %i = 0 to 8 {{ {op} }}"
    msg = pair(last, last.replace("0 to 8", "1 to 9"), args="%a: memref<8xvector<4xf32>>")
    assert "[1, 8]" in msg


def test_a_transfer_broadcasting_to_more_dimensions_than_its_memref_is_refused_with_the_reason():
    """Valid IR that `access_of` cannot read: a 1-D memref read into a 2-D vector through a
    broadcast dimension. The proof refuses it, naming why (not an out-of-range claim)."""
    body = ("%p = arith.constant 0.0 : f32\n affine.for %i = 0 to 8 {\n"
            " %v = vector.transfer_read %a[%i], %p {permutation_map = affine_map<(d0) -> (0, d0)>, "
            "in_bounds = [true, false]} : memref<8xf32>, vector<2x4xf32> }")
    msg = refusal(body)
    assert "cannot prove that vector.transfer_read stays in bounds: vector.transfer_read moves a " \
           "2-d vector through a 1-d memref." in msg
