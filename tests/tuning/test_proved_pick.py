"""The cost model's candidates are compiled to assembly without the transformed-IR bounds proof
(their code is read, never run); the winner is proved when it is compiled, and a winner the
proof refuses is rejected and the pick made again (issue 14: the proof was 15-20% of a first
``factor="auto"`` call)."""
from __future__ import annotations

import numpy as np
import pytest

import unrollkit as uk

from unrollkit.codegen import compiler
from unrollkit.core.errors import UnrollkitError
from unrollkit.kernels import mac
from unrollkit.runtime.jit_kernel import JitKernel
from unrollkit.tuning import cost_model
from unrollkit.tuning.cost_model import Candidate


@pytest.fixture(autouse=True)
def no_disk_cache(monkeypatch):
    """Every compile runs its stages (a cached winner would skip the proof being counted)."""
    monkeypatch.setenv("UNROLLKIT_CACHE", "0")


def _args(n=1001):
    rng = np.random.default_rng(0)
    return [rng.random(n).astype(np.float32) for _ in range(3)]


def _counting_proof(monkeypatch, refuse=lambda where: False):
    """Replace the transformed-IR proof by one that counts its calls (and refuses where asked)."""
    seen, real = [], compiler.ir_bounds.check_module

    def check_module(module, where, **kw):
        seen.append(where)
        if refuse(where):
            raise UnrollkitError(f"test: {where} refused")
        return real(module, where, **kw)
    monkeypatch.setattr(compiler.ir_bounds, "check_module", check_module)
    return seen


def test_only_the_winner_is_proved(monkeypatch):
    seen = _counting_proof(monkeypatch)
    a = _args()
    ch = cost_model.choose(mac, JitKernel(mac).signature(a)[0])
    checked = [r for r in ch.rows if r["checked"]]
    assert len(checked) > 2          # several candidates were compiled to assembly ...
    assert len(seen) == 1            # ... and one compile was proved: the winner's
    assert ch.compiled is not None and ch.compiled.plan.pipeline.text() in seen[0]


def test_a_winner_the_proof_refuses_is_rejected_and_the_pick_made_again(monkeypatch):
    # refuse every transformed pipeline: only the rolled loop (no passes) is left to run
    seen = _counting_proof(monkeypatch, refuse=lambda where: where != "pipeline ''")
    a = _args()
    c = a[2].copy()
    f = uk.jit(mac, factor="auto")
    f(a[0], a[1], c)  # the first call chooses, compiles the winner and runs it
    np.testing.assert_allclose(c, a[2] + a[0] * a[1], rtol=1e-6)
    ch = f.last.choice
    rows = {r["candidate"]: r for r in ch.rows}
    refused = [r for r in ch.rows if "test: pipeline" in r["why"]]
    assert ch.candidate == Candidate("affine", 1) and rows[ch.candidate]["accepted"]
    assert refused and all(not r["accepted"] and r["why"].startswith("does not compile")
                           for r in refused)
    assert len(seen) == len(refused) + 1
