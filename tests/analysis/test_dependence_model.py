"""`unrollkit.analysis.dependence.Model`'s questions besides dependences, on raw affine IR:
`Model.inside` (whether vectorize may mark a transfer in bounds) and `Model.element_ranges`
(the span pad widens a loop to), each at the last element and one past it, for rank 0, 2-D,
dynamic and zero-size memrefs, unreadable subscripts, loops that never run or have no bound,
and 2-D vector accesses (every lane) — the cases mutation testing found untested."""
from __future__ import annotations

import threading

import pytest
from mlir import ir

from unrollkit.analysis import legality
from unrollkit.analysis.dependence import Model
from unrollkit.ir.ir_utils import walk_ops


def _model(args: str, body: str, upper: str = "8"):
    """(context, module, the Model of the one loop, its access ops) of ``body`` in
    ``affine.for %i = 0 to <upper>`` of a function taking ``args``."""
    ctx = ir.Context()
    with ctx:
        module = ir.Module.parse(f"func.func @f({args}) {{\n"
                                 f"  affine.for %i = 0 to {upper} {{\n{body}\n  }}\n  return\n}}")
        ops = walk_ops(module.operation)
        (loop,) = [op for op in ops if op.name == "affine.for"]
        accesses = [op for op in ops if any(w in op.name for w in ("load", "store", "transfer"))]
        return ctx, module, Model(loop), accesses


@pytest.mark.parametrize("index,inside", [("%i", True), ("%i + 1", False), ("%i - 1", False)])
def test_inside_is_exact_at_either_end(index, inside):
    ctx, _, model, (ld,) = _model("%a: memref<8xf32>", f"%v = affine.load %a[{index}] : memref<8xf32>")
    with ctx:
        assert model.inside(ld, [8]) is inside
        assert model.inside(ld, [9]) is (index != "%i - 1")


@pytest.mark.parametrize("index,inside", [("%i, 3", False), ("3, %i", True), ("%i floordiv 2, %i", True),
                                          ("%i floordiv 2, %i + 1", False)])
def test_inside_checks_every_dimension(index, inside):
    ctx, _, model, (ld,) = _model("%a: memref<4x8xf32>", f"%v = affine.load %a[{index}] : memref<4x8xf32>")
    with ctx:
        assert model.inside(ld, [4, 8]) is inside


def test_inside_a_rank_zero_memref():
    ctx, _, model, (ld,) = _model("%a: memref<f32>", "%v = affine.load %a[] : memref<f32>")
    with ctx:
        assert model.inside(ld, []) is True


def test_inside_is_false_when_unknown():
    """A subscript the analysis cannot read, or a dynamic size: not proved, so False — even for
    an access that never runs (its range is empty, and the dynamic box would be empty too)."""
    ctx, _, model, (ld,) = _model("%a: memref<64xf32>", "%p = arith.muli %i, %i : index\n"
                                  "%v = memref.load %a[%p] : memref<64xf32>")
    with ctx:
        assert model.inside(ld, [64]) is False
    ctx, _, model, (ld,) = _model("%a: memref<?xf32>", "%v = affine.load %a[%i] : memref<?xf32>", upper="0")
    with ctx:
        dynamic = ir.ShapedType.get_dynamic_size()
        assert model.inside(ld, [dynamic]) is False
        assert model.inside(ld, [0]) is True  # no iteration: nothing leaves a zero-size array


def test_element_ranges_per_dimension():
    ctx, _, model, (ld,) = _model("%a: memref<8x20xf32>", "%v = affine.load %a[%i floordiv 2, 2 * %i + 3] : memref<8x20xf32>")
    with ctx:
        assert model.element_ranges(ld) == [(0, 3), (3, 17)]


def test_element_ranges_of_a_two_dimensional_vector_cover_every_lane():
    ctx, _, model, (ld,) = _model(
        "%a: memref<16x8xf32>", "%v = affine.vector_load %a[%i, 2] : memref<16x8xf32>, vector<2x4xf32>")
    with ctx:
        assert model.element_ranges(ld) == [(0, 8), (2, 5)]
        assert model.inside(ld, [16, 8]) is True and model.inside(ld, [16, 5]) is False
        assert model.inside(ld, [8, 8]) is False  # row i + 1 at i = 7


def test_element_ranges_unknown_empty_and_unbounded():
    ctx, _, model, (ld,) = _model("%a: memref<64xf32>", "%p = arith.muli %i, %i : index\n"
                                  "%v = memref.load %a[%p] : memref<64xf32>")
    with ctx:
        assert model.element_ranges(ld) is None
    ctx, _, model, (ld,) = _model("%a: memref<8xf32>", "%v = affine.load %a[%i] : memref<8xf32>", upper="0")
    with ctx:
        assert model.element_ranges(ld) == []
    ctx, _, model, (ld,) = _model("%a: memref<?xf32>, %n: index", "%v = affine.load %a[%i] : memref<?xf32>",
                                  upper="%n")
    with ctx:
        assert model.element_ranges(ld) is None


def test_a_dependence_within_one_iteration_is_listed():
    """A store and a later load of the same element in one iteration: a flow dependence of
    distance 0 (source before sink by the text alone), and no anti one (the load is later)."""
    ctx, _, model, (st, ld) = _model("%a: memref<8xf32>", "%c = arith.constant 1.0 : f32\n"
                                     "affine.store %c, %a[%i] : memref<8xf32>\n"
                                     "%v = affine.load %a[%i] : memref<8xf32>")
    with ctx:
        deps = [(d.kind, d.source.op == st.operation, d.directions([model.root])) for d in model.dependences()]
        assert ("flow", True, [(0,)]) in deps
        assert not [d for d in deps if d[0] == "anti"]


def test_an_op_touching_memory_in_an_unknown_way_depends_on_every_access():
    """memref.copy into %a: the analysis cannot see which elements it touches, so it depends
    on each access of any memref, both ways, in every direction."""
    ctx, module, model, (ld,) = _model("%a: memref<8xf32>, %b: memref<8xf32>",
                                       "%v = affine.load %a[%i] : memref<8xf32>\n"
                                       "memref.copy %b, %a : memref<8xf32> to memref<8xf32>")
    with ctx:
        deps = model.dependences()
        pairs = {(d.kind, d.source.op == ld.operation) for d in deps}
        assert pairs >= {("anti", True), ("flow", False)}
        assert all(d.relation is None and d.directions([model.root]) == [(-1,), (0,), (1,)] for d in deps
                   if d.source.op == ld.operation or d.sink.op == ld.operation)
        # the rules over it: the next iteration's load may read what this copy wrote, so no
        # vectorisation; jamming copies the loop-free body as a unit, so the jam keeps the order
        v = legality.vectorize_violation(model.root, 4, set())
        assert v is not None and v.dependence.source.op.name == "memref.copy" and v.memref_name == "an unknown memref"
        assert legality.unroll_jam_violation(model.root, 2) is None


def test_accesses_inside_a_region_the_model_does_not_follow_have_every_direction():
    """Inside an scf.for the instances are not modelled: a[i] and a[i + 1] there depend in
    every direction (the scf loop repeats both within one i), not just the affine distance 1."""
    ctx, _, model, (ld, st) = _model("%a: memref<9xf32>", """%c0 = arith.constant 0 : index
        %c1 = arith.constant 1 : index
        %c4 = arith.constant 4 : index
        scf.for %k = %c0 to %c4 step %c1 {
          %v = affine.load %a[%i] : memref<9xf32>
          affine.store %v, %a[%i + 1] : memref<9xf32>
        }""")
    with ctx:
        deps = model.dependences()
        assert deps and all(d.relation is None for d in deps)
        assert all(d.directions([model.root]) == [(-1,), (0,), (1,)] for d in deps)


def test_a_model_of_a_function_orders_loops_that_share_none_by_the_text():
    """The Model of a whole function: a store in one loop and a load in the next share no
    loop, so the text alone orders them — a flow dependence from the store to the load, none
    back (the load's loop runs after every store)."""
    ctx = ir.Context()
    with ctx:
        module = ir.Module.parse('''
            func.func @f(%a: memref<8xf32>, %b: memref<8xf32>) {
              %c = arith.constant 1.0 : f32
              affine.for %i = 0 to 8 {
                affine.store %c, %a[%i] : memref<8xf32>
              }
              affine.for %j = 0 to 8 {
                %v = affine.load %a[7 - %j] : memref<8xf32>
                affine.store %v, %b[%j] : memref<8xf32>
              }
              return
            }''')
        func = module.body.operations[0]
        model = Model(func)
        deps = [(d.kind, d.source.op.name, d.sink.op.name, d.source.memref.get_name()) for d in model.dependences()]
        assert deps == [("flow", "affine.store", "affine.load", "%arg0")]


def test_a_model_of_an_inner_loop_holds_the_loops_around_it_at_one_iteration():
    """A[i, j, k] = A[i - 1, j, k + 1]: carried by i only. The Model of k (i and j fixed: one
    execution of k) has no dependence; the Model of i has the flow one, (<, =, >)."""
    ctx = ir.Context()
    with ctx:
        module = ir.Module.parse('''
            func.func @f(%a: memref<8x8x9xf32>) {
              affine.for %i = 1 to 8 {
                affine.for %j = 0 to 8 {
                  affine.for %k = 0 to 8 {
                    %v = affine.load %a[%i - 1, %j, %k + 1] : memref<8x8x9xf32>
                    affine.store %v, %a[%i, %j, %k] : memref<8x8x9xf32>
                  }
                }
              }
              return
            }''')
        i, j, k = [op for op in walk_ops(module.operation) if op.name == "affine.for"]
        assert Model(k).dependences() == [] and Model(j).dependences() == []
        deps = Model(i).dependences()
        assert [(d.kind, d.directions([i, j, k])) for d in deps] == [("flow", [(1, 0, -1)])]


def test_a_two_lane_vector_touches_both_lanes():
    ctx, _, model, (ld,) = _model("%a: memref<9xf32>", "%v = affine.vector_load %a[%i] : memref<9xf32>, vector<2xf32>")
    with ctx:
        assert model.element_ranges(ld) == [(0, 8)]
        assert model.inside(ld, [9]) is True and model.inside(ld, [8]) is False


def test_an_access_the_analysis_cannot_read_may_touch_anything():
    """A transfer broadcasting a 1-D memref to a 2-D vector (valid IR, but more vector
    dimensions than memref ones: `access_of` cannot read it): a statement writing any element
    of any memref, so it depends on itself and on the load of the other array both ways, with
    every direction — and the vectorize rule refuses the loop."""
    ctx, _, model, (tr, ld) = _model(
        "%a: memref<8xf32>, %b: memref<8xf32>", "%p = arith.constant 0.0 : f32\n"
        "%v = vector.transfer_read %a[%i], %p {permutation_map = affine_map<(d0) -> (0, d0)>, "
        "in_bounds = [true, false]} : memref<8xf32>, vector<2x4xf32>\n"
        "%s = affine.load %b[%i] : memref<8xf32>")
    with ctx:
        st = model.statement(tr)
        assert (st.memref, st.writes, st.access, st.loops) == (None, True, None, (model.root,))
        deps = [(d.kind, d.source.op.name, d.sink.op.name, d.relation) for d in model.dependences()]
        assert deps == [("output", "vector.transfer_read", "vector.transfer_read", None),
                        ("flow", "vector.transfer_read", "affine.load", None),
                        ("anti", "affine.load", "vector.transfer_read", None)]
        assert legality.vectorize_violation(model.root, 4, set()) is not None


def test_a_model_rooted_inside_a_region_it_does_not_follow_knows_nothing_exact():
    """The Model of an affine.for inside an scf.for: its place is the scf loop's body (no
    affine loop around it) and its statements are opaque, so every dependence has relation
    None and every direction."""
    ctx = ir.Context()
    with ctx:
        module = ir.Module.parse('''
            func.func @f(%a: memref<9xf32>) {
              %c0 = arith.constant 0 : index
              %c1 = arith.constant 1 : index
              %c4 = arith.constant 4 : index
              scf.for %k = %c0 to %c4 step %c1 {
                affine.for %i = 0 to 8 {
                  %v = affine.load %a[%i] : memref<9xf32>
                  affine.store %v, %a[%i + 1] : memref<9xf32>
                }
              }
              return
            }''')
        (i,) = [op for op in walk_ops(module.operation) if op.name == "affine.for"]
        model = Model(i)
        assert model.outer == 0 and model.place[1] == [] and len(model.statements) == 2
        deps = model.dependences()
        assert {d.kind for d in deps} == {"flow", "anti", "output"}
        assert all(d.relation is None and d.directions([i]) == [(-1,), (0,), (1,)] for d in deps)


def test_an_affine_if_on_a_loaded_value_keeps_its_accesses_exact():
    """The condition reads memory (not affine in the loops): both branches are taken as run
    everywhere, a superset, but their accesses stay exact — one flow dependence of distance 1."""
    ctx = ir.Context()
    with ctx:
        module = ir.Module.parse('''
            func.func @f(%a: memref<9xf32>, %b: memref<1xindex>) {
              %z = arith.constant 0 : index
              %n = memref.load %b[%z] : memref<1xindex>
              affine.for %i = 0 to 8 {
                affine.if affine_set<(d0)[s0] : (d0 - s0 >= 0)>(%i)[%n] {
                  %v = affine.load %a[%i] : memref<9xf32>
                  affine.store %v, %a[%i + 1] : memref<9xf32>
                }
              }
              return
            }''')
        (i,) = [op for op in walk_ops(module.operation) if op.name == "affine.for"]
        model = Model(i)
        deps = [(d.kind, d.relation is None, d.directions([i])) for d in model.dependences()]
        assert deps == [("flow", False, [(1,)])]


def test_a_padded_upper_bound_replaces_the_loop_s_own():
    """`Model(..., upper_bounds=...)`: the loop as pad would make it (to 12, not 8)."""
    ctx, module, model, (ld,) = _model("%a: memref<16xf32>", "%v = affine.load %a[%i + 1] : memref<16xf32>")
    with ctx:
        padded = Model(model.root, upper_bounds={model.root: 12})
        assert model.element_ranges(ld) == [(1, 8)] and padded.element_ranges(ld) == [(1, 12)]


def test_each_thread_has_its_own_isl_context():
    ctx, _, model, (ld,) = _model("%a: memref<8xf32>", "%v = affine.load %a[%i] : memref<8xf32>")
    found = []
    with ctx:
        worker = threading.Thread(target=lambda: found.append(Model(model.root).ctx))
        worker.start()
        worker.join()
        assert found and found[0] is not model.ctx and Model(model.root).ctx is model.ctx
