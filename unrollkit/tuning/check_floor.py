"""The fewest cycles per original iteration the machine-code check can give a candidate it has
not checked yet: what lets `cost_model.settled` stop the check early without changing the pick.

`machine_check.grounded` computes a checked row's cycles as ``combine(core, L1, (near, far)) +
tail`` (or the larger chain across the enclosing loop), every term ≥ 0, where ``core`` is the
loop's cycles per trip over the iterations per trip, and for a reduction or a recurrence the
trip is at least the loop-carried chain the descriptor fixes (`machine_check._chain_bound`):

* a reduction: ``chain_latency · iters / (accumulators · jam · lanes)`` per trip (lanes for
  ``vector-acc`` only), so at least ``chain_latency / (accumulators · jam · lanes)`` per
  original iteration, however many iterations the machine code's trip covers;
* a recurrence whose values are not stored in the hot loop across the enclosing one:
  ``chain_latency / recurrence`` per iteration (the store-to-load forwarding only adds).

Since ``combine`` grows with the core and the L1 term, ``combine(chain, 0, (near, far))`` is a
floor under the checked cycles. A row whose code does not compile, or has no loop, keeps its
analytical prediction: the floor is the smaller of the two. Nothing here reads machine code.
"""
from __future__ import annotations

from unrollkit.core.target import Target
from unrollkit.tuning.cost_loop import LoopProfile
from unrollkit.tuning.cost_terms import combine, memory_parts

#: floors are lowered by this fraction, so that rounding in a blend of two cycle counts
#: (`cost_model.jam_remainders`) cannot lift a computed floor above the value it bounds
ROUNDING = 1e-9


def chain_floor(row: dict, prof: LoopProfile) -> float:
    """Core cycles per original iteration that the loop-carried chain alone forces on the
    row's candidate once its machine code is checked (0 where the descriptor fixes none)."""
    c = row["candidate"]
    if prof.reduction:
        lanes = row["prediction"].lanes if c.variant == "vector-acc" else 1
        return prof.chain_latency / (c.accumulators * c.jam * lanes)
    if prof.recurrence and not prof.shared_stores:
        # (with shared stores the row may be kept in registers: then another chain applies)
        return prof.chain_latency / prof.recurrence
    return 0.0


def row_floor(row: dict, prof: LoopProfile, t: Target) -> float:
    """A lower bound on the row's cycles per original iteration after the machine-code check,
    before the blend of a jammed row's remainder (see the module docstring)."""
    grounded = combine(chain_floor(row, prof), 0.0, memory_parts(prof, t))
    return min(row["prediction"].cycles, grounded) * (1 - ROUNDING)
