"""Binding a call's arguments to a kernel: the checks every call passes (count, dtype, rank,
shared sizes, fixed sizes, C-contiguity and writability of outputs, scalar ranges, no
overlapping outputs) and the `Signature` they give. The first step of the runtime
(bind → plan → cache → compile → call); the reference interpreter binds the same way.
"""
from __future__ import annotations

import numbers

import numpy as np

from unrollkit.core.dtypes import BY_NAME, FROM_NUMPY, SUPPORTED, int_range
from unrollkit.core.errors import ArgumentError
from unrollkit.frontend.scalar_bounds import index_scalars
from unrollkit.frontend.local_arrays import with_local_arrays
from unrollkit.frontend.signature import Signature, sizes_of


def bind(k, args) -> tuple:
    """Check the call arguments ``args`` of kernel ``k``; returns (Signature, arrays/scalars
    ready to pass). Every refusal is an `ArgumentError` naming the kernel and the parameter."""
    if len(args) != len(k.params):
        names = ", ".join(p.name for p in k.params)
        raise ArgumentError(f"{k.name}() takes {len(k.params)} arguments ({names}), got {len(args)}")
    generic = None
    types, shapes, ready, sizes = [], [], [], {}
    for p, a in zip(k.params, args):
        if p.is_array:
            a, et, generic = _bind_array(k, p, a, generic, sizes)
            types.append((p.name, et))
            shapes.append((p.name, tuple(a.shape)))
        ready.append(a)
    # scalars, now that T is known
    for i, (p, a) in enumerate(zip(k.params, args)):
        if p.is_array:
            continue
        et = p.elem.name
        if p.elem.is_generic:
            if generic is None:
                raise ArgumentError(f"{k.name}(): the element type T of scalar {p.name!r} "
                                    "cannot be inferred: no array parameter has type T")
            et = generic[0]
        ready[i] = _scalar(k.name, p.name, a, et)
        types.append((p.name, et))
    _check_aliasing(k, ready)
    specialised = index_scalars(k)  # integer scalars in bounds: their values specialise the code
    values = tuple((p.name, ready[i]) for i, p in enumerate(k.params) if p.name in specialised)
    sig = Signature(tuple(types), tuple(shapes), values)
    return with_local_arrays(k, sig, sizes_of(k, sig)), ready


def _bind_array(k, p, a, generic, sizes: dict) -> tuple:
    """(the array to pass, its element type name, the binding of T so far) for array parameter
    ``p`` of kernel ``k`` given ``a``; ``sizes`` collects each size name's value and source."""
    written = k.written
    if not isinstance(a, np.ndarray):
        raise ArgumentError(f"{k.name}(): argument {p.name!r} must be a numpy array, "
                            f"got {type(a).__name__}")
    if isinstance(a, np.ma.MaskedArray):  # the code would read and write masked elements
        raise ArgumentError(f"{k.name}(): argument {p.name!r} is a masked array; its mask "
                            "would be ignored: pass a.filled(value) or np.asarray(a)")
    if a.dtype not in FROM_NUMPY:
        raise ArgumentError(f"{k.name}(): argument {p.name!r} has dtype {a.dtype}; "
                            f"supported: {SUPPORTED}")
    et = FROM_NUMPY[a.dtype]
    if p.elem.is_generic:
        if generic is None:
            generic = (et, p.name)
        elif generic[0] != et:
            raise ArgumentError(
                f"{k.name}(): argument {p.name!r} has dtype {a.dtype} but {generic[1]!r} "
                f"has {np.dtype(BY_NAME[generic[0]].numpy)}; they share the element type T")
    elif et != p.elem.name:
        raise ArgumentError(f"{k.name}(): argument {p.name!r} must have dtype "
                            f"{p.elem.numpy}, got {a.dtype}")
    if a.ndim != len(p.shape):
        raise ArgumentError(f"{k.name}(): argument {p.name!r} must be {len(p.shape)}-D "
                            f"(shape {_shape_str(p.shape)}), got {a.ndim}-D shape {a.shape}")
    for dim, (want, got) in enumerate(zip(p.shape, a.shape)):
        if isinstance(want, int):
            if got != want:
                raise ArgumentError(f"{k.name}(): dimension {dim} of {p.name!r} must be "
                                    f"{want}, got {got}")
        elif want in sizes and sizes[want][0] != got:
            raise ArgumentError(
                f"{k.name}(): size {want} disagrees: {sizes[want][1]} gives {sizes[want][0]} "
                f"but {p.name!r} gives {got} (dimension {dim})")
        else:
            sizes.setdefault(want, (got, f"{p.name!r} (dimension {dim})"))
    if p.name in written:
        if not a.flags.c_contiguous:
            raise ArgumentError(f"{k.name}(): output {p.name!r} must be C-contiguous "
                                "(results are written in place); pass np.ascontiguousarray(x) "
                                "and read the result from it")
        if not a.flags.writeable:
            raise ArgumentError(f"{k.name}(): output {p.name!r} is read-only")
    elif not a.flags.c_contiguous:
        a = np.ascontiguousarray(a)  # an input: a contiguous copy is equivalent
    return a, et, generic


def _check_aliasing(k, ready):
    """Machine code assumes arrays do not overlap (noalias): copy an overlapping input,
    refuse two overlapping outputs."""
    arrays = [(p, i) for i, p in enumerate(k.params) if p.is_array]
    written = k.written
    for x, (p, i) in enumerate(arrays):
        for q, j in arrays[x + 1:]:
            if not np.may_share_memory(ready[i], ready[j]):
                continue
            if p.name in written and q.name in written:
                raise ArgumentError(f"{k.name}(): outputs {p.name!r} and {q.name!r} overlap in "
                                    "memory; pass separate arrays")
            src = j if p.name in written else i
            ready[src] = ready[src].copy()


def _shape_str(shape) -> str:
    return "[" + ", ".join(map(str, shape)) + "]"


def _scalar(kname, pname, a, et):
    """A scalar argument as the Python number the kernel gets (an `ArgumentError` when it is
    not a real number or does not fit ``et``)."""
    if isinstance(a, (bool, np.bool_)) or not isinstance(a, numbers.Real):
        raise ArgumentError(f"{kname}(): scalar {pname!r} must be a real number, got {type(a).__name__}")
    if not BY_NAME[et].is_float:
        if isinstance(a, numbers.Integral):
            v = int(a)
        elif float(a).is_integer():
            v = int(a)
        else:
            raise ArgumentError(f"{kname}(): scalar {pname!r} is {et} but got the non-integer {a!r}")
        lo, hi = int_range(BY_NAME[et])
        if not lo <= v <= hi:
            raise ArgumentError(f"{kname}(): scalar {pname!r} = {v} does not fit in {et}")
        return v
    try:
        # an f16 scalar is passed as a float32 (`dtypes.SCALAR_ABI`): rounded to half here,
        # once, so the kernel's conversion back is exact
        if et == "f16":
            with np.errstate(over="ignore"):  # beyond f16's range: inf, as f32's beyond its own
                return float(np.float16(a))
        return float(a)
    except OverflowError:  # an int beyond any float (10**400)
        raise ArgumentError(f"{kname}(): scalar {pname!r} is {et} but got an integer of "
                            f"{len(str(abs(int(a))))} digits, too large for any float") from None
