"""A kernel's returned scalar: ``return acc`` stores into a hidden 1-element output array.

The frontend lowers ``return value`` to a store into the extra parameter `d.RETURN_PARAM`
(always the last). A call through the full checks allocates that array (`ReturnSlot`), passes
it like any output, and returns its element as a Python number. Every call path (the checked
call, the packed entry point, the interpreter) then stays the one of a kernel without a
return. The native fast path (`unrollkit.runtime.dispatch.fast_call`) passes a zeroed slot of
its own instead and returns the value itself: no array is made for a repeated call.
"""
from __future__ import annotations

import numpy as np

from unrollkit.frontend import descriptor as d
from unrollkit.core.errors import ArgumentError


def with_return_slot(kernel: d.Kernel, args: tuple) -> tuple:
    """(``args`` plus the new return array, that array) for a kernel that returns a value,
    else (``args``, None); ``args`` that already end with the return array are kept. The array's dtype is the return type (for ``T``: the dtype of the
    first ``T`` array argument; a wrong one is reported by the usual argument checks)."""
    return ReturnSlot(kernel).add(tuple(args))


class ReturnSlot:
    """`with_return_slot` for one kernel, its parameters read once: a jitted kernel keeps one,
    so that a call of a kernel that returns a value costs one small allocation, not a walk of
    its parameters (that walk was 3–4 µs of a 1 µs call)."""
    __slots__ = ("kernel", "returns", "n_user", "n_all", "generic", "dtype")

    def __init__(self, kernel: d.Kernel):
        self.kernel = kernel
        self.returns = kernel.returns
        params = kernel.user_params
        self.n_user, self.n_all = len(params), len(kernel.params)
        elem = kernel.params[-1].elem if kernel.params else None
        #: positions of the generic (``T``) arrays, whose dtype a ``T`` return takes
        self.generic = tuple(i for i, p in enumerate(params) if p.is_array and p.elem.is_generic)
        self.dtype = None if elem is None or elem.is_generic else elem.numpy

    def add(self, args: tuple) -> tuple:
        """(``args`` with a new return array appended, that array), as `with_return_slot`."""
        if not self.returns:
            return args, None
        if len(args) == self.n_user:
            dtype = self.dtype
            if dtype is None:  # (the common case first: the first T parameter is an array)
                a = args[self.generic[0]] if self.generic else None
                dtype = a.dtype if isinstance(a, np.ndarray) else self._generic_dtype(args)
            slot = np.zeros(1, dtype)
            return args + (slot,), slot
        if len(args) == self.n_all and isinstance(args[-1], np.ndarray):
            # tools that make an argument for every parameter (the CLI, bench, the fuzzer) pass
            # the return array themselves; the usual checks hold it to dtype and shape (1,)
            return args, args[-1]
        params = self.kernel.user_params
        names = ", ".join(p.name for p in params)
        raise ArgumentError(f"{self.kernel.name}() takes {len(params)} arguments ({names}), got {len(args)}")

    def _generic_dtype(self, args: tuple):
        """The dtype of the first ``T`` array among ``args`` (float64 when none is an array:
        the argument checks then report what is wrong)."""
        return next((args[i].dtype for i in self.generic if isinstance(args[i], np.ndarray)), np.float64)


def returned(slot):
    """What the call returns: the element of the return array as a Python int or float."""
    return None if slot is None else slot.item()  # (one element: no numpy scalar in between)


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
