"""A kernel's `Signature`: the element type and shape of each parameter one compile is
specialised on (shapes are static per call signature), and the sizes it implies.
`unrollkit.runtime.bind` makes one from call arguments; `signature_at` from sizes by name.
"""
from __future__ import annotations

import dataclasses

from unrollkit.core.dtypes import BY_NAME
from unrollkit.core.errors import UnrollkitError
from unrollkit.frontend.local_arrays import with_local_arrays
from unrollkit.frontend.scalar_bounds import index_scalars

#: the shape given to a size that `signature_at` is not told (``Pipeline.trace``, ``unrollkit opt``)
DEFAULT_SIZE = 64
#: the value given to an integer scalar in a bound (`scalar_bounds`) that `signature_at` is not told
DEFAULT_SCALAR = 3


@dataclasses.dataclass(frozen=True)
class Signature:
    """What a compiled kernel is specialised on: each parameter's element type and shape, and
    the value of each integer scalar used in a bound or subscript (`scalar_bounds`); then
    the type and shape of each local array (`local_arrays.with_local_arrays`)."""
    types: tuple   # ((param, "f32"), ...)
    shapes: tuple  # ((param, (512, 300)), ...) for arrays
    values: tuple = ()  # ((param, 5), ...) for index scalars

    def ptypes(self) -> dict:
        """{parameter: ElementType}."""
        return {n: BY_NAME[t] for n, t in self.types}

    def shape_map(self) -> dict:
        """{array parameter or local array: shape tuple}."""
        return dict(self.shapes)


def sizes_of(kernel, sig: Signature) -> dict:
    """{size name: value} of ``kernel`` under ``sig`` (read from the arrays' shapes)."""
    shapes = sig.shape_map()
    sizes = {}
    for p in kernel.arrays:
        for dim, s in enumerate(p.shape):
            if isinstance(s, str):
                sizes.setdefault(s, shapes[p.name][dim])
    sizes.update(sig.values)  # index scalars: constants of this compile, like sizes
    return sizes


def signature_at(kernel, sizes: dict, dtype: str = "f32") -> Signature:
    """The signature of ``kernel`` at ``sizes`` (by name; `DEFAULT_SIZE` when not given; an
    integer scalar in a bound by its name too, `DEFAULT_SCALAR` when not given), its generic
    element type T bound to ``dtype``. An unknown name is an error."""
    scalars = index_scalars(kernel)
    names = {s for p in kernel.arrays for s in p.shape if isinstance(s, str)} | set(scalars)
    unknown = sorted(set(sizes) - names)
    if unknown:
        raise UnrollkitError(f"kernel {kernel.name!r} has no size {unknown[0]!r}; its sizes are {sorted(names)}")
    types, shapes = [], []
    for p in kernel.arrays:
        types.append((p.name, dtype if p.elem.is_generic else p.elem.name))
        shapes.append((p.name, tuple(s if isinstance(s, int) else sizes.get(s, DEFAULT_SIZE) for s in p.shape)))
    for p in kernel.params:
        if not p.is_array:
            types.append((p.name, dtype if p.elem.is_generic else p.elem.name))
    values = tuple((n, int(sizes.get(n, DEFAULT_SCALAR))) for n in scalars)
    sig = Signature(tuple(types), tuple(shapes), values)
    return with_local_arrays(kernel, sig, sizes_of(kernel, sig))
