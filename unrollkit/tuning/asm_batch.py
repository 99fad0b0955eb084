"""Several loops through one ``llvm-mc`` process (a process costs 20–70 ms here, its work on
a loop well under 1 ms), and the loop text that ``llvm-mc`` and ``llvm-mca`` read.

Each loop's labels are tagged with its index (``.Luk<k>_<name>``), so that loops with the same
labels (every candidate of a kernel has ``.LBB0_1``) can share one input; an instruction's
encoding and timing do not depend on a label's name.

    encoded = encode_loops([hot_loop(f) for f in candidates])
"""
from __future__ import annotations

import re

from unrollkit.tuning import asm_facts

#: the labels of loop k, when several loops go to one tool process, start with this (LLVM
#: names no label so); the label ``.Luk<k>_`` alone marks where loop k starts
_TAG = re.compile(r"\.Luk(\d+)_")


def loop_text(lp: asm_facts.Loop, tag: int | None = None) -> str:
    """The loop as assembly text (labels and instructions, one a line), as llvm-mc and llvm-mca
    read it. With ``tag``, the labels the loop defines are renamed ``.Luk<tag>_<name>`` (and
    the branches to them), so that several loops can be read in one process: an instruction's
    encoding and timing do not depend on a label's name."""
    names = [it.name for it in lp.items if isinstance(it, asm_facts.Label)]
    if tag is None or not names:
        def rename(text: str) -> str:
            return text
    else:
        own = re.compile(r"(?<![\w.$@])(" + "|".join(map(re.escape, names)) + r")(?![\w.$@])")

        def rename(text: str) -> str:
            return own.sub(lambda m: f".Luk{tag}_{m.group(1)}", text)
    lines = [f"{rename(it.name)}:" if isinstance(it, asm_facts.Label) else f"\t{rename(it.text)}"
             for it in lp.items]
    return "\n".join(lines) + "\n"


def has_tagged_labels(lps: list) -> bool:
    """Whether any label of these loops already looks like a tagged one."""
    return any(isinstance(it, asm_facts.Label) and _TAG.match(it.name)
               for lp in lps for it in lp.items)


def encode_loops(lps: list) -> list:
    """The loops as ``llvm-mc`` reprints them, with encodings (so `asm_facts.Loop.nbytes` is
    known), from one llvm-mc process. An instruction's encoding does not depend on what
    surrounds it (llvm-mc shows a branch unrelaxed), so a loop encoded alone reads as it does
    in its whole function. If the joint run fails, each loop is tried alone, and comes back
    unencoded if that fails too (as `asm_facts.encode` returns text it cannot read)."""
    if len(lps) > 1 and not has_tagged_labels(lps):
        out = asm_facts.llvm_mc("".join(f".Luk{k}_:\n" + loop_text(lp, k) for k, lp in enumerate(lps)))
        regions = _split_tagged(out, len(lps)) if out is not None else None
        if regions is not None:
            return [asm_facts.Loop(lp.header, lp.start, lp.end, items)
                    for lp, items in zip(lps, regions)]
    return [_encode_one(lp) for lp in lps]


def _encode_one(lp: asm_facts.Loop) -> asm_facts.Loop:
    out = asm_facts.llvm_mc(loop_text(lp))
    if out is None:
        return lp
    items = tuple(it for it in map(asm_facts.parse_line, out.splitlines()) if it is not None)
    return asm_facts.Loop(lp.header, lp.start, lp.end, items)


def _split_tagged(out: str, n: int) -> list | None:
    """llvm-mc's output of ``n`` tagged loops → each loop's items with its own label names
    (None unless it holds exactly the n loops, in order)."""
    regions, cur = [], None
    for line in out.splitlines():
        m = re.match(r"\s*\.Luk(\d+)_:", line)
        if m:
            if int(m.group(1)) != len(regions):
                return None
            cur = []
            regions.append(cur)
            continue
        item = asm_facts.parse_line(_TAG.sub("", line))
        if item is not None:
            if cur is None:
                return None
            cur.append(item)
    return [tuple(r) for r in regions] if len(regions) == n else None
