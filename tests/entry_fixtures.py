"""Entries for direct tests of the optimizer's rooms: real Optuna trials in an in-memory study."""

from __future__ import annotations

from typing import Sequence

import optuna

from apeopt.optimizer.candidates.entry import Entry
from apeopt.optimizer.candidates.pool import Candidate, CandidatePool
from apeopt.prompts.prompt import PromptConfig
from apeopt.search_spaces import Format


def make_entries(rows: Sequence[tuple[str, Sequence[float], str]], phase: str = "instruction") -> list[Entry]:
    """One entry per (instruction, scores, state), each on its own trial, in order."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize")
    pool = CandidatePool()
    by_text: dict[str, Candidate] = {}
    out = []
    for text, scores, state in rows:
        if text not in by_text:
            added = pool.add(text, "test", 0)
            assert added is not None, f"{text!r} normalizes to an empty or taken key"
            by_text[text] = added
        cand = by_text[text]
        e = Entry(study.ask(), cand, Format(), PromptConfig(instruction=text), phase, 0, scores=list(scores), state=state)
        out.append(e)
    return out
