"""Read run folders and batch folders into plain dataclasses for the HTML report.

A *run* folder holds ``config.json`` (and ``summary.json`` once it finished): an optimize run
(human / few-shot / winner scores, ``evaluations.jsonl``, ``leaderboard.json``) or a compare run
(``comparison.json``). A *batch* folder (``runs/batch-<plan>/``) holds one run folder per job,
named by the job's key, and usually ``batch.db``, the Optuna storage the workers share: when it can
be read it adds each job's state, tries and error text; without it the table comes from the files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from apeopt.errors import UserError
from apeopt.runs import COMPARISON_JSON, CONFIG, LEADERBOARD, STUDY_DB, SUMMARY, RunStore
from apeopt.records.compare import CompareSummary, load_comparison
from apeopt.records.cost import CostReport
from apeopt.records.scores import Paired, SplitScore
from apeopt.records.summary import Baseline, RunSummary, Winner, load_summary
from apeopt.secrets import mask_url

BATCH_DB = "batch.db"


@dataclass(frozen=True)
class Score:
    score: float
    n: int
    lo: float | None = None
    hi: float | None = None


@dataclass(frozen=True)
class MethodScore:
    """One bar of a comparison: a method (human, few_shot, winner, or a compare row) on test/test_shift."""

    method: str
    test: Score | None
    test_shift: Score | None = None
    dev: Score | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Evaluation:
    trial: int
    round: int
    phase: str
    step: int
    mean: float
    lm_calls: int
    tokens: int
    elapsed: float | None = None


@dataclass(frozen=True)
class Candidate:
    rank: int
    score: float
    n: int
    trial: int
    origin: str
    round: int
    phase: str
    state: str
    format: str
    instruction: str
    note: str = ""  # why a row is not scored on all of dev, and its standing against the winner


@dataclass
class Run:
    path: Path
    name: str
    kind: str  # optimize | compare
    task: str
    model: str
    space: str
    seed: int | None
    status: str  # complete | interrupted | incomplete (no summary.json yet)
    stop_reason: str = ""
    metric: str = ""
    methods: list[MethodScore] = field(default_factory=list)
    winner_instruction: str | None = None
    human_instruction: str | None = None
    paired: Paired | None = None  # winner vs human on test
    evaluations: list[Evaluation] = field(default_factory=list)
    leaderboard: list[Candidate] = field(default_factory=list)
    lm_calls: int | None = None
    tokens: int | None = None
    wall_seconds: float | None = None
    candidates: int | None = None
    trials: int | None = None
    study: str | None = None  # an Optuna storage URL to browse with optuna-dashboard
    label: str = ""
    cost: CostReport | None = None  # the dev-score x tokens front, the winner's cost, the cheapest within noise
    scored: list[tuple[float, float]] = field(
        default_factory=list
    )  # (tokens per example, dev) of complete leaderboard rows

    def method(self, name: str) -> MethodScore | None:
        return next((m for m in self.methods if m.method == name), None)

    def headline(self) -> MethodScore | None:
        """The score a job is judged by: the optimize winner, or the best compare row on test."""
        if self.kind == "optimize":
            return self.method("winner")
        scored = [m for m in self.methods if m.test is not None]
        return max(scored, key=lambda m: m.test.score) if scored else None  # type: ignore[union-attr]


@dataclass
class Job:
    key: str
    label: str
    state: str  # pending | running | done | failed | complete | interrupted | incomplete
    tries: int | None
    error: str = ""
    seconds: float | None = None
    run: Run | None = None
    recorded: dict[str, Any] = field(default_factory=dict)  # test, human_test, lm_calls as the worker told them


@dataclass
class Batch:
    path: Path | None  # None: the run folders given directly
    name: str
    jobs: list[Job]
    source: str  # where the states came from
    dashboard: str | None = None


@dataclass
class Collection:
    batches: list[Batch]
    runs: list[Run]  # every run, standalone or inside a batch, in input order
    inputs: list[str]


# ----- small readers -------------------------------------------------------------------
def _score(s: SplitScore | None) -> Score | None:
    return None if s is None else Score(s.score, s.n, s.ci[0], s.ci[1])


def _recorded(d: Any) -> Score | None:
    """A score the batch worker recorded in the job queue (a SplitScore's dict), if it holds one."""
    if not isinstance(d, dict) or d.get("score") is None:
        return None
    ci = d.get("ci") or [None, None]
    return Score(float(d["score"]), int(d.get("n") or 0), _num(ci[0]), _num(ci[1]))


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, (int, float)) else None


def _int(v: Any) -> int | None:
    return int(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def short_label(label: str) -> str:
    """A job label with its task path cut to the file name (``task=/abs/path/my.yaml`` -> ``task=my.yaml``)."""
    return re.sub(r"task=(\S*/)([^/\s]+)", r"task=\2", label)


def is_run(path: Path) -> bool:
    return (path / SUMMARY).is_file() or (path / CONFIG).is_file()


def is_batch(path: Path) -> bool:
    return path.is_dir() and ((path / BATCH_DB).is_file() or any(is_run(p) for p in _children(path)))


def _children(path: Path) -> list[Path]:
    return sorted(p for p in path.iterdir() if p.is_dir())


# ----- runs ----------------------------------------------------------------------------
def read_run(path: Path, top: int = 10) -> Run:
    store = RunStore(path)
    config: dict[str, Any] = store.read_json(CONFIG) if store.path(CONFIG).is_file() else {}
    if not isinstance(config, dict):
        raise UserError(f"{str(path)!r}: {CONFIG} must hold a JSON object")
    summary = load_summary(store.path(SUMMARY)) if store.path(SUMMARY).is_file() else None
    compare = config.get("kind") == "compare" or "compare" in config or isinstance(summary, CompareSummary)
    opt = config.get("optimize") or config.get("compare") or {}
    run = Run(
        path=path,
        name=path.name,
        kind="compare" if compare else "optimize",
        task=str(summary.task if summary else config.get("task") or opt.get("task") or "?"),
        model=str(summary.model if summary else opt.get("model") or "?"),
        space="compare"
        if compare
        else str(summary.space if isinstance(summary, RunSummary) else opt.get("space") or "?"),
        seed=summary.seed if isinstance(summary, RunSummary) else _int(opt.get("seed")),
        status=summary.status if isinstance(summary, RunSummary) else ("complete" if summary else "incomplete"),
        stop_reason=summary.stop_reason if isinstance(summary, RunSummary) else "",
    )
    storage = opt.get("storage")
    if store.path(STUDY_DB).is_file():
        run.study = f"sqlite:///{store.path(STUDY_DB).resolve()}"
    elif isinstance(storage, str) and storage:
        run.study = mask_url(storage)
    if compare:
        _read_compare(store, summary if isinstance(summary, CompareSummary) else None, run)
    else:
        _read_optimize(store, summary if isinstance(summary, RunSummary) else None, run, top)
    return run


def _read_optimize(store: RunStore, summary: RunSummary | None, run: Run, top: int) -> None:
    if summary is not None:
        run.metric = summary.winner.dev_selection.metric
        scored: dict[str, Baseline | Winner] = {**summary.baselines(), "winner": summary.winner}
        for name, s in scored.items():
            label = f"few_shot (k={s.k})" if name == "few_shot" else name  # type: ignore[union-attr]
            run.methods.append(
                MethodScore(
                    name,
                    _score(s.score("test")),
                    _score(s.score("test_shift")),
                    _score(s.score("dev")),
                    {"label": label},
                )
            )
        run.winner_instruction = summary.winner.prompt.instruction
        run.human_instruction = summary.human.prompt.instruction if summary.human.prompt else None
        run.paired = summary.paired_test.get("winner_vs_human")
        run.lm_calls, run.tokens, run.wall_seconds = summary.lm_calls, summary.tokens, summary.wall_seconds
        run.candidates, run.trials = summary.candidates, summary.trials
        run.cost = summary.cost
    run.evaluations = [
        Evaluation(
            int(r.get("trial", 0)),
            int(r.get("round", 0)),
            str(r.get("phase", "")),
            int(r.get("step", 0)),
            float(r["mean"]),
            int(r.get("lm_calls") or 0),
            int(r.get("tokens") or 0),
            _num(r.get("elapsed")),
        )
        for r in store.evaluations()
        if isinstance(r.get("mean"), (int, float))
    ]
    if summary is None:  # an unfinished run: its cost so far from the evaluation log
        run.lm_calls = sum(e.lm_calls for e in run.evaluations)
        run.tokens = sum(e.tokens for e in run.evaluations)
        run.trials = len({e.trial for e in run.evaluations})
        run.wall_seconds = max((e.elapsed for e in run.evaluations if e.elapsed is not None), default=None)
    if store.path(LEADERBOARD).is_file():
        rows = store.read_json(LEADERBOARD)
        run.scored = [
            (float(r["tokens_per_example"]), float(r["score"]))
            for r in (rows if isinstance(rows, list) else [])
            if r.get("state") == "complete" and isinstance(r.get("tokens_per_example"), (int, float))
        ]
        for i, r in enumerate(rows[:top] if isinstance(rows, list) else [], 1):
            fmt = ", ".join(
                f"{k}={v!r}" if isinstance(v, str) else f"{k}={v}" for k, v in (r.get("format") or {}).items()
            )
            run.leaderboard.append(
                Candidate(
                    i,
                    float(r.get("score", float("nan"))),
                    int(r.get("n", 0)),
                    int(r.get("trial", -1)),
                    str(r.get("origin", "")),
                    int(r.get("round", 0)),
                    str(r.get("phase", "")),
                    str(r.get("state", "")),
                    fmt,
                    str(r.get("instruction", "")),
                    str(r.get("note", "")),
                )
            )


def _read_compare(store: RunStore, summary: CompareSummary | None, run: Run) -> None:
    if summary is not None:
        run.metric, run.wall_seconds = summary.scorer, summary.wall_seconds
    rows = load_comparison(store.path(COMPARISON_JSON)) if store.path(COMPARISON_JSON).is_file() else ()
    for r in rows:
        extra: dict[str, Any] = {
            "family": r.family,
            "trainable_params": r.trainable_params,
            "train_seconds": r.train_seconds,
            "lm_calls": r.lm_calls,
            "lm_tokens": r.lm_tokens,
            "inference_tokens_per_example": r.inference_tokens_per_example,
            "wall_seconds": r.wall_seconds,
            "label": r.method,
            "vs_human": r.paired.get("human"),
        }
        run.methods.append(MethodScore(r.method, _score(r.test), _score(r.test_shift), None, extra))
    if rows:
        run.lm_calls = sum(r.lm_calls for r in rows)
        run.tokens = sum(r.lm_tokens for r in rows)


# ----- batches -------------------------------------------------------------------------
def _db_jobs(db: Path) -> dict[str, Job] | str:
    """The latest attempt of every job recorded in a batch's Optuna storage, or why it cannot be read."""
    try:
        import optuna
        from optuna.trial import TrialState

        from apeopt.batch.state import job_attempts

        storage = optuna.storages.RDBStorage(
            f"sqlite:///{db.resolve()}", engine_kwargs={"connect_args": {"timeout": 30}}, skip_table_creation=True
        )  # read only: workers may be writing
        jobs: dict[str, Job] = {}
        for study in storage.get_all_studies():
            if not study.study_name.startswith("apeopt-batch-"):
                continue
            trials = storage.get_all_trials(storage.get_study_id_from_name(study.study_name), deepcopy=False)
            for key, attempt in job_attempts(trials).items():
                t, a = attempt.latest, attempt.latest.user_attrs
                error = str(a.get("error") or (a.get("previous_error") if t.state == TrialState.WAITING else "") or "")
                recorded = {
                    "test": _recorded(a.get("test")),
                    "human": _recorded(a.get("human_test")),
                    "lm_calls": _int(a.get("lm_calls")),
                }
                jobs[key] = Job(
                    key,
                    short_label(str(a.get("label") or key)),
                    attempt.state,
                    attempt.tries,
                    error,
                    _num(a.get("job_seconds")),
                    None,
                    recorded,
                )
        return jobs
    except Exception as exc:  # an old schema, a locked or damaged file: the files alone still make a report
        return " ".join(f"{type(exc).__name__}: {exc}".split())[:200]


def read_batch(path: Path, top: int = 10) -> Batch:
    name = path.name[len("batch-") :] if path.name.startswith("batch-") else path.name
    found: dict[str, Job] = {}
    source = "job folders"
    db = path / BATCH_DB
    if db.is_file():
        got = _db_jobs(db)
        if isinstance(got, str):
            source = f"job folders ({BATCH_DB} unreadable: {got})"
        else:
            found, source = got, f"{BATCH_DB} + job folders"
    jobs = list(found.values())
    for folder in _children(path):
        if not is_run(folder):
            continue
        run = read_run(folder, top)
        job = found.get(folder.name)
        if job is None:
            job = Job(folder.name, folder.name, run.status, None)
            jobs.append(job)
        job.run = run
        run.label = job.key if job.label == job.key else f"{job.key} — {job.label}"
        if job.seconds is None:
            job.seconds = run.wall_seconds
    dashboard = f"sqlite:///{db.resolve()}" if db.is_file() else None
    return Batch(path, name, jobs, source, dashboard)


def collect(paths: Iterable[str | Path], top: int = 10) -> Collection:
    """Read every path (a run folder, a batch folder, or `latest`); a path that is neither is a UserError."""
    inputs = [str(p) for p in paths]
    if not inputs:
        raise UserError("give at least one run or batch folder (runs/<id> or runs/batch-<plan>)")
    batches: list[Batch] = []
    runs: list[Run] = []
    loose: list[Job] = []
    for raw in inputs:
        path = RunStore.resolve(raw).root if raw == "latest" else Path(raw)
        if not path.exists():
            raise UserError(f"{raw!r} does not exist")
        if path.is_dir() and is_run(path):
            run = read_run(path, top)
            run.label = run.name
            runs.append(run)
            loose.append(Job(run.name, run.name, run.status, None, "", run.wall_seconds, run))
        elif is_batch(path):
            batch = read_batch(path, top)
            batches.append(batch)
            runs += [j.run for j in batch.jobs if j.run is not None]
        else:
            raise UserError(
                f"{raw!r} is neither an apeopt run (no {SUMMARY} or {CONFIG}) nor a batch folder "
                f"(no {BATCH_DB} or run folders)"
            )
    if loose:
        batches.insert(0, Batch(None, "runs", loose, "their folders"))
    return Collection(batches, runs, inputs)
