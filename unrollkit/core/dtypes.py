"""Element types of kernel parameters: ``f32``, ``f64``, ``i32``, ``i64`` and the generic ``T``.

A parameter annotation is an element type, optionally subscripted with its shape:
``f32`` is a scalar, ``f32["N"]`` a vector of size N, ``T["M", "K"]`` a matrix whose element
type is bound from the arrays at call time (like a C++ template parameter).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ElementType:
    """An element type of kernel parameters, by ``name``; subscript it with a shape to get an array
    type: ``f32["N"]``."""
    name: str  # "f32", "f64", "i32", "i64", or "T" (generic)

    @property
    def is_generic(self) -> bool:
        """Whether this is the generic ``T``, bound from the arrays at call time."""
        return self.name == "T"

    @property
    def is_float(self) -> bool:
        """Whether this is a float type (``f32``, ``f64``)."""
        return self.name.startswith("f")

    @property
    def numpy(self) -> np.dtype:
        """The numpy dtype of this element type; a `TypeError` for the generic ``T``."""
        if self.is_generic:
            raise TypeError("the generic element type T has no numpy dtype until it is bound")
        return np.dtype(NUMPY_NAMES[self.name])

    def __getitem__(self, shape) -> "ArrayType":
        if not isinstance(shape, tuple):
            shape = (shape,)
        return ArrayType(self, tuple(shape))

    def __repr__(self) -> str:
        return f"uk.{self.name}"


@dataclass(frozen=True)
class ArrayType:
    """An array parameter's annotation: element type and shape (size names and fixed sizes), as
    ``T["M", "K"]`` makes it."""
    elem: ElementType
    shape: tuple  # of str (a size name) or int (a fixed size)


NUMPY_NAMES = {"f32": "float32", "f64": "float64", "i32": "int32", "i64": "int64"}
FROM_NUMPY = {np.dtype(v): k for k, v in NUMPY_NAMES.items()}

f32 = ElementType("f32")
f64 = ElementType("f64")
i32 = ElementType("i32")
i64 = ElementType("i64")
T = ElementType("T")

BY_NAME = {t.name: t for t in (f32, f64, i32, i64, T)}


def element_of(dtype) -> ElementType:
    """The ElementType of a numpy dtype, or a clear error."""
    dt = np.dtype(dtype)
    if dt not in FROM_NUMPY:
        raise TypeError(f"unsupported dtype {dt}; unrollkit supports float32, float64, int32, int64")
    return BY_NAME[FROM_NUMPY[dt]]
