"""The run's budget and its one owner: limits in LM calls, tokens and wall minutes, and every share
of them that a part of the search may spend (phase shares, the closing reserve, the proposers' and
the bootstrap's slices of a phase).

Tokens and minutes are checked between evaluations. LM calls are a hard cap: the cost of a rung or
a proposal batch is known before it is sent, so work that would cross the cap is trimmed first
(``calls_left``).

A ``reserve`` (a fraction of each limit) is held back from the search while it is set: the loop
sets it once it has an incumbent and clears it for its closing step, which spends the reserve on
finishing the candidates that were ahead of the incumbent when the search stopped.

Under a call budget each phase may spend a share of the calls left (``phase_cap``); inside a phase
the proposers may spend a third of what is left per proposer (``proposer_limit``) and the CoT
bootstrap a sixth (``bootstrap_limit``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

from apeopt.models.base import Usage

# Share of the calls left that a phase may spend, under a call budget (round 0, later rounds).
# Round 0's wording phase leaves 40% for the later rounds (a 500-call budget must reach round 1).
SHARES_ROUND0 = {"incumbents": 0.35, "demos": 0.35, "format": 0.45, "instruction": 0.6}
SHARES = {"demos": 0.35, "format": 0.45, "instruction": 1.0}
# Share of each budget limit kept back from the search for its closing step.
CLOSING_RESERVE = 0.1
# The closing reserve under a call budget: at least enough calls to finish one leader on this share
# of dev, and at most this share of the budget.
CLOSING_DEV_SHARE = 0.5
CLOSING_MAX = 0.5
# A proposer may spend 1/PROPOSER_DIVISOR of the phase's calls left; bootstrapping CoT demos
# 1/BOOTSTRAP_DIVISOR (two calls per train example, three times over).
PROPOSER_DIVISOR = 3
BOOTSTRAP_DIVISOR = 6


def phase_cap(phase: str, rnd: int, spent: int, left: int, n_dev: int) -> int:
    """The spent-calls mark a phase may reach: its share of the calls ``left`` (the incumbents phase
    may always score one prompt on all ``n_dev`` items; any other phase at least one call)."""
    share = (SHARES_ROUND0 if rnd == 0 else SHARES)[phase]
    floor = n_dev if phase == "incumbents" else 1
    return spent + max(floor, int(share * left))


def closing_reserve(budget_calls: int | None, n_dev: int) -> float:
    """The fraction of each limit held back: ``CLOSING_RESERVE``, and under a call budget at least
    enough calls to finish one leader on half of dev (at most half the budget)."""
    if not budget_calls:
        return CLOSING_RESERVE
    return min(CLOSING_MAX, max(CLOSING_RESERVE, n_dev * CLOSING_DEV_SHARE / budget_calls))


def proposer_limit(calls_left: int | None) -> int | None:
    """The calls one proposer may spend of the phase's ``calls_left`` (None: no call budget)."""
    return None if calls_left is None else calls_left // PROPOSER_DIVISOR


def bootstrap_limit(calls_left: int) -> int:
    """The train examples bootstrapping may reason about with the phase's ``calls_left``."""
    return calls_left // BOOTSTRAP_DIVISOR


@dataclass
class Budget:
    """The run's limits and what its backends spent against them, less the ``reserve`` while it is set."""

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
            over_min = self.elapsed() / 60 - self.minutes
            tail = f", {over_min:.1f} min over in the last step" if over_min >= 0.05 and not kept else kept
            return f"time budget spent ({self.elapsed() / 60:.1f} of {self.minutes} min{tail})"
        return None
