"""The APE loop: propose, score with successive halving on dev, search the format, resample around the best.

The search only ever sees the train and dev splits: ``Optimizer`` is handed a task with no test
split, so selection cannot read test. Final test scoring happens in ``apeopt.optimizer.final``.
"""

from __future__ import annotations

import dataclasses
import warnings
import math
import signal
from typing import Any, Sequence

import optuna

from apeopt.models.metered import MeteredBackend
from apeopt.optimizer.budget import Budget
from apeopt.optimizer.config import OptimizeConfig
from apeopt.optimizer.halving import Entry, Halving
from apeopt.optimizer.pool import Candidate, CandidatePool
from apeopt.optimizer.proposer import PROPOSERS, ProposalContext, ScoredCandidate
from apeopt.optimizer.pruner import SyncHalvingPruner, rung_sizes
from apeopt.optimizer.runstore import RunStore
from apeopt.optimizer.view import View
from apeopt.prompts.demos import sample_demos
from apeopt.prompts.prompt import PromptConfig
from apeopt.scorers import Scorer, get_scorer
from apeopt.search_spaces import Format, SearchSpace
from apeopt.tasks.task import Task

SEARCH_SPLITS = ("train", "dev")


def search_view(task: Task) -> Task:
    """The task as the search may see it: train and dev only."""
    return dataclasses.replace(task, splits={k: v for k, v in task.splits.items() if k in SEARCH_SPLITS})


def replay_log(store: RunStore) -> dict[tuple[int, int], dict[str, Any]]:
    """The persisted evaluations of an earlier, interrupted attempt of this run, by (trial, step)."""
    return {(r["trial"], r["step"]): r for r in store.repair_log()}


def _drop_study(storage: str, name: str) -> None:
    """A resumed run rebuilds its study by deterministic replay; the stale one is removed first."""
    try:
        optuna.delete_study(study_name=name, storage=storage)
    except KeyError:
        pass


class Optimizer:
    def __init__(
        self,
        config: OptimizeConfig,
        task: Task,
        space: SearchSpace,
        backend: MeteredBackend,
        proposer_backend: MeteredBackend,
        store: RunStore,
        view: View,
        storage: str | None = None,
        resume: bool = False,
    ) -> None:
        self.config = config
        self.task = search_view(task)
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
        self.budget = Budget([backend.usage, proposer_backend.usage], config.budget_calls, config.budget_tokens, config.budget_minutes)
        self.entries: list[Entry] = []
        self.stop_reason: str | None = None
        self._interrupted = False
        sampler: optuna.samplers.BaseSampler = (
            optuna.samplers.TPESampler(seed=config.seed, n_startup_trials=6, multivariate=True)
            if space.sampler == "tpe"
            else optuna.samplers.RandomSampler(seed=config.seed)
        )
        self.replay = replay_log(store) if resume else {}
        if resume:
            self.budget.replay_at(0.0)
            _drop_study(storage or store.default_storage(), store.root.name)
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
        self.study = optuna.create_study(
            storage=storage or store.default_storage(),
            study_name=store.root.name,
            direction="maximize",
            sampler=sampler,
            pruner=SyncHalvingPruner(config.eta),
        )
        self.halving = Halving(
            self.study, self.dev, backend, self.scorer, task.labels, self.sizes,
            should_stop=self._should_stop, record=self._record, on_rung=self._on_rung, replay=self.replay,
            calls_left=self.budget.calls_left,
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
        fmt = self.space.defaults()
        best_value = float("-inf")
        stale = 0
        for rnd in range(self.config.rounds):
            self.view.update(round=rnd)
            if rnd == 0:
                self._score_start(fmt)
            new = self._propose(rnd)
            if self._should_stop():
                break
            self._evaluate([self._entry(c, fmt, "instruction", rnd) for c in new])
            self._format_search(rnd)
            best = self.best()
            if best is not None:
                fmt = best.fmt
                if best.value > best_value + 1e-9:
                    best_value, stale = best.value, 0
                else:
                    stale += 1
            if self.stop_reason or stale > self.config.patience - 1 and rnd > 0:
                break
        if self.stop_reason is None and self._should_stop():
            self.stop_reason = self._should_stop()

    def _score_start(self, fmt: Format) -> None:
        """The human instruction in the space's start format, on all of dev, before anything is proposed.

        The run has a fully scored incumbent after its first len(dev) calls: a budget cut at any
        point still has a winner at least as good on dev as the human prompt, and the proposers'
        candidates are pruned against it rung by rung.
        """
        human = self.pool.add(self.task.instruction, "human", 0)
        if human is not None and not self._should_stop():
            self._evaluate([self._entry(human, fmt, "instruction", 0)])

    def _propose(self, rnd: int) -> list[Candidate]:
        new: list[Candidate] = []
        names = list(self.config.proposers) if rnd == 0 else ["variation", "history"]
        ranked = self.ranked_candidates()
        ctx = ProposalContext(
            train=self.train,
            history=ranked,
            parents=ranked[-self.config.resample_top :][::-1],
            n=self.config.per_subsample,
            subsamples=self.config.subsamples,
            k_demos=self.config.proposal_demos,
            temperature=self.config.proposal_temperature,
            seed=self.config.seed * 100 + rnd,
        )
        for name in names:
            if self._should_stop():
                break
            self.view.update(phase=f"proposing ({name})")
            proposer = PROPOSERS.get(name)()
            before = self.proposer_backend.usage.calls
            for p in proposer.propose(self.proposer_backend, ctx, limit=self.budget.calls_left()):
                cand = self.pool.add(p.text, p.origin, rnd, p.parent)
                if cand:
                    new.append(cand)
            self.view.update(calls_proposing=self.proposer_backend.usage.calls - before)
        self.store.write_candidates(self.pool.rows())
        return new

    def _format_search(self, rnd: int) -> None:
        """TPE trials over the space's searchable params, around the top instructions."""
        if not self.space.searchable or self.space.format_trials == 0:
            return
        top = self.ranked_candidates()[-self.config.resample_top :][::-1]
        if not top:
            return
        remaining = self.space.format_trials
        while remaining > 0 and not self._should_stop():
            batch = []
            for _ in range(min(remaining, 6)):
                trial = self.study.ask()
                fmt = self.space.suggest(trial)
                rank = trial.suggest_categorical("instruction_rank", list(range(self.config.resample_top)))
                cand = self.pool[top[min(rank, len(top) - 1)].id]
                batch.append(self._entry(cand, fmt, "format", rnd, trial))
            remaining -= len(batch)
            self._evaluate(batch)

    def _entry(self, cand: Candidate, fmt: Format, phase: str, rnd: int, trial: optuna.Trial | None = None) -> Entry:
        if trial is None:
            searchable = {p.name: getattr(fmt, p.name) for p in self.space.searchable}
            searchable["instruction_rank"] = 0
            self.study.enqueue_trial(searchable, skip_if_exists=False)
            trial = self.study.ask()
            self.space.suggest(trial)
            trial.suggest_categorical("instruction_rank", list(range(self.config.resample_top)))
        trial.set_user_attr("candidate_id", cand.id)
        trial.set_user_attr("instruction", cand.text)
        trial.set_user_attr("origin", cand.origin)
        trial.set_user_attr("round", rnd)
        trial.set_user_attr("phase", phase)
        trial.set_user_attr("format", fmt.to_dict())
        return Entry(trial, cand, fmt, self.prompt_for(cand.text, fmt), phase, rnd)

    def prompt_for(self, instruction: str, fmt: Format) -> PromptConfig:
        return PromptConfig(
            instruction=instruction,
            template=fmt.template,
            demos=sample_demos(self.train, fmt.demos, seed=fmt.demo_seed),
            answer_prefix=fmt.answer_prefix,
            cot=fmt.cot,
            votes=fmt.votes,
            max_tokens=self.task.max_tokens,
        )

    def _evaluate(self, entries: list[Entry]) -> None:
        if not entries:
            return
        self.entries.extend(entries)
        self.view.update(phase=f"scoring {entries[0].phase} candidates", left=len(entries))
        reason = self.halving.run(entries)
        if reason and not self.stop_reason:
            self.stop_reason = reason
        self.store.write_candidates(self.pool.rows())
        self._write_tables()
        best = self.best()
        if best is not None:
            self.view.update(best=best.value, best_text=best.candidate.text)

    # ----- bookkeeping ----------------------------------------------------------------
    def _record(self, e: Entry, step: int, scores: Sequence[float], calls: int, tokens: int, replayed: bool) -> None:
        if replayed:
            self.budget.replay_at(self.replay[(e.trial.number, step)].get("elapsed", 0.0))
        else:
            self.budget.go_live()
            rec = {
                "trial": e.trial.number, "candidate": e.candidate.id, "instruction": e.candidate.text, "phase": e.phase,
                "round": e.round, "step": step, "n_new": len(scores), "scores": list(scores), "mean": e.value,
                "lm_calls": calls, "tokens": tokens, "elapsed": round(self.budget.elapsed(), 3),
            }
            self.store.append_evaluation(rec)
        e.candidate.evaluations.append({"trial": e.trial.number, "step": step, "score": e.value, "n": len(e.scores)})
        e.candidate.calls += calls
        e.candidate.tokens += tokens
        self.view.update(calls=self.budget.spent_calls(), tokens=self.budget.spent_tokens())

    def _on_rung(self, size: int, active: int) -> None:
        self.view.update(left=active, rung=size)

    def _should_stop(self) -> str | None:
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
        done = self.completed()
        if not done:
            partial = [e for e in self.entries if e.scores]
            if not partial:
                return None
            return max(partial, key=lambda e: (len(e.scores), e.value, -e.trial.number))
        return max(done, key=lambda e: (e.value, -e.trial.number))

    def ranked_candidates(self) -> list[ScoredCandidate]:
        """Each candidate once, by its best entry (complete entries first), ascending; scores in [0, 1]."""
        best: dict[str, tuple[tuple[bool, float], Entry]] = {}
        for e in self.entries:
            if not e.scores:
                continue
            key = (e.state == "complete", e.value)
            if e.candidate.id not in best or key > best[e.candidate.id][0]:
                best[e.candidate.id] = (key, e)
        shown = (lambda v: math.exp(v)) if self.scorer.needs_logprob else (lambda v: v)
        return [ScoredCandidate(e.candidate.id, e.candidate.text, shown(e.value)) for _, e in sorted(best.values(), key=lambda kv: kv[0])]

    def leaderboard(self, k: int = 20) -> list[dict[str, Any]]:
        ranked = sorted(self.entries, key=lambda e: (e.state == "complete", len(e.scores), e.value), reverse=True)
        return [
            {
                "trial": e.trial.number, "candidate": e.candidate.id, "instruction": e.candidate.text,
                "origin": e.candidate.origin, "round": e.round, "phase": e.phase, "state": e.state,
                "score": e.value, "n": len(e.scores), "format": e.fmt.to_dict(),
            }
            for e in ranked[:k]
            if e.scores
        ]

    def _write_tables(self) -> None:
        self.store.write_leaderboard(self.leaderboard())
