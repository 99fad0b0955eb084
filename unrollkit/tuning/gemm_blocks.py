"""The GEMM schedule's sizes from the machine (`gemm_schedule.derive` uses them): the register
tile from the vector registers and the FMA latency, and the cache blocks' sizes — equal blocks,
exact divisions where they cost little, and how many lines at one stride L2 keeps."""
from __future__ import annotations

import math

from unrollkit.core.target import Target
from unrollkit.tuning.contraction import Contraction

#: a score within this fraction of the best register tile ties; the larger NR then wins
#: (fewer, longer vector rows: fewer broadcasts per FMA)
TIE = 0.01


def register_tile(t: Target, elem_bytes: int, M: int, N: int) -> tuple:
    """(MR, nv, why): the register tile MR × nv·W (see `gemm_schedule`'s module docstring)."""
    w = t.vector_lanes(elem_bytes, t.vector_bits)
    units = t.fma_units_512 if t.vector_bits > 256 else t.fma_units
    chains = t.fma_latency * units
    rows = []
    for nv in range(1, 9):
        for mr in range(1, 17):
            if mr * nv + nv + 1 > t.vector_registers or mr * nv < chains:
                continue
            nr = nv * w
            full = (M / (math.ceil(M / mr) * mr)) * (N / (math.ceil(N / nr) * nr))
            rows.append((mr * nv / (mr + nv) * full, nv, mr))
    if not rows:  # too few registers for the latency model: the largest tile that fits
        nv, mr = 1, max(1, t.vector_registers - 2)
        return mr, nv, f"{t.vector_registers} registers cannot hide {chains} FMA chains"
    best = max(r[0] for r in rows)
    score, nv, mr = max((r for r in rows if r[0] >= best * (1 - TIE)), key=lambda r: (r[1], r[0]))
    why = (f"{mr}×{nv}·{w}: {mr * nv} accumulators ≥ {chains} FMA chains (latency {t.fma_latency} × "
           f"{units} units), {mr * nv + nv + 1} of {t.vector_registers} registers, "
           f"{mr * nv / (mr + nv):.2f} FMAs per load, {score / (mr * nv / (mr + nv)):.0%} in full tiles")
    return mr, nv, why


def _row_bytes(nest: Contraction, sizes: dict, M: int, elem_bytes: int) -> int:
    """Bytes from one row of the rows' operand to the next (its last dimension's extent; M's
    when the kernel does not say)."""
    shape = nest.kernel.params[nest.a].shape if nest.kernel is not None else None
    last = shape[-1] if shape else M
    return (last if isinstance(last, int) else sizes.get(last, M)) * elem_bytes


def _lines_kept(t: Target, stride: int) -> int:
    """How many lines ``stride`` bytes apart L2 holds: such lines fall in every
    (stride / line)-th set, so in sets / gcd(sets, stride / line) sets, each of its ways."""
    sets = max(1, t.l2_bytes // t.line_bytes // t.l2_ways)
    if stride % t.line_bytes:
        return sets * t.l2_ways  # (not a whole number of lines apart: spread over the sets)
    return t.l2_ways * sets // math.gcd(sets, stride // t.line_bytes)


def _dividing(n: int, cap: int, multiple: int) -> int:
    """A block size ≤ ``cap``, a multiple of ``multiple``, dividing ``n`` exactly into at most
    twice as many blocks as the cap needs; else `_balanced`'s. A last partial block is a copy of
    the whole block's nest (packing and every micro-kernel variant): 1024 f64's KC = 344, 344,
    336 gave each product 12 micro-kernels, 4 × 256 gives 6 (cold compile of 3mm 2.05 → 0.81 s,
    2mm 1.38 → 0.52 s, gemm 0.67 → 0.33 s; the speed within this machine's noise)."""
    least = math.ceil(n / cap)
    for blocks in range(least, 2 * least + 1):
        if n % blocks == 0 and (n // blocks) % multiple == 0:
            return n // blocks
    return _balanced(n, cap, multiple)


def _balanced(n: int, cap: int, multiple: int) -> int:
    """A block size ≤ ``cap`` (a multiple of ``multiple`` when possible) splitting ``n`` into
    as few, equal blocks as possible (the last one is not a sliver)."""
    if n <= cap:
        return n
    blocks = math.ceil(n / cap)
    size = math.ceil(n / blocks)
    size = math.ceil(size / multiple) * multiple
    return size if size <= cap else cap // multiple * multiple or cap
