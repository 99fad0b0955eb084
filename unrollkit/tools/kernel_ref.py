"""Resolve a KERNEL argument of the CLI: a built-in name, ``path/to/file.py:function`` or
``package.module:function`` (``unrollkit.kernels.contractions:gemm_bt``)."""
from __future__ import annotations

import importlib
import importlib.util
import traceback
from pathlib import Path

from unrollkit.frontend.descriptor import Kernel
from unrollkit.core.errors import UnrollkitError
from unrollkit.kernels import ALL, MORE


def resolve_kernel(ref: str) -> Kernel:
    """The kernel ``ref`` names: a built-in (`unrollkit.kernels.ALL`, ``MORE``),
    ``path/to/file.py:function`` (the file is imported) or ``package.module:function`` (the
    module is imported, so a file of a package, with relative imports, is named this way);
    an `UnrollkitError` otherwise, naming the file and line where an import failed."""
    if ref in ALL or ref in MORE:
        return ALL.get(ref) or MORE[ref]
    if ":" not in ref:
        raise UnrollkitError(f"unknown kernel {ref!r}; built-in kernels: {sorted(ALL) + sorted(MORE)}, "
                             "or give path/to/file.py:function or package.module:function")
    where, name = ref.rsplit(":", 1)
    p = Path(where)
    if p.is_file():
        spec = importlib.util.spec_from_file_location(f"_uk_user_{p.stem}", p)
        mod = importlib.util.module_from_spec(spec)
        _importing(where, lambda: spec.loader.exec_module(mod))
    elif where.endswith(".py") or not all(part.isidentifier() for part in where.split(".")):
        raise UnrollkitError(f"kernel file {where!r} not found")
    else:
        mod = _importing(where, lambda: importlib.import_module(where))
    k = getattr(mod, name, None)
    if not isinstance(k, Kernel):
        raise UnrollkitError(f"{where} has no kernel named {name!r} (decorate it with @unrollkit.kernel)")
    return k


def _importing(what: str, run):
    """``run()``, an import of ``what``: an error in it (an unrollkit error in a kernel's
    source names its own line) becomes an `UnrollkitError` naming the innermost file:line of
    the failure."""
    try:
        return run()
    except UnrollkitError:
        raise
    except ModuleNotFoundError as exc:
        if exc.name and what.startswith(exc.name):
            raise UnrollkitError(f"no module named {what!r} (nor a file of that name)") from None
        raise _failed(what, exc) from None
    except Exception as exc:  # (any error of the user's file: named, not a traceback)
        raise _failed(what, exc) from None


def _failed(what: str, exc: BaseException) -> UnrollkitError:
    frames = traceback.extract_tb(exc.__traceback__)
    own = [f for f in frames if "importlib" not in f.filename and not f.filename.startswith("<frozen")]
    at = f" at {own[-1].filename}:{own[-1].lineno}" if own else ""
    hint = (" (a file of a package, with relative imports: name it as package.module:function)"
            if isinstance(exc, ImportError) and "relative import" in str(exc) else "")
    return UnrollkitError(f"importing {what} failed{at}: {type(exc).__name__}: {exc}{hint}")
