"""Local arrays of a kernel: ``z = uk.zeros(N, T)`` (durbin's ``DATA_TYPE z[N]``).

Spelled as numpy's ``np.zeros(shape, dtype)``: ``shape`` one size expression or a tuple of them
(sizes, int literals and global int constants, integer scalar parameters: known when the call
is compiled, so the shape is static like a parameter's), ``dtype`` an element type (``T``: the
type the call binds T to, as in ``T(x)``). Declared at the kernel's top level (outside every
loop and ``if``), once per name. Zeros, not ``np.empty``'s undefined values: an element read
before it is written has one value, the interpreter's.

* The descriptor keeps it as a `d.LocalArray` of the kernel, and the declaration becomes a
  loop nest that stores 0 into every element (``z.fill0`` ...), an ordinary part of the body.
* The call's `Signature` gets its element type and shape (`with_local_arrays`), so the type
  checks, the bounds proof (every access to ``z`` proved in bounds as a parameter's is) and
  the cache key see it as they see a parameter.
* It is lowered to a ``memref.alloca`` at the function's entry (`unrollkit.ir.lower_affine`):
  per call, per thread, freed on return. A stack array is limited to `MAX_LOCAL_BYTES` in all
  (a larger one is refused when the call is compiled: pass it as a parameter).
"""
from __future__ import annotations

import ast
import dataclasses

from unrollkit.core.dtypes import ElementType
from unrollkit.core.errors import KernelSyntaxError
from unrollkit.frontend import descriptor as d
from unrollkit.frontend import language

#: the most bytes a kernel's local arrays may take together (they live on the stack)
MAX_LOCAL_BYTES = 1 << 20


class LocalArrays:
    """The frontend's ``z = uk.zeros(shape, dtype)`` (a mixin of `frontend.parse._Parser`,
    which supplies ``fail``, ``loc``, ``affine``, ``named_object``, ``arrays``, ``scalars``,
    ``sizes``, ``env`` and ``local_arrays``)."""

    def is_local_array(self, n: ast.Assign) -> bool:
        """Whether assignment ``n`` declares a local array (its value calls ``uk.zeros``)."""
        return isinstance(n.value, ast.Call) and self.named_object(n.value.func) is language.zeros

    def local_array(self, n: ast.Assign, loops, locals_) -> d.Loop:
        """Register the local array ``n`` declares; returns its zero-fill loop nest."""
        t = n.targets[0] if len(n.targets) == 1 else None
        if not isinstance(t, ast.Name):
            self.fail(n, "a local array is declared by one name: z = uk.zeros(N, T)")
        name, call = t.id, n.value
        if loops:
            self.fail(n, f"local array {name!r} is declared inside a loop: declare it at the "
                         "kernel's top level (it is allocated once per call)")
        if name in self.arrays or name in self.scalars or name in self.sizes or name in locals_:
            self.fail(n, f"local array {name!r} reuses the name of a parameter, size, local or "
                         "another local array")
        shape_node, dtype_node = self._zeros_arguments(n, call)
        dims = shape_node.elts if isinstance(shape_node, ast.Tuple) else [shape_node]
        if not dims:
            self.fail(n, f"local array {name!r} needs at least one dimension")
        shape = tuple(self._size_expression(name, dim) for dim in dims)
        elem = self.named_object(dtype_node)
        if not isinstance(elem, ElementType):
            self.fail(n, f"the element type of local array {name!r} must be uk.f32, uk.T, ..., "
                         f"not '{ast.unparse(dtype_node)}'")
        like = None
        if elem.is_generic:
            like = next((p.name for p in self.arrays.values() if p.elem.is_generic), None)
            if like is None:
                self.fail(n, f"local array {name!r} of type T, but no array parameter has type T "
                             "to bind it: give it a named type such as uk.f64")
        la = d.LocalArray(name, elem, shape, like, self.loc(n))
        self.local_arrays.append(la)
        self.arrays[name] = d.Param(name, elem, shape)  # subscripted like a parameter
        return fill_nest(la)

    def _zeros_arguments(self, n, call: ast.Call) -> tuple:
        """(shape, dtype) of ``uk.zeros(shape, dtype)`` or ``uk.zeros(shape, dtype=...)``."""
        args = list(call.args) + [k.value for k in call.keywords if k.arg == "dtype"]
        if len(args) != 2 or any(k.arg != "dtype" for k in call.keywords):
            self.fail(n, "uk.zeros takes a shape and an element type: uk.zeros(N, T) or "
                         "uk.zeros((N, M), uk.f64)")
        return args[0], args[1]

    def _size_expression(self, name: str, node) -> d.Aff:
        """One dimension: affine in sizes, int literals, global int constants and integer
        scalar parameters (all known when the call compiles), else file:line."""
        for x in ast.walk(node):
            ok = not isinstance(x, ast.Name) or x.id in self.sizes or type(self.env.get(x.id)) is int \
                or (x.id in self.scalars and not self.scalars[x.id].elem.is_float
                    and not self.scalars[x.id].elem.is_generic)
            if not ok:
                self.fail(node, f"the size of local array {name!r} must be a size expression (sizes, "
                                f"int literals and constants, integer scalar parameters), not "
                                f"'{ast.unparse(node)}'")
        return self.affine(node, ())


def fill_nest(la: d.LocalArray) -> d.Loop:
    """``for z.fill0 in range(N0): ... z[...] = 0``: the zeros of a local array."""
    vars_ = [f"{la.name}.fill{k}" for k in range(len(la.shape))]
    body = (d.Store(la.name, tuple(d.Var(v) for v in vars_), d.Const(0), la.loc),)
    for v, extent in reversed(list(zip(vars_, la.shape))):
        body = (d.Loop(v, (d.Lit(0),), (extent,), 1, body, name=v, loc=la.loc),)
    return body[0]


def check_top_level(kernel_body: tuple, local_arrays: list) -> None:
    """Each local array's fill nest is a top-level statement (not inside an ``if``)."""
    top = {s.name for s in kernel_body if isinstance(s, d.Loop)}
    for la in local_arrays:
        if f"{la.name}.fill0" not in top:
            raise KernelSyntaxError(f"local array {la.name!r} is declared inside an 'if': declare "
                                    "it at the kernel's top level", la.loc.filename, la.loc.lineno)


def with_local_arrays(kernel, sig, sizes: dict):
    """``sig`` with the element type and shape of each of ``kernel``'s local arrays at
    ``sizes`` (refused at the declaration's file:line when negative or too large)."""
    if not kernel.local_arrays:
        return sig
    types = dict(sig.types)
    new_types, new_shapes, total = [], [], 0
    for la in kernel.local_arrays:
        ty = types[la.like] if la.like is not None else la.elem.name
        shape = tuple(d.aff_eval(e, sizes) for e in la.shape)
        loc = la.loc
        if min(shape) < 0:
            raise KernelSyntaxError(f"local array {la.name!r} would have the shape {shape} at these "
                                    "sizes: a dimension is negative", loc.filename, loc.lineno)
        count = 1
        for s in shape:
            count *= s
        total += count * ElementType(ty).bits // 8
        if total > MAX_LOCAL_BYTES:
            raise KernelSyntaxError(f"local arrays up to {la.name!r} take {total} bytes at these sizes, "
                                    f"more than the {MAX_LOCAL_BYTES} a kernel may keep on the stack: "
                                    "pass a larger one as an array parameter", loc.filename, loc.lineno)
        new_types.append((la.name, ty))
        new_shapes.append((la.name, shape))
    return dataclasses.replace(sig, types=sig.types + tuple(new_types),
                               shapes=sig.shapes + tuple(new_shapes))
