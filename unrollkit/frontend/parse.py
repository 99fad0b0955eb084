"""Python function → kernel descriptor.

The subset: nested ``for v in range(lo, hi[, step])`` with affine bounds (outer loop variables,
sizes, ``min``/``max``), subscripted array loads and stores with affine subscripts, ``=``,
``+=``, ``-=``, ``*=``, ``+ - * /``, ``**`` by a literal, unary minus, ``min``/``max``, the
math functions of `unrollkit.frontend.language`, numeric literals, scalar parameters, local variables
(carried across loop iterations when assigned inside a loop), ``if``/``else`` statements and
``a if c else b`` on comparisons joined by ``and``/``or``/``not``, and a final ``return value``.
Anything else raises `KernelSyntaxError` citing file:line.
"""
from __future__ import annotations

import ast
import inspect
import textwrap

from unrollkit.frontend import descriptor as d
from unrollkit.core.dtypes import ArrayType, ElementType
from unrollkit.core.errors import KernelSyntaxError
from unrollkit.frontend.values import Conditions
from unrollkit.frontend.semantics import value_type, variable_types
from unrollkit.frontend import language
from unrollkit.frontend.reverse_loops import reversed_loop
from unrollkit.frontend.local_arrays import LocalArrays, check_top_level

_AUG = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}
#: the range of MLIR's ``index`` (64 bits here), which every subscript and bound is computed in
INDEX_MIN, INDEX_MAX = -(1 << 63), (1 << 63) - 1
_BIN = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}


def kernel(fn=None, *, name: str | None = None):
    """Decorator: turn a plain Python loop nest into a `Kernel` descriptor.

    >>> @kernel
    ... def saxpy(a: f32, x: f32["N"], y: f32["N"]):
    ...     for i in range(N):
    ...         y[i] += a * x[i]
    """
    if fn is None:
        return lambda f: kernel(f, name=name)
    try:
        lines, first = inspect.getsourcelines(fn)
        filename = inspect.getsourcefile(fn) or "<kernel>"
    except (OSError, TypeError) as exc:
        raise KernelSyntaxError(f"cannot read the source of {fn!r}: {exc}") from None
    source = textwrap.dedent("".join(lines))
    env = dict(fn.__globals__)
    if fn.__closure__:
        env.update(zip(fn.__code__.co_freevars, (c.cell_contents for c in fn.__closure__)))
    return parse_kernel(source, filename=filename, first_line=first, env=env, name=name)


def parse_kernel(source: str, filename: str = "<kernel>", first_line: int = 1, env=None,
                 name: str | None = None) -> d.Kernel:
    """Parse the source text of one ``def`` into a descriptor (used by `kernel` and the CLI)."""
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise KernelSyntaxError(f"invalid Python: {exc.msg}", filename,
                                first_line + (exc.lineno or 1) - 1) from None
    funcs = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
    if len(funcs) != 1:
        raise KernelSyntaxError("expected exactly one function definition", filename, first_line)
    return _Parser(filename, first_line - 1, env or {}).function(funcs[0], name)


class _Parser(Conditions, LocalArrays):
    def __init__(self, filename: str, offset: int, env: dict):
        self.filename, self.offset, self.env = filename, offset, env

    # -- helpers
    def loc(self, node) -> d.Loc:
        return d.Loc(self.filename, self.offset + getattr(node, "lineno", 1))

    def fail(self, node, msg: str):
        raise KernelSyntaxError(msg, self.filename, self.offset + getattr(node, "lineno", 1))

    # -- the function
    def function(self, fn: ast.FunctionDef, name) -> d.Kernel:
        a = fn.args
        if a.vararg or a.kwarg or a.kwonlyargs or a.posonlyargs or a.defaults:
            self.fail(fn, "kernel parameters must be plain positional parameters")
        params, self.sizes, self.local_arrays = [], {}, []
        for arg in a.args:
            params.append(self.param(arg))
        names = [p.name for p in params]
        if len(set(names)) != len(names):
            self.fail(fn, "duplicate parameter names")
        clash = set(self.sizes) & set(names)
        if clash:
            self.fail(fn, f"size name {sorted(clash)[0]!r} is also a parameter name")
        self.scalars = {p.name: p for p in params if not p.is_array}
        self.arrays = {p.name: p for p in params if p.is_array}
        body = fn.body
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                and isinstance(body[0].value.value, str):
            body = body[1:]  # docstring
        ret = body[-1] if body and isinstance(body[-1], ast.Return) else None
        top = set()
        stmts = self.block(body[:-1] if ret else body, loops=(), locals_=top)
        if ret is not None:
            param, store = self.returned(ret, stmts, top, params)
            params.append(param)
            stmts += (store,)
        if not any(isinstance(s, d.Store) for s in d.walk(stmts)):
            self.fail(fn, f"kernel {fn.name!r} stores to no array: it would compute nothing")
        check_top_level(stmts, self.local_arrays)
        variable_types(stmts, self.ptypes(params))  # a variable's type, or file:line
        for lp in (lp for lp in d.walk(stmts) if isinstance(lp, d.Loop) and lp.unroll):
            twins = [o for o in d.walk(stmts) if isinstance(o, d.Loop) and o.name == lp.name
                     and o.unroll != lp.unroll]
            if twins:
                later = max(twins[0], lp, key=lambda x: x.loc.lineno).loc
                raise KernelSyntaxError(
                          f"loops named {lp.name!r} unroll differently in the source; unrolling "
                          f"applies by loop name: give one of them another variable name",
                          later.filename, later.lineno)
        return d.Kernel(name=name or fn.name, params=tuple(params), body=stmts,
                        filename=self.filename, lineno=self.offset + fn.lineno,
                        source=ast.unparse(fn), local_arrays=tuple(self.local_arrays))

    def ptypes(self, params) -> dict:
        """{array or scalar name: element type} of the parameters and local arrays."""
        return {**{p.name: p.elem for p in params}, **{a.name: a.elem for a in self.local_arrays}}

    def returned(self, ret: ast.Return, stmts, top, params):
        """``return value`` → (the hidden 1-element output parameter, the store into it)."""
        if ret.value is None:
            self.fail(ret, "a bare 'return': return a value (return acc) or nothing at all")
        value = self.expr(ret.value, (), top)
        ptypes = self.ptypes(params)
        vtypes = variable_types(stmts, ptypes)
        ltypes = {s.name: vtypes[id(s)] for s in stmts if isinstance(s, d.Let)}
        ty = value_type(value, ptypes, ltypes, self.loc(ret))
        if ty is None:
            self.fail(ret, "the returned value has no element type (only literals and indices): "
                           "return a value computed from the arrays or scalars")
        return (d.Param(d.RETURN_PARAM, ty, (1,)),
                d.Store(d.RETURN_PARAM, (d.Lit(0),), value, self.loc(ret)))

    def param(self, arg: ast.arg) -> d.Param:
        if arg.annotation is None:
            self.fail(arg, f"parameter {arg.arg!r} needs a type annotation, e.g. uk.f32['N'] or uk.f32")
        try:
            ann = eval(compile(ast.Expression(arg.annotation), self.filename, "eval"), dict(self.env))
        except Exception as exc:  # the user's annotation failed to evaluate: report where
            self.fail(arg, f"cannot evaluate the annotation of {arg.arg!r}: {exc}")
        if isinstance(ann, str):
            self.fail(arg, f"annotation of {arg.arg!r} is a string; use uk.f32['N'], not quotes around it")
        if isinstance(ann, ElementType):
            return d.Param(arg.arg, ann, None)
        if isinstance(ann, ArrayType):
            for s in ann.shape:
                if isinstance(s, bool) or not isinstance(s, (str, int)):
                    self.fail(arg, f"shape of {arg.arg!r} must list size names or ints, got {s!r}")
                if isinstance(s, int) and s < 0:
                    self.fail(arg, f"shape of {arg.arg!r} has a negative size {s}")
                if isinstance(s, int) and s > INDEX_MAX:
                    self.fail(arg, f"shape of {arg.arg!r} has the size {s}, outside the 64-bit index range")
                if isinstance(s, str):
                    if not s.isidentifier():
                        self.fail(arg, f"size name {s!r} of {arg.arg!r} is not an identifier")
                    self.sizes.setdefault(s, arg.arg)
            if not ann.shape:
                self.fail(arg, f"array parameter {arg.arg!r} needs at least one dimension")
            # a `uk.sizes` name is its string: the descriptor (and its cache key) are the same
            return d.Param(arg.arg, ann.elem, tuple(str(s) if isinstance(s, str) else s for s in ann.shape))
        self.fail(arg, f"annotation of {arg.arg!r} must be an unrollkit element type "
                       f"(uk.f16, uk.f32, uk.f64, uk.i8, uk.u8, uk.i16, uk.i32, uk.i64, uk.T), "
                       f"optionally with a shape; got {ann!r}")

    # -- statements
    def block(self, nodes, loops, locals_) -> tuple:
        out = []
        for n in nodes:
            out.append(self.stmt(n, loops, locals_))
        return tuple(out)

    def stmt(self, n, loops, locals_):
        if isinstance(n, ast.For):
            return self.loop(n, loops, locals_)
        if isinstance(n, ast.AugAssign):
            op = _AUG.get(type(n.op))
            if op is None:
                self.fail(n, f"unsupported augmented assignment '{type(n.op).__name__}='; "
                             "use =, +=, -=, *= or /=")
            if isinstance(n.target, ast.Name):
                if n.target.id not in locals_:
                    self.fail(n, f"{n.target.id!r} is updated before it is assigned; "
                                 f"assign it first, e.g. {n.target.id} = 0.0")
                val = d.BinOp(op, d.Local(n.target.id), self.expr(n.value, loops, locals_))
                return d.Let(n.target.id, val, self.loc(n))
            if not isinstance(n.target, ast.Subscript):
                self.fail(n, "augmented assignment must target an array element or a local, "
                             "e.g. y[i] += ... or acc += ...")
            arr, idx = self.subscript(n.target, loops, store=True)
            val = d.BinOp(op, d.Load(arr, idx), self.expr(n.value, loops, locals_))
            return d.Store(arr, idx, val, self.loc(n))
        if isinstance(n, ast.Assign):
            if len(n.targets) != 1:
                self.fail(n, "chained assignment (a = b = ...) is not supported")
            if self.is_local_array(n):
                return self.local_array(n, loops, locals_)
            t = n.targets[0]
            val = self.expr(n.value, loops, locals_)
            if isinstance(t, ast.Subscript):
                arr, idx = self.subscript(t, loops, store=True)
                return d.Store(arr, idx, val, self.loc(n))
            if isinstance(t, ast.Name):
                if t.id in self.arrays or t.id in self.scalars or t.id in self.sizes \
                        or t.id in [lp for lp in loops]:
                    self.fail(n, f"cannot assign to {t.id!r}: it is a parameter, size or loop variable")
                locals_.add(t.id)  # defined here, or reassigned (carried by the loops and ifs inside)
                return d.Let(t.id, val, self.loc(n))
            self.fail(n, "assignment target must be an array element or a local name")
        if isinstance(n, ast.If):
            cond = self.cond(n.test, loops, locals_)
            then = self.block(n.body, loops, set(locals_))
            orelse = self.block(n.orelse, loops, set(locals_))
            return d.If(cond, then, orelse, self.loc(n))
        if isinstance(n, ast.Pass):
            self.fail(n, "'pass' in a kernel body: remove it, a kernel must store to an array")
        kind = type(n).__name__
        hint = {"While": "while loops are not supported; use for ... in range(...)",
                "Return": "'return value' may only be the last statement of the kernel, "
                          "outside every loop and if",
                "Expr": "expression statements have no effect",
                "AnnAssign": "annotated assignments are not supported"}.get(kind, "")
        self.fail(n, f"unsupported statement '{kind}'" + (f": {hint}" if hint else ""))

    def loop(self, n: ast.For, loops, locals_) -> d.Loop:
        if n.orelse:
            self.fail(n, "for ... else is not supported")
        if not isinstance(n.target, ast.Name):
            self.fail(n, "the loop variable must be a single name")
        var = n.target.id
        if var in loops:
            self.fail(n, f"loop variable {var!r} shadows an enclosing loop variable")
        if var in self.arrays or var in self.scalars or var in self.sizes:
            self.fail(n, f"loop variable {var!r} shadows a parameter or size name")
        it, unroll = self.unroll_of(n, var)
        if not (isinstance(it, ast.Call) and isinstance(it.func, ast.Name) and it.func.id == "range"
                and not it.keywords and 1 <= len(it.args) <= 3):
            self.fail(n, "a loop must iterate over range(hi), range(lo, hi) or range(lo, hi, step)"
                         " (or uk.range(..., unroll=n), uk.unroll(range(...)))")
        args = it.args
        step = self.step(args[2]) if len(args) == 3 else 1
        if len(args) == 1:
            lo, hi = (d.Lit(0),), self.bound(args[0], loops, "min")
        elif step < 0:  # range(start, stop, -s): the start is the high end; one of each
            lo, hi = (self.affine(args[0], loops),), (self.affine(args[1], loops),)
        else:
            lo, hi = self.bound(args[0], loops, "max"), self.bound(args[1], loops, "min")
        body = self.block(n.body, loops + (var,), set(locals_))
        if step < 0:
            lp = reversed_loop(var, lo[0], hi[0], step, body, name=var, loc=self.loc(n), unroll=unroll)
        else:
            lp = d.Loop(var, lo, hi, step, body, name=var, loc=self.loc(n), unroll=unroll)
        if unroll == d.FULL and d.trip_count(lp) is None:
            self.fail(n, f"uk.unroll(...) of loop {var!r} needs a trip count known when the kernel "
                         f"is defined (literal bounds or global int constants), not "
                         f"'{ast.unparse(it)}'; use uk.range(..., unroll=n) for a partial unroll")
        return lp

    def step(self, s) -> int:
        """The step of ``range(lo, hi, step)``: a nonzero int literal (or global constant)."""
        try:
            step = ast.literal_eval(s)
        except ValueError:
            step = self.env.get(s.id) if isinstance(s, ast.Name) else None
        if type(step) is not int:
            self.fail(s, f"the loop step must be an integer literal or global constant, not "
                         f"'{ast.unparse(s)}' (a step is never a runtime value)")
        if step == 0:
            self.fail(s, "the loop step must not be zero (range() would raise ValueError)")
        if abs(step) > INDEX_MAX:
            self.fail(s, f"the loop step {step} is outside the 64-bit index range")
        return step

    def unroll_of(self, n: ast.For, var: str):
        """(the ``range(...)`` call, `d.Loop.unroll`) of ``uk.unroll(range(...))``,
        ``uk.range(..., unroll=n)`` or a plain ``range(...)``."""
        it = n.iter
        if not isinstance(it, ast.Call):
            return it, 0
        fn = self.named_object(it.func)
        if fn is language.unroll:
            if len(it.args) != 1 or it.keywords:
                self.fail(n, f"uk.unroll takes one range(...): for {var} in uk.unroll(range(4))")
            return it.args[0], d.FULL
        if fn is not language.range:
            return it, 0
        extra = [k for k in it.keywords if k.arg != "unroll"]
        if extra:
            self.fail(n, f"uk.range takes the keyword unroll=, not {extra[0].arg}=")
        count = 1
        for k in it.keywords:
            try:
                count = ast.literal_eval(k.value)
            except ValueError:
                count = self.env.get(k.value.id) if isinstance(k.value, ast.Name) else None
            if type(count) is not int or count < 1:
                self.fail(n, f"the unroll count of loop {var!r} must be a positive int known when the "
                             f"kernel is defined (a literal or global constant), not "
                             f"'{ast.unparse(k.value)}': an unroll count is never a runtime value")
        return ast.Call(func=ast.Name("range"), args=it.args, keywords=[]), count if count > 1 else 0

    def named_object(self, node):
        """The object an expression ``name`` or ``module.name`` refers to in the kernel's globals."""
        if isinstance(node, ast.Name):
            return self.env.get(node.id)
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            return getattr(self.env.get(node.value.id), node.attr, None)
        return None

    def bound(self, node, loops, kind: str) -> tuple:
        """A loop bound: an affine expression, or min(...) for an upper / max(...) for a lower one."""
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("min", "max"):
            if node.func.id != kind:
                which = "upper" if kind == "min" else "lower"
                self.fail(node, f"a {which} bound may use {kind}(...), not {node.func.id}(...)")
            if len(node.args) < 2 or node.keywords:
                self.fail(node, f"{kind}() in a bound needs at least two arguments")
            return tuple(e for a in node.args for e in self.bound(a, loops, kind))
        return (self.affine(node, loops),)

    def subscript(self, node: ast.Subscript, loops, store=False):
        if not isinstance(node.value, ast.Name):
            self.fail(node, "only parameter arrays can be subscripted, e.g. A[i, j]")
        name = node.value.id
        if name not in self.arrays:
            what = "a scalar" if name in self.scalars else "not an array parameter"
            self.fail(node, f"{name!r} is {what}; cannot subscript it")
        sl = node.slice
        items = sl.elts if isinstance(sl, ast.Tuple) else [sl]
        for it in items:
            if isinstance(it, ast.Slice):
                self.fail(node, f"slices are not supported in {name}[...]; index one element per dimension")
        rank = len(self.arrays[name].shape)
        if len(items) != rank:
            self.fail(node, f"{name} has {rank} dimension(s) but is indexed with {len(items)}")
        return name, tuple(self.affine(it, loops) for it in items)

    # -- affine index expressions
    def affine(self, node, loops) -> d.Aff:
        """An index or bound; every constant in it (folded) must fit the 64-bit index type:
        ``range(2**64 + 3)`` reached the bounds proof and MLIR as a raw TypeError."""
        e = self._affine(node, loops)
        form = d.aff_linear(e)
        numbers = [form[1], *form[0].values()] if form is not None else _aff_numbers(e)
        big = next((x for x in numbers if not INDEX_MIN <= x <= INDEX_MAX), None)
        if big is not None:
            text = ast.unparse(node)
            what = f"the index {big} is" if text == str(big) else f"'{text}' has the constant {big},"
            self.fail(node, f"{what} outside the 64-bit index range ({INDEX_MIN} to {INDEX_MAX})")
        return e

    def _affine(self, node, loops) -> d.Aff:
        if isinstance(node, ast.Constant) and type(node.value) is int:
            return d.Lit(node.value)
        if isinstance(node, ast.Name):
            if node.id in loops or node.id in self.sizes:
                return d.Var(node.id)
            g = self.env.get(node.id)
            if type(g) is int:
                return d.Lit(g)
            if node.id in self.scalars:
                elem = self.scalars[node.id].elem
                if elem.is_float or elem.is_generic:
                    self.fail(node, f"scalar parameter {node.id!r} ({elem.name}) cannot be used in an "
                                    "index or bound; only an integer one can (e.g. tsteps: uk.i64)")
                return d.Var(node.id)  # an index scalar: its value specialises the compile
            if isinstance(g, str):  # a uk.sizes() name no array's shape uses
                self.fail(node, f"size {node.id!r} is not a dimension of any array parameter: "
                                f"name it in a shape, e.g. x: uk.f32[{node.id}]")
            self.fail(node, f"unknown name {node.id!r} in an index or bound")
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return d.aff_mul(self._affine(node.operand, loops), -1)
        if isinstance(node, ast.BinOp):
            if isinstance(node.op, (ast.Add, ast.Sub)):
                a, b = self._affine(node.left, loops), self._affine(node.right, loops)
                return d.aff_add(a, b if isinstance(node.op, ast.Add) else d.aff_mul(b, -1))
            if isinstance(node.op, ast.Mult):
                a, b = self._affine(node.left, loops), self._affine(node.right, loops)
                if isinstance(a, d.Lit):
                    return d.aff_mul(b, a.value)
                if isinstance(b, d.Lit):
                    return d.aff_mul(a, b.value)
                self.fail(node, "index expression is not affine: a product of two variables")
            if isinstance(node.op, (ast.FloorDiv, ast.Mod)):
                a, b = self._affine(node.left, loops), self._affine(node.right, loops)
                op = "//" if isinstance(node.op, ast.FloorDiv) else "%"
                if not isinstance(b, d.Lit) or b.value <= 0:
                    self.fail(node, f"{op} in an index or bound needs a positive integer literal divisor")
                q = d.aff_subst(d.FloorDiv(a, b.value), {})
                # Python's a % c for c > 0 is a - (a // c) * c, in [0, c): affine's mod
                return q if op == "//" else d.aff_add(a, d.aff_mul(q, -b.value))
        self.fail(node, f"unsupported index expression '{ast.unparse(node)}': "
                        "use sums of loop variables and sizes times integer constants")

    # -- value expressions
    def expr(self, node, loops, locals_) -> d.Expr:
        if isinstance(node, ast.Constant):
            v = node.value
            if type(v) in (int, float):
                return d.Const(v)
            self.fail(node, f"unsupported literal {v!r}: only int and float literals")
        if isinstance(node, ast.Name):
            n = node.id
            if n in locals_:
                return d.Local(n)
            if n in self.scalars:
                return d.Scalar(n)
            if n in loops or n in self.sizes:
                return d.Index(d.Var(n))
            if n in self.arrays:
                self.fail(node, f"array {n!r} used as a value; index it, e.g. {n}[i]")
            g = self.env.get(n)
            if type(g) in (int, float):
                return d.Const(g)
            self.fail(node, f"unknown name {n!r}")
        if isinstance(node, ast.Subscript):
            arr, idx = self.subscript(node, loops)
            return d.Load(arr, idx)
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.USub):
                if isinstance(node.operand, ast.Constant) and type(node.operand.value) in (int, float):
                    return d.Const(-node.operand.value)  # one literal: -2147483648 is an i32
                return d.Neg(self.expr(node.operand, loops, locals_))
            if isinstance(node.op, ast.UAdd):
                return self.expr(node.operand, loops, locals_)
        if isinstance(node, ast.BinOp) and type(node.op) in _BIN:
            return d.BinOp(_BIN[type(node.op)], self.expr(node.left, loops, locals_),
                           self.expr(node.right, loops, locals_))
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
            return self.power(node, loops, locals_)
        if isinstance(node, ast.IfExp):
            return d.Select(self.cond(node.test, loops, locals_), self.expr(node.body, loops, locals_),
                            self.expr(node.orelse, loops, locals_))
        if isinstance(node, (ast.Compare, ast.BoolOp)) or \
                (isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not)):
            self.fail(node, f"the condition '{ast.unparse(node)}' is used as a value; conditions "
                            "go in 'if' statements and 'a if cond else b'")
        to = self.named_object(node.func) if isinstance(node, ast.Call) else None
        if isinstance(to, ElementType):
            return self.conversion(node, to, loops, locals_)
        fn = self.math_function(node.func) if isinstance(node, ast.Call) else None
        if fn is not None:
            if len(node.args) != 1 or node.keywords:
                self.fail(node, f"{ast.unparse(node.func)}() takes exactly one argument")
            return d.Math(fn, self.expr(node.args[0], loops, locals_))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("min", "max"):
            if len(node.args) < 2 or node.keywords:
                self.fail(node, f"{node.func.id}() needs at least two arguments")
            vals = [self.expr(a, loops, locals_) for a in node.args]
            out = vals[0]
            for v in vals[1:]:
                out = d.BinOp(node.func.id, out, v)
            return out
        if isinstance(node, ast.Call):
            fname = ast.unparse(node.func)
            self.fail(node, f"call to {fname}() is not supported in a kernel; only min(), max(), "
                            f"the math functions uk.{', uk.'.join(d.MATH_FUNCTIONS)} and the "
                            "conversions uk.f32(x), uk.i32(x), ...")
        if isinstance(node, ast.BinOp):
            self.fail(node, f"operator '{type(node.op).__name__}' is not supported; use + - * / ** min max")
        self.fail(node, f"unsupported expression '{ast.unparse(node)}'")


def _aff_numbers(e: d.Aff) -> list:
    """Every constant in an affine expression (literals, coefficients, divisors)."""
    if isinstance(e, d.Lit):
        return [e.value]
    if isinstance(e, d.Add):
        return _aff_numbers(e.lhs) + _aff_numbers(e.rhs)
    if isinstance(e, d.Mul):
        return _aff_numbers(e.lhs) + [e.coeff]
    if isinstance(e, d.FloorDiv):
        return _aff_numbers(e.lhs) + [e.divisor]
    return []
