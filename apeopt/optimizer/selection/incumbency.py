"""The run's incumbent, and the record of how it got there: the ladder rows and every challenge.

The ladder's best on all of dev (ties to the shorter prompt) is the first incumbent; afterwards a
challenger takes its place only on a credible paired gain on all of dev (:mod:`apeopt.optimizer.selection.rule`).
"""

from __future__ import annotations

from typing import Callable, Sequence

from apeopt.optimizer.candidates.entry import Entry
from apeopt.optimizer.selection.acceptance import ACCEPTANCE, DEFAULT_ACCEPTANCE
from apeopt.optimizer.selection.rule import Verdict, rank_key
from apeopt.records.search import Challenge, IncumbentRung

GUARD_TOP = 3  # credible challengers the generation guard compares at most


class Incumbency:
    """The current incumbent entry, the ladder rows it was chosen from, and every challenge it met."""

    def __init__(self, reference_input: str, acceptance: str = DEFAULT_ACCEPTANCE) -> None:
        self.reference_input = reference_input  # prompts are compared by their length on this input
        self.rule = ACCEPTANCE.get(acceptance)()
        self.current: Entry | None = None
        self.ladder_rows: list[IncumbentRung] = []  # the ladder's rows as scored (records call them rungs)
        self.challenges: list[Challenge] = []
        # Under likelihood scoring: may a credible challenger replace the incumbent by generation too?
        # (apeopt.optimizer.selection.guard; None: no check)
        self.guard: Callable[[Sequence[Entry], Entry], Entry | None] | None = None

    def key(self, e: Entry) -> tuple[tuple[float, int], int]:
        """Best first: higher dev mean, then the shorter prompt, then the earlier trial."""
        return rank_key(e.value, len(str(e.prompt.render(self.reference_input)))), e.trial.number

    def start(self, entries: Sequence[Entry], finished: Sequence[Entry]) -> None:
        """The ladder's best complete entry becomes the incumbent; every ladder row is recorded
        (a row finished on all of dev by a later trial, from ``finished``, with that trial's numbers)."""
        done = [e for e in entries if e.state == "complete"]
        if done:
            self.current = min(done, key=self.key)
        by_origin = {f.trial.user_attrs.get("continues"): f for f in finished}
        for e in entries:
            if e.phase == "incumbents" and e.trial.user_attrs.get("continues") is None:
                last = by_origin.get(e.trial.number, e)
                self.ladder_rows.append(
                    IncumbentRung(
                        e.label,
                        last.trial.number,
                        last.value if last.scores else None,
                        len(last.scores),
                        last.state,
                        e.fmt.to_dict(),
                    )
                )

    def challenge(self, entries: Sequence[Entry], tried: int | None = None) -> None:
        """Complete entries ahead of the incumbent challenge it, best first; the first credible one wins.
        ``tried``: how many candidates the phase compared (default: ``len(entries)``), for the
        multiple-comparison correction of the acceptance rule (:mod:`.acceptance`)."""
        inc = self.current
        if inc is None:
            return self.start(entries, [])
        ahead = [e for e in entries if e.state == "complete" and e.value > inc.value]
        if self.guard is not None:
            return self._guarded(sorted(ahead, key=self.key), inc, tried or len(entries))
        for e in sorted(ahead, key=self.key):
            v = self.rule.judge(e.scores, inc.scores, tried=tried or len(entries), seed=e.trial.number)
            self.challenges.append(_challenge(e, inc, v, v.credible))
            if v.credible:
                self.current = e
                return

    def _guarded(self, ahead: Sequence[Entry], inc: Entry, tried: int) -> None:
        """Under the guard: the credible challengers (by the search's score, at most ``GUARD_TOP``) go to
        the guard together, which picks one by generation or refuses them all."""
        verdicts = [(e, self.rule.judge(e.scores, inc.scores, tried=tried, seed=e.trial.number)) for e in ahead]
        credible = [e for e, v in verdicts if v.credible][:GUARD_TOP]
        chosen = self.guard(credible, inc) if credible and self.guard is not None else None
        for e, v in verdicts:
            self.challenges.append(_challenge(e, inc, v, e is chosen))
        if chosen is not None:
            self.current = chosen

    def best_fixed(self, completed: Sequence[Entry]) -> Entry | None:
        """When the incumbent retrieves its demos: the best complete prompt with fixed demos."""
        if self.current is None or not self.current.prompt.retrieves:
            return None
        return min((e for e in completed if not e.prompt.retrieves), key=self.key, default=None)


def _challenge(e: Entry, inc: Entry, v: Verdict, won: bool) -> Challenge:
    """The record of one challenge of the incumbent ``inc`` by ``e`` (verdict ``v``)."""
    return Challenge(e.trial.number, e.phase, e.round, inc.trial.number, e.value, inc.value, v.diff, v.lower, v.n, won)
