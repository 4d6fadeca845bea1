"""An optimize run's ``summary.json``: the winner and the reference prompts with their per-split
scores, paired tests on test, and what the run cost. ``load_summary`` reads any summary.json (an
optimize run's or a comparison's) into its record."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Union

from apeopt.atomic_files import atomic_write_json
from apeopt.errors import UserError
from apeopt.prompts.prompt import PromptConfig
from apeopt.records.cost import CostReport
from apeopt.records.base import SCHEMA_VERSION, check_schema, parse, read_json
from apeopt.records.scores import Paired, Scores, SplitScore, scores_from, scores_to_dict
from apeopt.records.search import Challenge, DemoCredit, IncumbentRung
from apeopt.tasks.provenance import SplitOrigin, origins_from_dict, origins_to_dict

if TYPE_CHECKING:
    from apeopt.records.compare import CompareSummary

OPTIMIZE = "optimize"


@dataclass(frozen=True)
class DevSelection:
    """What the winner was selected by: its mean ``metric`` on ``n`` dev examples."""

    score: float
    n: int
    metric: str

    def to_dict(self) -> dict[str, Any]:
        return {"score": self.score, "n": self.n, "metric": self.metric}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "DevSelection":
        return cls(float(data["score"]), int(data["n"]), str(data["metric"]))


@dataclass(frozen=True)
class Winner:
    prompt: PromptConfig
    candidate: str
    origin: str
    trial: int
    dev_selection: DevSelection
    scores: Scores = field(default_factory=dict)  # dev, test, test_shift: absent for an interrupted run

    def score(self, split: str) -> SplitScore | None:
        return self.scores.get(split)

    def to_dict(self) -> dict[str, Any]:
        return {
            "prompt": self.prompt.to_dict(),
            "candidate": self.candidate,
            "origin": self.origin,
            "trial": self.trial,
            "dev_selection": self.dev_selection.to_dict(),
            **scores_to_dict(self.scores),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Winner":
        return cls(
            PromptConfig.from_dict(data["prompt"], where="winner prompt"),
            str(data.get("candidate", "")),
            str(data.get("origin", "")),
            int(data.get("trial", -1)),
            DevSelection.from_dict(data["dev_selection"]),
            scores_from(data),
        )


@dataclass(frozen=True)
class Baseline:
    """A reference prompt scored beside the winner: the human instruction (``prompt``) or k-shot (``k``)."""

    prompt: PromptConfig | None = None
    k: int | None = None
    scores: Scores = field(default_factory=dict)

    def score(self, split: str) -> SplitScore | None:
        return self.scores.get(split)

    def to_dict(self) -> dict[str, Any]:
        head: dict[str, Any] = {}
        if self.prompt is not None:
            head["prompt"] = self.prompt.to_dict()
        if self.k is not None:
            head["k"] = self.k
        return {**head, **scores_to_dict(self.scores)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Baseline":
        prompt = PromptConfig.from_dict(data["prompt"], where="baseline prompt") if data.get("prompt") else None
        return cls(prompt, None if data.get("k") is None else int(data["k"]), scores_from(data))


@dataclass(frozen=True)
class SearchCost:
    """Spent by the search (proposals and dev scoring); the run's budget applies to these."""

    lm_calls: int = 0
    tokens: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"lm_calls": self.lm_calls, "tokens": self.tokens, "seconds": self.seconds}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "SearchCost":
        return cls(int(data.get("lm_calls", 0)), int(data.get("tokens", 0)), float(data.get("seconds", 0.0)))


@dataclass(frozen=True)
class RunSummary:
    """``summary.json`` of one optimize run."""

    task: str
    task_source: str
    model: str
    proposer_model: str
    space: str
    seed: int
    split_seed: int
    status: str  # complete | interrupted (test was not read)
    stop_reason: str
    winner: Winner
    human: Baseline
    few_shot: Baseline | None
    paired_test: Mapping[str, Paired | None]  # winner_vs_human, winner_vs_few_shot
    search: SearchCost
    lm_calls: int  # everything, final scoring included
    tokens: int
    computed: Mapping[str, int] | None  # what the backend stack computed (cache hits apart)
    candidates: int
    trials: int
    wall_seconds: float
    data_fingerprint: str
    versions: Mapping[str, str]
    run_dir: str
    incumbents: tuple[IncumbentRung, ...] = ()  # the incumbent ladder, in the order scored
    selection: tuple[Challenge, ...] = ()  # every challenge of the incumbent, in order
    demo_values: tuple[DemoCredit, ...] = ()  # the most and least valuable train demos (top and bottom 10)
    split_sources: Mapping[str, SplitOrigin] = field(default_factory=dict)  # where each split came from
    # the loaded models as resolved (spec@weights:dtype): which precision scored and proposed
    model_identity: str = ""
    proposer_identity: str = ""
    cost: CostReport | None = None  # tokens per call of the scored prompts, their front, the cheapest within noise
    schema_version: int = SCHEMA_VERSION

    kind = OPTIMIZE

    @property
    def dev_test_gap(self) -> float | None:
        """The winner's dev score minus its test score (same scorer): how much the selection overfit dev."""
        dev, test = self.winner.score("dev"), self.winner.score("test")
        return None if dev is None or test is None else dev.score - test.score

    @property
    def complete(self) -> bool:
        return self.status == "complete"

    @property
    def human_given(self) -> bool:
        """Whether the task had a human instruction (without one, ``human`` is "no instruction")."""
        return self.human.prompt is None or bool(self.human.prompt.instruction.strip())

    def baselines(self) -> dict[str, Baseline]:
        """The reference prompts by name: human, and few_shot when the run had one."""
        return {"human": self.human, **({"few_shot": self.few_shot} if self.few_shot is not None else {})}

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": self.schema_version,
            "kind": self.kind,
            "task": self.task,
            "task_source": self.task_source,
            "model": self.model,
            "proposer_model": self.proposer_model,
            "space": self.space,
            "seed": self.seed,
            "split_seed": self.split_seed,
            "status": self.status,
            "stop_reason": self.stop_reason,
            "winner": self.winner.to_dict(),
            "human": self.human.to_dict(),
            "human_instruction_given": self.human_given,  # False: "human" is the format without instruction
            "few_shot": self.few_shot.to_dict() if self.few_shot is not None else None,
            "paired_test": {k: (p.to_dict() if p is not None else None) for k, p in self.paired_test.items()},
            "search": self.search.to_dict(),
            "lm_calls": self.lm_calls,
            "tokens": self.tokens,
            "computed": dict(self.computed) if self.computed is not None else None,
            "candidates": self.candidates,
            "trials": self.trials,
            "wall_seconds": self.wall_seconds,
            "data_fingerprint": self.data_fingerprint,
            "versions": dict(self.versions),
            "run_dir": self.run_dir,
            "dev_test_gap": self.dev_test_gap,
            "incumbents": [r.to_dict() for r in self.incumbents],
            "selection": [c.to_dict() for c in self.selection],
            "demo_values": [v.to_dict() for v in self.demo_values],
            "split_sources": origins_to_dict(self.split_sources),
            "model_identity": self.model_identity,
            "proposer_identity": self.proposer_identity,
            "cost": self.cost.to_dict() if self.cost is not None else None,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "summary") -> "RunSummary":
        check_schema(data, where)

        def build() -> RunSummary:
            few = data.get("few_shot")
            return cls(
                task=str(data["task"]),
                task_source=str(data.get("task_source") or data["task"]),
                model=str(data["model"]),
                proposer_model=str(data.get("proposer_model") or data["model"]),
                space=str(data["space"]),
                seed=int(data.get("seed", 0)),
                split_seed=int(data.get("split_seed", 0)),
                status=str(data["status"]),
                stop_reason=str(data.get("stop_reason", "")),
                winner=Winner.from_dict(data["winner"]),
                human=Baseline.from_dict(data["human"]),
                few_shot=Baseline.from_dict(few) if few else None,
                paired_test={k: Paired.maybe(v) for k, v in (data.get("paired_test") or {}).items()},
                search=SearchCost.from_dict(data.get("search") or {}),
                lm_calls=int(data.get("lm_calls", 0)),
                tokens=int(data.get("tokens", 0)),
                computed=data.get("computed"),
                candidates=int(data.get("candidates", 0)),
                trials=int(data.get("trials", 0)),
                wall_seconds=float(data.get("wall_seconds", 0.0)),
                data_fingerprint=str(data.get("data_fingerprint", "")),
                versions=dict(data.get("versions") or {}),
                run_dir=str(data.get("run_dir", "")),
                incumbents=tuple(IncumbentRung.from_dict(r) for r in data.get("incumbents") or ()),
                selection=tuple(Challenge.from_dict(c) for c in data.get("selection") or ()),
                demo_values=tuple(DemoCredit.from_dict(v) for v in data.get("demo_values") or ()),
                split_sources=origins_from_dict(data.get("split_sources")),
                model_identity=str(data.get("model_identity", "")),
                proposer_identity=str(data.get("proposer_identity", "")),
                cost=CostReport.from_dict(data["cost"]) if data.get("cost") else None,
            )

        return parse(where, "run summary", build)

    def save(self, path: str | Path) -> Path:
        return atomic_write_json(Path(path), self.to_dict())


Summary = Union[RunSummary, "CompareSummary"]


def load_summary(path: str | Path) -> Summary:
    """A ``summary.json``: an optimize run's (:class:`RunSummary`) or a comparison's (``CompareSummary``)."""
    from apeopt.records.compare import COMPARE, CompareSummary

    where = str(path)
    data = read_json(path, f"{where!r} does not exist")
    check_schema(data, where)
    kind = data.get("kind") or (COMPARE if "methods" in data else OPTIMIZE)
    if kind == COMPARE:
        return CompareSummary.from_dict(data, where)
    if kind != OPTIMIZE:
        raise UserError(f"{where}: unknown summary kind {kind!r} (valid: {OPTIMIZE}, {COMPARE})")
    return RunSummary.from_dict(data, where)


def load_run_summary(path: str | Path) -> RunSummary:
    """The summary of an optimize run; a comparison's summary is a one-line UserError."""
    summary = load_summary(path)
    if not isinstance(summary, RunSummary):
        raise UserError(f"{str(path)!r} is the summary of a comparison, not of an optimize run")
    return summary
