"""``tile``: tile a perfectly nested band of loops, per-loop sizes given by source name.

Options (pipeline text ``tile{i=32,j=32,order=i.tile:j.tile:i:j}``):
    <loop>=<size> (int ≥ 1, repeated): the loops to tile and their tile sizes; the keys are
        loop names, so a loop named ``order`` cannot be tiled from text.
    order (names, colon-separated, default: every tile loop in band order, then every point
        loop): the order of the resulting loops, outermost first. The band is the perfect nest
        from the outermost to the innermost tiled loop (gemm's ``tile{i=8,j=8}`` has band
        i, k, j), and ``order`` lists each of its resulting loops once, e.g. ``i.tile:j.tile:k:i:j``.
    separate (bool, true): when a size does not divide a constant trip count, split the tile
        loop into full tiles (point loop ``tile + size``: a constant trip count that `unroll`,
        `peel` and `vectorize` handle) and the last partial tile (a copy of the nest whose
        point loop ends at the original bound); false keeps one nest with ``min`` bounds.

Naming: tiling loop ``i`` makes two loops, the tile loop ``i.tile`` (steps by the tile size)
and the point loop ``i`` (walks one tile); later passes target either by name, e.g.
``unroll{loop=i}`` unrolls inside each tile. Tiling is refused when a dependence would be
reversed (the band is not fully permutable) or the loops are not perfectly nested.

Before → after (``tile{i=32}`` on 0..100, then ``tile{i=32,j=32}`` on a 2-D nest)::

    affine.for %i = 0 to 100 {        affine.for %it = 0 to 100 step 32 {        // "i.tile"
      S(%i)                     →       affine.for %i = %it to min(%it + 32, 100) {   // "i"
    } {uk.name = "i"}                     S(%i) } }

    for i { for j { S } }       →     for i.tile { for j.tile { for i { for j { S } } } }

With ``separate=false`` a point loop's upper bound is ``min(tile + size, ub)`` unless the
size divides the trip count, when it is just ``tile + size``.
"""
from __future__ import annotations

import dataclasses
from typing import ClassVar

from mlir import ir

from unrollkit.core.errors import TransformError
from unrollkit.ir.ir_utils import (affine_loops, count_ops, has_iter_args, bound_maps, bound_operands, constant_trip_count, iv_of,
                                loop_name, loop_names, new_loop, rebuild_loop,
                                shifted, split_loop,
                                step_of, vanished)
from unrollkit.ir.loop_nests import perfect_band, reorder_band

from .base import Pass, check_code_size, register, check_int
from .dependence import check_tiling

TILE_SUFFIX = ".tile"
FRESH = "uk.fresh_tile"  # marks the tile loops made by the running application of the pass


@register
@dataclasses.dataclass(frozen=True)
class Tile(Pass):
    """Tile(sizes, order, separate): the ``tile`` pass; `register` gives it the module docstring
    (options, before → after)."""
    name: ClassVar[str] = "tile"
    sizes: tuple = ()   # ((loop name, size), ...)
    order: tuple = ()   # resulting loop names, outermost first; () = tile loops, then point loops
    separate: bool = True

    def __post_init__(self):
        object.__setattr__(self, "sizes", tuple((str(k), v) for k, v in self.sizes))
        object.__setattr__(self, "order", tuple(str(x) for x in self.order))
        for loop, size in self.sizes:
            check_int(size, f"tile size of loop {loop!r}")
        names = [k for k, _ in self.sizes]
        if len(set(names)) != len(names):
            raise TransformError(f"tile: a loop is given two sizes in {list(self.sizes)}")

    def loop_scope(self):
        """The tiled loops and every loop of ``order`` (the band's other loops, the new names)."""
        return frozenset(k for k, _ in self.sizes) | frozenset(self.order) if self.sizes else None

    @classmethod
    def options(cls) -> dict:
        """Option name → (type, default): ``<loop>`` stands for the loop-name keys, one per tiled
        loop."""
        return {"<loop>": (int, None), "order": (tuple, ()), "separate": (bool, True)}

    @classmethod
    def from_text(cls, body: str) -> "Tile":
        """The pass of the text between the braces of ``tile{...}``: ``<loop>=<size>`` items,
        ``order=a:b:...`` and ``separate=``; anything else is a `TransformError`."""
        sizes, order, separate = [], (), True
        for item in filter(None, (x.strip() for x in body.split(","))):
            if "=" not in item:
                raise TransformError(f"tile option {item!r} needs a value: <loop>=<size> or order=a:b:...")
            key, raw = (x.strip() for x in item.split("=", 1))
            if key == "order":
                order = tuple(x for x in raw.split(":") if x)
                continue
            if key == "separate":
                if raw.lower() not in ("true", "false", "1", "0"):
                    raise TransformError(f"tile option separate={raw!r} is not a bool")
                separate = raw.lower() in ("true", "1")
                continue
            try:
                sizes.append((key, int(raw)))
            except ValueError:
                raise TransformError(f"tile size of loop {key!r} must be an integer, got {raw!r}; "
                                     "tile's options are <loop>=<size> and order=a:b:...") from None
        return cls(tuple(sizes), order, separate)

    def text(self) -> str:
        """The pass in pipeline text form, e.g. ``tile{i=32,j=32,order=i.tile:j.tile:i:j}``;
        defaults omitted."""
        opts = [f"{k}={v}" for k, v in self.sizes]
        if self.order:
            opts.append("order=" + ":".join(self.order))
        if not self.separate:
            opts.append("separate=false")
        return self.name + ("{" + ",".join(opts) + "}" if opts else "")

    def apply(self, module) -> None:
        """Tile, in each nest, the band headed by the outermost loop named in ``sizes`` (sizes of 1
        and loops fully unrolled earlier skipped), then check the code size."""
        sizes = {k: v for k, v in self.sizes if v > 1}
        gone = [k for k in sizes if vanished(module, k)]  # fully unrolled earlier at this size
        if gone:
            if self.order:
                return  # the order names a loop that no longer exists: nothing to reorder
            sizes = {k: v for k, v in sizes.items() if k not in gone}
            if not sizes:
                return
        if not sizes:
            if self.order:
                raise TransformError("tile: order= given but no loop has a tile size > 1")
            return
        loops = affine_loops(module)
        known = loop_names(module)
        for name in sizes:
            if name not in known:
                raise TransformError(f"tile: no loop named {name!r}; the loops are {known}")
        targets = [l for l in loops if loop_name(l) in sizes]
        # the outermost target of each nest heads one band
        heads = [l for l in targets if not any(_encloses(o, l) for o in targets if o != l)]
        for head in heads:
            self._tile_band(head, sizes)
        # separating partial tiles copies a nest per tiled loop: bound what that made
        check_code_size("tiling", ",".join(sizes), count_ops(module.operation))

    def _tile_band(self, head, sizes: dict) -> None:
        full = perfect_band(head)
        deepest = max(i for i, l in enumerate(full) if loop_name(l) in sizes)
        band = full[:deepest + 1]
        inside = [l for l in affine_loops(head) if loop_name(l) in sizes and l not in band]
        if inside:
            raise TransformError(
                f"cannot tile loop {loop_name(inside[0])!r} with loops {[loop_name(l) for l in band]}: "
                "they are not perfectly nested (another statement sits between them)")
        names = [loop_name(l) for l in band]
        tiled = [l for l in band if loop_name(l) in sizes]
        default = [n + TILE_SUFFIX for n in names if n in sizes] + names
        order = list(self.order) or default
        if sorted(order) != sorted(default):
            raise TransformError(f"tile: order {order} must list each resulting loop once: "
                                 f"{sorted(default)}")
        keys = [("tile", band[names.index(n[:-len(TILE_SUFFIX)])]) if n.endswith(TILE_SUFFIX)
                and n[:-len(TILE_SUFFIX)] in sizes else ("point", band[names.index(n)]) for n in order]
        what = f"tile loops {[loop_name(l) for l in tiled]} into order {order}"
        check_tiling(band, set(tiled), keys, what)
        # strip-mining erases the original loops: refer to them by position in the band
        pos = {l: i for i, l in enumerate(band)}
        idx_keys = [(kind, pos[l]) for kind, l in keys]
        tiled_idx = [pos[l] for l in tiled]
        new = {}
        for i, loop in enumerate(list(band)):
            if i in tiled_idx:
                new[("tile", i)], new[("point", i)] = _strip_mine(loop, sizes[names[i]])
            else:
                new[("point", i)] = loop
        outer = new.get(("tile", 0), new[("point", 0)])
        outer_parent = outer.parent
        nest = perfect_band(outer, len(band) + len(tiled))
        wanted = [new[k] for k in idx_keys]
        if nest != wanted:
            try:
                reorder_band(nest, wanted)
            except TransformError as exc:
                raise TransformError(f"cannot {what}: {exc}") from None
        root = module_of(outer_parent)
        if self.separate:
            for i in tiled_idx:
                _separate(root, names[i], sizes[names[i]])
        for op in affine_loops(root):
            if FRESH in op.attributes:
                del op.attributes[FRESH]


def _encloses(outer, inner) -> bool:
    p = inner.parent
    while p is not None:
        if p == outer:
            return True
        p = p.parent
    return False


def _strip_mine(loop, size: int):
    """``loop`` → ``loop.tile`` around ``loop``; returns (tile loop, point loop)."""
    name = loop_name(loop) or "<unnamed>"
    lbm, ubm = bound_maps(loop)
    lbo, ubo = bound_operands(loop)
    st = step_of(loop)
    if has_iter_args(loop):
        raise TransformError(f"cannot tile loop {name!r}: it carries values (iter_args, e.g. after "
                             "split-accumulators or vectorize with reductions); tile before those")
    if ubm.n_symbols or lbm.n_symbols:
        raise TransformError(f"cannot tile loop {name!r}: bounds with symbols are not supported")
    trips = constant_trip_count(loop)
    tile = new_loop(lbm, lbo, ubm, ubo, st * size, ir.InsertionPoint(loop),
                    name=name + TILE_SUFFIX, like=loop)
    # only this application's tile loops are separated below: an earlier tiling of the same
    # name (tile{i=2},tile{i=3}) has tile loops named alike whose point loops look different
    tile.attributes[FRESH] = ir.UnitAttr.get()
    loop.move_before(list(tile.regions[0].blocks[0].operations)[-1])
    t = ir.AffineDimExpr.get(0)
    lb = (ir.AffineMap.get(1, 0, [t]), [iv_of(tile)])
    if trips is not None and trips % size == 0 and len(lbm.results) == 1 and len(ubm.results) == 1:
        ub = (ir.AffineMap.get(1, 0, [t + st * size]), [iv_of(tile)])
    else:
        n = ubm.n_dims
        exprs = shifted(ubm, 0) + [ir.AffineDimExpr.get(n) + st * size]
        ub = (ir.AffineMap.get(n + 1, 0, exprs), list(ubo) + [iv_of(tile)])
    point = rebuild_loop(loop, lb=lb, ub=ub)
    return tile, point


def module_of(op):
    """The outermost ancestor of ``op`` (the module's operation)."""
    while op.parent is not None:
        op = op.parent
    return op


def _separate(root, name: str, size: int) -> None:
    """Split every ``name.tile`` loop into its full tiles and its last partial tile."""
    for tile in [l for l in affine_loops(root)
                 if loop_name(l) == name + TILE_SUFFIX and FRESH in l.attributes]:
        trips = constant_trip_count(tile)
        if trips is None or trips < 1 or len(bound_maps(tile)[0].results) != 1:
            continue  # (a max() lower bound: where the last tile starts is not one expression)
        points = [l for l in affine_loops(tile) if loop_name(l) == name
                  and iv_of(tile) in bound_operands(l)[1]]
        if not points or len(bound_maps(points[0])[1].results) < 2:
            continue  # the size divides the trip count: every tile is full already
        if trips == 1:
            _drop_min(points[0], full=False, start=_constant_start(tile))
            continue
        full, partial = split_loop(tile, _last_tile_start(tile), tile_name(name), tile_name(name))
        start = _constant_start(partial)
        for part, is_full in ((full, True), (partial, False)):
            for p in affine_loops(part):
                if loop_name(p) == name and iv_of(part) in bound_operands(p)[1]:
                    _drop_min(p, full=is_full, start=None if is_full else start)


def tile_name(name: str) -> str:
    """The name of the tile loop that tiling loop ``name`` makes: ``name.tile``."""
    return name + TILE_SUFFIX


def _last_tile_start(tile):
    """The tile loop's bound where the last (partial) tile starts: lb + (trips − 1)·step."""
    lbm, _ = bound_maps(tile)
    lbo, _ = bound_operands(tile)
    trips = constant_trip_count(tile)
    e = lbm.results[0] + (trips - 1) * step_of(tile)
    return ir.AffineMap.get(lbm.n_dims, lbm.n_symbols, [e]), list(lbo)


def _constant_start(tile):
    """The lower bound of a tile loop when it is a constant, else None."""
    lbm = bound_maps(tile)[0]
    try:
        return ir.AffineConstantExpr(lbm.results[0]).value if len(lbm.results) == 1 else None
    except (ValueError, TypeError):
        return None


def _drop_min(point, full: bool, start=None) -> None:
    """A point loop's ``min(ub..., tile + size)``: keep ``tile + size`` (full tiles) or the
    original bounds (the last tile, which always ends there). ``start``: the last tile's
    constant first index, which then replaces the tile IV as the lower bound, so the partial
    tile's point loop has constant bounds (a known trip count for unroll and vectorize)."""
    ubm = bound_maps(point)[1]
    ubo = bound_operands(point)[1]
    n = ubm.n_dims
    if full:
        # the last result is ``d_{n-1} + size·step`` over the tile IV (the last operand)
        only_tile = ir.AffineMap.get(1, 0, [ir.AffineConstantExpr.get(0)] * (n - 1) + [ir.AffineDimExpr.get(0)])
        ub = (ir.AffineMap.get(1, 0, [ubm.results[-1].compose(only_tile)]), [ubo[-1]])
    else:
        ub = (ir.AffineMap.get(n, 0, list(ubm.results)[:-1]), list(ubo))
    lb = None
    if start is not None:
        lb = (ir.AffineMap.get(0, 0, [ir.AffineConstantExpr.get(start)]), [])
        rest = list(ubm.results)[:-1]
        if all(_is_constant(e) for e in rest):
            ub = (ir.AffineMap.get(0, 0, rest), [])
    rebuild_loop(point, lb=lb, ub=ub)


def _is_constant(e) -> bool:
    try:
        ir.AffineConstantExpr(e)
        return True
    except (ValueError, TypeError):
        return False

