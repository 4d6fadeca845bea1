"""Entries: a candidate instruction in a format, as an Optuna trial with the prompt it renders to.

Every trial carries its candidate, origin, round, phase and format as user attributes; the format
search's parameters are set on every trial (enqueued at the entry's values), so TPE learns from
all scored prompts, not only its own samples.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import optuna

from apeopt.optimizer.demos.bootstrap import bootstrapped_demo
from apeopt.optimizer.candidates.entry import Entry
from apeopt.optimizer.candidates.pool import Candidate
from apeopt.prompts.demos import demo_pool, demos_at, sample_demos
from apeopt.prompts.prompt import Demo, PromptConfig
from apeopt.prompts.retrieval import Retriever
from apeopt.search_spaces import Format, SearchSpace
from apeopt.tasks.task import Example


def prompt_for(
    instruction: str,
    fmt: Format,
    train: Sequence[Example],
    max_tokens: int,
    pool: tuple[Demo, ...] | None = None,
    traces: Mapping[int, str] | None = None,
) -> PromptConfig:
    """The prompt an instruction renders to in ``fmt`` (demos drawn, chosen, bootstrapped with the
    reasoning ``traces`` of train examples, or retrieved from ``train``)."""
    retriever = Retriever(k=fmt.demos) if fmt.demo_source == "retrieved" else None
    if retriever is not None:
        demos: tuple[Demo, ...] = ()
    elif fmt.demo_source == "chosen":
        demos = demos_at(train, fmt.demo_ids)
    elif fmt.demo_source == "bootstrapped":
        demos = tuple(bootstrapped_demo(train[i], (traces or {})[i], fmt.cot) for i in fmt.demo_ids)
    else:
        demos = sample_demos(train, fmt.demos, seed=fmt.demo_seed)
    return PromptConfig(
        instruction=instruction,
        template=fmt.template,
        demos=demos,
        retriever=retriever,
        demo_pool=(pool if pool is not None else demo_pool(train)) if retriever is not None else (),
        answer_prefix=fmt.answer_prefix,
        cot=fmt.cot,
        votes=fmt.votes,
        max_tokens=max_tokens,
    )


@dataclass
class EntryMaker:
    """Makes entries for a run: trials with the format search's parameters set, prompts rendered over train."""

    study: optuna.Study
    space: SearchSpace
    train: Sequence[Example]
    max_tokens: int

    def __post_init__(self) -> None:
        self.pool = demo_pool(self.train)
        self.traces: dict[int, str] = {}  # train index -> the model's own correct reasoning (bootstrapped demos)

    def prompt(self, instruction: str, fmt: Format) -> PromptConfig:
        return prompt_for(instruction, fmt, self.train, self.max_tokens, self.pool, self.traces)

    def entry(
        self, cand: Candidate, fmt: Format, phase: str, rnd: int, trial: optuna.Trial | None = None, label: str = ""
    ) -> Entry:
        if trial is None:
            trial = self.ask_at(fmt)
        for key, value in (
            ("candidate_id", cand.id),
            ("instruction", cand.text),
            ("origin", cand.origin),
            ("round", rnd),
            ("phase", phase),
            ("format", fmt.to_dict()),
        ):
            trial.set_user_attr(key, value)
        if label:
            trial.set_user_attr("label", label)
        return Entry(trial, cand, fmt, self.prompt(cand.text, fmt), phase, rnd, label=label)

    def ask_at(self, fmt: Format) -> optuna.Trial:
        """A trial with the format search's parameters fixed at ``fmt``'s values."""
        dims = {p.name: getattr(fmt, p.name) for p in self.space.format_dims}
        if dims:
            self.study.enqueue_trial(dims, skip_if_exists=False)
        trial = self.study.ask()
        for p in self.space.format_dims:
            p.suggest(trial)
        return trial

    def continuation(self, e: Entry) -> Entry:
        """A new trial that goes on from ``e``'s scores to all of dev (a pruned trial cannot report again)."""
        trial = self.ask_at(e.fmt)
        for key, value in e.trial.user_attrs.items():
            trial.set_user_attr(key, value)
        trial.set_user_attr("continues", e.trial.number)
        e.state = "continued"
        return Entry(
            trial,
            e.candidate,
            e.fmt,
            e.prompt,
            e.phase,
            e.round,
            scores=list(e.scores),
            outputs=list(e.outputs),
            feedback=list(e.feedback),
            label=e.label,
        )

    def discard(self, e: Entry) -> None:
        """An entry made but not scored (its phase's calls ran out): told pruned, so no trial stays running."""
        e.state = "pruned"
        e.trial.set_user_attr("note", "not scored: the phase's share of the call budget")
        self.study.tell(e.trial, state=optuna.trial.TrialState.PRUNED)
