"""Which partly scored entries the search finishes on all of dev.

Successive halving ranks entries on 10 or 30 dev items, and a budget can stop an entry before its
last rung. Two places give such entries their remaining items:

- after each phase, the best ``FINISH_TOP`` entries that halving pruned while ahead of the
  incumbent on the items they share (for the ladder, also those not credibly behind it);
- the closing step, when the budget stopped the search or the rounds finished with calls left (a
  phase's share of the budget cut an entry short): with the budget's reserve and what is left
  (:mod:`apeopt.optimizer.scheduling.budget`: a share of each limit, held back from the search once there is an incumbent), the
  best ``FINISH_TOP`` entries that were cut while ahead of the incumbent. So a run cut by its
  budget does not throw away a candidate far ahead on 30 of 37 items for want of the last 7.

Finished entries then challenge the incumbent under the usual selection rule (credible paired gain
on all of dev); what is still unfinished is reported with its paired standing (:mod:`apeopt.optimizer.candidates.tables`).
"""

from __future__ import annotations

from typing import Sequence

from apeopt.optimizer.candidates.entry import Entry
from apeopt.optimizer.selection.rule import contends

# Entries pruned early but ahead of the incumbent that the search finishes on all of dev, per phase.
FINISH_TOP = 2


def leaders(
    entries: Sequence[Entry], ref: Entry | None, n_dev: int, near: bool = False, top: int = FINISH_TOP
) -> list[Entry]:
    """The best ``top`` entries cut before all of dev (pruned, or stopped by the budget) that contend
    with ``ref`` on the items they share (:func:`.rule.contends`), best running mean first."""
    cut = [e for e in entries if e.state == "pruned" and 0 < len(e.scores) < n_dev]
    if ref is not None:
        cut = [e for e in cut if contends(e.scores, ref.scores, near, seed=e.trial.number)]
    return sorted(cut, key=lambda e: (-e.value, e.trial.number))[:top]
