"""Budgets in LM calls, tokens and wall minutes.

Tokens and minutes are checked between evaluations. LM calls are a hard cap: the cost of a rung or
a proposal batch is known before it is sent, so work that would cross the cap is trimmed first
(``calls_left``).

A ``reserve`` (a fraction of each limit) is held back from the search while it is set: the loop
sets it once it has an incumbent and clears it for its closing step, which spends the reserve on
finishing the candidates that were ahead of the incumbent when the search stopped.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

from apeopt.models.base import Usage


@dataclass
class Budget:
    usages: Sequence[Usage]
    calls: int | None = None
    tokens: int | None = None
    minutes: float | None = None
    clock: Callable[[], float] = time.monotonic
    started: float = field(default=0.0)
    frozen: float | None = None  # while replaying a resumed run: the elapsed time the log recorded
    reserve: float = 0.0  # the fraction of each limit held back (for the closing step)

    def __post_init__(self) -> None:
        self.started = self.clock()

    def replay_at(self, elapsed: float) -> None:
        """Replaying persisted evaluations: the time budget sees the time recorded with them."""
        self.frozen = elapsed

    def go_live(self) -> None:
        """The first fresh evaluation after a replay: the clock continues from the recorded time."""
        if self.frozen is not None:
            self.started = self.clock() - self.frozen
            self.frozen = None

    def spent_calls(self) -> int:
        return sum(u.calls for u in self._unique())

    def spent_tokens(self) -> int:
        return sum(u.tokens for u in self._unique())

    def elapsed(self) -> float:
        return self.frozen if self.frozen is not None else self.clock() - self.started

    def calls_left(self) -> int | None:
        """LM calls that may still be spent (less the reserve); None without a call budget."""
        return None if self.calls is None else max(0, self._limit(self.calls) - self.spent_calls())

    def _limit(self, limit: float) -> int:
        return int(limit * (1.0 - self.reserve))

    def _unique(self) -> list[Usage]:
        seen: dict[int, Usage] = {}
        for u in self.usages:
            seen[id(u)] = u
        return list(seen.values())

    def exhausted(self) -> str | None:
        """Why the budget (less the reserve) is spent, or None while some is left."""
        kept = f"; {self.reserve:.0%} held back for the closing step" if self.reserve else ""
        if self.calls is not None and self.spent_calls() >= self._limit(self.calls):
            return f"LM-call budget spent ({self.spent_calls()} of {self.calls}{kept})"
        if self.tokens is not None and self.spent_tokens() >= self._limit(self.tokens):
            over = self.spent_tokens() - self.tokens
            tail = f", {over} over in the last step" if over > 0 and not kept else kept
            return f"token budget spent ({self.spent_tokens()} of {self.tokens}{tail})"
        if self.minutes is not None and self.elapsed() >= 60 * self.minutes * (1.0 - self.reserve):
            over = self.elapsed() / 60 - self.minutes
            tail = f", {over:.1f} min over in the last step" if over >= 0.05 and not kept else kept
            return f"time budget spent ({self.elapsed() / 60:.1f} of {self.minutes} min{tail})"
        return None
