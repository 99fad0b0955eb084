"""A kernel's returned scalar: ``return acc`` stores into a hidden 1-element output array.

The frontend lowers ``return value`` to a store into the extra parameter `d.RETURN_PARAM`
(always the last). A call allocates that array, passes it like any output, and returns its
element as a Python number. Every call path (the checked call, the native fast path, the
packed entry point, the interpreter) then stays the one of a kernel without a return.
"""
from __future__ import annotations

import numpy as np

from . import descriptor as d
from .errors import ArgumentError


def with_return_slot(kernel: d.Kernel, args: tuple) -> tuple:
    """(``args`` plus the new return array, that array) for a kernel that returns a value,
    else (``args``, None). The array's dtype is the return type (for ``T``: the dtype of the
    first ``T`` array argument; a wrong one is reported by the usual argument checks)."""
    if not kernel.returns:
        return args, None
    params = kernel.user_params
    if len(args) != len(params):
        names = ", ".join(p.name for p in params)
        raise ArgumentError(f"{kernel.name}() takes {len(params)} arguments ({names}), got {len(args)}")
    elem = kernel.params[-1].elem
    dtype = np.float64
    if elem.is_generic:
        dtype = next((a.dtype for p, a in zip(params, args)
                      if p.is_array and p.elem.is_generic and isinstance(a, np.ndarray)), dtype)
    else:
        dtype = elem.numpy
    slot = np.zeros(1, dtype)
    return (*args, slot), slot


def returned(slot):
    """What the call returns: the element of the return array as a Python int or float."""
    return None if slot is None else slot[0].item()
