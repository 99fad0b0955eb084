"""`unrollkit.codegen.macro_unroll` where mutation testing found no test (bench/MUTATION.md): the
copies of a body holding an ``if`` (a local in its condition, locals and a carried scalar
assigned in its branches) or a nested loop (its upper bound shifted per copy, a carried scalar
assigned inside it); loops inside an ``if``'s branches; a scalar carried by a macro-unrolled
loop (it keeps its name from copy to copy); the split point (the main loop covers every whole
block of the iterations, from a nonzero start too); the locals' names per copy; the code-size
and straight-line-block estimates exact at the budget; the refusal texts; the location of what
`split_carried` adds.

Unit: the rewritten descriptor's shape, and the reference interpreter running it against the
original at every trip-count class.
"""
from __future__ import annotations

import pytest

from unrollkit.core.errors import CodeSizeError, TransformError
from unrollkit.frontend import descriptor as d
from unrollkit.frontend.affine import aff_eval
from unrollkit.codegen.macro_unroll import macro_unroll, split_carried

from differential import kernel_from
from test_macro_unroll import _loops, _same_as_original

GUARDED = kernel_from('''
    def guarded(x: uk.f64["N"], out: uk.f64[1]):
        s = 0.0
        for i in range(N):
            t = x[i] * 2.0
            if t > 0.5:
                u = t + 1.0
                s = s + u
            else:
                w = t - 1.0
                s = s + w
        out[0] = s
    ''')
NESTED = kernel_from('''
    def nested(A: uk.f64["N", "N"], out: uk.f64[1]):
        s = 0.0
        for i in range(N):
            for j in range(i + 1):
                v = A[i, j] * 2.0
                s = s + v
        out[0] = s
    ''')
CARRIED = kernel_from('''
    def carried(x: uk.f64["N"], out: uk.f64[2]):
        s = 0.0
        c = 1.5
        for i in range(N):
            s = s + x[i] * c
        out[0] = s
        out[1] = c
    ''')
BRANCHES = kernel_from('''
    def branches(x: uk.f64["N"], y: uk.f64["N"], out: uk.f64[1]):
        if N > 4:
            s = 0.0
            for i in range(N):
                s = s + x[i]
            out[0] = s
        else:
            for j in range(N):
                t = x[j] * 2.0
                y[j] = t
    ''')


def _lets(body) -> list:
    """The names every Let in ``body`` assigns, in order, through ifs and loops."""
    out = []
    for s in body:
        if isinstance(s, d.Let):
            out.append(s.name)
        elif isinstance(s, d.If):
            out += _lets(s.then) + _lets(s.orelse)
        elif isinstance(s, d.Loop):
            out += _lets(s.body)
    return out


@pytest.mark.parametrize("factor", [2, 3])
def test_copies_of_an_if_rename_their_locals_and_keep_the_carried_scalar(factor):
    new = macro_unroll(GUARDED, (("i", factor),))
    main, rest = _loops(new.body)
    want = ["t", "u", "s", "w", "s"]
    for u in range(1, factor):
        want += [f"t_u{u}", f"u_u{u}", "s", f"w_u{u}", "s"]
    assert _lets(main.body) == want
    for n in (0, 1, factor - 1, factor, factor + 1, 2 * factor + 1, 11):
        _same_as_original(GUARDED, new, {"N": n})


@pytest.mark.parametrize("factor", [2, 3])
def test_copies_of_a_nested_loop_shift_its_upper_bound_and_keep_the_carried_scalar(factor):
    new = macro_unroll(NESTED, (("i", factor),))
    main, rest = _loops(new.body)
    inner = _loops(main.body)
    # copy u runs j up to (i + u) + 1
    assert [aff_eval(lp.upper[0], {"i": 5}) for lp in inner] == [5 + u + 1 for u in range(factor)]
    assert _lets(main.body) == ["v", "s"] + [x for u in range(1, factor) for x in (f"v_u{u}", "s")]
    for n in (0, 1, factor, factor + 1, 7):
        _same_as_original(NESTED, new, {"N": n})


def test_a_scalar_carried_by_a_macro_unrolled_loop_keeps_its_name():
    """s (defined before the loop, before another local c) is the same variable in every copy."""
    new = macro_unroll(CARRIED, (("i", 4),))
    main, _ = _loops(new.body)
    assert _lets(main.body) == ["s"] * 4
    for n in (0, 3, 4, 5, 9):
        _same_as_original(CARRIED, new, {"N": n})
    # multi-acc finds s carried though c was defined after it
    split = split_carried(CARRIED, 2)
    assert split is not None and "s_acc1" in _lets(split.body)
    _same_as_original(CARRIED, split, {"N": 7})


def test_loops_in_both_branches_of_an_if_are_expanded():
    new = macro_unroll(BRANCHES, (("", 3),))
    (branch,) = [s for s in new.body if isinstance(s, d.If)]
    for part in (branch.then, branch.orelse):
        main, rest = _loops(part)
        assert main.step == 3 and rest.step == 1
    assert _lets(_loops(branch.orelse)[0].body) == ["t", "t_u1", "t_u2"]
    for n in (2, 4, 5, 7, 10):
        _same_as_original(BRANCHES, new, {"N": n})


def _split_point_ok(loop, lo: int, step: int, factor: int, sizes: dict, hi: int):
    trips = max(0, -(-(hi - lo) // step))
    assert aff_eval(loop.upper[0], sizes) == lo + trips // factor * factor * step, (sizes, loop.upper)


@pytest.mark.parametrize("lo,step", [(3, 1), (3, 2), (1, 3)])
def test_the_main_loop_covers_every_whole_block(lo, step):
    """The split point is lo + (trips // k)·k·step, trips = ceil((hi - lo) / step): not fewer
    blocks (the remainder would do more than it must) and not more (past the end)."""
    k = kernel_from(f'''
        def sums(x: uk.f64["N"], out: uk.f64[1]):
            acc = out[0]
            for i in range({lo}, N, {step}):
                acc = acc + x[i]
            out[0] = acc
        ''')
    for factor in (2, 3):
        main, _ = _loops(macro_unroll(k, (("i", factor),)).body)
        carried = _loops(split_carried(k, factor, "i").body)[0]
        for n in range(lo, lo + 4 * factor * step + 2):
            _split_point_ok(main, lo, step, factor, {"N": n}, n)
            _split_point_ok(carried, lo, step, factor, {"N": n}, n)


def test_split_carried_renames_per_copy_and_places_what_it_adds_at_the_loop():
    k = kernel_from('''
        def dots(x: uk.f64["N"], out: uk.f64[1]):
            acc = out[0]
            for i in range(N):
                t = x[i] * 2.0
                acc = acc + t
            out[0] = acc
        ''')
    new = split_carried(k, 3, "i")
    loop = next(s for s in k.body if isinstance(s, d.Loop))
    main = _loops(new.body)[0]
    assert _lets(main.body) == ["t", "acc", "t_u1", "acc_acc1", "t_u2", "acc_acc2"]
    added = [s for s in new.body if isinstance(s, d.Let) and s not in k.body]
    assert len(added) == 3 and loop.loc.lineno > 0    # acc_acc1, acc_acc2 and the combine
    assert all(s.loc == loop.loc for s in added), [(s.name, s.loc) for s in added]
    _same_as_original(k, new, {"N": 8})


def test_multi_acc_refusal_texts():
    not_reduction = kernel_from('''
        def bad(x: uk.f64["N"], out: uk.f64[1]):
            acc = out[0]
            for i in range(N):
                acc = acc - x[i]
            out[0] = acc
        ''')
    with pytest.raises(TransformError) as e:
        split_carried(not_reduction, 2, "i")
    assert str(e.value) == ("multi-acc: 'acc' in loop 'i' is not a reduction acc = acc op e (op one of "
                            "+ * min max, acc used once)")
    reads = kernel_from('''
        def reads(x: uk.f64["N"], y: uk.f64["N"], out: uk.f64[1]):
            s = out[0]
            for i in range(N):
                a = x[i]
                s = s + a
                y[i] = s + a
            out[0] = s
        ''')
    with pytest.raises(TransformError, match=r"^multi-acc: loop 'i' reads 's' besides its reduction$"):
        split_carried(reads, 2, "i")
    capped = kernel_from('''
        def capped(x: uk.f64["N"], out: uk.f64[1]):
            s = out[0]
            for i in range(min(N, 7)):
                s = s + x[i]
            out[0] = s
        ''')
    with pytest.raises(TransformError, match=r"^multi-acc: loop 'i' has max\(\)/min\(\) bounds$"):
        split_carried(capped, 2, "i")


BUDGET = kernel_from('''
    def budget(A: uk.f64["N", "M"], B: uk.f64["N", "M"]):
        for i in range(N):
            for j in range(M):
                A[i, j] = A[i, j] * 2.0 + B[i, j] * 3.0 - A[i, j] * B[i, j]
    ''')


def test_the_code_size_estimate_is_exact_at_the_budget(monkeypatch):
    """Expanding i (its body a loop) by 2 makes about 3·ops(body) operations, and straight-line
    blocks of 2·ops(body, straight) (the nested loop counts as one operation there)."""
    (outer,) = _loops(BUDGET.body)
    total = 3 * d.ops_estimate(outer.body)
    assert total // 8 >= 2 * d.ops_estimate(outer.body, straight=True)
    assert total // 8 < 2 * d.ops_estimate(outer.body)
    monkeypatch.setenv("UNROLLKIT_MAX_OPS", str(total))
    main, _ = _loops(macro_unroll(BUDGET, (("i", 2),)).body)
    assert len(_loops(main.body)) == 2
    monkeypatch.setenv("UNROLLKIT_MAX_OPS", str(total - 1))
    with pytest.raises(CodeSizeError, match=rf"^macro expansion by 2 of loop 'i' would generate about {total:,} "):
        macro_unroll(BUDGET, (("i", 2),))


def test_the_straight_line_block_estimate_is_checked(monkeypatch):
    """j (straight-line) by 4: 5·ops(body) fits the budget, a block of 4·ops(body) is over its eighth."""
    inner = _loops(_loops(BUDGET.body)[0].body)[0]
    ops = d.ops_estimate(inner.body)
    monkeypatch.setenv("UNROLLKIT_MAX_OPS", str(5 * ops))
    with pytest.raises(CodeSizeError, match=rf"^macro expansion by 4 of loop 'j' would make one straight-line "
                                            rf"block of about {4 * ops:,} operations"):
        macro_unroll(BUDGET, (("j", 4),))
