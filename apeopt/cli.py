"""The `apeopt` command line. Heavy imports (torch, transformers) happen inside commands."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Optional

import typer

from apeopt.errors import UserError
from apeopt.models.spec import DEFAULT_SPEC

app = typer.Typer(
    name="apeopt",
    help="Automated prompt engineering: propose instructions, score them on held-out data, resample the best.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _entry() -> None:
    """Runs once before any command (not for ``apeopt --help``): the process-wide switches."""
    from apeopt.process import configure_process

    configure_process()


def _echo_json(data: object) -> None:
    typer.echo(json.dumps(data, indent=2, default=str))


@app.command("tasks")
def tasks_cmd(
    tasks: Optional[list[str]] = typer.Argument(None, help="Task names or task YAML paths (default: every built-in)."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list instead of a table."),
) -> None:
    """List tasks with their sizes, scorer and where each split came from."""
    from apeopt.tasks import list_tasks
    from apeopt.tasks.provenance import describe_origins, origins_from_dict

    rows = list_tasks(tasks or None)
    if as_json:
        _echo_json(rows)
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("name", "scorer", "train/dev/test/shift", "source", "description")
    for r in rows:
        s = r["sizes"]
        sizes = "/".join(str(s.get(k, 0)) for k in ("train", "dev", "test", "test_shift"))
        source = describe_origins(origins_from_dict(r["split_sources"])) or str(r["source"])
        table.add_row(r["name"], r["scorer"], sizes, source, str(r.get("description", "")))
    Console().print(table)


@app.command("eval")
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
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda[:N]"),
    dtype: str = typer.Option(
        "auto",
        "--dtype",
        help="auto | float32 | bfloat16 | float16 (auto: bf16 on CUDA and on CPUs with bf16 instructions, else fp32)",
    ),
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
        _echo_json(result)


@app.command("optimize")
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
    device: str = typer.Option("auto", "--device"),
    dtype: str = typer.Option(
        "auto",
        "--dtype",
        help="auto | float32 | bfloat16 | float16 (auto: bf16 on CUDA and on CPUs with bf16 instructions, else fp32)",
    ),
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
        _echo_json(summary.to_dict()) if as_json else print_summary(summary)
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
        _echo_json(estimate(config, config.apply_instruction(load_task(task, seed=split_seed)), load_space(space)))
        return
    from apeopt.services.optimize import run_optimize

    summary = run_optimize(config, run_dir=run_dir, quiet=as_json, make_parents=make_parents, tracking=tracking)
    if as_json:
        _echo_json(summary.to_dict())
    else:
        print_summary(summary)
    _exit_if_interrupted(summary)


def _exit_if_interrupted(summary: Any) -> None:
    """An interrupted run exits 130 (as after Ctrl-C), so scripts can tell it from a finished one."""
    if not summary.complete:
        sys.exit(130)


@app.command("export")
def export_cmd(
    run: str = typer.Argument(..., help="A run folder (runs/<run_id>), or `latest`."),
    fmt: str = typer.Option("json", "--format", "-f", help="json | txt | openai | prompty | dspy"),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="File to write (default: stdout)."),
    fixed: bool = typer.Option(
        False,
        "--fixed",
        help="Export the run's best prompt with fixed demos (when its winner retrieves demos per input).",
    ),
) -> None:
    """Export a run's best prompt (an interrupted run's partial prompt, with a warning)."""
    from apeopt.commands.export import run_export

    text = run_export(run, fmt, output, fixed=fixed)
    if output is None:
        typer.echo(text, nl=not text.endswith("\n"))


@app.command("report")
def report_cmd(
    paths: list[str] = typer.Argument(
        ..., metavar="RUN_OR_BATCH", help="Run folders (runs/<id>, or `latest`) and batch folders (runs/batch-<plan>)."
    ),
    output: Path = typer.Option(Path("report.html"), "--output", "-o", help="HTML file to write."),
    top: int = typer.Option(10, "--top", min=1, help="Top candidates shown per run."),
) -> None:
    """Write one static HTML report (tables, plots, top candidates, cost) for runs and batches."""
    from apeopt.commands.report import run_report

    run_report(paths, output, top=top)


@app.command("serve")
def serve_cmd(
    model: str = typer.Option(
        DEFAULT_SPEC, "--model", "-m", help="Model spec to serve (smollm2-135m | hf:<dir> | gguf:<file>)."
    ),
    port: int = typer.Option(8000, "--port", "-p", min=0, max=65535, help="TCP port (0: any free port)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (default: loopback only)."),
    name: Optional[str] = typer.Option(None, "--name", help="Model name clients send (default: the spec)."),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda[:N]"),
    dtype: str = typer.Option(
        "auto",
        "--dtype",
        help="auto | float32 | bfloat16 | float16 (auto: bf16 on CUDA and on CPUs with bf16 instructions, else fp32)",
    ),
    max_batch: int = typer.Option(64, "--max-batch", min=1, help="Most requests merged into one model call."),
    wait_ms: float = typer.Option(5.0, "--batch-wait-ms", min=0.0, help="How long to wait for more requests to batch."),
    key_env: Optional[str] = typer.Option(
        None, "--key-env", help="Require the API key held in this environment variable."
    ),
    max_tokens: int = typer.Option(
        1024, "--max-tokens", min=1, help="Tokens a request without max_tokens may generate."
    ),
    max_tokens_cap: int = typer.Option(
        2048, "--max-tokens-cap", min=1, help="Most tokens one request may ask for (400 above)."
    ),
    max_n: int = typer.Option(16, "--max-n", min=1, help="Most choices (n) per prompt."),
    max_prompts: int = typer.Option(64, "--max-prompts", min=1, help="Most prompts in one completions request."),
    max_prompt_tokens: int = typer.Option(8192, "--max-prompt-tokens", min=1, help="Most tokens in one prompt."),
    max_body_bytes: int = typer.Option(
        4 * 1024 * 1024, "--max-body-bytes", min=1, help="Largest request body (413 above; checked before reading)."
    ),
    read_timeout: float = typer.Option(
        30.0, "--read-timeout", min=0.001, help="Seconds a client may take to send its request."
    ),
) -> None:
    """Serve a local model as an OpenAI-compatible endpoint (clients use openai:<name>@http://HOST:PORT/v1)."""
    from apeopt.commands.serve import run_serve
    from apeopt.serving.limits import ServeLimits

    limits = ServeLimits(
        max_tokens=max_tokens_cap,
        max_n=max_n,
        max_prompts=max_prompts,
        max_prompt_tokens=max_prompt_tokens,
        max_body_bytes=max_body_bytes,
        read_timeout=read_timeout,
    )
    run_serve(
        model,
        host=host,
        port=port,
        device=device,
        name=name,
        max_batch=max_batch,
        wait_ms=wait_ms,
        key_env=key_env,
        default_max_tokens=max_tokens,
        limits=limits,
        dtype=dtype,
    )


@app.command("compare")
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
    device: str = typer.Option("auto", "--device"),
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
        _echo_json([r.to_dict() for r in result.rows])
    else:
        print_comparison(result)


@app.command("batch")
def batch_cmd(
    target: str = typer.Argument(..., help="PLAN.yaml to run, or `status`."),
    plan: Optional[Path] = typer.Argument(None, help="With `status`: the plan file."),
    workers: int = typer.Option(1, "--workers", "-w", min=1, help="Worker processes on this machine."),
    storage: Optional[str] = typer.Option(
        None, "--storage", help="Optuna storage URL shared by all workers (default SQLite)."
    ),
    heartbeat: int = typer.Option(30, "--heartbeat", min=1, help="Seconds between worker heartbeats."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the plan's estimated cost, run nothing."),
    worker_only: bool = typer.Option(False, "--worker-only", hidden=True),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Run a plan of optimize/compare jobs with N workers (resumable), or show its status."""
    from apeopt.commands import batch as b

    if target == "status":
        if plan is None:
            raise UserError("usage: apeopt batch status PLAN.yaml [--storage URL]")
        states = b.batch_status(plan, storage)
    elif dry_run:
        _echo_json(b.estimate_plan(Path(target)))
        return
    else:
        states = b.run_batch(
            Path(target), workers=workers, storage=storage, heartbeat=heartbeat, worker_only=worker_only
        )
        if worker_only:
            return
    if as_json:
        _echo_json(
            [
                {
                    "job": s.job.key,
                    "kind": s.job.kind,
                    "state": s.state,
                    "attempts": s.attempts,
                    "value": s.value,
                    **s.attrs,
                }
                for s in states
            ]
        )
    else:
        b.print_states(states)


def main() -> None:
    """Entry point: user mistakes become one line on stderr and exit code 2."""
    try:
        code = app(standalone_mode=False)  # Ctrl-C inside a command comes back as exit code 130
        if code == 130:
            typer.echo("interrupted", err=True)
            sys.exit(130)
    except UserError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        typer.echo("aborted", err=True)
        sys.exit(1)
    except Exception as exc:
        _usage_error(exc)


def _usage_error(exc: Exception) -> None:
    """Click/typer usage errors (bad option, bad value) as one line and exit 2; anything else is a bug."""
    if not (hasattr(exc, "format_message") and hasattr(exc, "exit_code")):
        raise exc
    ctx = getattr(exc, "ctx", None)
    if type(exc).__name__ == "NoArgsIsHelpError" and ctx is not None:
        typer.echo(ctx.get_help())
        sys.exit(0)
    where = f"{ctx.command_path}: " if ctx is not None else ""
    typer.echo(f"error: {where}{' '.join(str(exc.format_message()).split())}", err=True)
    sys.exit(2 if exc.exit_code else 0)


if __name__ == "__main__":
    main()
