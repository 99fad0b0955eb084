"""llvm-mca's simulated trips (`llvm_mca.mca_trips`): fewer for long loop bodies, whose
simulation dominated the first ``factor="auto"`` call of unrolled stencils, with the same
answers whether a loop is simulated alone or in a batch of loops of other lengths. No timing."""
from __future__ import annotations

import pytest

from unrollkit.core import target
from unrollkit.tuning import asm_facts, llvm_mca


def _loop(n_adds: int):
    body = "".join(f"\tvaddss\t%xmm1, %xmm{k % 8}, %xmm{k % 8}\n" for k in range(n_adds))
    return asm_facts.hot_loop(asm_facts.functions("f:\n.L1:\n" + body + "\tjne\t.L1\n")["f"])


def test_trips_shrink_with_the_body_in_three_steps():
    trips = [llvm_mca.mca_trips("x\n" * n) for n in (1, 120, 121, 240, 241, 5000)]
    assert trips == [200, 200, 100, 100, 50, 50]


@pytest.mark.needs_llvm_mca
@pytest.mark.skipif(llvm_mca.mca_path() is None, reason="llvm-mca not installed")
def test_a_batch_of_short_and_long_loops_matches_each_loop_alone():
    """Loops of each of the three trip counts, and one twice: one llvm-mca process per trip
    count, each loop's summary the one it gets alone; the long loop's cycles per trip are
    those of 200 trips to within 0.1%."""
    lps = [_loop(4), _loop(150), _loop(300), _loop(4)]
    texts = [llvm_mca.loop_text(lp) for lp in lps]
    assert [llvm_mca.mca_trips(t) for t in texts] == [200, 100, 50, 200]
    cpu = target.host_target().mca_cpu
    together = llvm_mca.run_mca_loops(lps, cpu)
    assert together == [llvm_mca.run_mca(t, cpu) for t in texts]
    full = llvm_mca.run_mca(texts[2], cpu, iterations=200)
    assert abs(together[2]["cycles"] - full["cycles"]) <= 1e-3 * full["cycles"]
    assert together[2]["cycles"] > together[1]["cycles"] > together[0]["cycles"]
