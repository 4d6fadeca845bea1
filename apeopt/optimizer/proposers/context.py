"""What the proposers of a round read, built from the scored entries: the ranked history, the parents,
each candidate's dev results (answers and feedback) and the merge pairs.

Parents are chosen by the policy ``config.parents`` names (:mod:`.parents`: the ``resample_top`` best by
dev mean, or drawn from the per-example Pareto front, :mod:`apeopt.optimizer.proposers.pareto`). Only train and dev reach a proposer.
"""

from __future__ import annotations

import math
from typing import Sequence

from apeopt.optimizer.config import OptimizeConfig
from apeopt.optimizer.candidates.entry import Entry
from apeopt.optimizer.proposers.parents import PARENTS
from apeopt.optimizer.proposers.pareto import Front, merge_pairs, pareto_front, shared_rows
from apeopt.optimizer.proposers.base import Observed, ProposalContext, ScoredCandidate
from apeopt.optimizer.candidates.tables import ranked_candidates
from apeopt.tasks.task import Example


def _best_entries(entries: Sequence[Entry]) -> dict[str, Entry]:
    """Per candidate, the entry scored on the most dev examples (ties: the higher mean, the earlier trial)."""
    best: dict[str, Entry] = {}
    for e in entries:
        if not e.scores:
            continue
        cur = best.get(e.candidate.id)
        if cur is None or (len(e.scores), e.value, -e.trial.number) > (len(cur.scores), cur.value, -cur.trial.number):
            best[e.candidate.id] = e
    return best


def _observed(e: Entry, dev: Sequence[Example]) -> tuple[Observed, ...]:
    """The dev examples ``e`` was scored on, with its answers and the scorer's feedback."""
    outs = e.outputs + [None] * (len(e.scores) - len(e.outputs))
    fbs = e.feedback + [None] * (len(e.scores) - len(e.feedback))
    return tuple(
        Observed(i, dev[i].input, dev[i].target, outs[i], s, fbs[i]) for i, s in enumerate(e.scores) if i < len(dev)
    )


def _front_of(entries: Sequence[Entry], min_candidates: int = 3) -> Front:
    """The Pareto front of the candidates (each by its most-scored entry) over the dev examples they share."""
    rows = {cid: e.scores for cid, e in _best_entries(entries).items()}
    return pareto_front(shared_rows(rows, min_candidates))


def proposal_context(
    entries: Sequence[Entry],
    train: Sequence[Example],
    dev: Sequence[Example],
    config: OptimizeConfig,
    rnd: int,
    likelihood: bool,
    names: Sequence[str] = (),
) -> ProposalContext:
    """The context of round ``rnd``'s proposers ``names`` (see the module docstring)."""
    ranked = ranked_candidates(entries, likelihood)
    k = config.resample_top
    policy = PARENTS.get(config.parents)()
    front: Front | None = None
    if policy.needs_front or "merge" in names:
        front = _front_of(entries, min_candidates=k + 1)
    parents: list[ScoredCandidate] = policy.select(ranked, front, k, seed=config.seed * 100 + rnd)
    best = _best_entries(entries)
    needs = {p.id for p in parents}
    merges = merge_pairs(front, k=max(1, math.ceil(k / 2))) if front is not None and "merge" in names else []
    needs |= {c for m in merges for c in (m.a, m.b)}
    return ProposalContext(
        train=train,
        history=ranked,
        parents=parents,
        n=config.per_subsample,
        subsamples=config.subsamples,
        k_demos=config.proposal_demos,
        temperature=config.proposal_temperature,
        seed=config.seed * 100 + rnd,
        results={cid: _observed(best[cid], dev) for cid in needs if cid in best},
        merges=merges,
        likelihood=likelihood,
        reflect_tokens=config.reflect_tokens,
        reflect_failures=config.reflect_failures,
        reflect_successes=config.reflect_successes,
    )
