"""`apeopt eval`: its options and help; the scoring itself is :func:`apeopt.commands.eval.run_eval`."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from apeopt.commands.options import device_option, dtype_option

from apeopt.commands.output import echo_json


def eval_cmd(
    task: Optional[str] = typer.Option(None, "--task", "-t", help="Built-in task name or path to a task YAML."),
    instruction: Optional[str] = typer.Option(None, "--instruction", "-i", help="Instruction text to score."),
    prompt_file: Optional[Path] = typer.Option(
        None, "--prompt-file", "-p", help="A best-prompt JSON from `apeopt export`."
    ),
    split: str = typer.Option("dev", "--split", help="dev | test | test_shift | train"),
    demos: int = typer.Option(0, "--demos", "-k", min=0, help="Number of train demos to prepend (with --instruction)."),
    template: str = typer.Option("completion", "--template", help="completion | chat (with --instruction)."),
    scorer: Optional[str] = typer.Option(None, "--scorer", help="Override the task's scorer (e.g. likelihood)."),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="smollm2-135m | hf:<dir or id> | gguf:<file>"),
    limit: Optional[int] = typer.Option(None, "--limit", "-n", min=1, help="Score only the first N items."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Split/demo seed (default 0, or the prompt file's)."),
    device: str = device_option(),
    dtype: str = dtype_option(),
    no_cache: bool = typer.Option(False, "--no-cache", help="Do not read or write the LM cache."),
    show: int = typer.Option(5, "--show", min=0, help="Examples to print."),
    as_json: bool = typer.Option(False, "--json", help="Print {score, n, ci, split, task, model} as JSON."),
    predictions: Optional[Path] = typer.Option(
        None, "--predictions", help="Write per-example outputs and scores (JSONL)."
    ),
    adapter: Optional[Path] = typer.Option(
        None,
        "--adapter",
        help="A tuned model folder from `apeopt compare` (runs/<id>/methods/<method>/adapter): scored with its own prompt.",
    ),
    rendering: str = typer.Option(
        "scored",
        "--as",
        help="scored | chat: the prompt as it was scored, or as the chat messages `export --format openai|prompty` write.",
    ),
) -> None:
    """Score an instruction (or an exported prompt file) on a task split."""
    from apeopt.commands.eval import EvalOptions, run_eval

    result = run_eval(
        EvalOptions(
            task=task,
            instruction=instruction,
            prompt_file=prompt_file,
            split=split,
            demos=demos,
            template=template,
            scorer=scorer,
            model=model,
            limit=limit,
            seed=seed,
            device=device,
            dtype=dtype,
            use_cache=not no_cache,
            show=show,
            quiet=as_json,
            predictions=predictions,
            adapter=adapter,
            rendering=rendering,
        )
    )
    if as_json:
        echo_json(result)
