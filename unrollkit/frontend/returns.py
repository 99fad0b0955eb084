"""A kernel's returned scalar: ``return acc`` stores into a hidden 1-element output array.

The frontend lowers ``return value`` to a store into the extra parameter `d.RETURN_PARAM`
(always the last). A call allocates that array, passes it like any output, and returns its
element as a Python number. Every call path (the checked call, the native fast path, the
packed entry point, the interpreter) then stays the one of a kernel without a return.
"""
from __future__ import annotations

import numpy as np

from unrollkit.frontend import descriptor as d
from unrollkit.core.errors import ArgumentError


def with_return_slot(kernel: d.Kernel, args: tuple) -> tuple:
    """(``args`` plus the new return array, that array) for a kernel that returns a value,
    else (``args``, None); ``args`` that already end with the return array are kept. The array's dtype is the return type (for ``T``: the dtype of the
    first ``T`` array argument; a wrong one is reported by the usual argument checks)."""
    if not kernel.returns:
        return args, None
    params = kernel.user_params
    if len(args) == len(kernel.params) and isinstance(args[-1], np.ndarray):
        # tools that make an argument for every parameter (the CLI, bench, the fuzzer) pass
        # the return array themselves; the usual checks hold it to dtype and shape (1,)
        return args, args[-1]
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


def bind_keywords(kernel: d.Kernel, args: tuple, kwargs: dict) -> tuple:
    """The positional arguments of a call with keyword arguments (``f(x, y=y)``), by the
    kernel's parameter names, with Python's errors for unknown, repeated or missing ones."""
    names = [p.name for p in kernel.user_params]
    if len(args) > len(names):
        raise ArgumentError(f"{kernel.name}() takes {len(names)} arguments ({', '.join(names)}), "
                            f"got {len(args)} positional")
    bound = dict(zip(names, args))
    for key, value in kwargs.items():
        if key not in names:
            raise ArgumentError(f"{kernel.name}() got an unexpected keyword argument {key!r}; "
                                f"its parameters are {', '.join(names)}")
        if key in bound:
            raise ArgumentError(f"{kernel.name}() got multiple values for argument {key!r}")
        bound[key] = value
    missing = [n for n in names if n not in bound]
    if missing:
        raise ArgumentError(f"{kernel.name}() is missing argument(s) {', '.join(map(repr, missing))}")
    return tuple(bound[n] for n in names)
