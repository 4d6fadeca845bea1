"""`apeopt eval`: score one instruction or exported prompt on a task split."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from apeopt.errors import UserError
from apeopt.evaluation import EvalResult, evaluate_many
from apeopt.models.base import LMBackend
from apeopt.models.spec import DEFAULT_SPEC
from apeopt.prompts.demos import sample_demos
from apeopt.prompts.file import load_prompt_file
from apeopt.prompts.prompt import PromptConfig
from apeopt.scorers import Scorer, aggregate
from apeopt.tasks.task import Example

RENDERINGS = ("scored", "chat")  # --as: the prompt as scored, or as the chat messages openai/prompty exports write


@dataclass(frozen=True)
class EvalOptions:
    """What ``apeopt eval`` scores and how: the options of its command line."""

    task: str | None = None
    instruction: str | None = None
    prompt_file: Path | None = None
    split: str = "dev"
    demos: int = 0
    template: str = "completion"
    scorer: str | None = None
    model: str | None = None
    limit: int | None = None
    seed: int | None = None
    device: str = "auto"
    dtype: str = "auto"  # auto: bf16 on CUDA and on CPUs with bf16 instructions, else fp32
    use_cache: bool = True
    show: int = 5
    quiet: bool = False
    predictions: Path | None = None
    adapter: Path | None = None
    rendering: str = "scored"


def run_eval(options: EvalOptions) -> dict[str, Any]:
    """Score a prompt on a split. ``rendering="chat"`` scores the prompt as the chat messages that
    ``apeopt export --format openai|prompty`` write (for a completion-template prompt, not what
    was scored), so a user can measure that rendering before shipping it."""
    import sys

    o = options
    task, instruction, prompt_file, split, demos, template = (
        o.task,
        o.instruction,
        o.prompt_file,
        o.split,
        o.demos,
        o.template,
    )
    scorer, model, limit, seed, device, use_cache = o.scorer, o.model, o.limit, o.seed, o.device, o.use_cache
    dtype = o.dtype
    show, quiet, predictions, adapter, rendering = o.show, o.quiet, o.predictions, o.adapter, o.rendering

    from apeopt.tasks import load_task

    if rendering not in RENDERINGS:
        raise UserError(f"--as {rendering!r}: expected one of {', '.join(RENDERINGS)}")

    meta = None
    if adapter is not None:  # a tuned model from `apeopt compare`: its task, split seed and prompt by default
        from apeopt.models.tuned import read_adapter_meta

        meta = read_adapter_meta(adapter)
        task, seed = task or meta.task_ref, seed if seed is not None else meta.split_seed
        if instruction is None and prompt_file is None:
            instruction = str(meta.prompt.get("instruction", ""))

    if predictions is not None:
        from apeopt.services.preflight import check_output_file

        check_output_file(predictions, "--predictions")
    if (instruction is None) == (prompt_file is None):
        raise UserError("give exactly one of --instruction TEXT or --prompt-file FILE")
    pf = load_prompt_file(prompt_file) if prompt_file is not None else None
    if task is None and pf is None:
        raise UserError("--task is required with --instruction")
    split_seed = seed if seed is not None else (pf.split_seed if pf else 0)
    the_task = load_task(task or _task_of(pf, prompt_file), seed=split_seed)
    if pf is not None:
        if pf.task != the_task.name:
            raise UserError(f"prompt file {str(prompt_file)!r} was made for task {pf.task!r}, not {the_task.name!r}")
        prompt = pf.prompt
        if pf.partial:
            print(f"warning: {pf.partial_note}", file=sys.stderr)
        if pf.data_fingerprint and pf.data_fingerprint != the_task.fingerprint():
            print(
                f"warning: task {the_task.name!r} train/dev data differ from those the prompt was selected on",
                file=sys.stderr,
            )
        scorer = scorer or (pf.scoring if pf.scoring == "likelihood" else None)
    else:
        prompt = PromptConfig(
            instruction=instruction or "",
            template=template,
            demos=sample_demos(the_task.split("train"), demos, seed=split_seed),
            max_tokens=the_task.max_tokens,
        )
    if meta is not None and instruction == meta.prompt.get("instruction") and not demos:
        prompt = PromptConfig.from_dict(meta.prompt, where=f"adapter {str(adapter)!r}")
    if rendering == "chat":
        from apeopt.prompts.export import chat_rendering

        prompt = chat_rendering(prompt)
    examples = the_task.split(split)[:limit] if limit else the_task.split(split)
    if pf is not None:  # a file never chooses an endpoint or a credential: apeopt.prompts.trust
        from apeopt.prompts.trust import model_for_prompt_file

        model_spec, notice = model_for_prompt_file(pf.model, str(prompt_file), model)
        if notice:
            print(f"notice: {notice}", file=sys.stderr)
    else:
        model_spec = model or (meta.base_model if meta else DEFAULT_SPEC)
    from apeopt.services.preflight import probe_scorer

    the_scorer = probe_scorer(the_task, scorer)  # unknown or raising user scorer: before the model loads
    if adapter is not None:
        from apeopt.models.tuned import open_adapter

        backend, _ = open_adapter(adapter, model, device=device, use_cache=use_cache)  # None: the folder's local base
    else:
        from apeopt.models.stack import open_backend

        backend = open_backend(model_spec, device=device, use_cache=use_cache, dtype=dtype)
    result = progress_evaluate(
        prompt, examples, backend, the_scorer, the_task.labels, quiet=quiet, label=f"{the_task.name}/{split}"
    )
    out = {
        "score": result.aggregate.score,
        "n": result.aggregate.n,
        "ci": list(result.aggregate.ci),
        "split": split,
        "task": the_task.name,
        "model": model_spec,
        "model_identity": backend.identity,
        "scorer": the_scorer.name,
        "rendering": rendering,
        "template": prompt.template,
        "usage": backend.usage.as_dict(),
    }
    if predictions is not None:
        from apeopt.jsonl import write_jsonl

        write_jsonl(predictions, ({"split": split, **row} for row in result.rows()))
    if not quiet:
        _print_result(out, result.rows(show))
    return out


def progress_evaluate(
    prompt: PromptConfig,
    examples: Sequence[Example],
    backend: LMBackend,
    scorer: Scorer,
    labels: Sequence[str] | None,
    quiet: bool = False,
    label: str = "scoring",
    chunk: int = 32,
) -> EvalResult:
    """Evaluate in chunks with a Rich progress bar on stderr; the result equals one big call."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    parts: list[EvalResult] = []
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
        disable=quiet,
    ) as bar:
        tid = bar.add_task(label, total=len(examples))
        for start in range(0, len(examples), chunk):
            part = examples[start : start + chunk]
            parts.append(evaluate_many([(prompt, part)], backend, scorer, labels)[0])
            bar.advance(tid, len(part))
    scores = tuple(s for p in parts for s in p.scores)
    return EvalResult(
        aggregate(list(scores)),
        scores,
        tuple(o for p in parts for o in p.outputs),
        tuple(e for p in parts for e in p.examples),
        tuple(f for p in parts for f in (p.feedback or (None,) * len(p.scores))),
    )


def _task_of(pf: Any, prompt_file: Path | None) -> str:
    """The task a prompt file names: its task YAML (an absolute path; in older files a path relative
    to the folder the run started in, tried from here and from the prompt file's folder), else its
    built-in name. A task that cannot be found is a UserError naming the paths tried and --task."""
    from apeopt.tasks import builtin_task_names

    src, where = str(pf.task_source or ""), str(prompt_file)
    if Path(src).suffix in (".yaml", ".yml") or "/" in src or "\\" in src:
        path = Path(src).expanduser()
        tried = [path] if path.is_absolute() else [Path.cwd() / path, Path(where).parent / path]
        for p in tried:
            if p.is_file():
                return str(p)
        raise UserError(
            f"prompt file {where!r} was made for task {pf.task!r} from "
            f"{' or '.join(repr(str(p)) for p in dict.fromkeys(tried))}, which does not exist here; "
            "--task NAME_OR_PATH overrides where the task is loaded from"
        )
    if pf.task in builtin_task_names():
        return str(pf.task)
    raise UserError(
        f"prompt file {where!r} was made for task {pf.task!r}, which is not a built-in task, and the file "
        "records no task YAML path; --task PATH says where the task is"
    )


def _print_result(out: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if rows:
        table = Table("input", "output", "target", "score", title="examples")
        for r in rows:
            table.add_row(str(r["input"]), str(r["output"]), str(r["target"]), f"{r['score']:.2f}")
        console.print(table)
    lo, hi = out["ci"]
    console.print(
        f"[bold]{out['task']}[/] {out['split']} {out['scorer']}: [bold]{out['score']:.3f}[/] "
        f"(n={out['n']}, 95% CI [{lo:.3f}, {hi:.3f}]) model={out['model']}"
    )
