"""`apeopt optimize`: its options and help, the choice between a run, a resumed run and ``--dry-run``,
and the exit code of an interrupted run. The run itself is :mod:`apeopt.services.optimize`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Optional

import typer

from apeopt.commands.options import device_option, dtype_option

from apeopt.commands.output import echo_json
from apeopt.errors import UserError
from apeopt.models.spec import DEFAULT_SPEC


def optimize_cmd(
    task: Optional[str] = typer.Option(None, "--task", "-t", help="Built-in task name or path to a task YAML."),
    instruction: Optional[str] = typer.Option(
        None, "--instruction", help="The human instruction (overrides or supplies the task's)."
    ),
    model: str = typer.Option(DEFAULT_SPEC, "--model", "-m", help="Scored (task) model spec."),
    proposer_model: Optional[str] = typer.Option(
        None, "--proposer-model", help="Proposer model spec (default: --model)."
    ),
    space: str = typer.Option(
        "fewshot", "--space", "-s", help="Search space: instruction | fewshot | full | path to YAML."
    ),
    seed: int = typer.Option(0, "--seed"),
    split_seed: int = typer.Option(
        0, "--split-seed", help="Seed of the train/dev/test split (keep fixed across seeds)."
    ),
    rounds: int = typer.Option(3, "--rounds", min=1),
    minibatch: int = typer.Option(10, "--minibatch", min=1, help="Dev examples in the first halving rung."),
    eta: int = typer.Option(3, "--eta", min=2, help="Keep the top 1/eta at each rung."),
    dev_limit: Optional[int] = typer.Option(None, "--dev-limit", min=1),
    subsamples: int = typer.Option(4, "--subsamples", min=1, help="Demo subsamples per proposer."),
    per_subsample: int = typer.Option(3, "--per-subsample", min=1, help="Candidates sampled per subsample."),
    proposers: str = typer.Option(
        "forward,chat",
        "--proposers",
        help="Round-0 proposers, comma-separated: forward, chat, induce, constraints "
        "(without a human instruction, induce and constraints lead).",
    ),
    later_proposers: str = typer.Option(
        "variation,history,reflect",
        "--later-proposers",
        help="Proposers of rounds after 0, comma-separated: variation, history, reflect, merge.",
    ),
    parents: str = typer.Option(
        "top", "--parents", help="Parents of later rounds: top (best dev means) | pareto (per-example front)."
    ),
    reflect_tokens: int = typer.Option(
        1200, "--reflect-tokens", help="Hard cap on a reflection/merge prompt (estimated tokens)."
    ),
    budget_calls: Optional[int] = typer.Option(
        None, "--budget-calls", min=1, help="Hard cap on the search's LM calls."
    ),
    budget_tokens: Optional[int] = typer.Option(
        None, "--budget-tokens", min=1, help="Search tokens, checked between evaluations."
    ),
    budget_minutes: Optional[float] = typer.Option(
        10.0, "--budget-minutes", help="Search minutes, checked between evaluations."
    ),
    few_shot_k: int = typer.Option(5, "--few-shot-k", min=0, help="Demos of the k-shot baseline."),
    run_dir: Optional[Path] = typer.Option(
        None, "--run-dir", help="Run folder (default runs/<run_id>); its parent must exist."
    ),
    make_parents: bool = typer.Option(False, "--make-parents", help="Create the missing parent folders of --run-dir."),
    storage: Optional[str] = typer.Option(
        None, "--storage", help="Optuna storage URL (default: SQLite in the run folder)."
    ),
    device: str = device_option(),
    dtype: str = dtype_option(),
    no_cache: bool = typer.Option(False, "--no-cache"),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the planned LM calls and tokens, spend none."),
    as_json: bool = typer.Option(False, "--json", help="Print summary.json instead of the report."),
    resume: Optional[Path] = typer.Option(None, "--resume", help="Continue an interrupted run folder from its log."),
    max_prompt_tokens: Optional[int] = typer.Option(
        None,
        "--max-prompt-tokens",
        help="Hard limit on a candidate's prompt tokens per call (model tokenizer): longer ones are never scored.",
    ),
    prefer: str = typer.Option(
        "best", "--prefer", help="best: the best dev score | cheapest: the cheapest prompt not credibly worse on dev."
    ),
    price_per_mtok: Optional[float] = typer.Option(
        None, "--price-per-mtok", help="Price per million tokens: the cost per 1,000 calls in money."
    ),
    track: str = typer.Option(
        "none", "--track", help="Mirror the run into a tracker: none | mlflow (pip install 'apeopt[mlflow]')."
    ),
    track_uri: Optional[str] = typer.Option(
        None, "--track-uri", help="Tracking URI (default: MLFLOW_TRACKING_URI, else MLflow's default)."
    ),
    track_experiment: str = typer.Option("apeopt", "--track-experiment", help="Experiment name in the tracker."),
) -> None:
    """Find a better prompt than the human one: propose, halve on dev, resample; score once on test."""
    from apeopt.commands.optimize import print_summary
    from apeopt.optimizer.config import OptimizeConfig
    from apeopt.tracking import TrackingConfig

    tracking = TrackingConfig(kind=track, uri=track_uri, experiment=track_experiment)
    if resume is not None:
        from apeopt.services.optimize import resume_optimize

        summary = resume_optimize(resume, quiet=as_json, tracking=tracking)
        echo_json(summary.to_dict()) if as_json else print_summary(summary)
        _exit_if_interrupted(summary)
        return
    if task is None:
        raise UserError("--task is required (or --resume RUN_DIR)")

    config = OptimizeConfig(
        task=task,
        instruction=instruction,
        model=model,
        proposer_model=proposer_model,
        space=space,
        seed=seed,
        split_seed=split_seed,
        rounds=rounds,
        minibatch=minibatch,
        eta=eta,
        dev_limit=dev_limit,
        subsamples=subsamples,
        per_subsample=per_subsample,
        proposers=tuple(p.strip() for p in proposers.split(",") if p.strip()),
        later_proposers=tuple(p.strip() for p in later_proposers.split(",") if p.strip()),
        parents=parents,
        reflect_tokens=reflect_tokens,
        budget_calls=budget_calls,
        budget_tokens=budget_tokens,
        budget_minutes=budget_minutes,
        few_shot_k=few_shot_k,
        device=device,
        dtype=dtype,
        storage=storage,
        use_cache=not no_cache,
        max_prompt_tokens=max_prompt_tokens,
        prefer=prefer,
        price_per_mtok=price_per_mtok,
    )
    if dry_run:
        from apeopt.optimizer.estimate import estimate
        from apeopt.search_spaces import load_space
        from apeopt.tasks import load_task

        from apeopt.models import parse_spec
        from apeopt.runs.studies import check_storage_url

        for spec in dict.fromkeys((config.model, config.proposer_spec)):
            parse_spec(spec)  # an unknown --model is an error here too, not only when a run loads it
        check_storage_url(storage)
        echo_json(estimate(config, config.apply_instruction(load_task(task, seed=split_seed)), load_space(space)))
        return
    from apeopt.services.optimize import run_optimize

    summary = run_optimize(config, run_dir=run_dir, quiet=as_json, make_parents=make_parents, tracking=tracking)
    if as_json:
        echo_json(summary.to_dict())
    else:
        print_summary(summary)
    _exit_if_interrupted(summary)


def _exit_if_interrupted(summary: Any) -> None:
    """An interrupted run exits 130 (as after Ctrl-C), so scripts can tell it from a finished one."""
    if not summary.complete:
        sys.exit(130)
