"""`apeopt compare`: its options and help, and its rows as JSON (``--json``); the comparison itself is
:mod:`apeopt.services.compare`, its table :func:`apeopt.commands.compare.print_comparison`."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from apeopt.commands.options import device_option

from apeopt.commands.output import echo_json
from apeopt.models.spec import DEFAULT_SPEC


def compare_cmd(
    task: str = typer.Option(..., "--task", "-t", help="Built-in task name or path to a task YAML."),
    methods: Optional[list[str]] = typer.Option(
        None,
        "--methods",
        help="Comma-separated methods (default: zero-shot, human, k-shot-1/5/8, apeopt, prompt-tuning, lora). Also: ia3, prefix-tuning, full-finetune; groups k-shot, prompts, tuning, all.",
    ),
    model: str = typer.Option(DEFAULT_SPEC, "--model", "-m", help="Base model spec, the same for every method."),
    quick: bool = typer.Option(
        False,
        "--quick",
        help="Small settings (8 steps, 30 test items, 100-call search, 6 methods): a smoke run in minutes.",
    ),
    seed: int = typer.Option(0, "--seed"),
    split_seed: int = typer.Option(0, "--split-seed"),
    steps: Optional[int] = typer.Option(
        None, "--steps", min=1, help="Training steps per tuning method (default 80; quick 8)."
    ),
    batch_size: Optional[int] = typer.Option(
        None, "--batch-size", min=1, help="Training batch (default 8 on CPU, 32 on CUDA)."
    ),
    eval_every: Optional[int] = typer.Option(
        None, "--eval-every", min=1, help="Dev checkpoint selection every N steps."
    ),
    select: str = typer.Option("score", "--select", help="Checkpoint selection on dev: score | loss."),
    dev_limit: Optional[int] = typer.Option(
        None, "--dev-limit", min=1, help="Dev examples for selection (default 50; quick 16)."
    ),
    test_limit: Optional[int] = typer.Option(
        None, "--test-limit", min=1, help="Score the first N test items (default all; quick 30)."
    ),
    apeopt_minutes: Optional[float] = typer.Option(
        None, "--apeopt-minutes", help="apeopt search budget in minutes (default 8)."
    ),
    apeopt_calls: Optional[int] = typer.Option(
        None, "--apeopt-calls", min=1, help="apeopt search budget in LM calls (quick: 100)."
    ),
    apeopt_space: str = typer.Option("fewshot", "--apeopt-space", help="apeopt search space."),
    apeopt_prompt: Optional[Path] = typer.Option(
        None, "--apeopt-prompt", help="Use this best_prompt.json as the apeopt row instead of searching."
    ),
    run_dir: Optional[Path] = typer.Option(
        None, "--run-dir", help="Run folder (default runs/<run_id>); its parent must exist."
    ),
    make_parents: bool = typer.Option(False, "--make-parents", help="Create the missing parent folders of --run-dir."),
    device: str = device_option(),
    no_cache: bool = typer.Option(False, "--no-cache"),
    as_json: bool = typer.Option(False, "--json", help="Print the comparison rows as JSON."),
) -> None:
    """Prompt engineering or tuning? Every route on the same model, train split, scorer and test items."""
    from apeopt.baselines.config import CompareConfig
    from apeopt.commands.compare import print_comparison
    from apeopt.services.compare import run_compare

    config = CompareConfig(
        task=task,
        methods=tuple(methods) if methods else None,
        model=model,
        seed=seed,
        split_seed=split_seed,
        quick=quick,
        steps=steps,
        batch_size=batch_size,
        eval_every=eval_every,
        select=select,
        dev_limit=dev_limit,
        test_limit=test_limit,
        apeopt_minutes=apeopt_minutes,
        apeopt_calls=apeopt_calls,
        apeopt_space=apeopt_space,
        apeopt_prompt=str(apeopt_prompt) if apeopt_prompt else None,
        device=device,
        use_cache=not no_cache,
    )
    result = run_compare(config, run_dir=run_dir, quiet=as_json, make_parents=make_parents)
    if as_json:
        echo_json([r.to_dict() for r in result.rows])
    else:
        print_comparison(result)
