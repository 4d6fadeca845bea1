"""What each phase of a round offers to score: the incumbent ladder, new demo sets, format trials and new
instructions, each cut to as many entries as the phase's calls can take through successive halving.

These are the bodies of the phases of :mod:`apeopt.optimizer.scheduling.phases`; ``Optimizer``
(:mod:`apeopt.optimizer.loop`) holds them as its methods, scores what they return and applies the
selection rule.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from apeopt.optimizer.candidates.entry import Entry
from apeopt.optimizer.candidates.pool import Candidate
from apeopt.optimizer.demos.bootstrap import bootstrap_ids, bootstrap_traces, bootstrapped_format, wants_bootstrap
from apeopt.optimizer.demos.credit import Observation, estimate_values
from apeopt.optimizer.demos.ladder import ladder
from apeopt.optimizer.demos.search import demo_base, demo_candidates, observation
from apeopt.optimizer.proposers.context import proposal_context
from apeopt.optimizer.proposers.registry import PROPOSERS
from apeopt.optimizer.scheduling.budget import proposer_limit
from apeopt.optimizer.scheduling.pruner import halving_examples
from apeopt.runs.files import DEMO_VALUES, PRESCREEN, PROPOSER_CALLS

if TYPE_CHECKING:
    from apeopt.optimizer.loop import Optimizer


def incumbent_entries(opt: Optimizer, rnd: int) -> list[Entry]:
    """The incumbent ladder's rows (or the space's start format alone), as many as the phase's calls take."""
    start = opt.space.defaults()
    if opt.space.incumbents == "ladder" and opt.space.searches_demos:
        rows = ladder(start, opt.train, opt.task.instruction, opt.config.split_seed)
    else:
        rows = [("start format", start)]
    assert opt.human is not None
    return _fit_count(opt, [opt.make.entry(opt.human, fmt, "incumbents", rnd, label=name) for name, fmt in rows])


def demo_entries(opt: Optimizer, rnd: int) -> list[Entry]:
    """New demo sets around the incumbent's (bootstrapped CoT demos first), as many as fit."""
    inc = demo_base(opt.incumbent, opt.completed(), opt.incumbency.key)
    if inc is None or not opt.space.demo_trials:
        return []
    opt.demo_values = estimate_values(_observations(opt))
    opt.store.write_json(DEMO_VALUES, [c.to_dict() for c in opt.demo_credits(k=len(opt.demo_values))])
    made = demo_candidates(
        inc.fmt,
        opt.demo_values,
        len(opt.train),
        opt.space.demo_trials,
        seed=opt.config.seed * 1000 + rnd,
        cap=opt.demo_cap,
    )
    made = _bootstrapped(opt, inc, rnd) + made
    return _fit_count(opt, [opt.make.entry(inc.candidate, fmt, "demos", rnd, label=origin) for origin, fmt in made])


def _observations(opt: Optimizer) -> list[Observation]:
    """What credit assignment learns from: every scored entry with random or chosen demos."""
    return [
        observation(e.fmt, e.candidate.text, e.scores, len(opt.train))
        for e in opt.entries
        if e.scores and e.fmt.demo_source in ("random", "chosen") and e.fmt.demos > 0
    ]


def _bootstrapped(opt: Optimizer, inc: Entry, rnd: int) -> list[tuple[str, Any]]:
    """For a CoT incumbent with demos: a demo set of the model's own correct reasoning on train."""
    if not wants_bootstrap(inc.fmt, opt.scorer.needs_logprob):
        return []
    left = opt.calls_left()
    ids = bootstrap_ids(inc.fmt, len(opt.train), left, seed=opt.config.seed * 1000 + rnd)
    opt.view.update(phase=f"bootstrapping CoT demos on {len(ids)} train examples")
    traces = bootstrap_traces(inc.prompt, opt.train, ids, opt.backend, opt.scorer, opt.task.labels)
    opt.make.traces.update(traces)
    return [("bootstrapped", fmt) for fmt in [bootstrapped_format(inc.fmt, traces)] if fmt is not None]


def format_entries(opt: Optimizer, rnd: int) -> list[Entry]:
    """The sampler's format trials with the incumbent's instruction, as many as fit."""
    inc = opt.incumbent
    dims = opt.space.format_dims
    if inc is None or not dims or not opt.space.format_trials:
        return []
    out = []
    for _ in range(opt.space.format_trials):
        trial = opt.study.ask()
        fmt = dataclasses.replace(inc.fmt, **{p.name: p.suggest(trial) for p in dims})
        out.append(opt.make.entry(inc.candidate, fmt, "format", rnd, trial=trial))
    return _fit_count(opt, out)


def instruction_entries(opt: Optimizer, rnd: int) -> list[Entry]:
    """New instructions from the round's proposers, in the incumbent's format, as many as fit."""
    inc = opt.incumbent
    if inc is None:
        return []
    new = _propose(opt, rnd)
    if opt.config.prescreen_items and not opt.should_stop():
        opt.view.update(phase=f"pre-screening {len(new)} instructions by likelihood")
        new = opt.induction.prescreen(new, [opt.make.prompt(c.text, inc.fmt) for c in new], rnd, opt.halving.cost)
        opt.store.write_json(PRESCREEN, opt.induction.screens)
    return _fit_count(opt, [opt.make.entry(c, inc.fmt, "instruction", rnd) for c in new])


def _propose(opt: Optimizer, rnd: int) -> list[Candidate]:
    """The round's proposers' new instructions (each call counted per proposer), until the budget stops."""
    new: list[Candidate] = []
    names = opt.induction.proposers(rnd)
    ctx = proposal_context(opt.entries, opt.train, opt.dev, opt.config, rnd, opt.scorer.needs_logprob, names)
    ctx.extra.update(opt.induction.extra())
    for name in names:
        if opt.should_stop():
            break
        opt.view.update(phase=f"proposing ({name})")
        proposer = PROPOSERS.get(name)()
        before = opt.proposer_backend.usage.calls
        left = opt.calls_left()
        for p in proposer.propose(
            opt.proposer_backend, opt.induction.context_for(name, ctx), limit=proposer_limit(left)
        ):
            cand = opt.pool.add(p.text, p.origin, rnd, p.parent)
            if cand:
                new.append(cand)
        spent = opt.proposer_backend.usage.calls - before
        opt.proposer_calls[name] = opt.proposer_calls.get(name, 0) + spent
        opt.view.update(calls_proposing=spent)
    opt.store.write_candidates(opt.pool.rows())
    opt.store.write_json(PROPOSER_CALLS, opt.proposer_calls)
    return new


def _fit_count(opt: Optimizer, entries: list[Entry]) -> list[Entry]:
    """The first entries that the phase's calls can take through successive halving (at least one):
    n entries cost about ``halving_examples(n)`` examples at the first entry's calls per example.
    Entries over ``--max-prompt-tokens`` are dropped first, unscored (:mod:`.cost`)."""
    entries = opt.costs.within_limit(entries, opt.study, required=bool(entries) and entries[0].phase == "incumbents")
    left = opt.calls_left()
    if left is None or not entries:
        return entries
    per = max(1, opt.halving.cost(entries[0].prompt, opt.dev[:1]))
    keep = 1
    while keep < len(entries) and per * halving_examples(keep + 1, opt.sizes, opt.config.eta) <= left:
        keep += 1
    for e in entries[keep:]:
        opt.make.discard(e)
    return entries[:keep]
