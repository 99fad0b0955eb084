"""Python function → kernel descriptor.

The subset: nested ``for v in range(lo, hi[, step])`` with affine bounds (outer loop variables,
sizes, ``min``/``max``), subscripted array loads and stores with affine subscripts, ``=``,
``+=``, ``-=``, ``*=``, ``+ - * /``, unary minus, ``min``/``max``, numeric literals, scalar
parameters and local temporaries. Anything else raises `KernelSyntaxError` citing file:line.
"""
from __future__ import annotations

import ast
import inspect
import textwrap

from . import descriptor as d
from .dtypes import ArrayType, ElementType
from .errors import KernelSyntaxError

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


class _Parser:
    def __init__(self, filename: str, offset: int, env: dict):
        self.filename, self.offset, self.env = filename, offset, env
        self.inherited = [frozenset()]  # locals visible from enclosing scopes, per loop depth

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
        params, self.sizes = [], {}
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
        stmts = self.block(body, loops=(), locals_=set())
        if not any(isinstance(s, d.Store) for s in d.walk(stmts)):
            self.fail(fn, f"kernel {fn.name!r} stores to no array: it would compute nothing")
        return d.Kernel(name=name or fn.name, params=tuple(params), body=stmts,
                        filename=self.filename, lineno=self.offset + fn.lineno,
                        source=ast.unparse(fn))

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
            return d.Param(arg.arg, ann.elem, tuple(ann.shape))
        self.fail(arg, f"annotation of {arg.arg!r} must be an unrollkit element type "
                       f"(uk.f32, uk.f64, uk.i32, uk.i64, uk.T), optionally with a shape; got {ann!r}")

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
            if not isinstance(n.target, ast.Subscript):
                self.fail(n, "augmented assignment must target an array element, e.g. y[i] += ...")
            arr, idx = self.subscript(n.target, loops, store=True)
            val = d.BinOp(op, d.Load(arr, idx), self.expr(n.value, loops, locals_))
            return d.Store(arr, idx, val, self.loc(n))
        if isinstance(n, ast.Assign):
            if len(n.targets) != 1:
                self.fail(n, "chained assignment (a = b = ...) is not supported")
            t = n.targets[0]
            val = self.expr(n.value, loops, locals_)
            if isinstance(t, ast.Subscript):
                arr, idx = self.subscript(t, loops, store=True)
                return d.Store(arr, idx, val, self.loc(n))
            if isinstance(t, ast.Name):
                if t.id in self.arrays or t.id in self.scalars or t.id in self.sizes \
                        or t.id in [lp for lp in loops]:
                    self.fail(n, f"cannot assign to {t.id!r}: it is a parameter, size or loop variable")
                if t.id in self.inherited[-1]:
                    self.fail(n, f"{t.id!r} is assigned inside a loop but defined outside it: a "
                                 "loop-carried scalar is not supported; accumulate into an array "
                                 "element (e.g. out[0] += ...) instead")
                locals_.add(t.id)
                return d.Let(t.id, val, self.loc(n))
            self.fail(n, "assignment target must be an array element or a local name")
        if isinstance(n, ast.Pass):
            self.fail(n, "'pass' in a kernel body: remove it, a kernel must store to an array")
        kind = type(n).__name__
        hint = {"If": "conditionals are not supported; use min/max in bounds or values",
                "While": "while loops are not supported; use for ... in range(...)",
                "Return": "kernels write their results into arrays and return nothing",
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
        it = n.iter
        if not (isinstance(it, ast.Call) and isinstance(it.func, ast.Name) and it.func.id == "range"
                and not it.keywords and 1 <= len(it.args) <= 3):
            self.fail(n, "a loop must iterate over range(hi), range(lo, hi) or range(lo, hi, step)")
        args = it.args
        if len(args) == 1:
            lo, hi, step = (d.Lit(0),), self.bound(args[0], loops, "min"), 1
        else:
            lo, hi = self.bound(args[0], loops, "max"), self.bound(args[1], loops, "min")
            step = 1
            if len(args) == 3:
                s = args[2]
                try:
                    step = ast.literal_eval(s)
                except ValueError:
                    step = None
                if type(step) is not int:
                    self.fail(s, "the loop step must be a positive integer literal")
                if step <= 0:
                    self.fail(s, f"the loop step must be positive, got {step}")
                if step > INDEX_MAX:
                    self.fail(s, f"the loop step {step} is outside the 64-bit index range")
        self.inherited.append(frozenset(locals_))
        body = self.block(n.body, loops + (var,), set(locals_))
        self.inherited.pop()
        return d.Loop(var, lo, hi, step, body, name=var, loc=self.loc(n))

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
                self.fail(node, f"scalar parameter {node.id!r} cannot be used in an index or bound; "
                                "sizes come from array shapes")
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
            if isinstance(node.op, ast.FloorDiv):
                a, b = self._affine(node.left, loops), self._affine(node.right, loops)
                if not isinstance(b, d.Lit) or b.value <= 0:
                    self.fail(node, "// in an index needs a positive integer literal divisor")
                return d.FloorDiv(a, b.value)
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
                if isinstance(node.operand, ast.Constant) and type(node.operand.value) is int:
                    return d.Const(-node.operand.value)  # one literal: -2147483648 is an i32
                return d.Neg(self.expr(node.operand, loops, locals_))
            if isinstance(node.op, ast.UAdd):
                return self.expr(node.operand, loops, locals_)
        if isinstance(node, ast.BinOp) and type(node.op) in _BIN:
            return d.BinOp(_BIN[type(node.op)], self.expr(node.left, loops, locals_),
                           self.expr(node.right, loops, locals_))
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
            self.fail(node, f"call to {fname}() is not supported in a kernel; only min() and max()")
        if isinstance(node, ast.BinOp):
            self.fail(node, f"operator '{type(node.op).__name__}' is not supported; use + - * / min max")
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
