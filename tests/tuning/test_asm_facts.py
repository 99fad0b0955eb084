"""unrollkit.tuning.asm_facts on small hand-written x86-64 snippets (AT&T, as LLVM prints them)."""
from __future__ import annotations

import pytest

from unrollkit.tuning import asm_facts as af

# A kernel with an outer loop, a vector main loop unrolled by 2 (two 8-wide FMAs, 16 floats a
# trip) and a scalar remainder loop; then a second function.
TWO_LOOPS = """
\t.text
\t.globl\tk
\t.type\tk,@function
k:
\txorl\t%eax, %eax
.LBB0_1:
\txorl\t%ecx, %ecx
.LBB0_2:
\tvmovups\t(%rdi,%rcx,4), %ymm0
\tvfmadd213ps\t(%rdx,%rcx,4), %ymm1, %ymm0
\tvmovups\t%ymm0, (%rdx,%rcx,4)
\tvmovups\t32(%rdi,%rcx,4), %ymm0
\tvfmadd213ps\t32(%rdx,%rcx,4), %ymm1, %ymm0
\tvmovups\t%ymm0, 32(%rdx,%rcx,4)
\taddq\t$16, %rcx
\tcmpq\t$1024, %rcx
\tjne\t.LBB0_2
.LBB0_3:
\tvmovss\t(%rdi,%rcx,4), %xmm0
\tvfmadd213ss\t(%rdx,%rcx,4), %xmm1, %xmm0
\tvmovss\t%xmm0, (%rdx,%rcx,4)
\tincq\t%rcx
\tcmpq\t%rsi, %rcx
\tjb\t.LBB0_3
\tincq\t%rax
\tcmpq\t$64, %rax
\tjne\t.LBB0_1
\tretq
.Lfunc_end0:
\t.size\tk, .Lfunc_end0-k
\t.globl\tk_repeat
\t.type\tk_repeat,@function
k_repeat:
.LBB1_1:
\tcallq\tk
\tdecq\t%rbx
\tjne\t.LBB1_1
\tretq
\t.size\tk_repeat, .-k_repeat
"""

# A hot loop under register pressure: a spill and a reload LLVM marked, a reload folded into
# an FMA operand without a comment, and an AVX-512 gather and scatter.
SPILLY = """
\t.type\tg,@function
g:
.LBB0_1:
\tvmovups\t%zmm3, -64(%rsp)                # 64-byte Spill
\tvgatherdps\t(%rdi,%zmm2,4), %zmm0 {%k1}
\tvfmadd231ps\t-64(%rsp), %zmm0, %zmm1
\tvmovups\t-128(%rsp), %zmm4               # 64-byte Reload
\tvscatterdps\t%zmm1, (%rdx,%zmm2,4) {%k2}
\taddq\t$16, %rax
\tcmpq\t%rax, %rsi
\tjne\t.LBB0_1
\tretq
\t.size\tg, .-g
"""


def test_functions_split_at_type_and_size():
    fns = af.functions(TWO_LOOPS)
    assert sorted(fns) == ["k", "k_repeat"]
    assert all(isinstance(i, (af.Insn, af.Label)) for i in fns["k"])
    # the repeat function's call is not part of k
    assert not any(isinstance(i, af.Insn) and i.mnemonic == "callq" for i in fns["k"])


def test_loops_nest_and_innermost():
    items = af.functions(TWO_LOOPS)["k"]
    lps = af.loops(items)
    assert [lp.header for lp in lps] == [".LBB0_1", ".LBB0_2", ".LBB0_3"]
    assert [lp.header for lp in af.innermost_loops(items)] == [".LBB0_2", ".LBB0_3"]


def test_hot_loop_is_the_vector_main_loop():
    hot = af.hot_loop(af.functions(TWO_LOOPS)["k"])
    assert hot.header == ".LBB0_2"
    assert hot.n_insns == 9
    assert af.fma_count(hot) == 2
    assert af.mul_lanes(hot) == 16          # two 8-float FMAs
    assert af.step_elements(hot) == 16      # addq $16 on an index scaled by 4 bytes: 16 floats
    assert af.vector_width(hot) == 256
    assert af.spills(hot) == 0 and af.reloads(hot) == 0


def test_unroll_seen_against_a_rolled_baseline():
    facts = af.function_facts(TWO_LOOPS, "k")
    rolled = dict(facts, step_elements=8, mul_lanes=8)
    assert af.unroll_seen(facts, rolled) == 2
    assert af.unroll_seen({"found": False}, rolled) is None
    # the hot loop is now an outer loop (inner one fully unrolled): one element a trip through
    # some array, but 16 times the rolled loop's multiplies → the work per trip counts
    outer = dict(facts, step_elements=1, mul_lanes=128)
    assert af.unroll_seen(outer, rolled) == 16


def test_spills_reloads_gathers_scatters():
    hot = af.hot_loop(af.functions(SPILLY)["g"])
    assert af.spills(hot) == 1
    assert af.reloads(hot) == 2             # the marked reload and the one folded into the FMA
    assert af.gathers(hot) == 1
    assert af.scatters(hot) == 1
    assert af.lanes(af.parse_line("\tvfmadd231ps\t%zmm0, %zmm1, %zmm2")) == 16
    assert af.lanes(af.parse_line("\tvfmadd231pd\t%ymm0, %ymm1, %ymm2")) == 4
    assert af.lanes(af.parse_line("\tvfmadd231sd\t%xmm0, %xmm1, %xmm2")) == 1


def test_operands_split_at_top_level_commas_only():
    i = af.parse_line("\tvmovups\t%ymm0, -32(%rdx,%rcx,4)")
    assert af.operands(i) == ["%ymm0", "-32(%rdx,%rcx,4)"]


def test_loop_bytes_from_encodings():
    asm = """
\t.type\tf,@function
f:
.LBB0_1:
\tvaddps\t%ymm0, %ymm1, %ymm1          # encoding: [0xc5,0xf4,0x58,0xc8]
\tdecq\t%rax                           # encoding: [0x48,0xff,0xc8]
\tjne\t.LBB0_1                         # encoding: [0x75,A]
\tretq                                 # encoding: [0xc3]
\t.size\tf, .-f
"""
    facts = af.function_facts(asm, "f")
    assert facts["bytes"] == 4 + 3 + 2
    assert facts["function_bytes"] == 4 + 3 + 2 + 1
    # without encodings the size is unknown, not zero
    assert af.function_facts(TWO_LOOPS, "k")["bytes"] is None


def test_missing_function_is_a_clear_error():
    with pytest.raises(KeyError, match="no function 'nope'"):
        af.function_facts(TWO_LOOPS, "nope")


def test_objdump_output_reads_like_assembly():
    dump = """
Disassembly of section .text:

0000000000001100 <uk_mac>:
    1100: 31 c0                        \txorl\t%eax, %eax
    1102: c5 fc 10 04 87               \tvmovups\t(%rdi,%rax,4), %ymm0
    1107: c4 e2 7d a8 04 82            \tvfmadd213ps\t(%rdx,%rax,4), %ymm0, %ymm0 # ymm0 = (ymm0 * ymm0) + mem
    110d: 48 83 c0 08                  \taddq\t$0x8, %rax
    1111: 48 3d 00 04 00 00            \tcmpq\t$0x400, %rax
    1117: c4 e2 7d a8 84 31 80 00 00 00\tvfmadd213ps\t0x80(%rcx,%rsi), %ymm0, %ymm0
    1121: 75 df                        \tjne\t0x1102 <uk_mac+0x2>
    1123: c3                           \tretq
"""
    asm = af.from_objdump(dump)
    facts = af.function_facts(asm, "uk_mac")
    # a 10-byte instruction fills objdump's byte column: no space before its mnemonic
    assert facts["found"] and facts["fma"] == 2
    assert facts["bytes"] == 5 + 6 + 4 + 6 + 10 + 2
    assert facts["step_elements"] == 8      # $0x8 parsed as hex


# ---------------------------------------------------------------- the check's fast paths


def test_one_function_parses_like_all_of_them():
    import numpy as np
    import unrollkit as uk
    from unrollkit.kernels import mac
    a = np.ones(100, np.float32)
    real = uk.jit(mac, factor=4).compiled(a, a, a).ir("asm")  # kernel, repeat and entry points
    bare = "g:\n.L1:\n\tvaddss\t%xmm1, %xmm0, %xmm0\n\tjne\t.L1\n\tretq\nh:\n\tretq\n"
    for asm in (TWO_LOOPS, SPILLY, real, bare):
        fns = af.functions(asm)
        assert len(fns) >= 1
        for name in list(fns) + ["absent"]:
            assert af.function(asm, name) == fns.get(name)


@pytest.mark.parametrize("text,want", [
    ("$16, %rax", ["$16", "%rax"]),
    (" %rax ", ["%rax"]),
    ("", []),
    ("%zmm1, %zmm2,", ["%zmm1", "%zmm2"]),
    ("a,,b", ["a", "", "b"]),
    ("(%rdi,%rax,4), %zmm0", ["(%rdi,%rax,4)", "%zmm0"]),
    ("%zmm1, (%rdx,%zmm2,4) {%k2}", ["%zmm1", "(%rdx,%zmm2,4) {%k2}"]),
    ("-64(%rsp), %zmm0, %zmm1", ["-64(%rsp)", "%zmm0", "%zmm1"]),
])
def test_operands_split_fast_and_nested(text, want):
    assert af.operands(af.Insn("op", text, "")) == want


def _every_loop():
    """Loops from the snippets: two share the label .LBB0_1, one holds others' labels."""
    return [lp for asm in (TWO_LOOPS, SPILLY) for items in af.functions(asm).values()
            for lp in af.loops(items)]


@pytest.mark.needs_llvm_mca
@pytest.mark.skipif(af._tool("llvm-mc") is None, reason="llvm-mc not installed")
def test_loops_encoded_together_read_as_encoded_alone():
    from unrollkit.tuning import asm_batch
    lps = _every_loop()
    assert len({lp.header for lp in lps}) < len(lps)  # labels repeat across the loops
    together = asm_batch.encode_loops(lps)
    alone = [asm_batch._encode_one(lp) for lp in lps]
    assert together == alone
    assert all(lp.nbytes is not None for lp in together)
    assert [lp.header for lp in together] == [lp.header for lp in lps]
    # a loop llvm-mc rejects comes back as given; the others are still encoded
    bad = af.Loop(".Lx", 0, 2, (af.Label(".Lx"), af.Insn("notaninsn", "%rax", ""), af.Insn("jne", ".Lx", "")))
    mixed = asm_batch.encode_loops(lps[:2] + [bad])
    assert mixed[:2] == together[:2] and mixed[2] == bad


def test_tagged_loop_text_renames_own_labels_only():
    from unrollkit.tuning import asm_batch
    lp = af.hot_loop(af.functions(TWO_LOOPS)["k"])
    text = asm_batch.loop_text(lp, 3)
    assert ".Luk3_.LBB0_2:" in text and "jne\t.Luk3_.LBB0_2" in text
    assert asm_batch.loop_text(lp) == text.replace(".Luk3_", "")
    assert not asm_batch.has_tagged_labels([lp])
