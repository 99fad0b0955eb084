"""The legality rules (`unrollkit.analysis.legality`) called directly on raw affine IR: the
cases mutation testing found no test for (bench/MUTATION.md) — a dependence the analysis cannot
read under unroll-and-jam, a reduction's accumulator read by another statement, a recurrence
after a reduction, a statement's output dependence on itself under vectorize, what
`touches_element_of` returns, and jam units in an ``affine.if``'s else block."""
from __future__ import annotations

from mlir import ir

from unrollkit.analysis import legality
from unrollkit.ir.ir_utils import walk_ops


def _parse(text: str):
    """(context, module, the affine.for ops in pre-order, every op by name in pre-order)."""
    ctx = ir.Context()
    with ctx:
        module = ir.Module.parse(text)
    ops = walk_ops(module.operation)
    loops = [op for op in ops if op.name == "affine.for"]
    return ctx, module, loops, ops


def _named(ops, name: str) -> list:
    return [op for op in ops if op.name == name]


UNKNOWN_INDEX_NEST = '''
func.func @f(%a: memref<64xf32>) {
  affine.for %i = 0 to 8 {
    affine.for %j = 0 to 8 {
      %p = arith.muli %i, %j : index
      %v = memref.load %a[%p] : memref<64xf32>
      affine.store %v, %a[%j] : memref<64xf32>
    }
  }
  return
}'''


def test_jam_of_a_dependence_the_analysis_cannot_read_is_refused_at_the_carried_vector():
    """i * j is no affine index: the dependence has every direction, and the first one the jam
    rule must report is (<, >) over (i, j) — carried by i, reversed on j — not (=, >) (a zero
    distance on i is no jam hazard) and never none at all (every vector was looked at)."""
    ctx, module, (i, j), _ = _parse(UNKNOWN_INDEX_NEST)
    with ctx:
        v = legality.unroll_jam_violation(i, 2)
        assert v is not None and v.vector == (1, -1) and v.loops == [i.operation, j.operation]
        assert legality.unroll_jam_violation(i) is not None


REDUCTION_READ_ELSEWHERE = '''
func.func @f(%s: memref<1xf32>, %x: memref<16xf32>, %y: memref<16xf32>) {
  affine.for %i = 0 to 16 {
    %acc = affine.load %s[0] : memref<1xf32>
    %v = affine.load %x[%i] : memref<16xf32>
    %n = arith.addf %acc, %v : f32
    affine.store %n, %s[0] : memref<1xf32>
    %r = affine.load %s[0] : memref<1xf32>
    affine.store %r, %y[%i] : memref<16xf32>
  }
  return
}'''


def test_a_reduction_accumulator_read_by_another_statement_is_a_vectorize_hazard():
    """s[0] += x[i] is a reduction, but y[i] = s[0] reads the running sum: the dependence from
    that read to the next iteration's accumulator store runs against the text. Only pairs of
    two reduction ops are exempt, not a pair with one."""
    ctx, module, (loop,), ops = _parse(REDUCTION_READ_ELSEWHERE)
    with ctx:
        s_load = _named(ops, "affine.load")[0]
        s_store = _named(ops, "affine.store")[0]
        v = legality.vectorize_violation(loop, 4, {s_load, s_store})
        assert v is not None and v.vector == (1,) and v.loops == [loop]
        assert {v.dependence.source.op, v.dependence.sink.op} & {s_load.operation, s_store.operation}


RECURRENCE_AFTER_A_REDUCTION = '''
func.func @f(%s: memref<1xf32>, %x: memref<17xf32>, %z: memref<17xf32>) {
  affine.for %i = 0 to 16 {
    %acc = affine.load %s[0] : memref<1xf32>
    %v = affine.load %x[%i] : memref<17xf32>
    %n = arith.addf %acc, %v : f32
    affine.store %n, %s[0] : memref<1xf32>
    %w = affine.load %z[%i] : memref<17xf32>
    affine.store %w, %z[%i + 1] : memref<17xf32>
  }
  return
}'''


def test_a_recurrence_after_a_reduction_is_still_found():
    """The reduction's own dependences come first and are skipped; the recurrence z[i + 1] =
    z[i] after them must still be found."""
    ctx, module, (loop,), ops = _parse(RECURRENCE_AFTER_A_REDUCTION)
    with ctx:
        reds = {_named(ops, "affine.load")[0], _named(ops, "affine.store")[0]}
        v = legality.vectorize_violation(loop, 4, reds)
        assert v is not None and v.dependence.source.memref.get_name() == "%arg2"
        assert legality.vectorize_violation(loop, 1, reds) is None  # one lane: nothing to reverse


def test_a_store_to_one_element_depends_on_itself_under_vectorize():
    """a[0] = x[i]: every iteration writes the same element; the store's output dependence on
    itself (source and sink one statement) has no later statement to keep it in order."""
    ctx, module, (loop,), ops = _parse('''
        func.func @f(%a: memref<1xf32>, %x: memref<16xf32>) {
          affine.for %i = 0 to 16 {
            %v = affine.load %x[%i] : memref<16xf32>
            affine.store %v, %a[0] : memref<1xf32>
          }
          return
        }''')
    with ctx:
        v = legality.vectorize_violation(loop, 4, set())
        assert v is not None and v.dependence.kind == "output"
        assert v.dependence.source.op == v.dependence.sink.op


def test_touches_element_of_returns_the_ops_that_touch_it():
    """Of the other accesses to the accumulator's array (the caller passes only those), the
    ones at its element: s[0] read after the store, not s[1]."""
    ctx, module, (loop,), ops = _parse('''
        func.func @f(%s: memref<2xf32>, %x: memref<16xf32>, %y: memref<16xf32>) {
          affine.for %i = 0 to 16 {
            %acc = affine.load %s[0] : memref<2xf32>
            %v = affine.load %x[%i] : memref<16xf32>
            %n = arith.addf %acc, %v : f32
            affine.store %n, %s[0] : memref<2xf32>
            %o = affine.load %s[1] : memref<2xf32>
            %r = affine.load %s[0] : memref<2xf32>
            %t = arith.addf %o, %r : f32
            affine.store %t, %y[%i] : memref<16xf32>
          }
          return
        }''')
    with ctx:
        loads, stores = _named(ops, "affine.load"), _named(ops, "affine.store")
        assert legality.touches_element_of(loop, stores[0], [loads[2], loads[3]]) == [loads[3]]
        assert legality.touches_element_of(loop, stores[0], [loads[2]]) == []


def test_jam_units_are_only_claimed_in_the_parent_s_first_block():
    """Two statements of an affine.if's else block: `same_jam_unit` looks at the first block of
    their parent only and does not claim them one unit (the safe answer: the jam rule then
    keeps their text order as a hazard); two of the then block are one."""
    ctx, module, loops, ops = _parse('''
        func.func @f(%a: memref<16xf32>) {
          affine.for %i = 0 to 8 {
            affine.if affine_set<(d0) : (d0 - 4 >= 0)>(%i) {
              %v = affine.load %a[%i] : memref<16xf32>
              affine.store %v, %a[%i + 1] : memref<16xf32>
            } else {
              %w = affine.load %a[%i] : memref<16xf32>
              affine.store %w, %a[%i + 2] : memref<16xf32>
            }
          }
          return
        }''')
    with ctx:
        loads, stores = _named(ops, "affine.load"), _named(ops, "affine.store")
        assert legality.same_jam_unit(loads[0], stores[0])
        assert not legality.same_jam_unit(loads[1], stores[1])
        assert not legality.same_jam_unit(loads[0], stores[1])


def test_touches_element_of_looks_at_one_execution_of_the_loop():
    """s[i] += x[i, j] over j, beside a read of s[i - 1]: within one execution of the j loop
    (i fixed) the read never meets the reduction's element; over all of i it would."""
    ctx, module, (i, j), ops = _parse('''
        func.func @f(%s: memref<9xf32>, %x: memref<9x8xf32>, %y: memref<9x8xf32>) {
          affine.for %i = 1 to 9 {
            affine.for %j = 0 to 8 {
              %acc = affine.load %s[%i] : memref<9xf32>
              %v = affine.load %x[%i, %j] : memref<9x8xf32>
              %n = arith.addf %acc, %v : f32
              affine.store %n, %s[%i] : memref<9xf32>
              %p = affine.load %s[%i - 1] : memref<9xf32>
              affine.store %p, %y[%i, %j] : memref<9x8xf32>
            }
          }
          return
        }''')
    with ctx:
        loads, stores = _named(ops, "affine.load"), _named(ops, "affine.store")
        assert legality.touches_element_of(j, stores[0], [loads[2]]) == []
        assert legality.touches_element_of(i, stores[0], [loads[2]]) == [loads[2]]
