"""The search loop: incumbents first, then demos, format and wording, each against the incumbent.

Round 0 scores the incumbent ladder (:mod:`apeopt.optimizer.demos.ladder`: the human instruction
with 0 to 32 random demos, and with retrieved demos); its best on all of dev is the incumbent.
Every round then runs three phases, each scored by successive halving on dev, with the leaders
that halving pruned early finished on all of dev:

1. demos: new demo sets of the incumbent's size (credit-assigned and random; retrieval sizes);
2. format: TPE over the space's other dimensions (template, CoT, votes, answer prefix);
3. wording: instructions proposed by the proposer model (APE forward and chat in round 0, then
   variations, the scored history (OPRO) and reflection on a parent's dev failures (GEPA); parents
   by dev mean or from the per-example Pareto front, :mod:`apeopt.optimizer.proposers.context`), in the
   incumbent's format.

The entries each phase offers are made in :mod:`apeopt.optimizer.phase_entries`.
After each phase a challenger replaces the incumbent only on a credible paired gain on all of
dev (:mod:`apeopt.optimizer.selection.rule`), so the winner is never below the ladder's best on dev,
and a proposed instruction is kept only if it credibly beats the human one in the same format.
A run its budget stops ends with a closing step that finishes the leaders it cut
(:mod:`apeopt.optimizer.selection.finishing`).

The search only ever sees the train and dev splits: ``Optimizer`` is handed a task with no test
split, so selection cannot read test. Final test scoring happens in ``apeopt.optimizer.final``.
"""

from __future__ import annotations

import dataclasses
import functools
import signal
from typing import Any, Callable, Sequence

from apeopt.models.base import LMBackend
from apeopt.optimizer import phase_entries
from apeopt.optimizer.candidates.entries import EntryMaker
from apeopt.optimizer.candidates.entry import Entry
from apeopt.optimizer.candidates.pool import NO_INSTRUCTION, Candidate, CandidatePool
from apeopt.optimizer.candidates.tables import leaderboard, ranked_candidates
from apeopt.optimizer.config import OptimizeConfig
from apeopt.optimizer.cost import CostMeter
from apeopt.optimizer.demos.credit import DemoValue
from apeopt.optimizer.demos.ladder import max_demos
from apeopt.optimizer.demos.search import demo_credits
from apeopt.optimizer.partial import keep_best_on_dev
from apeopt.optimizer.progress import View
from apeopt.optimizer.proposers.base import ScoredCandidate
from apeopt.optimizer.scheduling.budget import Budget, closing_reserve, phase_cap
from apeopt.optimizer.scheduling.halving import RUNG_DOES_NOT_FIT, SuccessiveHalving
from apeopt.optimizer.scheduling.phases import round_phases
from apeopt.optimizer.scheduling.pruner import rung_sizes
from apeopt.optimizer.scheduling.study import open_study
from apeopt.optimizer.selection.finishing import leaders
from apeopt.optimizer.selection.incumbency import Incumbency
from apeopt.optimizer.proposers.induction_step import Induction
from apeopt.records.search import DemoCredit
from apeopt.runs.files import GUARD
from apeopt.runs.store import RunStore
from apeopt.runs.studies import study_name
from apeopt.scorers import Scorer, get_scorer
from apeopt.search_spaces import SearchSpace
from apeopt.tasks.task import Task

SEARCH_SPLITS = ("train", "dev")


def _search_task(task: Task) -> Task:
    """The task as the search may see it: train and dev only."""
    return dataclasses.replace(task, splits={k: v for k, v in task.splits.items() if k in SEARCH_SPLITS})


def _replay_log(store: RunStore) -> dict[tuple[int, int], dict[str, Any]]:
    """The persisted evaluations of an earlier, interrupted attempt of this run, by (trial, step)."""
    return {(r["trial"], r["step"]): r for r in store.repair_log()}


class Optimizer:
    """One search over a task's train and dev splits: the rounds, their phases and the incumbent."""

    def __init__(
        self,
        config: OptimizeConfig,
        task: Task,
        space: SearchSpace,
        backend: LMBackend,
        proposer_backend: LMBackend,
        store: RunStore,
        view: View,
        storage: str | None = None,
        resume: bool = False,
    ) -> None:
        self.config = config
        self.task = _search_task(task)
        self.space = space
        self.backend = backend
        self.proposer_backend = proposer_backend
        self.store = store
        self.view = view
        self.pool = CandidatePool()
        self.train = self.task.split("train")
        dev = self.task.split("dev")
        self.dev = dev[: config.dev_limit] if config.dev_limit else dev
        self.scorer: Scorer = get_scorer("likelihood" if space.scoring == "likelihood" else task.scorer)
        self.sizes = rung_sizes(len(self.dev), min(config.minibatch, len(self.dev)), config.eta)
        self.budget = Budget(
            [backend.usage, proposer_backend.usage], config.budget_calls, config.budget_tokens, config.budget_minutes
        )
        self.entries: list[Entry] = []
        self.incumbency = Incumbency(self.dev[0].input)
        self.human: Candidate | None = None
        self.demo_values: list[DemoValue] = []
        self.proposer_calls: dict[str, int] = {}
        self.demo_cap = max_demos(self.train, self.task.instruction)
        self._cap: int | None = None
        self.stop_reason: str | None = None
        self._interrupted = False
        self.replay = _replay_log(store) if resume else {}
        if resume:
            self.budget.replay_at(0.0)
        self.study = open_study(
            storage or store.default_storage(),
            study_name(store.root, resume),
            space.sampler,
            config.seed,
            config.eta,
            resume,
        )  # the name: unique per run, stored in its folder
        self.make = EntryMaker(self.study, space, self.train, self.task.max_tokens)
        self.induction = Induction(config, self.task, self.dev, backend, self.calls_left)
        if self.scorer.needs_logprob and config.guard and not get_scorer(task.scorer).needs_logprob:
            self.incumbency.guard = self.induction.guard(get_scorer(task.scorer), self.budget.calls_left)
        self.costs = CostMeter(backend, [x.input for x in self.dev], config.max_prompt_tokens)
        self.halving = SuccessiveHalving(
            self.study,
            self.dev,
            backend,
            self.scorer,
            task.labels,
            self.sizes,
            should_stop=self.should_stop,
            record=self._record,
            on_rung=self._on_rung,
            replay=self.replay,
            calls_left=self.calls_left,
        )

    # ----- the loop --------------------------------------------------------------------
    def run(self) -> Entry | None:
        """Run rounds until the budget, the round limit, a round without improvement, or Ctrl-C."""
        old = signal.getsignal(signal.SIGINT)
        try:
            signal.signal(signal.SIGINT, self._on_sigint)
        except ValueError:  # not in the main thread
            old = None
        try:
            self._rounds()
        finally:
            if old is not None:
                signal.signal(signal.SIGINT, old)
        self._write_tables()
        return self.best()

    def _rounds(self) -> None:
        """Round 0 scores the incumbent ladder; every round then searches demos, format and wording,
        each phase against the incumbent of the one before (see the module docstring)."""
        self.human = self.pool.add(self.task.instruction, "human" if self.task.has_instruction else NO_INSTRUCTION, 0)
        stale = 0
        for rnd in range(self.config.rounds):
            self.view.update(round=rnd)
            before = self.incumbent
            for phase in round_phases(rnd):
                if self.should_stop():
                    break
                self._phase(phase.name, rnd, functools.partial(phase.entries, self))
            if self.stop_reason or self.should_stop():
                break
            stale = 0 if self.incumbent is not before else stale + 1
            if rnd > 0 and stale >= max(1, self.config.patience):
                break
        if self.stop_reason is None and self.should_stop():
            self.stop_reason = self.should_stop()
        self._close()

    @property
    def incumbent(self) -> Entry | None:
        return self.incumbency.current

    # ----- phases ----------------------------------------------------------------------
    # What each phase offers to score (the phases of :mod:`.scheduling.phases` call these): :mod:`.phase_entries`.
    incumbent_entries = phase_entries.incumbent_entries
    demo_entries = phase_entries.demo_entries
    format_entries = phase_entries.format_entries
    instruction_entries = phase_entries.instruction_entries

    def _phase(self, name: str, rnd: int, make: Callable[[int], list[Entry]]) -> None:
        """Make a phase's entries, score them by successive halving, finish the leaders on all of dev
        and apply the selection rule; under a call budget the phase gets a share of what is left."""
        left = self.budget.calls_left()
        if left is not None:
            self._cap = phase_cap(name, rnd, self.budget.spent_calls(), left, len(self.dev))
        try:
            entries = make(rnd)
            if not entries:
                return
            tried = len(entries)
            self._evaluate(entries)
            entries += self._finish_leaders(entries, near=name == "incumbents")
            if name == "incumbents":
                self.incumbency.start(
                    entries, [e for e in self.entries if e.trial.user_attrs.get("continues") is not None]
                )
                self.budget.reserve = (
                    closing_reserve(self.budget.calls, len(self.dev)) if self.incumbent is not None else 0.0
                )
            else:
                self.incumbency.challenge(entries, tried=tried)
            self._show_best()
        finally:
            self._cap = None

    def calls_left(self) -> int | None:
        """Calls the current phase may still spend (the run's budget, and the phase's share of it)."""
        left = self.budget.calls_left()
        if self._cap is None:
            return left
        phase_left = max(0, self._cap - self.budget.spent_calls())
        return phase_left if left is None else min(left, phase_left)

    # ----- selection -------------------------------------------------------------------
    def _finish_leaders(self, entries: list[Entry], near: bool = False) -> list[Entry]:
        """The phase's leaders that halving pruned early, scored on the rest of dev (:mod:`.selection.finishing`;
        ``near``, for the ladder: also those within noise of the best)."""
        ref = self.incumbent or max((e for e in entries if e.state == "complete"), key=lambda e: e.value, default=None)
        return self._finish(leaders(entries, ref, len(self.dev), near))

    def _close(self) -> None:
        """The closing step: the budget's reserve is released and spent on the best entries cut while
        ahead of the incumbent (by the budget, or by a phase's share of it when the rounds finished
        with calls left); they challenge it like any other."""
        self.budget.reserve = 0.0
        if self.incumbent is None or self._interrupted:
            return
        conts = self._finish(leaders(self.entries, self.incumbent, len(self.dev)))
        if not self.stop_reason:  # the rounds finished: say so only when it finished someone
            if conts:
                self._challenge_finished(conts)
                self.stop_reason = f"rounds finished; the closing step finished {len(conts)} leader(s) on all of dev"
            return
        if conts:
            self._challenge_finished(conts)
        self.stop_reason = self.budget.exhausted() or self.stop_reason
        self.stop_reason += (
            f"; the closing step finished {len(conts)} leader(s) on all of dev"
            if conts
            else "; no candidate cut by it was ahead of the incumbent"
        )

    def _challenge_finished(self, conts: list[Entry]) -> None:
        phase_of = {(e.phase, e.round) for e in conts}
        self.incumbency.challenge(
            conts,
            tried=sum(
                1
                for e in self.entries
                if (e.phase, e.round) in phase_of and e.trial.user_attrs.get("continues") is None
            ),
        )
        self._show_best()

    def _finish(self, leaders: list[Entry]) -> list[Entry]:
        if not leaders or self.should_stop():
            return []
        conts = [self.make.continuation(e) for e in leaders]
        self.entries.extend(conts)
        self.view.update(phase=f"finishing {len(conts)} leader(s) on all of dev")
        self._note_stop(self.halving.finish(conts))
        self._write_tables()
        return conts

    def finish_cheaper(self, best: Entry) -> None:
        """Cheaper prompts that halving cut while not credibly behind ``best``, finished on all of dev
        within the budget, so that the cost report can name the cheapest within noise (:mod:`cost`)."""
        if not self._interrupted:
            self._finish(self.costs.contenders(best, self.entries))

    def best_fixed(self) -> Entry | None:
        return self.incumbency.best_fixed(self.completed())

    def demo_credits(self, k: int = 10) -> tuple[DemoCredit, ...]:
        """The ``k`` most and ``k`` least valuable train demos by the last estimate."""
        return demo_credits(self.demo_values, self.train, k)

    def _show_best(self) -> None:
        best = self.best()
        if best is not None:
            self.view.update(best=best.value, best_text=best.candidate.text)

    def _evaluate(self, entries: list[Entry]) -> None:
        if not entries:
            return
        self.entries.extend(entries)
        self.view.update(phase=f"scoring {entries[0].phase} candidates", left=len(entries))
        self._note_stop(self.halving.run(entries))
        self.store.write_candidates(self.pool.rows())
        self._write_tables()

    def _note_stop(self, reason: str | None) -> None:
        """A halving stopped for want of calls ends the run only if the run's budget ran out, not
        just the phase's share of it (the next phase then gets its own share)."""
        left = self.budget.calls_left()
        if reason == RUNG_DOES_NOT_FIT and left is not None and left > (self.calls_left() or 0):
            return
        self.stop_reason = self.stop_reason or reason

    # ----- bookkeeping ----------------------------------------------------------------
    def _record(self, e: Entry, step: int, scores: Sequence[float], calls: int, tokens: int, replayed: bool) -> None:
        if replayed:
            self.budget.replay_at(self.replay[(e.trial.number, step)].get("elapsed", 0.0))
        else:
            self.budget.go_live()
            self.store.append_evaluation(
                e.log_record(
                    step, scores, calls, tokens, round(self.budget.elapsed(), 3), outputs=not self.scorer.needs_logprob
                )
            )
            keep_best_on_dev(self.store, self.config, self.task, e, len(self.dev), self.scorer.name)  # survives kill -9
        e.candidate.evaluations.append({"trial": e.trial.number, "step": step, "score": e.value, "n": len(e.scores)})
        e.candidate.calls += calls
        e.candidate.tokens += tokens
        self.costs.record(e, len(scores), tokens)
        self.view.update(calls=self.budget.spent_calls(), tokens=self.budget.spent_tokens())

    def _on_rung(self, size: int, active: int) -> None:
        self.view.update(left=active, rung=size)

    def should_stop(self) -> str | None:
        if self._interrupted:
            return "interrupted (Ctrl-C)"
        return self.budget.exhausted()

    def _on_sigint(self, signum: int, frame: Any) -> None:
        if self._interrupted:
            raise KeyboardInterrupt
        self._interrupted = True
        self.view.update(phase="stopping after the current evaluation (Ctrl-C again to abort)")

    def completed(self) -> list[Entry]:
        return [e for e in self.entries if e.state == "complete"]

    def best(self) -> Entry | None:
        """The incumbent; before there is one (a budget cut early), the most-scored entry."""
        if self.incumbent is not None:
            return self.incumbent
        done = self.completed()
        if not done:
            partial = [e for e in self.entries if e.scores]
            if not partial:
                return None
            return max(partial, key=lambda e: (len(e.scores), e.value, -e.trial.number))
        return max(done, key=lambda e: (e.value, -e.trial.number))

    def ranked_candidates(self) -> list[ScoredCandidate]:
        return ranked_candidates(self.entries, self.scorer.needs_logprob)

    def leaderboard(self, k: int = 20) -> list[dict[str, Any]]:
        return self.costs.annotate(leaderboard(self.entries, k, self.best()), self.entries)

    def _write_tables(self) -> None:
        self.store.write_leaderboard(self.leaderboard())
        if self.induction.guard_checks():
            self.store.write_json(GUARD, self.induction.guard_checks())
