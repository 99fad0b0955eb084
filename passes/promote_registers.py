"""``promote-to-registers``: keep a loop's loop-invariant memory locations in registers: each is
read once before the loop, carried through it as an ``iter_args`` value and written once after
it (a BLIS micro-kernel's C tile, made explicit instead of left to LLVM's LICM, which gives up
on larger loop nests: batched GEMM at 2×96×128×128 kept none of its 24 accumulators).

Options:
    loop (str, ""): the source name of the loop; "" means every innermost loop.
    strict (bool, true): with a named loop, refuse (naming the loop, the access and why) a
        location that cannot be promoted, or a loop with nothing to promote; false promotes
        what it can and leaves the rest in memory (the GEMM schedule asks that: a kernel it
        does not expect must still compile). Without a name nothing is refused.

Loops of one iteration directly in the body are first replaced by their bodies (a vector
tile's 16-column loop of one step, which a full unroll leaves). A location is what one access
directly in the body touches (``affine.load``/``store``, or an unmasked, in-bounds,
minor-identity ``vector.transfer_read``/``write``) when its memref, indices and padding are
invariant in the loop: defined outside it, or inside it by pure operations of invariant values
(the affine.apply of an unrolled copy). Accesses of one location have one type and equal
indices (the same linear form of the same values). It is promoted only when, exactly and
conservatively:

* the loop provably runs at least once wherever it is reached (a read before an empty loop
  and a write after it would be accesses the program never made);
* every operation in the loop, at any depth, is an element access or touches no memory;
* every other access in the loop that may reach the same memory (the same memref, or any
  memref not provably distinct: the function's ``llvm.noalias`` arguments and allocations
  are) provably touches none of the location's elements: from constant offsets when the
  indices are the same linear form, else over that access's exact iteration domain
  (`unrollkit.analysis.module_bounds.access_domains`: nested loops, min/max bounds, steps,
  conditions), by the range of the index difference in one dimension, then by isl with all
  dimensions at once. An index isl cannot express may alias.

In the body each read of the location uses the carried value and each write replaces it; the
loop yields it. Before the loop: the first read, hoisted (a zero when the body writes the
location before reading it); after: one write (none for a location only read).

Before → after (``promote-to-registers{loop=k}`` on gemm's register tile, one accumulator)::

    affine.for %k = 0 to 128 {                 %c0 = vector.transfer_read %C[%i, %j]
      %c = vector.transfer_read %C[%i, %j]     %r = affine.for %k = 0 to 128 iter_args(%c = %c0) {
      %a = affine.load %A[%i, %k]        →       %a = affine.load %A[%i, %k]
      %b = vector.transfer_read %B[%k, %j]       %b = vector.transfer_read %B[%k, %j]
      %s = %c + broadcast(%a) * %b               %s = %c + broadcast(%a) * %b
      vector.transfer_write %s, %C[%i, %j]       affine.yield %s
    } {uk.name = "k"}                          } {uk.name = "k"}
                                               vector.transfer_write %r, %C[%i, %j]
"""
from __future__ import annotations

import dataclasses
from typing import ClassVar

import islpy as isl
import numpy as np
from mlir import ir
from mlir.dialects import affine, arith

from unrollkit.analysis.affine_to_isl import NotAffine, ValueForms
from unrollkit.analysis.memory_ops import ACCESS_OPS, access_of, foreign_memory_op, is_pure
from unrollkit.analysis.module_bounds import access_domains
from unrollkit.analysis.nest import Unbounded
from unrollkit.core.errors import TransformError
from unrollkit.ir.ir_utils import (always_runs, body_ops, bound_maps, bound_operands,
                                   clone_into, copy_attributes, iv_of, loop_name,
                                   step_of, walk_ops)
from unrollkit.ir.loop_nests import inline_single_iterations

from .base import Pass, register, select_loops

#: the accesses that may name a promoted location (their value is the location's contents)
_CANDIDATES = ("affine.load", "affine.store", "vector.transfer_read", "vector.transfer_write")
_WRITES = ("affine.store", "vector.transfer_write")


@register
@dataclasses.dataclass(frozen=True)
class PromoteToRegisters(Pass):
    """PromoteToRegisters(loop, strict): the ``promote-to-registers`` pass (`register`: docs)."""
    name: ClassVar[str] = "promote-to-registers"
    scope_options: ClassVar[tuple] = ("loop",)
    removes_loops: ClassVar[bool] = True  # the loops of one iteration it inlines
    loop: str = ""
    strict: bool = True

    def apply(self, module) -> None:
        """Promote the loop-invariant locations of each selected loop to ``iter_args`` values;
        with a named loop and ``strict``, refuse one that cannot be (see the module docstring)."""
        targets = select_loops(module, self.loop)
        strict = self.strict and bool(self.loop)
        for op in targets:
            inline_single_iterations(op)
        plans = [_Plan(op) for op in targets]
        pending = [p for p in plans if p.undecided]
        if pending:  # one isl walk of the module for every pair the linear forms left open
            forms, found = access_domains(module, [x for p in pending for x in p.undecided])
            for p in pending:
                p.decide(forms, found)
        if strict:
            for p in plans:
                if p.refusals or not p.groups:
                    raise TransformError(p.refusals[0]() if p.refusals else p.nothing())
        for p in plans:  # every plan is made before any loop changes: the analysis saw one module
            if p.groups:
                _promote(p.loop, [g.members for g in p.groups])


# ---------------------------------------------------------------- the analysis


def _op(x):  # an Operation from an op view or an Operation
    return x.operation if hasattr(x, "operation") else x


def _inside(value, loop) -> bool:
    """Is ``value`` defined in ``loop`` (its induction variable and iter_args included)?"""
    p = value.owner.owner if isinstance(value, ir.BlockArgument) else value.owner
    p = _op(p) if p is not None else None
    while p is not None:
        if p == loop:
            return True
        p = p.parent
        p = _op(p) if p is not None else None
    return False


def _invariant(value, loop, memo: dict) -> bool:
    """Is ``value`` the same at every iteration of ``loop``: defined outside it, or by a pure
    operation without regions (``affine.apply``, constants, index arithmetic) of such values?"""
    if value in memo:
        return memo[value]
    if not _inside(value, loop):
        ok = True
    elif isinstance(value, ir.BlockArgument):
        ok = False  # the induction variable or a carried value
    else:
        op = _op(value.owner)
        ok = not len(op.regions) and is_pure(op.name) and all(_invariant(v, loop, memo) for v in op.operands)
    memo[value] = ok
    return ok


def _coefficients(lin) -> tuple:
    """The coefficients of index forms ``lin`` (a key: equal for two accesses whose indices
    differ by constants; a dimension without a linear form equals no other)."""
    return tuple(frozenset(x[0].items()) if x is not None else object() for x in lin)


def _value_type(op):
    return op.operands[0].type if op.name in _WRITES else op.results[0].type


def _fixed_operands(op) -> list:
    """The operands of a candidate access that name its location (all but a stored value)."""
    ops = list(op.operands)
    return ops[1:] if op.name in _WRITES else ops


def _index_linear(forms: ValueForms, acc, dim: int):
    """The linear form ``(coefficients, offset)`` of index ``dim`` of ``acc``, None if none."""
    if acc.amap is None:
        return forms.linear(acc.indices[dim])
    return forms.result_linear(acc.amap, dim, acc.indices)


def _index_form(forms: ValueForms, acc, dim: int) -> isl.PwAff:
    """Index ``dim`` of ``acc`` as an isl function of the loop variables (raises `NotAffine`)."""
    if acc.amap is None:
        return forms.of(acc.indices[dim])
    return forms.expr(acc.amap.results[dim], [forms.of(v) for v in acc.indices], acc.amap.n_dims)


def _distinct_root(memref) -> bool:
    """Is ``memref`` memory no other memref value reaches: a function argument marked
    ``llvm.noalias`` (the runtime copies an input that overlaps an output and refuses
    overlapping outputs) or an allocation?"""
    if isinstance(memref, ir.BlockArgument):
        owner = memref.owner.owner
        if owner is None or _op(owner).name != "func.func":
            return False
        attrs = _op(owner).attributes
        if "arg_attrs" not in attrs:
            return False
        arg = ir.ArrayAttr(attrs["arg_attrs"])[memref.arg_number]
        return "llvm.noalias" in ir.DictAttr(arg)
    return _op(memref.owner).name in ("memref.alloc", "memref.alloca")


def _minor_identity(op, rank: int, vrank: int) -> bool:
    if "permutation_map" not in op.attributes:
        return True
    amap = ir.AffineMapAttr(op.attributes["permutation_map"]).value
    want = [f"d{rank - vrank + i}" for i in range(vrank)]
    return amap.n_dims == rank and [str(e) for e in amap.results] == want


def _masked(op, rank: int) -> bool:
    """Does the vector transfer ``op`` on a rank-``rank`` memref take a mask operand (beyond
    its memref, indices and padding, or stored vector, memref and indices)?"""
    return len(op.operands) > rank + 2


def _describe(op, acc=None) -> str:
    mem = (acc.memref if acc is not None else _op(op).operands[1 if op.name in _WRITES else 0])
    return f"{op.name} of {mem.get_name()} ({_value_type(op)})"


class _Group:
    """One location: its accesses in body order, the first one's `Access` and index forms."""

    def __init__(self, key, op, acc, lin):
        self.key, self.members, self.acc, self.lin = key, [op], acc, lin
        self.conflict = None  # why it may not be promoted (a function giving the sentence: names cost)
        self.open = []  # other accesses the linear forms could not separate from it: isl decides


class _Plan:
    """What `promote-to-registers` would do to one loop: its locations (``groups``), the
    ``refusals`` (functions giving one sentence each: a value's name costs a print of the
    function) and the pairs isl still has to decide."""

    def __init__(self, loop):
        self.loop = _op(loop)
        self.name = loop_name(self.loop) or "<unnamed>"
        self.groups, self.refusals, self.variant = [], [], None
        self.lin = ValueForms(isl.Context())  # linear forms only (no isl work)
        self._analyse()

    @property
    def undecided(self) -> list:
        """The accesses isl is to separate from a location."""
        return [x for g in self.groups for x, _, _ in g.open]

    def nothing(self) -> str:
        why = f"; {_describe(*self.variant)} has an index (or memref) that depends on the loop" if self.variant else ""
        return (f"nothing to promote to registers in loop {self.name!r}: no access directly in its "
                f"body has a memref and indices invariant in it{why}")

    def _refuse_all(self, why: str) -> None:
        self.refusals.append(lambda: f"cannot promote to registers in loop {self.name!r}: {why}")
        self.groups = []

    def _analyse(self) -> None:
        loop, memo, facts = self.loop, {}, {}
        if not always_runs(loop):
            return self._refuse_all("it may run zero times (its bounds prove no iteration): a read "
                                    "before it and a write after it would be new accesses")
        accesses = {}  # op -> Access | reason
        for op in walk_ops(loop)[1:]:
            if op.name in ACCESS_OPS:
                try:
                    acc = access_of(op, facts)
                except NotAffine as exc:
                    acc = str(exc)
                if acc is not None:
                    accesses[_op(op)] = acc
            elif foreign_memory_op(op) or not is_pure(op.name):
                return self._refuse_all(f"{op.name} in it touches memory in a way the pass cannot see")
        groups = {}
        direct = set()
        for op in body_ops(loop):
            op = _op(op)
            if op.name not in _CANDIDATES:
                continue
            acc = accesses.get(op)
            if isinstance(acc, str) or acc is None:
                continue
            if not all(_invariant(v, loop, memo) for v in _fixed_operands(op)):
                self.variant = self.variant or (op, acc)
                continue
            vt = _value_type(op)
            if op.name.startswith("vector.transfer_"):
                vrank = len(ir.VectorType(vt).shape)
                if acc.masked or _masked(op, len(acc.shape)) or not _minor_identity(op, len(acc.shape), vrank):
                    continue
            lin = [_index_linear(self.lin, acc, d) for d in range(len(acc.shape))]
            key = (acc.memref, str(vt), tuple(acc.extents), _coefficients(lin),
                   tuple(x[1] if x is not None else None for x in lin))
            if key in groups:
                groups[key].members.append(op)
            else:
                groups[key] = _Group(key, op, acc, lin)
            direct.add(op)
        self.groups = list(groups.values())
        # the other accesses by memref (None: one the analysis cannot read), with their forms
        by_memref, roots = {}, {}
        for op, acc in accesses.items():
            if isinstance(acc, str):
                mem = next((v for v in op.operands if isinstance(v.type, ir.MemRefType)), None)
                by_memref.setdefault(mem, {}).setdefault(None, []).append((op, acc, None))
            else:
                lin = [_index_linear(self.lin, acc, d) for d in range(len(acc.shape))]
                by_memref.setdefault(acc.memref, {}).setdefault(_coefficients(lin), []).append((op, acc, lin))

        def distinct(a, b) -> bool:
            for m in (a, b):
                if m not in roots:
                    roots[m] = m is not None and _distinct_root(m)
            return a != b and roots[a] and roots[b]

        arrays = {}  # (memref, coefficients) -> offsets and extents of its accesses, as arrays
        for g in self.groups:
            members = set(g.members)
            for mem, by_form in by_memref.items():
                if distinct(mem, g.acc.memref):
                    continue
                for form, others in by_form.items():
                    if mem == g.acc.memref and form == g.key[3]:
                        if (mem, form) not in arrays:
                            arrays[mem, form] = (np.array([[x[1] for x in lin] for _, _, lin in others]),
                                                 np.array([acc.extents for _, acc, _ in others]))
                        g.conflict = _same_form(g, members, others, *arrays[mem, form])
                    else:
                        for op, acc, lin in others:
                            if op not in members:
                                g.conflict = self._separate(g, op, acc, lin)
                                if g.conflict:
                                    break
                    if g.conflict:
                        break
                if g.conflict:
                    break
        self._drop_conflicts()

    @staticmethod
    def _separate(g: _Group, op, acc, lin):
        """None when ``op`` (an access of a memref that may be ``g``'s, index forms ``lin``
        not those of ``g``) provably touches no element of ``g`` (or isl is to decide: then
        the pair is kept in ``g.open``), else a function giving why it may."""
        if isinstance(acc, str):
            return lambda: f"{op.name} in the loop has indices the analysis cannot read ({acc})"
        if acc.memref != g.acc.memref:
            return lambda: (f"{_describe(op, acc)} in the loop may touch its elements (a memref "
                            "not provably distinct from it)")
        g.open.append((op, acc, lin))
        return None

    def decide(self, forms: ValueForms, found: dict) -> None:
        """Decide every open pair by isl (`access_domains`' ``forms`` and ``found``)."""
        for g in self.groups:
            if g.conflict:
                continue
            for op, acc, lin in g.open:
                why = _isl_overlap(forms, found, g, op, acc, lin)
                if why:
                    g.conflict = why
                    break
            g.open = []
        self._drop_conflicts()

    def _drop_conflicts(self) -> None:
        keep = []
        for g in self.groups:
            if g.conflict:
                self.refusals.append(lambda g=g: f"cannot keep {_describe(g.members[0], g.acc)} in a "
                                     f"register across loop {self.name!r}: {g.conflict()}")
            else:
                keep.append(g)
        self.groups = keep


def _same_form(g: _Group, members: set, others: list, offsets, extents):
    """None when no access of ``others`` (index forms with ``g``'s coefficients: constant
    offsets from it, ``offsets`` and ``extents`` as arrays) but ``g``'s own touches an element
    of ``g``, else a function giving why one may."""
    d = offsets - np.array([x[1] for x in g.lin])
    hit = ((d > -extents) & (d < np.array(g.acc.extents))).all(axis=1)
    for k in np.flatnonzero(hit):
        op, acc, _ = others[k]
        if op not in members:
            return lambda: f"{_describe(op, acc)} in the loop may touch its elements"
    return None


def _isl_overlap(forms: ValueForms, found: dict, g: _Group, op, acc, lin) -> str | None:
    """Why ``op`` (index forms ``lin``) may touch an element of ``g`` at some point of its
    iteration domain (the location's indices are functions of the loops outside the loop, so
    of the same point), or None when isl proves it never does."""
    entry = found.get(_op(op))
    if entry is None or not hasattr(entry[0], "extents"):
        return lambda: f"{_describe(op, acc)} in the loop may touch its elements (its iteration domain is unknown)"
    nest = entry[1]
    try:
        # first one dimension at a time: the range of the index difference over the domain
        # (memoised per domain by its coefficients: unrolled copies differ in offsets only)
        for a, b, ex, eg in zip(lin, g.lin, acc.extents, g.acc.extents):
            if a is None or b is None:
                continue
            coeffs = dict(a[0])
            for v, c in b[0].items():
                coeffs[v] = coeffs.get(v, 0) - c
            rng = nest.linear_range(frozenset((v, c) for v, c in coeffs.items() if c), forms)
            if rng is None:
                return None  # never executed
            if rng[1] + a[1] - b[1] <= -ex or rng[0] + a[1] - b[1] >= eg:
                return None
        # then all dimensions at once: a common point of the domain and the elements
        dom = nest.domain
        for d, (ex, eg) in enumerate(zip(acc.extents, g.acc.extents)):
            diff = nest.lift(_index_form(forms, acc, d)) - nest.lift(_index_form(forms, g.acc, d))
            dom = dom & diff.ge_set(nest.const(-(ex - 1))) & diff.le_set(nest.const(eg - 1))
        return None if dom.is_empty() else (lambda: f"{_describe(op, acc)} in the loop may touch its elements")
    except (NotAffine, Unbounded, isl.Error, ValueError) as exc:
        why = str(exc)  # (`exc` is unbound once the except block ends; the message is built later)
        return lambda: f"{_describe(op, acc)} in the loop may touch its elements (not decided: {why})"


# ---------------------------------------------------------------- the rewrite


def _zero(t):
    """An ``arith.constant`` zero of type ``t`` (a scalar or a vector)."""
    elem = t.element_type if isinstance(t, ir.VectorType) else t
    zero = ir.FloatAttr.get(elem, 0.0) if isinstance(elem, ir.FloatType) else ir.IntegerAttr.get(elem, 0)
    return arith.ConstantOp(t, ir.DenseElementsAttr.get_splat(t, zero) if isinstance(t, ir.VectorType) else zero).result


def _with_iter_args(loop, inits: list, before) -> tuple:
    """(a copy of ``loop`` with ``inits`` appended to its iter_args, its body moved in and
    ending in a placeholder yield, the number of the loop's own iter_args, the placeholder)."""
    lbm, ubm = bound_maps(loop)
    lbo, ubo = bound_operands(loop)
    old_inits = list(loop.operands)[lbm.n_inputs + ubm.n_inputs:]
    with before, loop.location:
        new = affine.AffineForOp(lbm, ubm, step_of(loop), iter_args=old_inits + inits,
                                 lower_bound_operands=list(lbo), upper_bound_operands=list(ubo)).operation
    copy_attributes(loop, new)
    body = new.regions[0].blocks[0]
    with ir.InsertionPoint(body), loop.location:
        temp = affine.AffineYieldOp([]).operation
    for op in body_ops(loop):
        op.move_before(temp)
    iv_of(loop).replace_all_uses_with(iv_of(new))
    n_old = len(old_inits)
    for old_arg, new_arg in zip(list(loop.regions[0].blocks[0].arguments)[1:], list(body.arguments)[1:1 + n_old]):
        old_arg.replace_all_uses_with(new_arg)
    return new, n_old, temp


def _promote(loop, groups: list) -> None:
    """Rebuild ``loop`` carrying one value per location of ``groups`` (lists of accesses in
    body order), read before it and written after it."""
    loop = _op(loop)
    before = ir.InsertionPoint(loop)
    hoisted = {}

    def hoist(v):
        """``v`` where it is available before the loop (its pure definition cloned there)."""
        if not _inside(v, loop):
            return v
        if v not in hoisted:
            owner = _op(v.owner)
            hoisted.update(clone_into([owner], {x: hoist(x) for x in owner.operands}, before))
        return hoisted[v]

    def fixed_map(op) -> dict:
        return {v: hoist(v) for v in _fixed_operands(op)}

    # every value the reads before and the writes after the loop need, hoisted first
    write_maps = {}
    for k, members in enumerate(groups):
        writes = [m for m in members if m.name in _WRITES]
        if writes:
            write_maps[k] = (writes[-1], fixed_map(writes[-1]))
    inits = []
    with loop.location:
        for members in groups:
            first = members[0]
            if first.name in _WRITES:  # written before any read: the carried value starts unused
                with before:
                    inits.append(_zero(_value_type(first)))
            else:
                inits.append(clone_into([first], fixed_map(first), before)[first.results[0]])
    new, n_old, temp = _with_iter_args(loop, inits, before)
    body, old_block = new.regions[0].blocks[0], loop.regions[0].blocks[0]
    # after the loop: one write of each written location, from the loop's result
    after = ir.InsertionPoint.after(new)
    carried = list(new.results)[n_old:]
    for k, (last, mapping) in write_maps.items():
        clone_into([last], {**mapping, last.operands[0]: carried[k]}, after)
    # in the body: reads use the carried value, writes replace it
    current = list(body.arguments)[1 + n_old:]
    where = {m: k for k, members in enumerate(groups) for m in members}
    for op in list(body.operations):
        op = _op(op)
        k = where.get(op)
        if k is None:
            continue
        if op.name in _WRITES:
            current[k] = op.operands[0]
        else:
            op.results[0].replace_all_uses_with(current[k])
        op.erase()
    old_term = list(old_block.operations)[-1]
    with ir.InsertionPoint(temp), loop.location:
        affine.AffineYieldOp(list(old_term.operands) + current)
    temp.erase()
    for old_r, new_r in zip(list(loop.results), list(new.results)[:n_old]):
        old_r.replace_all_uses_with(new_r)
    loop.erase()
