"""Transformed affine IR → LLVM dialect → LLVM IR text, in process.

Besides the kernel, the module gets ``<symbol>_repeat(args..., i64 reps)``: the native repeat
loop the benchmarks time, so a Python call's microseconds never hide a nanosecond kernel; and
``<symbol>_packed(ptr args)``: one entry point of one shape for every kernel, which the call's
native fast path (`unrollkit.runtime._fastcall`) calls with an array of argument slots.
"""
from __future__ import annotations

from mlir import ir
from mlir.dialects import arith, func, scf
from mlir.dialects import llvm as llvm_dialect

from unrollkit.codegen import pragma
from unrollkit.core.errors import CompileError
from unrollkit.ir.mlir_passes import lower_to_llvm_dialect

#: suffix of the generated timing entry point ``<kernel>_repeat(args..., i64 reps)``
REPEAT_SUFFIX = "_repeat"
#: suffix of the generated entry point ``void <kernel>_packed(ptr slots)``: slot i holds array
#: argument i's data pointer, or a pointer to scalar argument i's value
PACKED_SUFFIX = "_packed"
#: every kernel symbol starts with it (nothing else in a module does). A user's name used as is
#: collided with what the module declares or LLVM calls on its own (`free`, `aligned_alloc`
#: for packing buffers; `memset`/`memcpy` for idiom loops: the kernel would call itself), and
#: non-ASCII names failed in llvmlite's symbol lookup. The affine stages keep the user's name.
SYMBOL_PREFIX = "uk_"


def kernel_symbol(name: str) -> str:
    """The machine-code symbol of kernel ``name``: ``uk_`` + the name with ``_`` doubled and
    every character outside ASCII letters and digits as ``_x<hex>_`` (``free`` → ``uk_free``,
    ``ñ`` → ``uk__xf1_``). Injective, ASCII, and never a C library name."""
    out = []
    for ch in name:
        if ch == "_":
            out.append("__")
        elif ch.isascii() and ch.isalnum():
            out.append(ch)
        else:
            out.append(f"_x{ord(ch):x}_")
    return SYMBOL_PREFIX + "".join(out)


def to_llvm_ir(module, name: str, pragma_counts=()) -> str:
    """Add the repeat entry point, lower to the LLVM dialect (in place), keep the kernel out
    of line, attach pragma unroll metadata, and translate to LLVM IR text."""
    loops = pragma.loop_table(module, name) if pragma_counts else []
    params = [_llvm_type(t) for t in kernel_type(module, name).inputs]
    # from here on the kernel is its symbol (see SYMBOL_PREFIX)
    _kernel_func(module, name).attributes["sym_name"] = ir.StringAttr.get(kernel_symbol(name))
    name = kernel_symbol(name)
    add_repeat(module, name)
    lower_to_llvm_dialect(module)
    kfn = pragma.find_llvm_func(module, name)
    # noinline: the repeat loop must run the kernel's own machine code, not a copy inlined
    # (and then possibly optimised across repetitions) into the loop.
    kfn.attributes["no_inline"] = ir.UnitAttr.get()
    if pragma_counts:
        pragma.annotate(module, name, loops, pragma_counts)
    return str(llvm_dialect.translate_module_to_llvmir(module.operation)) + packed_entry(name, params)


def packed_entry(name: str, params: list[str]) -> str:
    """LLVM IR of ``void <name>_packed(ptr %slots)`` calling ``<name>`` with its unpacked arguments.

    A fixed C signature lets one native trampoline call any kernel without libffi: array
    arguments are the slots' pointers themselves (memrefs are bare pointers), scalar slots point
    at the value. It is plain LLVM IR appended to the module: a definition needs no other
    declarations, and the kernel stays ``noinline`` so its machine code is the one measured."""
    body, args = [], []
    for i, ty in enumerate(params):
        body.append(f"  %s{i} = getelementptr ptr, ptr %slots, i64 {i}")
        if ty == "ptr":
            body.append(f"  %a{i} = load ptr, ptr %s{i}")
        else:
            body.append(f"  %p{i} = load ptr, ptr %s{i}")
            body.append(f"  %a{i} = load {ty}, ptr %p{i}")
        args.append(f"{ty} %a{i}")
    return (f'\ndefine void @"{name}{PACKED_SUFFIX}"(ptr %slots) {{\n' + "\n".join(body) +
            f'\n  call void @"{name}"({", ".join(args)})\n  ret void\n}}\n')


def _llvm_type(t) -> str:
    """The LLVM type of a kernel parameter of MLIR type ``t`` (memrefs lower to bare pointers)."""
    if isinstance(t, ir.MemRefType):
        return "ptr"
    if isinstance(t, ir.F16Type):
        return "half"
    if isinstance(t, ir.F32Type):
        return "float"
    if isinstance(t, ir.F64Type):
        return "double"
    if isinstance(t, ir.IntegerType):
        return f"i{t.width}"
    if isinstance(t, ir.IndexType):
        return "i64"
    raise CompileError(f"no packed-entry form for a kernel parameter of type {t}")


def kernel_type(module, name: str):
    """The ``FunctionType`` of ``func.func @name`` in ``module``."""
    return ir.FunctionType(ir.TypeAttr(_kernel_func(module, name).attributes["function_type"]).value)


def _kernel_func(module, name: str):
    for op in module.body.operations:
        if op.operation.name == "func.func" and \
                ir.StringAttr(op.operation.attributes["sym_name"]).value == name:
            return op.operation
    raise CompileError(f"no func.func @{name} in the module")


def add_repeat(module, name: str) -> None:
    """Append ``func.func @<name>_repeat(args..., %reps: i64)`` calling ``@name`` reps times.

    Added after the pass pipeline so that no loop pass sees (and unrolls) its loop. The calls
    write through the kernel's pointer arguments, which the caller observes, so LLVM cannot
    drop or merge them.
    """
    ftype = kernel_type(module, name)
    i64, index = ir.IntegerType.get_signless(64), ir.IndexType.get()
    with ir.InsertionPoint(module.body), ir.Location.unknown():
        rep = func.FuncOp(name + REPEAT_SUFFIX, ir.FunctionType.get(list(ftype.inputs) + [i64], []))
        entry = rep.add_entry_block()
        with ir.InsertionPoint(entry):
            n = arith.IndexCastOp(index, entry.arguments[len(ftype.inputs)]).result
            lo = arith.ConstantOp(index, 0).result
            one = arith.ConstantOp(index, 1).result
            loop = scf.ForOp(lo, n, one)
            with ir.InsertionPoint(loop.body):
                func.CallOp([], name, list(entry.arguments)[:len(ftype.inputs)])
                scf.YieldOp([])
            func.ReturnOp([])
