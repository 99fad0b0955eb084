"""The in-bounds proof of a kernel descriptor for one call signature (sizes and shapes known).

The domain of every statement is built from its enclosing `Loop`s (``max`` of the lower
bounds, ``min`` of the upper bounds, the step) and every subscript — affine in the loop
variables and sizes, with ``//`` (and ``%``) by positive constants — is bounded exactly over
it with isl. A loop that is empty exactly where a subscript would leave its array (a guard
written as a loop bound) is therefore no obstacle, and a subscript with ``//`` is judged like
any other.
"""
from __future__ import annotations

import dataclasses

import islpy as isl

from unrollkit.core.errors import KernelSyntaxError
from unrollkit.frontend import descriptor as d
from unrollkit.frontend.conditions import affine_condition
from unrollkit.frontend.scalar_bounds import index_scalars
from .nest import Nest, val


@dataclasses.dataclass(frozen=True)
class OutOfBounds:
    """A subscript whose range over its statement's domain leaves the array."""
    stmt: object  # the d.Store / d.Let holding the access (its ``loc`` is the user's line)
    array: str
    dim: int
    index: object  # the subscript (d.Aff)
    lo: int
    hi: int
    size: int


def first_out_of_bounds(kernel: d.Kernel, sizes: dict, shapes: dict) -> OutOfBounds | None:
    """The first subscript of ``kernel`` that some executed iteration takes out of its array."""
    return _Proof(sizes, shapes).block(kernel.body, Nest.root(), {})


class _Proof:
    def __init__(self, sizes, shapes):
        self.sizes, self.shapes = sizes, shapes

    def block(self, body, nest: Nest, loop_dims: dict):
        for s in body:
            if isinstance(s, d.Loop):
                lows = [self.aff(e, nest, loop_dims) for e in s.lower]
                highs = [self.aff(e, nest, loop_dims) for e in s.upper]
                inner = nest.loop(lows, highs, s.step)
                found = self.block(s.body, inner, {**loop_dims, s.var: nest.depth})
            elif isinstance(s, d.If):
                found = self.branch(s, nest, loop_dims)
            else:
                found = self.statement(s, nest, loop_dims)
            if found is not None:
                return found
        return None

    def branch(self, s: d.If, nest: Nest, loop_dims: dict):
        """An ``if``: its condition's loads where it is reached; each branch where it runs —
        an affine condition restricts the domain (a guard is proof), a data-dependent one
        does not (each branch must be in bounds wherever the ``if`` is reached)."""
        found = self.statement(s, nest, loop_dims)
        if found is not None:
            return found
        constraints = affine_condition(s.cond)
        then, orelse = nest, nest
        if constraints is not None:
            holds = nest.domain.universe(nest.domain.get_space())
            for e, is_eq in constraints:
                pa = self.aff(e, nest, loop_dims)
                holds = holds & (pa.zero_set() if is_eq else pa.nonneg_set())
            then, orelse = nest.restrict(holds), nest.exclude(holds)
        return self.block(s.then, then, loop_dims) or self.block(s.orelse, orelse, loop_dims)

    def statement(self, s, nest: Nest, loop_dims: dict):
        accesses = [(s.array, s.index)] if isinstance(s, d.Store) else []
        accesses += [(x.array, x.index) for v in d.statement_values(s) for x in d.walk_expr(v)
                     if isinstance(x, d.Load)]
        for arr, idx in accesses:
            for dim, e in enumerate(idx):
                rng = nest.range_of(self.aff(e, nest, loop_dims))
                if rng is None:
                    return None  # the statement never runs for these sizes
                n = self.shapes[arr][dim]
                if rng[0] < 0 or rng[1] >= n:
                    return OutOfBounds(s, arr, dim, e, rng[0], rng[1], n)
        return None

    def aff(self, e, nest: Nest, loop_dims: dict) -> isl.PwAff:
        """``e`` as an isl function of the loop variables of ``nest``."""
        if isinstance(e, d.Var):
            if e.name in loop_dims:
                return nest.var(loop_dims[e.name])
            if e.name in self.sizes:
                return nest.const(int(self.sizes[e.name]))
            raise KeyError(f"unbound index variable {e.name!r}")
        if isinstance(e, d.Lit):
            return nest.const(e.value)
        if isinstance(e, d.Add):
            return self.aff(e.lhs, nest, loop_dims) + self.aff(e.rhs, nest, loop_dims)
        if isinstance(e, d.Mul):
            return self.aff(e.lhs, nest, loop_dims).scale_val(val(nest.ctx, e.coeff))
        inner = self.aff(e.lhs, nest, loop_dims)
        k = val(nest.ctx, e.divisor)
        if isinstance(e, d.FloorDiv):
            return inner.scale_down_val(k).floor()
        if type(e).__name__ == "Mod":  # (a descriptor form the frontend may grow)
            return inner.mod_val(k)
        raise TypeError(f"unknown index expression {e!r}")


def loop_domain(loops, sizes: dict) -> Nest:
    """The iteration domain of the innermost of ``loops`` (descriptor `Loop`s, outermost first,
    each inside the one before) at ``sizes``: the same construction as the proof's."""
    proof, nest, loop_dims = _Proof(sizes, {}), Nest.root(), {}
    for lp in loops:
        lows = [proof.aff(e, nest, loop_dims) for e in lp.lower]
        highs = [proof.aff(e, nest, loop_dims) for e in lp.upper]
        nest, loop_dims = nest.loop(lows, highs, lp.step), {**loop_dims, lp.var: nest.depth}
    return nest


def check_bounds(kernel: d.Kernel, sizes: dict, shapes: dict):
    """Refuse any subscript that an executed iteration takes outside its array, with the
    statement's file:line (a `KernelSyntaxError`; the proof is `first_out_of_bounds`)."""
    bad = first_out_of_bounds(kernel, sizes, shapes)
    if bad is not None:
        scalars = "".join(f" and {n} = {sizes[n]}" for n in index_scalars(kernel))
        raise KernelSyntaxError(f"subscript {d.aff_str(bad.index)} of {bad.array} (dimension {bad.dim}, "
                                f"size {bad.size}) ranges over [{bad.lo}, {bad.hi}] for these sizes"
                                f"{scalars}: out of bounds", bad.stmt.loc.filename, bad.stmt.loc.lineno)
