"""The fast path of a jitted kernel's call: a signature already checked once runs without Python checks.

`JitKernel.__call__` first offers the arguments to the `FastCall` objects of its recently used
signatures (native code, `unrollkit/runtime/_fastcall.c`). A `FastCall` accepts exactly the arguments
that the full checks (`JitKernel.signature`) accepted before and would pass on unchanged:
the same count, exact `numpy.ndarray`s with the same dtype, shape and C-contiguity, writable
outputs, Python or numpy int/float scalars that fit, and no two arrays overlapping in memory.
Anything else falls through to the full checks, which copy, refuse or explain as before, so
the fast path never changes what a call does, only what it costs (measured in
`bench/RUNTIME.md`). It calls the kernel's packed entry point (`to_llvm.PACKED_SUFFIX`).

The extension is optional (built at install with the Python headers; a platform without a C
compiler gets every call through the full checks, correct but slower).
"""
from __future__ import annotations

import ctypes
import functools

import numpy as np

from unrollkit.core.dtypes import BY_NAME, SCALAR_ABI
from unrollkit.codegen.to_llvm import PACKED_SUFFIX
from unrollkit.frontend.descriptor import RETURN_PARAM

try:  # optional: built at install time (see pyproject.toml, ext-modules)
    from unrollkit.runtime._fastcall import FastCall, run_split
except ImportError:  # pragma: no cover - depends on the build
    FastCall = run_split = None

#: signatures offered the fast path per jitted kernel, most recent first: each costs one
#: native check on a miss, so a kernel called with many shapes still dispatches quickly
FAST_SIGNATURES = 4


@functools.lru_cache(None)
def buffer_format(numpy_name: str) -> str:
    """The buffer-protocol format numpy exports for a dtype (``'l'`` for int64 on LP64 Linux)."""
    return memoryview(np.empty(0, numpy_name)).format


def fast_call(ck, kernel, sig):
    """A `FastCall` for compiled kernel ``ck`` (signature ``sig``), or None without the extension.

    ``fc(args)`` is False when ``args`` need the full checks (nothing ran), else True, or for a
    kernel that returns a scalar, that scalar: called with the user's arguments only, the
    `FastCall` passes a return slot of its own (`unrollkit.frontend.returns`), so a call makes
    no array for it. The `FastCall` references ``ck``, which owns the machine code, so the code
    outlives every call made through it."""
    spec = _spec(kernel, sig, own_return=True)
    if spec is None:
        return None
    fn = ck.engine.function(ck.symbol + PACKED_SUFFIX, None, [ctypes.c_void_p])
    return FastCall(ctypes.cast(fn, ctypes.c_void_p).value, spec, ck, np.ndarray,
                    np.floating, np.integer)


def matcher(kernel, sig):
    """A check-only `FastCall` for signature ``sig`` (it never runs code): `run_split` asks it
    whether a call's arguments are exactly ``sig``'s, as `fast_call`'s would. None without the
    extension or for a signature the fast path does not take."""
    spec = _spec(kernel, sig)
    return None if spec is None else FastCall(0, spec, None, np.ndarray, np.floating, np.integer)


def _spec(kernel, sig, own_return=False):
    """The FastCall parameter spec of ``sig``, or None when the fast path cannot take it.
    ``own_return``: the return array, if any, is a native slot (see `fast_call`)."""
    if FastCall is None or sig.values:  # (it checks shapes, not an index scalar's value)
        return None
    types, shapes, written = dict(sig.types), sig.shape_map(), kernel.written
    spec = []
    for p in kernel.params:
        et = types[p.name]
        if own_return and p.name == RETURN_PARAM and kernel.returns:
            spec.append(("return", buffer_format(BY_NAME[et].numpy.name)))
        elif p.is_array:
            spec.append(("array", buffer_format(BY_NAME[et].numpy.name), tuple(shapes[p.name]),
                         p.name in written))
        elif et in SCALAR_ABI:  # the native path converts to f32/i32 without f16 rounding
            return None
        else:
            spec.append((et,))
    return tuple(spec)
