"""MLIR index values, affine maps and integer sets as isl functions of the loop variables.

`ValueForms` turns an SSA index value into an `isl.PwAff` over the loop variables enclosing
its definition: loop induction variables (bound by the walk that builds the domains), integer
constants, ``affine.apply/min/max`` and the index arithmetic ``lower-affine`` and
``scf``-level code use (``arith.addi/subi``, ``muli`` by a constant, ``floordivsi``,
``ceildivsi``, ``divsi``/``remsi`` by a constant, ``minsi/maxsi``, ``select`` on a comparison,
widening casts). Anything else cannot be expressed exactly and raises `NotAffine` naming it:
the caller then refuses the access rather than guess.
"""
from __future__ import annotations

import islpy as isl
from mlir import ir

from .nest import align, constant_of, lift, lift_set, val

# arith.cmpi predicates (signed and equality only: unsigned order is not affine)
_CMP = {0: "eq_set", 1: "ne_set", 2: "lt_set", 3: "le_set", 4: "gt_set", 5: "ge_set"}


class NotAffine(Exception):
    """A value the analysis cannot express exactly; the message says which and why."""


def op_name(op) -> str:
    """The name of an operation or of its op view, e.g. ``affine.apply``."""
    return op.operation.name


def for_bounds(op) -> tuple:
    """(lower-bound map, upper-bound map, constant step) of an ``affine.for``."""
    return (ir.AffineMapAttr(op.attributes["lowerBoundMap"]).value,
            ir.AffineMapAttr(op.attributes["upperBoundMap"]).value,
            ir.IntegerAttr(op.attributes["step"]).value)


def _int_width(t) -> int | None:
    if t.typeid == ir.IndexType.static_typeid:
        return 64
    if t.typeid == ir.IntegerType.static_typeid:
        return ir.IntegerType(t).width
    return None


class ValueForms:
    """SSA index value → `isl.PwAff`, memoised (unrolled copies share their operands)."""

    def __init__(self, ctx: isl.Context):
        self.ctx = ctx
        self._forms = {}
        self._unknown = {}  # block argument -> why it has no form (an unreadable loop)
        self._consts = {}
        self._linear = {}  # value -> (its `_Shape`, offset)
        self._shapes = {}  # frozenset of coefficients -> its `_Shape`
        self._plans = {}  # (affine map, operand shapes) -> `_plan`
        self._keyed = {}  # ("map", affine map, operands) -> `map_results`
        self._templates = {}  # affine map -> per result: linear template or None
        self._maps = {}  # an affine.apply's map attribute -> its affine map
        self._dims = {}  # induction variable -> its dimension in its nest (`range_key`)
        self._zero = isl.PwAff.val_on_domain(isl.Set.universe(isl.Space.set_alloc(ctx, 0, 0)),
                                             isl.Val.zero(ctx))

    def const(self, value: int) -> isl.PwAff:
        """The constant ``value`` as a `isl.PwAff` on the zero-dimensional domain, memoised."""
        form = self._consts.get(value)
        if form is None:
            form = self._consts[value] = self._zero.add_constant_val(val(self.ctx, value))
        return form

    def bind(self, value, form: isl.PwAff, dim: int | None = None) -> None:
        """Give a block argument (an induction variable) its form; ``dim``: the loop dimension
        it is in its nest (then `range_key` names it by that dimension)."""
        self._forms[value] = form
        if dim is not None:
            self._dims[value] = dim

    def range_key(self, coeffs: dict) -> frozenset:
        """A memo key for the range of ``sum(c * v)`` over one nest: an induction variable
        named by its dimension, so that sibling loops with the same domain (the unrolled
        copies of a nest, each with its own induction variable) share one isl question."""
        dims = self._dims
        return frozenset((("dim", dims[v]) if v in dims else v, c) for v, c in coeffs.items() if c)

    def unknown(self, value, why: str) -> None:
        """Record why an induction variable has no form (its loop's bounds are not affine)."""
        self._unknown[value] = why

    # -- values
    def of(self, value) -> isl.PwAff:
        """The `isl.PwAff` of the SSA index ``value`` over the loop variables enclosing its
        definition, memoised; raises `NotAffine` when it has none."""
        form = self._forms.get(value)
        if form is None:
            form = self._forms[value] = self._of(value)
        return form

    def _of(self, value) -> isl.PwAff:
        if isinstance(value, ir.BlockArgument):
            if value in self._unknown:
                raise NotAffine(self._unknown[value])
            owner = value.owner.owner
            where = op_name(owner) if owner is not None else "a block"
            raise NotAffine(f"an index is block argument #{value.arg_number} of {where}, which is "
                            "not a loop induction variable the proof can follow")
        op = value.owner
        name = op_name(op)
        args = op.operation.operands
        if name == "arith.constant":
            attr = op.attributes["value"]
            if not isinstance(attr.maybe_downcast(), ir.IntegerAttr):
                raise NotAffine(f"an index is the non-integer constant {attr}")
            return self.const(ir.IntegerAttr(attr).value)
        if name == "affine.apply":
            return self.map_results(ir.AffineMapAttr(op.attributes["map"]).value, args)[0]
        if name in ("affine.min", "affine.max"):
            forms = self.map_results(ir.AffineMapAttr(op.attributes["map"]).value, args)
            return _fold(forms, "min" if name == "affine.min" else "max")
        if name in _BINARY:
            if _int_width(op.operation.results[0].type) != 64:
                # narrower arithmetic wraps where the exact value would not
                raise NotAffine(f"an index is computed by {name} in {op.operation.results[0].type}")
            return _BINARY[name](self, name, self.of(args[0]), self.of(args[1]))
        if name in ("arith.index_cast", "arith.extsi", "arith.index_castui", "arith.extui"):
            src, dst = _int_width(args[0].type), _int_width(op.operation.results[0].type)
            unsigned = name.endswith("ui")
            # a sign-extension keeps the value; a zero-extension only at equal widths
            if src is not None and dst is not None and (src == dst or (src < dst and not unsigned)):
                return self.of(args[0])
            raise NotAffine(f"an index goes through {name} from {args[0].type} to "
                            f"{op.operation.results[0].type}, which may change its value")
        if name == "arith.select":
            cond = self.condition(args[0])
            if cond is None:
                raise NotAffine("an index is an arith.select on a condition the proof cannot follow")
            a, b = align(self.of(args[1]), self.of(args[2]))
            depth = max(a.dim(isl.dim_type.in_), cond.dim(isl.dim_type.set))
            a, b, cond = lift(a, depth), lift(b, depth), lift_set(cond, depth)
            return a.intersect_domain(cond).union_add(b.intersect_domain(cond.complement()))
        raise NotAffine(f"an index is computed by {name}, which the bounds proof does not follow")

    # -- linear shapes: the memo keys unrolled copies share
    def linear(self, value):
        """``(coefficients, offset)`` with ``value == sum(c * v) + offset`` over opaque values
        ``v`` (induction variables, ``affine.min`` results, ...), read through affine maps and
        ``arith`` additions and multiplications by constants. Only a memo key: the copies of
        an unrolled body differ in their offsets, so one range of ``sum(c * v)`` (found by isl
        from the values' forms) serves them all. (The coefficients are shared: not to be
        changed.)"""
        shape, offset = self._entry(value)
        return shape.coeffs, offset

    def _entry(self, value) -> tuple:
        """(`_Shape`, offset) of ``value``, memoised per value."""
        got = self._linear.get(value)
        if got is None:
            got = self._linear[value] = self._linear_of(value)
        return got

    def _shape(self, coeffs: dict) -> "_Shape":
        """The one `_Shape` of these coefficients (interned: unrolled copies share theirs)."""
        frozen = frozenset(coeffs.items())
        shape = self._shapes.get(frozen)
        if shape is None:
            shape = self._shapes[frozen] = _Shape(coeffs, frozen)
        return shape

    def _linear_of(self, value) -> tuple:
        """(`_Shape`, offset) of ``value``: read through its defining operation, or the value
        itself (coefficient 1) when that operation is not one `linear` follows."""
        if not isinstance(value, ir.BlockArgument):
            op = value.owner
            name = op.name
            if name == "affine.apply":  # (first: an unrolled body holds many)
                attr = op.attributes["map"]
                amap = self._maps.get(attr)  # (unrolled copies share their maps' attributes)
                if amap is None:
                    amap = self._maps[attr] = ir.AffineMapAttr(attr).value
                plan, entries = self._plan_of(amap, op.operands)
                got = _offset(plan[0], entries)
                if got is not None:  # (None: the map divides)
                    return got
            elif name == "arith.constant":
                attr = op.attributes["value"]
                if isinstance(attr.maybe_downcast(), ir.IntegerAttr):
                    return self._shape({}), ir.IntegerAttr(attr).value
            elif name in ("arith.addi", "arith.subi", "arith.muli") and _int_width(value.type) == 64:
                a, b = (self.linear(v) for v in op.operands)
                lin = _combine(a, b, name[6:9])
                if lin is not None:
                    return self._shape(lin[0]), lin[1]
        return self._shape({value: 1}), 0

    def result_linear(self, amap, k: int, operands):
        """`linear` of result ``k`` of ``amap`` over ``operands`` (None if it divides)."""
        got = self._results(amap, operands)[k]
        return None if got is None else (got[0].coeffs, got[1])

    def _results(self, amap, operands) -> list:
        """(`_Shape`, offset) of each result of ``amap`` over ``operands``, None for one that
        divides."""
        plan, entries = self._plan_of(amap, operands)
        return [_offset(step, entries) for step in plan]

    def _plan_of(self, amap, operands) -> tuple:
        """(`_plan` of ``amap`` over ``operands``, the operands' (shape, offset) entries)."""
        linear, entry = self._linear, self._entry
        entries, memo = [], [amap]  # (one loop builds both: this runs for every access)
        for v in operands:
            got = linear.get(v) or entry(v)
            entries.append(got)
            memo.append(got[0])
        memo = tuple(memo)
        plan = self._plans.get(memo)
        if plan is None:
            plan = self._plans[memo] = self._plan(amap, entries)
        return plan, entries

    def _plan(self, amap, entries: list) -> list:
        """Per result of ``amap`` over operands of these (shape, offset) ``entries``: (the
        result's `_Shape`, its constant, [(operand, coefficient)]) — its offset is the
        constant plus each coefficient times that operand's offset — or None (it divides).
        Memoised by `_plan_of` per map and operand shapes: unrolled copies share both, and
        differ only in the operands' offsets."""
        plan = []
        for t in self._templates_of(amap):
            if t is None:
                plan.append(None)
                continue
            coeffs, const = t
            out, terms = {}, []  # (each operand's shape times its coefficient, summed at once)
            for (_, i), c in coeffs.items():
                terms.append((i, c))
                for v, x in entries[i][0].coeffs.items():
                    out[v] = out.get(v, 0) + c * x
            plan.append((self._shape({v: x for v, x in out.items() if x}), const, terms))
        return plan

    def _templates_of(self, amap) -> list:
        """Per result of ``amap``: its linear template over the operands, or None (it divides)."""
        templates = self._templates.get(amap)
        if templates is None:
            n = amap.n_inputs
            probe = [({("operand", i): 1}, 0) for i in range(n)]
            templates = self._templates[amap] = [_expr_template(e, probe, amap.n_dims) for e in amap.results]
        return templates

    def index_shapes(self, amap, operands) -> list:
        """Per memref dimension of an access: ``(_Shape, offset)`` of its index (`linear`,
        with the shape interned), or None for one that divides. ``operands``: the index values
        themselves (``amap`` None) or the operands of ``amap``."""
        if amap is None:
            linear, entry = self._linear, self._entry
            return [linear.get(v) or entry(v) for v in operands]  # (a hit without a call)
        return self._results(amap, operands)

    def shape_key(self, shape: "_Shape") -> frozenset:
        """The shape's `range_key`, found at its first range question (when every induction
        variable in it is bound: they enclose the access that asks) and kept (a variable's
        dimension never changes)."""
        if shape.key is None:
            shape.key = self.range_key(shape.coeffs)
        return shape.key

    def linear_form(self, coeffs) -> isl.PwAff:
        """``sum(c * v)`` as an isl function (raises `NotAffine` for a value without one)."""
        out = self._zero
        for v, c in coeffs:
            a, b = align(out, self.of(v).scale_val(val(self.ctx, c)))
            out = a + b
        return out

    # -- affine maps and sets
    def map_results(self, amap, operands) -> list:
        """Each result of ``amap`` applied to the forms of ``operands`` (dims, then symbols),
        memoised per map and operands (the loops a full unroll copies have the same bounds;
        the list is shared: not to be changed)."""
        operands = tuple(operands)
        key = ("map", amap, operands)
        got = self._keyed.get(key)
        if got is None:
            forms = [self.of(v) for v in operands]
            got = self._keyed[key] = [self.expr(e, forms, amap.n_dims) for e in amap.results]
        return got

    def expr(self, e, forms: list, n_dims: int) -> isl.PwAff:
        """The affine expression ``e`` as a `isl.PwAff`, given the ``forms`` of its map's operands
        (``n_dims`` dimensions, then the symbols); raises `NotAffine`."""
        e = e.maybe_downcast()
        if isinstance(e, ir.AffineDimExpr):
            return forms[e.position]
        if isinstance(e, ir.AffineSymbolExpr):
            return forms[n_dims + e.position]
        if isinstance(e, ir.AffineConstantExpr):
            return self.const(e.value)
        a, b = align(self.expr(e.lhs, forms, n_dims), self.expr(e.rhs, forms, n_dims))
        if isinstance(e, ir.AffineAddExpr):
            return a + b
        if isinstance(e, ir.AffineMulExpr):
            return _mul(a, b, str(e))
        if isinstance(e, ir.AffineFloorDivExpr):
            return _floordiv(a, b, str(e))
        if isinstance(e, ir.AffineCeilDivExpr):
            c = _div_by(b, str(e), positive=True)
            return a.scale_down_val(val(self.ctx, c)).ceil()
        if isinstance(e, ir.AffineModExpr):
            c = _div_by(b, str(e), positive=True)
            return a.mod_val(val(self.ctx, c))
        raise NotAffine(f"unknown affine expression {e}")

    def integer_set(self, text: str, operands) -> isl.Set:
        """The points where an ``affine_set<...>`` (given as its attribute text: the bindings
        expose no accessor for its constraints) holds, over the forms of ``operands``."""
        head, _, body = text[len("affine_set<"):-1].partition(" : ")
        constraints = _split_top(body.strip()[1:-1])
        exprs, eqs = [], []
        for c in constraints:
            c = c.strip()
            for tail, eq in ((" >= 0", False), (" == 0", True)):
                if c.endswith(tail):
                    exprs.append(c[:-len(tail)])
                    eqs.append(eq)
                    break
            else:
                raise NotAffine(f"cannot read the constraint {c!r} of {text}")
        amap = ir.AffineMapAttr(ir.Attribute.parse(f"affine_map<{head} -> ({', '.join(exprs)})>")).value
        forms = [self.of(v) for v in operands]
        results = [self.expr(e, forms, amap.n_dims) for e in amap.results]
        depth = max([f.dim(isl.dim_type.in_) for f in results] + [0])
        out = isl.Set.universe(isl.Space.set_alloc(self.ctx, 0, depth))
        for f, eq in zip(results, eqs):
            f = lift(f, depth)
            zero = lift(self._zero, depth)
            out = out & (f.eq_set(zero) if eq else f.ge_set(zero))
        return out

    def condition(self, value):
        """The set where an ``i1`` value is true, or None when it is not a comparison of
        affine values (the caller then keeps both branches' full domains, or refuses)."""
        try:
            return self._condition(value)
        except NotAffine:
            return None

    def _condition(self, value):
        if isinstance(value, ir.BlockArgument):
            return None
        op = value.owner
        name = op_name(op)
        args = op.operation.operands
        if name == "arith.cmpi":
            pred = ir.IntegerAttr(op.attributes["predicate"]).value
            if pred not in _CMP:
                return None
            a, b = align(self.of(args[0]), self.of(args[1]))
            return getattr(a, _CMP[pred])(b)
        if name in ("arith.andi", "arith.ori") and _int_width(value.type) == 1:
            a, b = self._condition(args[0]), self._condition(args[1])
            if a is None or b is None:
                return None
            depth = max(a.dim(isl.dim_type.set), b.dim(isl.dim_type.set))
            a, b = lift_set(a, depth), lift_set(b, depth)
            return a & b if name == "arith.andi" else a | b
        if name == "arith.constant" and _int_width(value.type) == 1:
            space = isl.Space.set_alloc(self.ctx, 0, 0)
            return isl.Set.universe(space) if ir.IntegerAttr(op.attributes["value"]).value else isl.Set.empty(space)
        return None

class _Shape:
    """A linear shape ``sum(c * v)`` (no constant), interned per `ValueForms`: ``coeffs``
    ({value: c}, no zeros; not to be changed), ``frozen`` (its items), ``key`` (its
    `ValueForms.range_key`, once asked). Identity is equality: memo keys hash it fast."""

    __slots__ = ("coeffs", "frozen", "key")

    def __init__(self, coeffs: dict, frozen: frozenset):
        self.coeffs, self.frozen, self.key = coeffs, frozen, None


def _offset(step, entries: list):
    """(`_Shape`, offset) of one result of a `ValueForms._plan` ``step`` over the operands'
    (shape, offset) ``entries``: its constant plus each coefficient times that operand's
    offset (None for a step that divides)."""
    if step is None:
        return None
    shape, offset, terms = step
    for i, c in terms:  # (a loop, not sum(): this runs for every access)
        offset += c * entries[i][1]
    return shape, offset


def _split_top(text: str) -> list:
    """Split at the commas outside parentheses."""
    out, depth, cur = [], 0, []
    for ch in text:
        if ch == "," and depth == 0:
            out.append("".join(cur))
            cur = []
            continue
        depth += ch == "("
        depth -= ch == ")"
        cur.append(ch)
    out.append("".join(cur))
    return out


def _expr_template(e, probe, n_dims):
    """An affine expression as ``({("operand", i): c}, constant)``, None if not linear."""
    e = e.maybe_downcast()
    if isinstance(e, ir.AffineDimExpr):
        return probe[e.position]
    if isinstance(e, ir.AffineSymbolExpr):
        return probe[n_dims + e.position]
    if isinstance(e, ir.AffineConstantExpr):
        return {}, e.value
    if isinstance(e, (ir.AffineAddExpr, ir.AffineMulExpr)):
        a = _expr_template(e.lhs, probe, n_dims)
        b = a and _expr_template(e.rhs, probe, n_dims)
        return b and _combine(a, b, "add" if isinstance(e, ir.AffineAddExpr) else "mul")
    return None


def _combine(a, b, how: str):
    """Two linear shapes added (``add``), subtracted (``sub``) or multiplied (``mul``, one
    must be a constant); None if the product is not linear."""
    (ca, ka), (cb, kb) = a, b
    if how == "mul":
        if ca and cb:
            return None
        (coeffs, k), c = ((ca, ka), kb) if not cb else ((cb, kb), ka)
        return {v: x * c for v, x in coeffs.items() if x * c}, k * c
    sign = 1 if how == "add" else -1
    coeffs = dict(ca)
    for v, x in cb.items():
        coeffs[v] = coeffs.get(v, 0) + sign * x
    return {v: x for v, x in coeffs.items() if x}, ka + sign * kb


def _fold(forms, how: str):
    out = forms[0]
    for f in forms[1:]:
        a, b = align(out, f)
        out = a.min(b) if how == "min" else a.max(b)
    return out


def _div_by(b, what: str, positive: bool) -> int:
    c = constant_of(b)
    if c is None or c == 0 or (positive and c < 0):
        raise NotAffine(f"{what} divides by a value that is not a "
                        f"{'positive ' if positive else 'nonzero '}constant")
    return c


def _mul(a, b, what: str):
    if constant_of(a) is None and constant_of(b) is None:
        raise NotAffine(f"{what} multiplies two values that vary: not affine")
    return a.mul(b)


def _floordiv(a, b, what: str):
    c = _div_by(b, what, positive=False)
    if c < 0:
        a, c = a.neg(), -c
    return a.scale_down_val(val(a.get_ctx(), c)).floor()


def _arith(self, name, a, b):
    a, b = align(a, b)
    what = f"{name} of an index"
    if name == "arith.addi":
        return a + b
    if name == "arith.subi":
        return a - b
    if name == "arith.muli":
        return _mul(a, b, what)
    if name == "arith.floordivsi":
        return _floordiv(a, b, what)
    if name == "arith.ceildivsi":
        c = _div_by(b, what, positive=False)
        if c < 0:
            a, c = a.neg(), -c
        return a.scale_down_val(val(a.get_ctx(), c)).ceil()
    if name in ("arith.divsi", "arith.remsi"):
        _div_by(b, what, positive=False)
        return a.tdiv_q(b) if name == "arith.divsi" else a.tdiv_r(b)
    return a.min(b) if name == "arith.minsi" else a.max(b)


_BINARY = {n: _arith for n in ("arith.addi", "arith.subi", "arith.muli", "arith.floordivsi",
                                "arith.ceildivsi", "arith.divsi", "arith.remsi", "arith.minsi",
                                "arith.maxsi")}
