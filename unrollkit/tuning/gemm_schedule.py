"""A BLAS-style schedule for contractions, derived from the target (issue 12).

`contraction.recognise` (also `match_gemm`) finds a contraction by its access functions: the
GEMM nest ``C[i, j] += A[i, k] * B[k, j]`` in any loop order and names is its plainest case;
transposed operands, batch and other parallel loops, scalar coefficients and an initialisation
nest are the others (that module says which). The schedule below runs on its loops i (rows), j
(columns), k (reduction); the parallel loops stay outside it; a transposed B is packed
transposed. `derive` sizes its schedule from the host `Target` and the
call's sizes; `GemmSchedule.pipeline` spells it with the pass library (no GEMM-only pass):

    (coalesce   an N-like loop with j into one column loop: a 1×1 convolution's
                pixels (h, w) are H·W columns, not H rows of W                     coalesce)
    tile        cache blocks: jc (NC columns of B), kc (KC of the reduction)      tile, rename
    tile        register tile: ir (MR rows), jr (NR columns), loops k, i, j      tile, rename
    pack B      the KC×NC block of B, at each kc, rows padded off the L1 set stride pack
    (pack A     the MR×KC sliver of A, at each ir, column-major: only if MR > L1 ways)
    vectorize   j by the register width, the last partial tile's columns by halves
                (16 → 8 → 4 → 2) as registers allow; every transfer proved in bounds
                                                                                 vectorize, in-bounds
    unroll      i and j fully (MR·NR/W accumulators), k by KU                     unroll
    registers   C's tile read before the k loop, carried through it (iter_args),
                written after it                                     promote-to-registers

Loop order jc → kc → ir → jr → k → i → j: the A sliver (MR×KC) stays in L1 while the
micro-kernel walks every NR-column panel of the B block; the B block (KC×NC) stays in L2
while every MR-row sliver of A passes over it; C's MR×NR tile stays in registers for the
whole k loop: `promote-to-registers` makes the accumulators the k loop's iter_args, read
before it and written after it, as a BLIS micro-kernel does (LLVM's LICM promoted them in
plain GEMM but gave up in larger nests: batched GEMM at 2×96×128×128 reloaded and stored all
24 at every k, 0.24–0.45× numpy). Remainders: `tile` (separate=true) puts the last
partial block of every level in its own nest with constant bounds, which gets its own
smaller register tile, packing buffers and vector/scalar split; nothing is padded.

The derivation (each rule names the machine fact it uses):

* register tile MR × NR, NR = nv · W (W lanes per register): nv·MR accumulators + nv loads
  of B + 1 broadcast of A must fit the vector registers; nv·MR ≥ FMA latency × FMA units
  (enough independent chains to keep every FMA unit busy); among those, the most FMAs per
  loaded register (MR·nv / (MR + nv)), weighted by the fraction of the work that falls in
  full tiles at this M and N (edge tiles run smaller, slower register tiles);
* KC: the A sliver (MR × KC) fills half of L1 (the other half for the B and C lines that
  stream through), counted in lines when a transposed A is read in place (each k's MR
  elements then occupy a line); the K range is split into equal blocks so the last is not a
  sliver, and into blocks that divide K exactly when at most twice as many do (a last partial
  block copies the whole block's nest: compile time);
* NC: the B block (KC × NC) fills half of L2; equal blocks, a multiple of NR, over the
  columns of whole register tiles (the partial tile's columns are a last block of their own);
* KU (k unroll): the smallest power of two that brings the loop's own two uops (increment,
  compare-and-branch) under 3% of the unrolled body;
* pad of B's packed rows: one cache line when a row is a multiple of the L1 set stride
  (size / ways: `Target.l1d_ways`, read from sysfs), where all rows would land in one cache set;
* A is read in place unless MR exceeds the L1's ways (then its rows could evict each other).

`gemm_pipeline(kernel, signature)` gives the pipeline. ``jit(kernel, factor="auto")`` runs
it for GEMM nests (`unrollkit.tuning.auto.compile_gemm`, called by `runtime.JitKernel` before the cost model's
unroll-factor search, which every other kernel still gets); ``variant="blas"`` asks for it
explicitly and is refused for kernels that are not GEMM nests.
"""
from __future__ import annotations

import dataclasses
import math

from unrollkit.frontend import descriptor as d
from unrollkit.tuning.contraction import Contraction, recognise_all
from unrollkit.tuning.convolution import recognise_conv
from unrollkit.tuning.triangular import Triangular, block_nests, recognise_triangular
from unrollkit.tuning.triangular_product import row_steps
from unrollkit.tuning.triangular_symm import Symm, recognise_symm
from unrollkit.tuning.triangular_trmm import Trmm, recognise_trmm
from unrollkit.core.errors import TransformError
from unrollkit.codegen.pipeline import Pipeline
from unrollkit.codegen.plan import Plan
from unrollkit.core.target import Target, host_target
from unrollkit.tuning.gemm_blocks import _balanced, _dividing, _lines_kept, _row_bytes, register_tile
from unrollkit.frontend.signature import sizes_of

#: the largest share of the k loop's uops its own increment and branch may take
LOOP_OVERHEAD = 0.03


#: the GEMM nest is the plainest contraction (`unrollkit.tuning.contraction`): one recogniser for all
GemmNest = Contraction


def match_gemm(kernel: d.Kernel) -> Contraction | None:
    """The (first) contraction of ``kernel`` this schedule runs (`contraction.recognise_all`),
    or None."""
    found = recognise_all(kernel)
    return found[0] if found else recognise_conv(kernel) or _triangular(kernel)


def _triangular(kernel: d.Kernel):
    """The triangular form of ``kernel`` (syrk's, trmm's or symm's), or None."""
    return recognise_triangular(kernel) or recognise_trmm(kernel) or recognise_symm(kernel)


# ---------------------------------------------------------------- the derivation


@dataclasses.dataclass(frozen=True)
class GemmSchedule:
    """The BLAS-style schedule of one contraction at its sizes (`derive`): register tile
    ``mr``×``nr``, blocks ``kc``, ``nc``, k unroll, packing, padding, ``why``."""
    nest: GemmNest
    M: int
    N: int
    K: int
    elem_bytes: int
    lanes: int             # W: elements per vector register
    mr: int                # register tile rows (tile size of i, after clamping to M)
    nr: int                # register tile columns (tile size of j, after clamping to N)
    kc: int                # K block (1 = no K blocking loop)
    nc: int                # N block (a multiple of nr; >= N: no N blocking loop)
    ku: int                # unroll factor of the k loop
    pad: int               # elements added to each packed row of B
    pack_a: bool = False   # pack the A sliver (only when its rows could collide in L1)
    registers: int = 32    # vector registers (the budget of the partial tiles' remainders)
    why: tuple = ()        # one line per derived value

    @property
    def partial_n(self) -> int:
        """Columns of the last, partial register tile (0 when NR divides every block)."""
        last = self.N - (math.ceil(self.N / self.nc) - 1) * self.nc if self.K > 1 else self.N
        # NR is a multiple of the lanes unless clamped to a narrow N (one tile of N columns)
        return last % self.nr or self.nr % self.lanes

    def describe(self) -> str:
        """The schedule in one line: sizes, register tile and accumulators, KC, NC, k unroll,
        padding, and each loop's role."""
        t = self.nest
        what = ", ".join(f"{n} {r}" for n, r in t.roles)
        what += "; B packed transposed" if t.b_transposed else ""
        what += f"; {t.scale} folded into B's packing" if t.scale else ""
        what += "; initialisation in its own nest" if t.split else ""
        what += f"; {t.fused}×{t.j} coalesced into the columns" if t.fused else ""
        what += f"; {'×'.join(t.k_loops + (t.k,))} coalesced into the reduction" if t.k_loops else ""
        what += "; B packed by iterations (each block's im2col)" if t.gather else ""
        return (f"GEMM {self.M}×{self.N}×{self.K}: register tile {self.mr}×{self.nr} "
                f"({self.mr * -(-self.nr // self.lanes)} accumulators of {self.lanes} lanes), "
                f"KC={self.kc}, NC={self.nc}, k unrolled ×{self.ku}, B rows padded by {self.pad}; "
                f"loops from the accesses: {what}")

    def _cache_blocks(self) -> tuple:
        """(steps, {loop: block size}) of the cache blocking: kc whenever K > 1 (one block if
        KC >= K: the anchor of B's packing), jc when N > NC."""
        t = self.nest
        i, j, k = t.i, t.j, t.k
        steps, blocks = [], {}
        if self.K > 1:
            if self.nc < self.N:
                blocks[j] = self.nc
            blocks[k] = min(self.kc, self.K)
        # the nest in k-i-j order first so that both blocking loops land outside i (tile's band
        # starts at the outermost tiled loop); the parallel loops (batch, extra M/N-like) go
        # outside, in their source order
        # (loops ``inner`` sit between k and i: one K block of a packed panel serves them all)
        first = list(t.outer) + ([k, *t.inner, i, j] if blocks else [*t.inner, i, k, j])
        written = [x for x in t.order if x != t.fused and x not in t.k_loops]
        if written != first:
            # parallel loops already outermost stay out of the permutation (syrk's diagonal
            # blocks: the block loop holds more than this nest, so it heads no perfect band)
            n = len(t.outer) if written[:len(t.outer)] == list(t.outer) else 0
            steps.append(f"permute{{order={':'.join(first[n:])}}}")
        if blocks:
            # the band runs from k to the deepest blocked loop; the point loops are then
            # put back in i-k-j order, which the register tile's band needs
            band = [k, *t.inner, i, j] if j in blocks else [k]
            outer = [x + ".tile" for x in (j, k) if x in blocks]
            steps.append(_tile(blocks, outer + band))
            steps += [f"rename{{loop={x}.tile,to={x}c}}" for x in (j, k) if x in blocks]
            steps.append(f"permute{{order={':'.join(t.inner + (i, k, j))}}}")
        return steps, blocks

    def _vector_steps(self, steps: list) -> list:
        """Append the vectorisation of the columns to ``steps``; returns the loops to unroll
        fully (j and the partial tile's narrower vector loops)."""
        j = self.nest.j
        if self.lanes <= 1:
            return [j]
        steps.append(f"vectorize{{loop={j},width={self.lanes}}}")
        # the columns of the last partial tile that fill no full register: halve the
        # width until they are covered (15 f32 = 8 + 4 + 2 + 1), so the whole C tile
        # stays in registers; a rolled scalar loop there would load and store C every k
        # ... as far as the registers allow: MR·pieces accumulators + pieces loads + 1
        # broadcast; columns past that stay a rolled scalar loop (spilling the whole
        # partial tile cost more: 1023³ f32 lost 20% with 7 pieces of 5 rows)
        pieces = (self.registers - 1) // (self.mr + 1) - self.partial_n // self.lanes
        more, unrolled = _remainder_widths(j, self.partial_n, self.lanes, pieces)
        steps += [f"vectorize{{loop={name},width={w}}}" for name, w in more]
        steps.append("in-bounds")
        return [j] + unrolled

    def pipeline(self) -> Pipeline:
        """The schedule as a pass pipeline over the affine IR (see the module docstring)."""
        t = self.nest
        i, j, k = t.i, t.j, t.k
        steps, blocks = self._cache_blocks()
        # the pixels (h, w) of a convolution: one column loop of H·W; its channel and kernel
        # rows and columns: one reduction loop
        steps[:0] = ([f"coalesce{{outer={t.fused},inner={j}}}"] if t.fused else []) + \
            [f"coalesce{{outer={r},inner={k}}}" for r in reversed(t.k_loops)]
        # the register tile: ir → jr → k → i → j
        reg = {}
        if self.M > 1:
            reg[i] = self.mr
        if self.N > 1:
            reg[j] = self.nr
        if reg:
            if i in reg and j in reg:
                order = [i + ".tile", j + ".tile", k, i, j]
            else:
                (x,) = reg
                order = [x + ".tile", x]
            steps.append(_tile(reg, order))
            steps += [f"rename{{loop={x}.tile,to={x}r}}" for x in (i, j) if x in reg]
        if k in blocks or t.b_transposed or t.gather:
            # (a transposed B is always packed: in place, its columns j are not contiguous;
            # at K = 1 under each register tile, the k loop's single iteration; a convolution's
            # by iterations: its block's im2col)
            anchor = k + "c" if k in blocks else k
            steps.append(f"pack{{arg={t.b},loop={anchor}" + (",transpose=true" if t.b_transposed else "")
                         + (f",iterations={k}:{j}" if t.gather else "")
                         + (",scale=true" if t.scale else "")
                         + (f",along={j}" if t.a == t.b else f",along={k}" if t.b == t.c else "")
                         + (f",pad={self.pad}" if self.pad else "") + "}")
        if self.pack_a and i in reg and self.K > 1:
            # column-major slivers: A[i, k] is transposed by the copy, A[k, i] already is
            steps.append(f"pack{{arg={t.a},loop={i}r" + ("" if t.a_transposed else ",transpose=true") + "}")
        unrolled = self._vector_steps(steps)
        steps += [f"unroll{{loop={x},full=true}}" for x in unrolled]
        steps.append(f"unroll{{loop={i},full=true}}")
        if self.ku > 1:
            steps.append(f"unroll{{loop={k},factor={self.ku}}}")
        # C's tile in registers for the whole k loop (and its cleanup copy), explicitly: LLVM's
        # LICM did it for plain GEMM but not in larger nests (batched 2×96×128×128: none of 24)
        steps.append(f"promote-to-registers{{loop={k},strict=false}}")
        return Pipeline.parse(",".join(steps))


def _remainder_widths(j: str, r: int, lanes: int, pieces: int = 99) -> tuple:
    """([(loop, width), ...] vectorizations of the remainder chain ``j.rem``, ``j.rem.rem``...,
    [loops to unroll fully]) for ``r`` columns after vectors of ``lanes``, in at most
    ``pieces`` registers (vectors or a fully unrolled scalar tail)."""
    steps, unroll = [], []
    name, rem, w = f"{j}.rem", r % lanes, lanes // 2
    while rem and w >= 2 and len(unroll) < pieces:
        if rem >= w:
            steps.append((name, w))
            unroll.append(name)
            if rem % w:
                name += ".rem"
            rem %= w
        w //= 2
    if rem and len(unroll) + rem <= pieces:
        unroll.append(name)  # a scalar tail of `rem` columns, one register each
    return steps, unroll


def _tile(sizes: dict, order: list) -> str:
    return "tile{" + ",".join(f"{k}={v}" for k, v in sizes.items()) + ",order=" + ":".join(order) + "}"


def derive(nest: GemmNest, sizes: dict, elem_bytes: int, target: Target | None = None) -> GemmSchedule:
    """The `GemmSchedule` of contraction ``nest`` at ``sizes`` for ``elem_bytes``-byte elements,
    sized from ``target`` (default the host): register tile, L1 and L2 blocks, k unroll, padding."""
    t = target or host_target()
    M, N, K = nest.trips(sizes)
    if min(M, N, K) < 1:
        raise TransformError("GEMM schedule: an empty dimension")
    w = t.vector_lanes(elem_bytes, t.vector_bits)
    mr, nv, why_reg = register_tile(t, elem_bytes, M, N)
    nr = nv * w
    # KC: the A sliver MR×KC in half of L1; equal blocks over K. A transposed A (A[k, i]) read
    # in place puts each k's MR elements in a line of their own: the sliver then spans KC
    # lines, not MR·KC elements, one row of A apart, and no more of them than L2 keeps at that
    # stride (gemm_at 1024³ f32: KC 512 → 256, 24.6 → 23.3 ms; f64: 344 → 128, 49 → 46 ms;
    # gemm_ct f64 256 → 128: 49.5 → 45.5 ms; numpy 22 and 43; 64 was slower again)
    # A is read in place: its MR rows (one line each at a time) fit the L1's ways even
    # when K·e is a multiple of the set stride; packing it (a transposing copy per
    # jc, kc, ir) cost 15% at 2048³ here. Pack it only when the rows could evict each other.
    pack_a = mr > t.l1d_ways and nest.a_packable
    sliver_row = mr * elem_bytes
    kc_max = max(1, t.l1d_bytes // 2 // sliver_row)
    if nest.a_transposed and not pack_a:
        sliver_row = max(sliver_row, t.line_bytes)
        kc_max = max(1, min(t.l1d_bytes // 2 // sliver_row, _lines_kept(t, _row_bytes(nest, sizes, M, elem_bytes))))
    kc = _dividing(K, kc_max, 4)
    # NC: the B block KC×NC in half of L2; equal blocks, a multiple of NR, over the columns
    # of whole register tiles (N rounded down to NR): the partial tile's columns are then the
    # last block on their own. Split over all of N, the last block mixed whole tiles with the
    # partial one (1023 f64: 4×240 + 63 = 40 + 23), and `tile` gives that block its own copy
    # of the full tile's nest under every K block and row remainder: 12 nests instead of 8,
    # each one more pass over LLVM (cold compile 1.4 s → under 1 s)
    nc_max = max(nr, t.l2_bytes // 2 // (kc * elem_bytes) // nr * nr)
    nc = N if N <= nc_max else _balanced(N // nr * nr, nc_max, nr)
    # k unroll: the loop's 2 uops under 3% of the body (MR·nv FMAs, nv loads, MR broadcasts);
    # measured at 1024³ f32 (6×64 or 5×80): ×1 (6% overhead) 7% slower, ×2 and ×4 equal,
    # and every further copy multiplies the code of all 2^3 remainder nests
    body = mr * nv + nv + mr
    ku = 1
    while 2 / (body * ku) > LOOP_OVERHEAD and ku < 8:
        ku *= 2
    # the L1 set stride (size / ways): rows that far apart share a cache set
    set_stride = t.l1d_bytes // t.l1d_ways
    # pad a packed B row whose length is a multiple of it by one line: the micro-kernel
    # walks down the rows, which would otherwise all land in one set
    row = min(nc, N) * elem_bytes
    pad = t.line_bytes // elem_bytes if row % set_stride == 0 else 0
    why = (why_reg,
           f"KC={kc}: A sliver {kc}×{sliver_row} B ≤ L1/2 ({t.l1d_bytes // 2} B)" if sliver_row > mr * elem_bytes
           else f"KC={kc}: A sliver {mr}×{kc}×{elem_bytes} B ≤ L1/2 ({t.l1d_bytes // 2} B)",
           f"NC={nc}: B block {kc}×{nc}×{elem_bytes} B ≤ L2/2 ({t.l2_bytes // 2} B)",
           f"k ×{ku}: loop overhead {2 / (body * ku):.1%} of a {body}-uop body")
    return GemmSchedule(nest, M, N, K, elem_bytes, w, min(mr, M), min(nr, N), kc, nc, ku, pad,
                        pack_a=pack_a, registers=t.vector_registers, why=why)


@dataclasses.dataclass(frozen=True)
class Schedules:
    """The schedules of a kernel's contraction nests (2mm, 3mm), run one after the other."""
    parts: tuple  # of GemmSchedule, in source order

    @property
    def nest(self) -> Contraction:
        """The first nest's contraction (its ``kernel`` is the rewritten kernel of all nests)."""
        return self.parts[0].nest

    @property
    def why(self) -> tuple:
        """Every nest's derivation, one line per derived value."""
        return tuple(f"nest {n + 1}: {w}" for n, p in enumerate(self.parts) for w in p.why)

    def describe(self) -> str:
        """One line per nest, as `GemmSchedule.describe`."""
        return f"{len(self.parts)} nests: " + "; ".join(
            f"nest {n + 1}: {p.describe()}" for n, p in enumerate(self.parts))

    def pipeline(self) -> Pipeline:
        """The nests' pipelines one after the other (each names only its own nest's loops)."""
        out = self.parts[0].pipeline()
        for p in self.parts[1:]:
            out = out + p.pipeline()
        return out


@dataclasses.dataclass(frozen=True)
class TriangularSchedule:
    """A triangular rank-k update (`triangular`), trmm (`triangular_trmm`) or symm
    (`triangular_symm`) as its rewritten nests: the GEMM schedules of the blocks off the
    diagonal, of syrk's diagonal blocks (into a buffer) and of the rows left over, then the
    corner's dot products vectorised ``registers`` registers wide, or trmm's and symm's
    triangles vectorised along their rows."""
    tri: Triangular | Trmm | Symm
    kernel: object         # the rewritten kernel (every nest)
    parts: tuple           # of GemmSchedule
    dot: str | None        # the corner's k loop (None: no corner)
    registers: int
    block: int
    rows: tuple = ()       # trmm's, symm's triangles: (k, j of the column tiles, k, j, count of the rest)
    lanes: int = 1

    @property
    def nest(self) -> Triangular:
        """The recognised update, its ``kernel`` the rewritten one (what the plan compiles)."""
        return dataclasses.replace(self.tri, kernel=self.kernel)

    @property
    def why(self) -> tuple:
        """Each GEMM nest's derivation, then the blocking's."""
        b = self.block
        if not isinstance(self.tri, Triangular):
            last = self.tri.blocking(b, self.lanes)
        else:
            last = (f"blocks of {b} (the register tile's columns): each diagonal block computed whole "
                    f"into a {b}×{b} buffer (a share {b}/N more work, at the GEMM's speed)")
        return tuple(f"nest {n + 1}: {w}" for n, p in enumerate(self.parts) for w in p.why) + (last,)

    def describe(self) -> str:
        """The blocking in one line, then one line per GEMM nest."""
        t = self.tri
        head = t.describe(self.block) + f": {len(self.parts)} GEMM nest(s)" if not isinstance(t, Triangular) else (
            f"triangular rank-k update ({t.i}: rows, {t.j} ≤ {t.i}: columns, {t.k}: reduction) in "
            f"blocks of {self.block}: {len(self.parts)} GEMM nest(s) (blocks below the diagonal, "
            f"diagonal blocks into a buffer, rows left over)"
            + (f", the corner's dot products vectorised ({self.registers} registers)" if self.dot else ""))
        return head + "".join(f"; nest {n + 1}: {p.describe()}" for n, p in enumerate(self.parts))

    def pipeline(self) -> Pipeline:
        """The GEMM nests' pipelines, then the corner's vectorisation (and its remainder's) or
        the triangles' (`triangular_product.row_steps`)."""
        out = Pipeline()
        for p in self.parts:
            out = out + p.pipeline()
        out = out + Pipeline.parse(",".join(row_steps(self.rows, self.lanes)))
        return out + Pipeline.parse(f"vectorize{{loop={self.dot},registers={self.registers},reductions=true}},"
                                    f"vectorize{{loop={self.dot}.rem,registers=1,reductions=true}}"
                                    if self.dot else "")


def triangular_schedule(tri: Triangular, sizes: dict, elem_bytes: int, target: Target | None = None):
    """The `TriangularSchedule` of ``tri`` at ``sizes``: blocks as wide as the register tile
    (``nv`` vectors), each GEMM nest derived as any contraction; None when a size is 0 or the
    rewrite's loop names are taken."""
    t = target or host_target()
    n, k = tri.trips(sizes)
    if min(n, k) < 1:
        return None
    _, nv, _ = register_tile(t, elem_bytes, max(n, 2), max(n, 2))
    block = nv * t.vector_lanes(elem_bytes, t.vector_bits)
    nests = block_nests(tri, sizes, block) if isinstance(tri, Triangular) else tri.nests(sizes, block)
    if nests is None:
        return None
    parts = tuple(derive(g, sizes, elem_bytes, t) for g in nests.gemms)
    lanes = t.vector_lanes(elem_bytes, t.vector_bits)
    return TriangularSchedule(tri, nests.kernel, parts, nests.dot, 2, block, nests.rows, lanes)


def gemm_schedule(kernel, signature, target: Target | None = None):
    """The `GemmSchedule` for ``kernel`` at a call `Signature` (`Schedules` for a kernel of
    several contraction nests, `TriangularSchedule` for a triangular one), or None if it is
    not a contraction."""
    nests = recognise_all(kernel)
    if nests is None:
        conv = recognise_conv(kernel)
        nests = (conv,) if conv is not None else None
    types = dict(signature.types)
    if nests is None:
        tri = _triangular(kernel)
        elem = tri and {"f32": 4, "f64": 8}.get(types[kernel.params[tri.c].name])
        return elem and triangular_schedule(tri, sizes_of(kernel, signature), elem, target) or None
    parts = []
    for nest in nests:
        elem = {"f32": 4, "f64": 8}.get(types[kernel.params[nest.c].name])
        if elem is None:
            return None  # integer GEMM: no FMA, no vector model here
        parts.append(derive(nest, sizes_of(kernel, signature), elem, target))
    return parts[0] if len(parts) == 1 else Schedules(tuple(parts))


def gemm_pipeline(kernel, signature, target: Target | None = None) -> Pipeline:
    """The pass pipeline of `gemm_schedule`; refuses a kernel that is not a GEMM nest."""
    s = gemm_schedule(kernel, signature, target)
    if s is None:
        raise TransformError(f"kernel {kernel.name!r} is not a GEMM nest C[i, j] += A[i, k] * B[k, j] "
                             "over floating-point arrays")
    return s.pipeline()


# ---------------------------------------------------------------- the hook into jit()


def gemm_plan(kernel, signature, placeholder, target: Target | None = None):
    """(`variants.Plan`, schedule) running the GEMM schedule, then the placeholder's own passes
    under its LLVM policy; None when ``kernel`` at ``signature`` is not a floating-point GEMM."""
    s = gemm_schedule(kernel, signature, target)
    if s is None:
        return None
    return Plan(s.nest.kernel or kernel, s.pipeline() + placeholder.pipeline, placeholder.policy, "blas",
                placeholder.factors), s
