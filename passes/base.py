"""The pass protocol and the registry."""
from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import os
from typing import ClassVar

from mlir import ir

from unrollkit.core.errors import CodeSizeError, TransformError, UnrollkitError
from unrollkit.core.target import Target, host_target
from unrollkit.ir.ir_utils import PARKED_LOOP_NAMES, affine_loops, is_innermost, loop_name, vanished, walk_ops
import sys

REGISTRY: dict = {}

#: The code-size budget (``UNROLLKIT_MAX_OPS``): operations a pass may leave in the module, and
#: what LLVM may be given (`code_size`: vectors counted per register, unroll-count pragmas
#: times their copies). Unrolling multiplies code: a 16-deep full unroll of a tile loop
#: produced 31 MB of IR upstream and never finished; under the former 50,000, 7,000 copies of
#: mac's six-operation body ran over 60 s in LLVM's O3 (1,024 copies, 7,200 operations: 19 s;
#: straight-line code costs LLVM superlinear time). One GEMM schedule makes up to about 7,300
#: (1023³ f64; factor 64 on any built-in: under 600) and a kernel of three contractions
#: (PolyBench 3mm, 1024 f64) about 16,600 in loops: the default leaves twice that, while a
#: straight-line block stays under an eighth of it (`max_block`), what bounds LLVM's time.
DEFAULT_MAX_OPS = 32_768


def max_ops() -> int:
    """The code-size budget: ``UNROLLKIT_MAX_OPS`` (a positive integer), else the default."""
    raw = os.environ.get("UNROLLKIT_MAX_OPS", "").strip()
    if not raw:
        return DEFAULT_MAX_OPS
    try:
        limit = int(raw)
    except ValueError:
        limit = 0
    if limit < 1:
        raise UnrollkitError(f"UNROLLKIT_MAX_OPS={raw!r} is not a positive integer; it is the "
                             f"code-size budget in operations (default {DEFAULT_MAX_OPS:,})")
    return limit


#: The widest vector any operation may have, whatever the budget: LLVM's instruction selector
#: aborts the process on a vector of 65,536 lanes ("too many operands to fit into SDNode",
#: `vector-acc` at factor 4096), far below any budget counted in registers.
MAX_VECTOR_LANES = 4096
#: operations whose body is a block of its own (a loop body, a function body)
_BLOCK_OPS = frozenset({"affine.for", "affine.parallel", "scf.for", "scf.while", "scf.parallel",
                        "func.func", "llvm.func", "builtin.module"})


def max_block() -> int:
    """The most code one straight-line block may hold: an eighth of the budget (4,096 by
    default). LLVM's O3 takes superlinear time in a block's length: mac unrolled by 256, 512,
    1024 (blocks of 1,800, 3,600, 7,200 operations) took 0.75, 3.6, 19 s, by 2048 over 400 s,
    while the GEMM schedule's 7,300 operations in loops (blocks up to ~850) take about a second."""
    return max(1, max_ops() // 8)


@dataclasses.dataclass(frozen=True)
class CodeSize:
    """`measure`'s answer: ``total`` operations (vectors per register), ``widest`` vector
    (lanes), the largest straight-line ``block`` (operations outside nested loops) with the
    name of the loop whose body it is ("" for a function body), and the root's ``own`` block."""
    total: int
    widest: int
    block: int
    block_loop: str
    own: int


def measure(root) -> CodeSize:
    """The code under ``root`` as LLVM will see it: operations, a vector operation counted
    once per vector register it fills (LLVM splits a ``vector<1024xf32>`` into 64 AVX-512
    registers' worth of instructions), and its longest block."""
    register_bits = current_target().vector_bits
    vector_id = ir.VectorType.static_typeid
    total, widest, best = 0, 0, (0, "")

    def weight(op) -> int:
        nonlocal widest
        w = 1
        values = op.results
        if not len(values):
            values = op.operands  # a store of a vector: its width is in what it stores
        for v in values:
            t = v.type
            if t.typeid == vector_id:  # (cheaper than isinstance on every value)
                t = ir.VectorType(t)
                lanes = _product(t.shape)
                w = max(w, -(-lanes * getattr(t.element_type, "width", 64) // register_bits))
                widest = max(widest, lanes)
        return w

    def block_of(op) -> int:
        """Operations of ``op``'s regions outside nested loops; nested blocks are measured too."""
        nonlocal total, best
        n = 0
        for region in op.regions:
            for block in region.blocks:
                for child in block.operations:
                    child = child.operation
                    name = child.name
                    # affine loads, stores, loops and applies are scalar (most of a kernel)
                    w = 1 if name.startswith("affine.") and "vector" not in name else weight(child)
                    total += w
                    if name in _BLOCK_OPS:
                        inner = block_of(child)
                        if inner > best[0]:
                            best = (inner, (loop_name(child) or "<unnamed>") if "for" in name else "")
                        n += 1
                    else:
                        n += w + (block_of(child) if len(child.regions) else 0)
        return n

    root = root.operation if hasattr(root, "operation") else root
    own = block_of(root)
    if own > best[0]:
        best = (own, (loop_name(root) or "<unnamed>") if "for" in root.name else "")
    return CodeSize(total, widest, *best, own)


def code_size(root) -> int:
    """`measure`'s total for the code under ``root``; refuses (`CodeSizeError`) a vector wider
    than `MAX_VECTOR_LANES`, which no budget makes compilable."""
    m = measure(root)
    check_lanes(root, m)
    return m.total


def check_lanes(root, m: CodeSize) -> None:
    """Refuse (`CodeSizeError`) the code under ``root`` when ``m`` (its `measure`) has a vector
    wider than `MAX_VECTOR_LANES`, naming where it is."""
    if m.widest > MAX_VECTOR_LANES:
        raise CodeSizeError(f"the code works on vectors of {m.widest:,} lanes{_where(root, m.widest)}, "
                            f"over the {MAX_VECTOR_LANES:,} LLVM can compile; use fewer vector "
                            "registers (a lower vector-acc factor or vectorize width)")


def check_module_size(module, after: str) -> int:
    """Refuse (`CodeSizeError`) a module LLVM should not be given: a vector too wide for it,
    more code than the budget (naming the loop with the most), or a straight-line block
    longer than `max_block`. Returns the size."""
    m = measure(module)
    check_lanes(module, m)
    limit = max_ops()
    if m.total > limit:
        loops = [(code_size(op), loop_name(op) or "<unnamed>") for op in affine_loops(module)
                 if is_innermost(op)]
        big = f"; loop {max(loops)[1]!r} alone has about {max(loops)[0]:,}" if loops else ""
        raise CodeSizeError(
            f"{after} the kernel would give LLVM about {m.total:,} operations (a vector operation "
            f"counted per register){big}, over the code-size budget of {limit:,}; {_ADVICE}")
    if m.block > max_block():
        where = f"the body of loop {m.block_loop!r}" if m.block_loop else "the function body"
        raise CodeSizeError(
            f"{after} {where} would be one straight-line block of about {m.block:,} operations, "
            f"over the {max_block():,} (an eighth of the code-size budget) LLVM's optimiser "
            f"handles in reasonable time; {_ADVICE} (a block may hold an eighth of it)")
    return m.total


_ADVICE = "lower the factor, or raise the budget with UNROLLKIT_MAX_OPS=<n> if you really want that much code"


def _where(root, lanes: int) -> str:
    """`` (vector.transfer_read in loop 'k')``: an operation on ``lanes``-lane vectors, one
    inside a named loop if there is one, for messages."""
    found = []
    for op in walk_ops(root):
        if any(isinstance(v.type, ir.VectorType) and _product(ir.VectorType(v.type).shape) == lanes
               for v in (*op.results, *op.operands)):
            loop = op.parent
            while loop is not None and not (loop.name == "affine.for" and loop_name(loop)):
                loop = loop.parent
            found.append((loop is None, op.name, loop_name(loop) if loop is not None else None))
    if not found:
        return ""
    _, name, loop = min(found, key=lambda x: x[0])
    return f" ({name} in loop {loop!r})" if loop else f" ({name})"


def _product(shape) -> int:
    out = 1
    for n in shape:
        out *= n
    return out


def register(cls):
    """Class decorator: make ``cls`` (a frozen dataclass with a ``name``) usable by name."""
    if cls.name in REGISTRY:
        raise ValueError(f"pass {cls.name!r} registered twice")
    doc = cls.__doc__ or ""
    if not doc or doc.startswith(cls.__name__ + "("):  # dataclass's generated signature
        cls.__doc__ = sys.modules[cls.__module__].__doc__  # one pass per file: the file's doc
    REGISTRY[cls.name] = cls
    return cls


@dataclasses.dataclass(frozen=True)
class Pass:
    """A loop transformation over the affine IR: a frozen dataclass whose fields are its options,
    usable by ``name`` in pipeline text once registered (`register`)."""
    name: ClassVar[str] = ""
    #: may remove loops as a side effect (a full unroll): a later pass naming such a loop then
    #: does nothing instead of failing (see `unrollkit.ir.ir_utils.vanished`)
    removes_loops: ClassVar[bool] = False

    def apply(self, module) -> None:  # pragma: no cover - every pass overrides it
        """Transform ``module`` (an ``mlir.ir.Module``) in place; refuse with `TransformError`."""
        raise NotImplementedError

    #: the options naming every loop the pass reads or changes (targets, orders or makes);
    #: without the first one set, the pass may touch any loop (see `loop_scope`)
    scope_options: ClassVar[tuple] = ()

    def loop_scope(self):
        """The source names of every loop this pass reads or changes, or None when it may touch
        any loop (no `scope_options`, or the first one unset: every innermost loop). A pass
        that names its loops works only inside the top-level nests holding them, so the
        pipeline runs it with the other nests parked (`unrollkit.codegen.nest_scope`)."""
        if not self.scope_options or not getattr(self, self.scope_options[0]):
            return None
        names = set()
        for key in self.scope_options:
            value = getattr(self, key)
            names.update(value if isinstance(value, tuple) else (value,) if value else ())
        return frozenset(str(x) for x in names)

    @classmethod
    def options(cls) -> dict:
        """Option name → (type, default)."""
        return {f.name: (f.type, f.default) for f in dataclasses.fields(cls)}

    def text(self) -> str:
        """The pass in pipeline text form, e.g. ``unroll{factor=4,loop=k}``; defaults omitted."""
        opts = []
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if v != f.default:
                opts.append(f"{f.name.replace('_', '-')}={_fmt(self.name, f.name, v)}")
        return self.name + ("{" + ",".join(opts) + "}" if opts else "")


_RESERVED = set(",{}=: \t\n")


def _fmt(pname: str, key: str, v) -> str:
    """An option value in pipeline text; refuses values the text form could not parse back."""
    if isinstance(v, bool):
        return "true" if v else "false"
    items = [str(x) for x in v] if isinstance(v, tuple) else [str(v)]
    for x in items:
        if not x or _RESERVED & set(x):
            raise TransformError(f"option {key}={v!r} of pass {pname!r} cannot be written as pipeline "
                                 "text (empty, or contains one of , { } = : or spaces)")
    return ":".join(items)


#: `Pass.loop_scope` of a pass that changes only vector transfers not yet marked in bounds
#: (`in-bounds`): the nests holding none (`unmarked_transfer`) are parked while it runs
UNMARKED_TRANSFERS = "<vector transfers not marked in_bounds>"


#: the operations `unmarked_transfer` may hold for
TRANSFERS = frozenset({"vector.transfer_read", "vector.transfer_write"})


def unmarked_transfer(op) -> bool:
    """Whether ``op`` is a vector transfer with a dimension not marked ``in_bounds``."""
    if op.name not in TRANSFERS:
        return False
    attrs = op.attributes
    return "in_bounds" not in attrs or not all(ir.BoolAttr(a).value for a in ir.ArrayAttr(attrs["in_bounds"]))


#: operations of the nests parked while the running pass works on the others
#: (`unrollkit.codegen.nest_scope`): the module's size is what the pass sees plus these
PARKED_OPS: contextvars.ContextVar = contextvars.ContextVar("unrollkit_parked_ops", default=0)


def check_code_size(what: str, loop: str, ops_after: int, env_hint: str = "UNROLLKIT_MAX_OPS",
                    block: int = 0):
    """Refuse (`CodeSizeError`) ``what`` of ``loop`` when it would leave ``ops_after``
    operations (in the module the pass sees: the nests parked meanwhile are added), over the
    budget, or make one straight-line ``block`` longer than `max_block`."""
    ops_after += PARKED_OPS.get()
    limit = max_ops()
    if ops_after > limit:
        raise CodeSizeError(
            f"{what} of loop {loop!r} would generate about {ops_after:,} operations, over the "
            f"code-size budget of {limit:,}; lower the factor, or raise the budget with "
            f"{env_hint}=<n> if you really want that much code")
    if block > max_block():
        raise CodeSizeError(
            f"{what} of loop {loop!r} would make one straight-line block of about {block:,} "
            f"operations, over the {max_block():,} (an eighth of the code-size budget) LLVM's "
            f"optimiser handles in reasonable time; {_ADVICE} (a block may hold an eighth of it)")


def check_int(value, what: str, minimum: int = 1) -> None:
    """Refuse an option that is not an integer >= ``minimum`` (``True`` is no integer here),
    naming it: ``check_int(self.factor, "peel factor")``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise TransformError(f"{what} must be an integer >= {minimum}, got {value!r}")


def select_loops(module, loop: str) -> list:
    """The affine.for ops a loop-targeting pass acts on: by source name, else innermost ones."""
    loops = affine_loops(module)
    if loop:
        chosen = [op for op in loops if loop_name(op) == loop]
        if not chosen:
            names = sorted({n for n in map(loop_name, loops) if n} | PARKED_LOOP_NAMES.get())
            if loop.endswith(".rem") and loop[:-len(".rem")] in names:
                return []  # the factor divided the trip count: no remainder at this size
            if vanished(module, loop):
                return []  # fully unrolled (or removed as empty) by an earlier pass at this size
            raise TransformError(f"no loop named {loop!r}; the loops are {names}")
        return chosen
    return [op for op in loops if is_innermost(op)]


#: the Target of the pipeline being run (`target_context`); passes read the machine only here
_TARGET: contextvars.ContextVar = contextvars.ContextVar("unrollkit_pass_target", default=None)


@contextlib.contextmanager
def target_context(target: Target):
    """Run the passes inside with ``target`` as `current_target` (`Pipeline.run` does)."""
    token = _TARGET.set(target)
    try:
        yield target
    finally:
        _TARGET.reset(token)


def current_target() -> Target:
    """The machine the running pipeline compiles for (`Pipeline.run`'s ``target``): a pass's
    output depends on it, never on the machine it happens to run on. A pass applied by hand,
    outside any pipeline, gets the host's."""
    t = _TARGET.get()
    return t if t is not None else host_target()
