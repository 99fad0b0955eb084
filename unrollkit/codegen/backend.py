"""llvmlite: optimise LLVM IR under an explicit unroll policy, generate host machine code, JIT.

Nothing else in unrollkit touches llvmlite's code generation. LLVM's own unroller is off by
default (``LLVMPolicy.unroll=False``) so that "factor=4" measures MLIR's unrolling and not
two unrollers; with it off, LLVM still honours ``llvm.loop.unroll.count`` metadata (pragma).
"""
from __future__ import annotations

import ctypes
import dataclasses
import functools
import weakref

import llvmlite.binding as llvm

from unrollkit.core.elf_check import check_object, undefined_symbols
from unrollkit.core.errors import CompileError
from unrollkit.core.target import host, init_llvm
from unrollkit.core.versions import check_llvm_majors

# MLIR emits LLVM IR for its own LLVM and llvmlite must read it: refuse a mismatched stack
# when the compiler is first loaded, with what to install
check_llvm_majors()


@dataclasses.dataclass(frozen=True)
class LLVMPolicy:
    """What LLVM's optimiser may do on its own. Recorded with every result."""
    opt: int = 3
    unroll: bool = False        # LLVM's loop unroller (runtime/partial/full heuristics)
    interleave: bool = False    # the loop vectoriser's interleaving (unrolling of vector loops)
    vectorize: bool = True      # the loop vectoriser
    slp: bool = True            # superword-level parallelism (straight-line vectorisation)

    def describe(self) -> str:
        """The policy in one line: ``O3 vectorize,slp``, or ``O3 no-loop-opts`` when every loop
        optimisation is off."""
        on = [k for k in ("unroll", "interleave", "vectorize", "slp") if getattr(self, k)]
        return f"O{self.opt} " + (",".join(on) if on else "no-loop-opts")


def new_target_machine():
    """A fresh host target machine. An MCJIT engine takes ownership of (and frees) the one it
    is given, so each engine gets its own; sharing one crashed on the second dispose."""
    triple, cpu, features = host()
    target = llvm.Target.from_triple(triple)
    return target.create_target_machine(cpu=cpu, features=features, opt=3, reloc="pic",
                                        codemodel="jitdefault")


@functools.lru_cache(None)
def target_machine():
    """The process-wide machine for optimisation and emission (never handed to an engine)."""
    return new_target_machine()


def parse(llvm_ir: str):
    """Parse and verify LLVM IR text into an llvmlite module."""
    init_llvm()
    try:
        mod = llvm.parse_assembly(llvm_ir)
        mod.verify()
    except RuntimeError as exc:
        raise CompileError(f"LLVM rejected the IR: {exc}") from None
    return mod


def optimize(llvm_ir: str, policy: LLVMPolicy):
    """Parse, verify and optimise LLVM IR text; returns the llvmlite module.

    The pass builder and pipeline are built per module: llvmlite's module pipeline is
    single-use (a second run aborts inside LLVM). Building them costs ~70 KB of memory that
    LLVM never returns (measured: 600 compiles, +60 MB, with or without a fresh LLVMContext);
    the machine code itself is released with its engine.
    """
    mod = parse(llvm_ir)
    tm = target_machine()
    mod.triple = host()[0]
    mod.data_layout = str(tm.target_data)
    pto = llvm.create_pipeline_tuning_options(speed_level=policy.opt)
    pto.loop_unrolling = policy.unroll
    pto.loop_interleaving = policy.interleave
    pto.loop_vectorization = policy.vectorize
    pto.slp_vectorization = policy.slp
    pb = llvm.create_pass_builder(tm, pto)
    mpm = pb.getModulePassManager()
    try:
        mpm.run(mod, pb)
    finally:
        mpm.close()
        pb.close()
        pto.close()
    return mod


def assembly(mod) -> str:
    """The host assembly of the LLVM module ``mod`` (its text, for `CompiledKernel.ir("asm")`)."""
    return target_machine().emit_assembly(mod)


def text_bytes(obj: bytes) -> int:
    """Bytes of machine code in an object file (its text sections)."""
    check_object(obj)
    of = llvm.ObjectFileRef.from_data(obj)
    return sum(s.size() for s in of.sections() if s.is_text())


class _ObjectSlot:
    """The object code an engine was built from (given, or reported by MCJIT's object cache).

    Kept apart from `Engine`: llvmlite's engine holds the cache callbacks, and callbacks bound
    to the Engine would make a reference cycle that only the cycle collector could free."""

    def __init__(self, obj: bytes | None):
        self.object = obj

    def notify(self, module, buffer):
        self.object = bytes(buffer)

    def getbuffer(self, module):
        return self.object


def _dispose(ee) -> None:
    ee.close()


class Engine:
    """An MCJIT engine owning one module's machine code. ``cached_object`` skips code generation.

    The machine code lives exactly as long as this object: it is freed by a finalizer when the
    last reference goes, never explicitly. Every function pointer handed out (`function`)
    holds a reference to its engine, so code that can still be called (or is running in
    another thread: ctypes releases the GIL) is never freed under it.
    """

    def __init__(self, mod, cached_object: bytes | None = None):
        init_llvm()
        if cached_object is not None:
            check_object(cached_object)  # LLVM's loader crashes on a malformed object
        self._slot = _ObjectSlot(cached_object)
        ee = llvm.create_mcjit_compiler(mod, new_target_machine())
        ee.set_object_cache(self._slot.notify, self._slot.getbuffer)
        ee.finalize_object()
        # a call into a library this process lacks (e.g. a soft-float helper) would jump to 0
        missing = [n for n in undefined_symbols(self._slot.object or b"")
                   if n != "_GLOBAL_OFFSET_TABLE_" and not llvm.address_of_symbol(n)] \
            if self._slot.object else []  # (the GOT is the loader's own)
        if missing:
            raise CompileError(f"the machine code calls {', '.join(missing)}, which this process "
                               "does not provide: refusing to run it (please report the kernel)")
        ee.run_static_constructors()
        self._ee = ee
        self._finalizer = weakref.finalize(self, _dispose, ee)
        # at interpreter exit a daemon thread may still run this code: let the process end
        # with it mapped rather than free it under the thread
        self._finalizer.atexit = False

    @property
    def object(self) -> bytes | None:
        """The object file the machine code was loaded from."""
        return self._slot.object

    @property
    def alive(self) -> bool:
        """Whether the machine code is still mapped (it is until the engine is collected)."""
        return self._finalizer.alive

    def function(self, name: str, restype, argtypes):
        """A ctypes function for symbol ``name``; it keeps this engine (its code) alive."""
        addr = self._ee.get_function_address(name)
        if not addr:
            raise CompileError(f"symbol {name!r} missing from the compiled module")
        fn = ctypes.CFUNCTYPE(restype, *argtypes)(addr)
        fn.engine = self
        return fn

