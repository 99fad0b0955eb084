"""Element types of kernel parameters: ``f16``, ``f32``, ``f64``, ``i8``, ``u8``, ``i16``,
``i32``, ``i64`` and the generic ``T``.

A parameter annotation is an element type, optionally subscripted with its shape:
``f32`` is a scalar, ``f32["N"]`` a vector of size N, ``T["M", "K"]`` a matrix whose element
type is bound from the arrays at call time (like a C++ template parameter). Called, an element
type is a conversion: ``uk.f32(x)`` in a kernel (`unrollkit.ir.casts`), ``numpy.float32`` outside.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ElementType:
    """An element type of kernel parameters, by ``name``; subscript it with a shape to get an array
    type: ``f32["N"]``."""
    name: str  # "f16", "f32", "f64", "i8", "u8", "i16", "i32", "i64", or "T" (generic)

    @property
    def is_generic(self) -> bool:
        """Whether this is the generic ``T``, bound from the arrays at call time."""
        return self.name == "T"

    @property
    def is_float(self) -> bool:
        """Whether values of this type are floating-point numbers."""
        return self.name.startswith("f")

    @property
    def is_unsigned(self) -> bool:
        """Whether this is an unsigned integer type (``u8``)."""
        return self.name.startswith("u")

    @property
    def bits(self) -> int:
        """The width of a value in bits."""
        return int(self.name[1:])

    def __call__(self, x):
        """Outside a kernel, ``uk.f32(x)`` converts like numpy's ``astype`` (in a kernel the
        frontend lowers the call to an MLIR cast)."""
        return np.asarray(x).astype(self.numpy)[()]

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


NUMPY_NAMES = {"f16": "float16", "f32": "float32", "f64": "float64", "i8": "int8", "u8": "uint8",
               "i16": "int16", "i32": "int32", "i64": "int64"}
FROM_NUMPY = {np.dtype(v): k for k, v in NUMPY_NAMES.items()}
#: the dtypes an array argument may have, for messages
SUPPORTED = ", ".join(NUMPY_NAMES.values())

f16 = ElementType("f16")
f32 = ElementType("f32")
f64 = ElementType("f64")
i8 = ElementType("i8")
u8 = ElementType("u8")
i16 = ElementType("i16")
i32 = ElementType("i32")
i64 = ElementType("i64")
T = ElementType("T")

BY_NAME = {t.name: t for t in (f16, f32, f64, i8, u8, i16, i32, i64, T)}
#: the type a scalar parameter is passed as (the C ABI's promotion: ctypes and the native fast
#: path have no half float; the kernel converts it back at entry, exactly)
SCALAR_ABI = {"f16": "f32", "i8": "i32", "u8": "i32", "i16": "i32"}


def int_range(ty: ElementType) -> tuple:
    """(lowest, highest) value of an integer element type."""
    if ty.is_unsigned:
        return 0, (1 << ty.bits) - 1
    return -(1 << (ty.bits - 1)), (1 << (ty.bits - 1)) - 1


def element_of(dtype) -> ElementType:
    """The ElementType of a numpy dtype, or a clear error."""
    dt = np.dtype(dtype)
    if dt not in FROM_NUMPY:
        raise TypeError(f"unsupported dtype {dt}; unrollkit supports {SUPPORTED}")
    return BY_NAME[FROM_NUMPY[dt]]
