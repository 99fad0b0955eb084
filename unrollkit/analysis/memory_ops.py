"""Which MLIR operations touch memory, and which elements each one touches.

`access_of` describes an element access (``affine.load/store``, ``affine.vector_load/store``,
``affine.prefetch``, ``memref.load/store``, ``vector.load/store``,
``vector.transfer_read/write``): the memref, its index values (or an affine map and its
operands), the extent each memref dimension spans (vector lanes) and the dimensions where
lanes past the end are masked off. `foreign_memory_op` names any other operation that takes or
makes a memref or a pointer and is not known to leave elements alone (allocation,
deallocation, size queries): the proof refuses those by name, since it cannot see what they
touch.
"""
from __future__ import annotations

import dataclasses

from mlir import ir
from mlir.dialects import llvm

from .affine_to_isl import NotAffine, op_name


@dataclasses.dataclass(slots=True)
class Access:
    """One memory access: ``indices`` are index values, or the operands of ``amap``."""
    memref: object
    shape: list  # the memref's static shape (a dynamic size is negative)
    amap: object  # ir.AffineMap | None
    indices: list
    extents: list  # elements spanned per memref dimension (1 for a scalar access)
    masked: frozenset  # dims where a transfer masks the lanes past the end (not the start)
    writes: bool


#: element accesses, by name → (position of the memref operand, writes?, has an affine map?)
_ACCESSES = {
    "affine.load": (0, False, True), "affine.vector_load": (0, False, True),
    "affine.store": (1, True, True), "affine.vector_store": (1, True, True),
    "affine.prefetch": (0, False, True),
    "memref.load": (0, False, False), "memref.store": (1, True, False),
    "vector.load": (0, False, False), "vector.store": (1, True, False),
    "vector.transfer_read": (0, False, False), "vector.transfer_write": (1, True, False),
}
ACCESS_OPS = frozenset(_ACCESSES)

#: operations on memrefs that touch no element (the values they make are checked at use;
#: ``memref.collapse_shape`` of a static shape is a view of the same elements whose shape has
#: the same product, so an access proved inside the view is inside the array: `passes/coalesce.py`)
_NO_ELEMENT = frozenset(("memref.alloc", "memref.alloca", "memref.dealloc", "memref.dim",
                         "memref.assume_alignment", "memref.collapse_shape", "func.func", "func.return"))

#: dialects and operations that never touch memory: their operands are not even looked at
_PURE_DIALECTS = ("arith.", "math.", "ub.", "index.")
_PURE_OPS = frozenset((
    "affine.apply", "affine.min", "affine.max", "affine.yield", "affine.for", "affine.if",
    "affine.parallel", "scf.for", "scf.if", "scf.yield", "scf.parallel", "scf.reduce",
    "scf.reduce.return", "scf.execute_region", "vector.broadcast", "vector.splat", "vector.fma",
    "vector.reduction", "vector.multi_reduction", "vector.extract", "vector.insert",
    "vector.extractelement", "vector.insertelement", "vector.shuffle", "vector.shape_cast",
    "vector.transpose", "vector.from_elements", "vector.step", "vector.create_mask",
    "vector.constant_mask", "vector.extract_strided_slice", "vector.insert_strided_slice",
    "vector.contract", "vector.outerproduct", "vector.bitcast", "vector.yield",
    "vector.interleave", "vector.deinterleave",
))


def is_pure(name: str) -> bool:
    """Whether operation ``name`` itself touches no memory (``arith``, ``math``, index arithmetic,
    loops and ifs, vector value operations); the operations nested in it are judged apart."""
    return name in _PURE_OPS or name.startswith(_PURE_DIALECTS)


def _memref_facts(mem, memo: dict):
    """(rank, element is a vector, shape) of a memref value's type, None for another type;
    memoised by value and by type for one walk (an unrolled body accesses a few memrefs many
    times: the value's hash costs less than reading its type)."""
    facts = memo.get(mem, False)
    if facts is not False:
        return facts
    t = mem.type
    facts = memo.get(t, False)
    if facts is False:
        facts = None
        if t.typeid == ir.MemRefType.static_typeid:
            mt = ir.MemRefType(t)
            facts = (mt.rank, mt.element_type.typeid == ir.VectorType.static_typeid, list(mt.shape))
        memo[t] = facts
    memo[mem] = facts
    return facts


def _vec_shape(t) -> list:
    """The shape of a vector type (``[]`` for another type)."""
    # (a type-id test: a failed cast raises, and that costs more than the whole check)
    return list(ir.VectorType(t).shape) if t.typeid == ir.VectorType.static_typeid else []


#: the accesses that move one element (the memref's element type), never a vector of them
_SCALAR = frozenset(("affine.load", "affine.store", "affine.prefetch", "memref.load", "memref.store"))


def access_of(op, memo: dict | None = None, name: str | None = None) -> Access | None:
    """The access ``op`` makes, or None if it is not an element access (or not of a memref).
    ``memo``: a dict kept for one walk of one module (facts by memref value and type, the
    rest by the attributes and types it is read from); ``name``: the operation's name, if
    the caller has it."""
    name = op.operation.name if name is None else name
    spec = _ACCESSES.get(name)
    if spec is None:
        return None
    pos, writes, mapped = spec
    memo = {} if memo is None else memo
    ops = list(op.operands)
    mem = ops[pos]
    facts = _memref_facts(mem, memo)
    if facts is None:
        return None  # a transfer on a tensor: no memory
    rank, elem_is_vector, shape = facts
    # one element per access (verified IR: the value has the element type), else the lanes of
    # a vector type. What the accesses of an unrolled body share is found once per walk,
    # keyed by everything it is read from.
    if name in _SCALAR or elem_is_vector:
        vtype = None
    else:
        vtype = ops[0].type if writes else op.results[0].type
    if name.startswith("vector.transfer_"):
        attrs = op.attributes
        key = (name, rank, vtype, attrs.get("permutation_map"), attrs.get("in_bounds"))
    else:
        key = (name, rank, vtype, op.attributes["map"] if mapped else None)
    kind = memo.get(key)
    if kind is None:
        kind = memo[key] = _kind(op, key)
    amap, n_idx, extents, masked = kind
    return Access(mem, shape, amap, ops[pos + 1:pos + 1 + n_idx], extents, masked, writes)


def _kind(op, key: tuple) -> tuple:
    """(affine map or None, number of index operands, extents per memref dim, masked dims)
    of the access ``op``, from its `access_of` memo ``key``: (name, memref rank, vector
    type or None, then the map attribute, or a transfer's permutation map and in_bounds).
    The accesses of one kind share its lists: not to be changed."""
    name, rank, vtype = key[:3]
    vshape = [] if vtype is None else _vec_shape(vtype)
    if len(vshape) > rank:
        raise NotAffine(f"{name} moves a {len(vshape)}-d vector through a {rank}-d memref")
    if name.startswith("vector.transfer_"):
        return (None, rank) + _transfer_lanes(op, rank, vshape)
    extents = [1] * (rank - len(vshape)) + vshape
    if _ACCESSES[name][2]:
        amap = ir.AffineMapAttr(key[3]).value
        return amap, amap.n_inputs, extents, frozenset()
    return None, rank, extents, frozenset()


def _transfer_lanes(op, rank: int, vshape: list):
    """Extent per memref dim and the masked dims of a vector transfer: vector dim i spans
    the memref dim its permutation map names (a constant 0 result broadcasts: no extent);
    a vector dim not marked ``in_bounds`` masks its lanes past the end of that memref dim.

    MLIR 22 requires both attributes (the parser fills in the defaults of the short form:
    the minor identity, nothing in bounds), so a transfer without one is not verified IR:
    refused, never given defaults of ours."""
    attrs = op.attributes
    if "permutation_map" not in attrs or "in_bounds" not in attrs:
        raise NotAffine(f"{op_name(op)} has no permutation_map or no in_bounds attribute (not verified IR)")
    results = ir.AffineMapAttr(attrs["permutation_map"]).value.results
    flags = [ir.BoolAttr(a).value for a in ir.ArrayAttr(attrs["in_bounds"])]
    extents, masked = [1] * rank, set()
    for i, e in enumerate(results):
        e = e.maybe_downcast()
        if isinstance(e, ir.AffineDimExpr):
            extents[e.position] = vshape[i]
            if not flags[i]:
                masked.add(e.position)
        elif not (isinstance(e, ir.AffineConstantExpr) and e.value == 0):
            raise NotAffine(f"the permutation map of {op_name(op)} has the result {e}")
    return extents, frozenset(masked)


_MEMORY_TYPEIDS = None


def _memory_typeids():
    global _MEMORY_TYPEIDS
    if _MEMORY_TYPEIDS is None:
        _MEMORY_TYPEIDS = frozenset((ir.MemRefType.static_typeid, ir.UnrankedMemRefType.static_typeid,
                                     llvm.PointerType.static_typeid))
    return _MEMORY_TYPEIDS


def foreign_memory_op(op) -> bool:
    """Does ``op`` (not an element access) take or make a memref or pointer, other than to
    allocate, free or measure it? Those are refused: nothing shows what they touch."""
    name = op_name(op)
    if is_pure(name) or name in _NO_ELEMENT or name in _ACCESSES:
        return False
    ids = _memory_typeids()
    values = list(op.operation.operands) + list(op.operation.results)
    return any(v.type.typeid in ids for v in values)
