"""Tables of the scored entries: candidates ranked for the proposers, and the run's leaderboard."""

from __future__ import annotations

import math
from typing import Any, Sequence

from apeopt.optimizer.candidates.entry import Entry
from apeopt.optimizer.proposers.base import ScoredCandidate


def ranked_candidates(entries: Sequence[Entry], logprob: bool) -> list[ScoredCandidate]:
    """Each candidate once, by its best entry (complete entries first), ascending; scores in [0, 1]."""
    best: dict[str, tuple[tuple[bool, float], Entry]] = {}
    for e in entries:
        if not e.scores:
            continue
        key = (e.state == "complete", e.value)
        if e.candidate.id not in best or key > best[e.candidate.id][0]:
            best[e.candidate.id] = (key, e)
    shown = math.exp if logprob else (lambda v: v)
    return [
        ScoredCandidate(e.candidate.id, e.candidate.text, shown(e.value))
        for _, e in sorted(best.values(), key=lambda kv: kv[0])
    ]


def leaderboard(entries: Sequence[Entry], k: int = 20, winner: Entry | None = None) -> list[dict[str, Any]]:
    """The top ``k`` scored entries (complete first); each row not scored on all of dev says why
    (``note``) and, beside a ``winner``, its paired standing on the dev items both hold."""
    ranked = sorted(entries, key=lambda e: (e.state == "complete", len(e.scores), e.value), reverse=True)
    return [
        {
            "trial": e.trial.number,
            "candidate": e.candidate.id,
            "instruction": e.candidate.text,
            "origin": e.candidate.origin,
            "round": e.round,
            "phase": e.phase,
            "state": e.state,
            "score": e.value,
            "n": len(e.scores),
            "format": e.fmt.to_dict(),
            "note": _note(e, winner),
        }
        for e in ranked[:k]
        if e.scores
    ]


def _note(e: Entry, winner: Entry | None) -> str:
    if e.state == "complete":
        return "winner" if e is winner else ""
    why = {"continued": "finished by a later trial", "running": "unfinished"}.get(e.state)
    why = why or e.trial.user_attrs.get("note") or "pruned by successive halving"
    if winner is None or not winner.scores or e is winner:
        return why
    n = min(len(e.scores), len(winner.scores))
    diff = (sum(e.scores[:n]) - sum(winner.scores[:n])) / n
    return f"{why}; {diff:+.3f} vs the winner on the same {n} dev items"
