"""A hash of what a Python function does, for cache keys over user code (user passes).

The hash covers the function's code object (bytecode, names, constants — nested functions'
code included), its defaults, the contents of its closure cells, and the values of the globals
its code names: plain values by ``repr``, functions recursively, modules and classes by name
when they are installed (the standard library, site-packages, unrollkit itself). Anything it
cannot see into — an object whose ``repr`` is not its content, a module or class of the user's
own source tree — makes the function *unhashable*: `function_digest` returns None and the
caller must not cache (a stale hash would serve old machine code for new code).
"""
from __future__ import annotations

import enum
import hashlib
import os
import sys
import sysconfig
import types

#: values whose ``repr`` is their whole content
_PLAIN = (type(None), bool, int, float, complex, str, bytes, type(Ellipsis))


class Unhashable(Exception):
    """A value the digest cannot see into."""


def function_digest(fn) -> str | None:
    """SHA-256 (hex) over what ``fn`` does, or None when it cannot be hashed reliably."""
    h = hashlib.sha256()
    try:
        _Digest(h).value(fn)
    except (Unhashable, RecursionError):
        return None
    return h.hexdigest()


def _installed_roots() -> tuple:
    paths = sysconfig.get_paths()
    roots = {os.path.realpath(paths[k]) for k in ("stdlib", "platstdlib", "purelib", "platlib")
             if k in paths}
    return tuple(r + os.sep for r in roots)


_ROOTS = _installed_roots()


def installed(module_name: str) -> bool:
    """Whether module ``module_name`` is part of Python, an installed package, or unrollkit."""
    top = module_name.partition(".")[0]
    if top == "unrollkit" or top in sys.builtin_module_names:
        return True
    module = sys.modules.get(module_name) or sys.modules.get(top)
    f = getattr(module, "__file__", None)
    if module is None or f is None:
        return False
    return os.path.realpath(f).startswith(_ROOTS)


class _Digest:
    def __init__(self, h):
        self.h, self.seen = h, {}

    def put(self, *parts) -> None:
        for p in parts:
            self.h.update(repr(p).encode())
            self.h.update(b"\0")

    def value(self, v) -> None:
        if isinstance(v, _PLAIN):
            self.put(type(v).__name__, v)
        elif isinstance(v, (tuple, list)):
            self.put(type(v).__name__, len(v))
            for x in v:
                self.value(x)
        elif isinstance(v, (frozenset, set)):
            # element order follows string hashing, which changes per process: sort digests
            self.put(type(v).__name__, sorted(function_digest_of_value(x) for x in v))
        elif isinstance(v, dict):
            self.put("dict", len(v))
            for k, x in sorted(v.items(), key=lambda kv: repr(kv[0])):
                self.value(k)
                self.value(x)
        elif isinstance(v, types.FunctionType):
            self.function(v)
        elif isinstance(v, types.CodeType):
            self.code(v)
        elif isinstance(v, types.MethodType):
            self.value(v.__func__)
            self.value(v.__self__)
        elif isinstance(v, enum.Enum):
            self.value(type(v))
            self.put(v.name)
        elif isinstance(v, types.ModuleType):
            self.named("module", v.__name__, v.__name__)
        elif isinstance(v, (type, types.BuiltinFunctionType)):
            self.named(type(v).__name__, getattr(v, "__module__", None) or "", v.__qualname__)
        else:
            raise Unhashable(f"{type(v).__name__} value")

    def named(self, kind: str, module: str, name: str) -> None:
        if not installed(module):
            raise Unhashable(f"{kind} {name} of the user's module {module}")
        version = getattr(sys.modules.get(module.partition(".")[0]), "__version__", "")
        self.put(kind, module, name, str(version))

    def function(self, fn) -> None:
        if id(fn) in self.seen:
            self.put("seen", self.seen[id(fn)])
            return
        self.seen[id(fn)] = len(self.seen)
        self.put("function", fn.__qualname__)
        self.code(fn.__code__)
        self.value(fn.__defaults__)
        self.value(fn.__kwdefaults__)
        cells = fn.__closure__ or ()
        try:
            self.value(tuple(c.cell_contents for c in cells))
        except ValueError:  # an empty cell (a name assigned later in the enclosing function)
            raise Unhashable("empty closure cell") from None
        names = sorted(_global_names(fn.__code__))
        g = fn.__globals__
        for name in names:
            if name in g:
                self.put("global", name)
                self.value(g[name])

    def code(self, co) -> None:
        self.put("code", co.co_code, co.co_names, co.co_varnames, co.co_freevars, co.co_cellvars,
                 co.co_argcount, co.co_posonlyargcount, co.co_kwonlyargcount, co.co_flags)
        for c in co.co_consts:
            self.value(c)


def function_digest_of_value(v) -> str:
    """The digest of one value alone (for order-free containers)."""
    h = hashlib.sha256()
    _Digest(h).value(v)
    return h.hexdigest()


def _global_names(co) -> set:
    names = set(co.co_names)
    for c in co.co_consts:
        if isinstance(c, types.CodeType):
            names |= _global_names(c)
    return names
