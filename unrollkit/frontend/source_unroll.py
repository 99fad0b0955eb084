"""Unrolling written in the kernel's source (``uk.unroll``, ``uk.range(..., unroll=n)``) as
the ``factor=`` of `unrollkit.jit`: `d.Loop.unroll` of each loop, by its name."""
from __future__ import annotations

from unrollkit.frontend.descriptor import FULL, Kernel, trip_count
from unrollkit.core.errors import TransformError


def source_factors(kernel: "Kernel") -> dict:
    """``{loop name: factor}`` of the unrolling written in the kernel's source (a full unroll
    as its trip count, at least 1)."""
    return {lp.name: (max(1, trip_count(lp)) if lp.unroll == FULL else lp.unroll)
            for lp in kernel.loops() if lp.unroll}


def with_source_factors(kernel: "Kernel", factor):
    """jit's ``factor`` merged with the unrolling written in the source, as if it had been
    written ``factor={"k": n}``: a loop that ``factor`` names keeps the count given there;
    ``"auto"`` chooses for itself. An int factor (every innermost loop) that would unroll an
    innermost loop on top of its in-source count is an error naming the loop."""
    src = source_factors(kernel)
    if not src or factor == "auto" or factor == 1:
        return factor if not src or factor == "auto" else src
    if isinstance(factor, dict):
        return {**src, **factor}
    both = [n for n in src if n in kernel.innermost_loop_names()]
    if both:
        raise TransformError(f"factor={factor!r} (every innermost loop) and the unrolling written "
                             f"in the source both apply to loop {both[0]!r}; name the loops: "
                             f"factor={{'<loop>': {factor!r}}}")
    return {"": factor, **src}
