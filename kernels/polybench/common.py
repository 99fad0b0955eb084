"""What every PolyBench/C kernel module shares: the registry entry and index grids for the
data generators.

An entry is `PolyBench` ``(kernel, reference, init, sizes)``:

* ``kernel``: the descriptor, written as the C kernel is (one kernel, same loops);
* ``init(sizes, dtype)``: the arguments in the kernel's parameter order, generated as
  PolyBench's ``init_array`` does (deterministic, no random numbers); scalars are Python
  numbers, integer loop counts (``tsteps``) Python ints;
* ``reference(*args)``: {parameter name: expected array} for the arrays the kernel writes,
  computed independently with numpy in float64 from copies of the arguments (the arguments are
  not modified); an expected array smaller than the parameter is its leading block (what
  is defined: gramschmidt's Q beyond its rank is rounding noise);
* ``sizes``: {"SMALL": {...}, "MEDIUM": {...}} from PolyBench/C 4.2.1's headers, by the
  kernel's size names (and integer scalars such as ``TSTEPS``).
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np


class PolyBench(NamedTuple):
    """One PolyBench/C kernel: descriptor, numpy reference, data generator, dataset sizes."""
    kernel: object
    reference: Callable
    init: Callable
    sizes: dict


def grid(*shape) -> list:
    """Float64 index arrays broadcasting over ``shape`` (``i, j = grid(n, m)``: i is a column,
    j a row), for the data formulas of ``init_array``."""
    return [np.arange(n, dtype=np.float64).reshape([-1 if d == k else 1 for d in range(len(shape))])
            for k, n in enumerate(shape)]


def c_mod(a, n):
    """C's ``a % n`` on ints (truncating: ``-3 % 5 == -3``), where numpy's is floored."""
    a = np.asarray(a, dtype=np.int64)
    return np.sign(a) * (np.abs(a) % n)


def f64(*arrays) -> list:
    """Float64 copies of ``arrays`` (references compute in float64 whatever the kernel's type)."""
    return [np.array(a, dtype=np.float64) for a in arrays]
