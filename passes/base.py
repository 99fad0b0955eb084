"""The pass protocol and the registry."""
from __future__ import annotations

import dataclasses
import os
from typing import ClassVar

from unrollkit.errors import CodeSizeError

REGISTRY: dict = {}

#: How many operations a pass may leave in one function. Unrolling multiplies code: a
#: 16-deep full unroll of a tile loop produced 31 MB of IR upstream and never finished.
DEFAULT_MAX_OPS = 50_000


def max_ops() -> int:
    return int(os.environ.get("UNROLLKIT_MAX_OPS", DEFAULT_MAX_OPS))


def register(cls):
    """Class decorator: make ``cls`` (a frozen dataclass with a ``name``) usable by name."""
    if cls.name in REGISTRY:
        raise ValueError(f"pass {cls.name!r} registered twice")
    doc = cls.__doc__ or ""
    if not doc or doc.startswith(cls.__name__ + "("):  # dataclass's generated signature
        import sys
        cls.__doc__ = sys.modules[cls.__module__].__doc__  # one pass per file: the file's doc
    REGISTRY[cls.name] = cls
    return cls


@dataclasses.dataclass(frozen=True)
class Pass:
    name: ClassVar[str] = ""
    #: may remove loops as a side effect (a full unroll): a later pass naming such a loop then
    #: does nothing instead of failing (see `unrollkit.ir_utils.vanished`)
    removes_loops: ClassVar[bool] = False

    def apply(self, module) -> None:  # pragma: no cover - every pass overrides it
        raise NotImplementedError

    @classmethod
    def options(cls) -> dict:
        """Option name → (type, default)."""
        return {f.name: (f.type, f.default) for f in dataclasses.fields(cls)}

    def text(self) -> str:
        """The pass in pipeline text form, e.g. ``unroll{factor=4,loop=k}``; defaults omitted."""
        opts = []
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if v != f.default:
                opts.append(f"{f.name.replace('_', '-')}={_fmt(self.name, f.name, v)}")
        return self.name + ("{" + ",".join(opts) + "}" if opts else "")


_RESERVED = set(",{}=: \t\n")


def _fmt(pname: str, key: str, v) -> str:
    """An option value in pipeline text; refuses values the text form could not parse back."""
    if isinstance(v, bool):
        return "true" if v else "false"
    items = [str(x) for x in v] if isinstance(v, tuple) else [str(v)]
    for x in items:
        if not x or _RESERVED & set(x):
            from unrollkit.errors import TransformError
            raise TransformError(f"option {key}={v!r} of pass {pname!r} cannot be written as pipeline "
                                 "text (empty, or contains one of , { } = : or spaces)")
    return ":".join(items)


def check_code_size(what: str, loop: str, ops_after: int, env_hint: str = "UNROLLKIT_MAX_OPS"):
    limit = max_ops()
    if ops_after > limit:
        raise CodeSizeError(
            f"{what} of loop {loop!r} would generate about {ops_after:,} operations, over the "
            f"code-size budget of {limit:,}; lower the factor, or raise the budget with "
            f"{env_hint}=<n> if you really want that much code")
