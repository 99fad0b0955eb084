"""User passes: a Python function over the module, registered under a name, usable in pipeline
text like any built-in pass.

    import unrollkit.passes as P

    @P.function_pass("strip-names")
    def strip_names(module, prefix: str = ""):
        '''Remove uk.name from loops whose name starts with ``prefix``.'''
        ...

    uk.jit(kernel, pipeline="tile{i=32},strip-names{prefix=i}")

The function takes the ``mlir.ir.Module`` (to change in place) and keyword options with
defaults (bool, int, str: their types come from the annotations or the defaults); they become
the pass's options, checked when the pipeline is parsed. An exception inside the function
becomes a `TransformError` naming the pass.

The disk cache keys a compile on what its user passes do (`fingerprint`: the function's code,
constants, closure, defaults and the globals it names), so a function edited between runs is
recompiled; a pass the hash cannot see into keeps its pipelines out of the disk cache.
"""
from __future__ import annotations

import dataclasses
import inspect
import types

from unrollkit.core.code_hash import function_digest
from unrollkit.core.errors import TransformError, UnrollkitError

from .base import REGISTRY, Pass

_USER: set = set()


def register_function(name: str, fn=None, *, replace: bool = False):
    """Make ``fn(module, **options)`` a pass called ``name``; usable as a decorator without fn."""
    if fn is None:
        return lambda f: register_function(name, f, replace=replace)
    if not callable(fn):
        raise TypeError(f"register_function({name!r}, ...) needs a callable, got {type(fn).__name__}")
    if name in REGISTRY and not (replace and name in _USER):
        raise ValueError(f"pass {name!r} is already registered"
                         + ("; pass replace=True to redefine it" if name in _USER else " (a built-in pass)"))
    params = list(inspect.signature(fn).parameters.values())
    if not params:
        raise TypeError(f"pass function {name!r} must take the module as its first argument")
    fields = []
    for p in params[1:]:
        if p.default is inspect.Parameter.empty:
            raise TypeError(f"option {p.name!r} of pass function {name!r} needs a default value")
        ty = p.annotation if p.annotation in (bool, int, str) else type(p.default)
        if ty not in (bool, int, str):
            raise TypeError(f"option {p.name!r} of pass function {name!r} must be bool, int or str")
        fields.append((p.name, ty, dataclasses.field(default=p.default)))

    def apply(self, module, _fn=fn, _name=name):
        try:
            _fn(module, **{f.name: getattr(self, f.name) for f in dataclasses.fields(self)})
        except UnrollkitError:
            raise
        except Exception as exc:  # noqa: BLE001 - the user's code: report it with the pass name
            raise TransformError(f"user pass {_name!r} failed: {type(exc).__name__}: {exc}") from exc

    cls_name = "User_" + "".join(c if c.isalnum() else "_" for c in name)
    cls = dataclasses.make_dataclass(cls_name, fields, bases=(Pass,), frozen=True,
                                     namespace={"name": name, "apply": apply,
                                                "user_function": staticmethod(fn),
                                                "__doc__": inspect.getdoc(fn) or f"User pass {name!r}."})
    cls.__module__ = getattr(fn, "__module__", __name__)
    REGISTRY[name] = cls
    _USER.add(name)
    return fn


def function_pass(name: str, *, replace: bool = False):
    """Decorator form of `register_function`."""
    return register_function(name, replace=replace)


def unregister(name: str) -> None:
    """Remove a user pass (built-in passes cannot be removed)."""
    if name not in _USER:
        raise ValueError(f"{name!r} is not a user pass")
    _USER.discard(name)
    del REGISTRY[name]


def is_user_pass(name: str) -> bool:
    """Whether ``name`` is a user pass (`register_function`), not a built-in one."""
    return name in _USER


def fingerprint(pipeline) -> str | None:
    """A digest of what the user passes of ``pipeline`` do ("" when it has none), or None when
    one cannot be hashed reliably (then the caller must not use the disk cache).

    User passes are those made by `register_function` and any pass class defined outside
    unrollkit (registered with `register`): built-in passes are covered by unrollkit's version."""
    parts = []
    for p in pipeline.passes:
        cls = type(p)
        fn = cls.__dict__.get("user_function")
        if fn is not None:
            digest = function_digest(fn.__func__ if isinstance(fn, staticmethod) else fn)
        elif cls.__module__.startswith("unrollkit."):
            continue
        else:  # a Pass subclass of the user's: every function its classes define
            own = [c for c in cls.__mro__ if not c.__module__.startswith(("unrollkit.", "builtins"))]
            digest = function_digest([v for c in own for v in vars(c).values()
                                      if isinstance(v, types.FunctionType)])
        if digest is None:
            return None
        parts.append(f"{p.name}:{digest}")
    return ",".join(parts)
