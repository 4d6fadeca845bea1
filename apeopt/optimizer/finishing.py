"""Which partly scored entries the search finishes on all of dev.

Successive halving ranks entries on 10 or 30 dev items, and a budget can stop an entry before its
last rung. Two places give such entries their remaining items:

- after each phase, the best ``FINISH_TOP`` entries that halving pruned while ahead of the
  incumbent on the items they share (for the ladder, also those not credibly behind it);
- the closing step, when the budget stopped the search: with the budget's reserve
  (``CLOSING_RESERVE`` of each limit, held back from the search once there is an incumbent), the
  best ``FINISH_TOP`` entries that were cut while ahead of the incumbent. So a run cut by its
  budget does not throw away a candidate far ahead on 30 of 37 items for want of the last 7.

Finished entries then challenge the incumbent under the usual selection rule (credible paired gain
on all of dev); what is still unfinished is reported with its paired standing (:mod:`tables`).
"""

from __future__ import annotations

from typing import Sequence

from apeopt.optimizer.halving import FINISH_TOP, Entry
from apeopt.optimizer.selection import contends

# Share of each budget limit kept back from the search for its closing step.
CLOSING_RESERVE = 0.1


def leaders(entries: Sequence[Entry], ref: Entry | None, n_dev: int, near: bool = False,
            top: int = FINISH_TOP) -> list[Entry]:
    """The best ``top`` entries cut before all of dev (pruned, or stopped by the budget) that contend
    with ``ref`` on the items they share (:func:`selection.contends`), best running mean first."""
    cut = [e for e in entries if e.state == "pruned" and 0 < len(e.scores) < n_dev]
    if ref is not None:
        cut = [e for e in cut if contends(e.scores, ref.scores, near, seed=e.trial.number)]
    return sorted(cut, key=lambda e: (-e.value, e.trial.number))[:top]


def closing_reserve(budget_calls: int | None, n_dev: int) -> float:
    """The fraction of each limit held back: ``CLOSING_RESERVE``, and under a call budget at least
    enough calls to finish one leader on half of dev (at most half the budget)."""
    if not budget_calls:
        return CLOSING_RESERVE
    return min(0.5, max(CLOSING_RESERVE, n_dev / 2 / budget_calls))
