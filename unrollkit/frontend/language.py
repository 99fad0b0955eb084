"""The math functions of the kernel language: ``uk.exp(x)``, ``uk.log``, ``uk.sqrt``,
``uk.tanh``, ``uk.abs``, ``uk.floor``, ``uk.ceil``.

Inside a kernel they are recognised by the frontend (so are the same names from ``math`` and
``numpy``) and lower to the MLIR ``math`` dialect; called outside a kernel they compute the
same function with numpy, so a kernel's helper expressions can be checked in plain Python.
"""
from __future__ import annotations

import numpy as np


def exp(x):
    """e ** x (``math.exp`` in a kernel)."""
    return np.exp(x)


def log(x):
    """The natural logarithm (``math.log`` in a kernel)."""
    return np.log(x)


def sqrt(x):
    """The square root (``math.sqrt`` in a kernel)."""
    return np.sqrt(x)


def tanh(x):
    """The hyperbolic tangent (``math.tanh`` in a kernel)."""
    return np.tanh(x)


def abs(x):  # noqa: A001 - the language's name for |x|
    """|x| (``math.absf`` / ``math.absi`` in a kernel)."""
    return np.abs(x)


def floor(x):
    """The largest integral value <= x, in x's type (``math.floor`` in a kernel)."""
    return np.floor(x)


def ceil(x):
    """The smallest integral value >= x, in x's type (``math.ceil`` in a kernel)."""
    return np.ceil(x)


#: the functions by name (the frontend accepts these objects, or math's and numpy's namesakes)
FUNCTIONS = {f.__name__: f for f in (exp, log, sqrt, tanh, abs, floor, ceil)}


# ---------------------------------------------------------------- unrolling written in the source
_range = range


def unroll(r):
    """``for k in uk.unroll(range(4)):`` unrolls loop ``k`` fully at compile time (its trip
    count must be known when the kernel is defined: literal bounds or global int constants).
    Outside a kernel it is ``r`` itself."""
    return r


def range(*args, unroll: int = 1):  # noqa: A001 - the language's range with an unroll count
    """``for k in uk.range(K, unroll=4):`` unrolls loop ``k`` by 4 (a cleanup loop takes the
    rest), exactly as ``factor={"k": 4}``. Outside a kernel it is ``builtins.range(*args)``."""
    return _range(*args)


# ---------------------------------------------------------------- local arrays
def zeros(shape, dtype):
    """``z = uk.zeros(N, T)`` at a kernel's top level declares a local array of zeros
    (`unrollkit.frontend.local_arrays`). Outside a kernel it is ``np.zeros(shape, dtype)``
    (``dtype`` an element type other than T)."""
    return np.zeros(shape, dtype.numpy)


# ---------------------------------------------------------------- size names linters can see
class Size(str):
    """A size name (``"N"``) as a module-level object: ``uk.f32[N]`` is ``uk.f32["N"]``, and
    ``range(N)`` in a kernel reads a name that is defined, so linters see no undefined name."""
    __slots__ = ()

    def __repr__(self) -> str:
        return f"uk.Size({str(self)!r})"


def sizes(names: str):
    """``M, N, K = uk.sizes("M N K")``: the size names, space- or comma-separated, as `Size`
    objects (one name gives one `Size`, like ``sympy.symbols``). Annotate with them
    (``A: uk.f32[M, K]``) and use them in loop bounds as with string size names."""
    parts = names.replace(",", " ").split()
    for p in parts:
        if not p.isidentifier():
            raise ValueError(f"size name {p!r} is not an identifier")
    if not parts:
        raise ValueError("uk.sizes() needs at least one size name, e.g. uk.sizes(\"M N K\")")
    out = tuple(Size(p) for p in parts)
    return out[0] if len(out) == 1 else out
