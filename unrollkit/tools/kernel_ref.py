"""Resolve a KERNEL argument of the CLI: a built-in name or ``path/to/file.py:function``."""
from __future__ import annotations

import importlib.util
from pathlib import Path

from unrollkit.frontend.descriptor import Kernel
from unrollkit.core.errors import UnrollkitError
from unrollkit.kernels import ALL, MORE


def resolve_kernel(ref: str) -> Kernel:
    """The kernel ``ref`` names: a built-in (`unrollkit.kernels.ALL`, ``MORE``) or
    ``path/to/file.py:function`` (the file is imported); an `UnrollkitError` otherwise."""
    if ref in ALL or ref in MORE:
        return ALL.get(ref) or MORE[ref]
    if ":" in ref:
        path, name = ref.rsplit(":", 1)
        p = Path(path)
        if not p.is_file():
            raise UnrollkitError(f"kernel file {path!r} not found")
        spec = importlib.util.spec_from_file_location(f"_uk_user_{p.stem}", p)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        k = getattr(mod, name, None)
        if not isinstance(k, Kernel):
            raise UnrollkitError(f"{path} has no kernel named {name!r} (decorate it with @unrollkit.kernel)")
        return k
    raise UnrollkitError(f"unknown kernel {ref!r}; built-in kernels: {sorted(ALL) + sorted(MORE)}, "
                         "or give path/to/file.py:function")
