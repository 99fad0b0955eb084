"""The early stop of ``factor="auto"``'s machine-code check (`cost_model.settled` with the
floors of `check_floor`): every floor is under what the check really gives, a stop never
changes the pick, and the rules refuse to stop where an unchecked row could still win."""
from __future__ import annotations

import numpy as np
import pytest

from unrollkit.core import target
from unrollkit.kernels.polybench import REGISTRY
from unrollkit.runtime.jit_kernel import JitKernel
from unrollkit.tuning import check_floor, cost_loop, cost_model
from unrollkit.tuning.cost_model import Candidate
from unrollkit.frontend.signature import sizes_of

#: correlation's jammed reduction (corr[i, j] over k, jammed on j) at a size whose parent
#: trip (M - i - 1 rows, 43 on average) leaves a remainder to every jam factor
SIZES = {"M": 44, "N": 50}


def _correlation():
    kernel, _, init, _ = REGISTRY["correlation"]
    args = init(SIZES, np.float64)
    return kernel, JitKernel(kernel).signature(args)[0]


def _rows(prof, t, cycles=None):
    preds = [cost_model.predict(prof, c, t) for c in cost_model.candidates(prof)]
    return [{"candidate": x.candidate, "prediction": x, "checked": True, "accepted": True, "why": "",
             "cycles": x.cycles if cycles is None else cycles(x), "facts": {}} for x in preds]


@pytest.fixture(scope="module")
def correlation_checks():
    """correlation's choice with the early stop and without it (every leading row checked),
    and each row's cycles in the full check before `cost_model.jam_remainders` blends them."""
    kernel, sig = _correlation()
    fast = cost_model.choose(kernel, sig, keep=False)
    real_settled, real_blend = cost_model.settled, cost_model.jam_remainders
    unblended = {}

    def blend(rows, prof):
        unblended.update((r["candidate"], r["cycles"]) for r in rows if r["checked"])
        real_blend(rows, prof)
    cost_model.settled, cost_model.jam_remainders = (lambda *a: False), blend
    try:
        full = cost_model.choose(kernel, sig, keep=False)
    finally:
        cost_model.settled, cost_model.jam_remainders = real_settled, real_blend
    return fast, full, unblended


def test_the_floor_is_under_every_checked_row(correlation_checks):
    # the full check: each row's cycles, grounded in its machine code or left at its
    # prediction, are at least its floor
    _, full, unblended = correlation_checks
    prof, t = full.profile, full.target
    assert prof.reduction and prof.parent
    rows = [r for r in full.rows if r["checked"]]
    assert len([r for r in rows if r["facts"].get("found")]) >= 5 and any(r["candidate"].jam > 1 for r in rows)
    for r in rows:
        assert check_floor.row_floor(r, prof, t) <= unblended[r["candidate"]], r["candidate"].label
    # the chain's floor is what bounds them: tight for the accepted jammed rows (rec-bound)
    jammed = [r for r in rows if r["candidate"].jam > 1 and r["accepted"]]
    assert jammed and min(unblended[r["candidate"]] / check_floor.row_floor(r, prof, t) for r in jammed) < 1.5


def test_the_stop_keeps_the_full_checks_pick(correlation_checks):
    fast, full, _ = correlation_checks
    assert (fast.candidate, fast.predicted) == (full.candidate, full.predicted)
    assert fast.candidate.jam > 1  # a jammed row won: its remainder blend was in the proof
    rows = {r["candidate"]: r for r in full.rows}
    skipped = 0
    for r in fast.rows:
        o = rows[r["candidate"]]
        if not r["checked"] and o["checked"]:
            skipped += 1
            assert not r["accepted"] and r["why"].startswith("not checked")
            continue
        assert (r["checked"], r["accepted"], r["why"]) == (o["checked"], o["accepted"], o["why"])
        assert r["cycles"] == o["cycles"]
    assert skipped >= 3  # and the stop saved compiles


def test_a_settled_rest_is_above_the_checked_best_or_behind_the_pick(correlation_checks):
    # after the fact: every row the stop skipped is, in the full check, either out of the
    # tie band or after the pick in preference
    fast, full, _ = correlation_checks
    skipped = {r["candidate"] for r in fast.rows if not r["checked"]}
    won = next(r for r in full.rows if r["candidate"] == full.candidate)
    best = min(r["cycles"] for r in full.rows if r["accepted"])
    for r in full.rows:
        if r["candidate"] in skipped and r["checked"] and r["accepted"]:
            assert (r["cycles"] > best * (1 + cost_model.TIE)
                    or cost_model.preference(r) > cost_model.preference(won))


def _profile_rows():
    t = target.host_target()
    kernel, sig = _correlation()
    prof = cost_loop.profile(kernel, sizes_of(kernel, sig), 8, t)
    return prof, t, {r["candidate"]: r for r in _rows(prof, t)}


def test_a_jammed_row_whose_unjammed_self_is_unchecked_is_not_settled(monkeypatch):
    prof, t, by = _profile_rows()
    jam = next(c for c in by if c.jam > 1 and c.factor == 2)
    one, plain = Candidate("affine", 1), Candidate("affine", 2)
    monkeypatch.setattr(check_floor, "row_floor", lambda r, p, tt: 10.0)  # every rest row slow
    checked = [dict(by[one], cycles=5.0), dict(by[jam], cycles=1.0)]
    later = [by[c] for c in by if c.copies > 16]
    assert cost_model.settled(checked, later, prof, t)
    # with its un-jammed self pending, the jammed row's blended cycles are not known yet
    assert not cost_model.settled(checked, later + [by[plain]], prof, t)


def test_settled_rules_on_floors(monkeypatch):
    prof, t, by = _profile_rows()
    floor = {}
    monkeypatch.setattr(check_floor, "row_floor", lambda r, p, tt: floor[r["candidate"]])
    a1, a2, a4 = (Candidate("affine", u) for u in (1, 2, 4))
    win = [dict(by[a2], cycles=1.0)]
    # an unchecked row after the pick in preference, the pick within the tie of its floor
    floor[a4] = 0.99
    assert cost_model.settled(win, [by[a4]], prof, t)
    # ... but a floor further down: that row could lower the best, the pick leave the band
    floor[a4] = 0.95
    assert not cost_model.settled(win, [by[a4]], prof, t)
    # an unchecked row preferred to the pick (fewer copies), its floor within the band
    floor[a1] = 1.01
    assert not cost_model.settled(win, [by[a1]], prof, t)
    # ... its floor above the band: it can neither enter it nor lower the best
    floor[a1] = 1.03
    assert cost_model.settled(win, [by[a1]], prof, t)
    floor[a4] = 0.99
    assert cost_model.settled(win, [by[a1], by[a4]], prof, t)
    # nothing accepted, or nothing left: not settled
    assert not cost_model.settled([dict(win[0], accepted=False)], [by[a4]], prof, t)
    assert not cost_model.settled(win, [], prof, t)


def test_chain_floor_counts_every_independent_chain():
    prof, t, by = _profile_rows()
    lat = prof.chain_latency
    assert check_floor.chain_floor(by[Candidate("affine", 4)], prof) == lat
    assert check_floor.chain_floor(by[Candidate("multi-acc", 4)], prof) == lat / 4
    jam = next(c for c in by if c.jam == 8 and c.factor == 2)
    assert check_floor.chain_floor(by[jam], prof) == lat / 8
    # the floor is never above the row's own prediction (kept when the code has no loop)
    for r in by.values():
        assert check_floor.row_floor(r, prof, t) <= r["prediction"].cycles
