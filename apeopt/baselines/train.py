"""The shared training loop of the tuning routes.

- Inputs are rendered with the very prompt the tuned model is scored with (the human instruction,
  zero-shot, completion template) and tokenized exactly as log-prob scoring does it; the target is
  the gold answer followed by EOS.
- Loss on target tokens only. Rows are left-padded (like scoring), so every row's targets are its
  last ``m`` tokens: labels are chosen by length, never by pad id — pad == EOS on SmolLM2, and
  masking by id would hide the EOS the model must learn to stop with. The output layer runs only
  at target positions (``logits_to_keep``), through the same ``HFBackend`` forward that scores.
- Checkpoints are selected on dev only (task scorer on generated answers, dev loss breaking ties;
  or dev loss alone); the best one is restored. Train, dev and selection curves go to
  ``curves.jsonl``. Seeds are fixed: the same config gives the same weights on the same device.
"""

from __future__ import annotations

import copy
import json
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import torch

from apeopt.baselines.base import BaselineTrainer, BuildContext, TrainConfig, count_trainable
from apeopt.evaluation import evaluate_many
from apeopt.models.tuned import tuned_backend, virtual_tokens
from apeopt.models.base import LogprobRequest
from apeopt.prompts.prompt import PromptConfig
from apeopt.runs.files import CURVES
from apeopt.scorers import get_scorer
from apeopt.tasks.task import Example, Task
from apeopt.models.hf_access import HFAccess

CPU_BATCH = 8
CUDA_BATCH = 32

Item = tuple[list[int], int]  # (token ids incl. the target and EOS, number of target tokens at the end)


@dataclass
class TrainedModel:
    """A tuned model with its best dev checkpoint restored, and how it got there."""

    method: str
    trained: Any  # the PeftModel (or the fully fine-tuned model)
    backend: Any  # an HFBackend over it, identity = base identity + method + weights hash
    info: dict[str, Any] = field(default_factory=dict)


def build_context(base: Any, instruction: str) -> BuildContext:
    """Where PEFT can reload the tokenizer (text init): its folder, or the GGUF file it came from."""
    from apeopt.models.spec import parse_spec

    path = str(getattr(base.tokenizer, "name_or_path", "") or "")
    folder = Path(path)
    if folder.is_dir() and any((folder / f).is_file() for f in ("tokenizer.json", "tokenizer_config.json")):
        return BuildContext(instruction, path)
    try:
        spec = parse_spec(base.spec)
    except Exception:  # noqa: BLE001 - a spec we cannot re-parse: fall back to the recorded path
        return BuildContext(instruction, path)
    if spec.kind == "gguf" and spec.gguf_file:
        return BuildContext(instruction, spec.location, {"gguf_file": spec.gguf_file})
    return BuildContext(instruction, spec.location)


def encode(backend: HFAccess, prompt: PromptConfig, examples: Sequence[Example], max_length: int) -> list[Item]:
    """Token ids of rendered prompt + gold continuation + EOS, as log-prob scoring tokenizes them."""
    eos = backend.tokenizer.eos_token_id
    eos = int(eos) if eos is not None else backend.eos_ids[0]
    items = []
    for ex in examples:
        ids, m = backend.encode_scored(LogprobRequest(prompt.render(ex.input), prompt.continuation(ex.target)))
        ids, m = ids + [eos], m + 1
        if len(ids) > max_length:  # keep the target; cut the prompt on the left
            ids, m = ids[-max_length:], min(m, max_length - 1)
        items.append((ids, m))
    return items


def batch_loss(backend: HFAccess, items: Sequence[Item]) -> tuple[torch.Tensor, int]:
    """Summed cross-entropy over the target tokens of ``items`` and the number of those tokens."""
    keep = max(m for _, m in items)
    input_ids, mask = backend.left_pad([ids[:-1] for ids, _ in items])
    logits = backend.last_logits(input_ids, mask, keep)  # [rows, keep, vocab]: the scoring forward
    target = torch.full((len(items), keep), -100, dtype=torch.long)
    for row, (ids, m) in enumerate(items):
        target[row, keep - m :] = torch.tensor(ids[-m:], dtype=torch.long)
    loss = torch.nn.functional.cross_entropy(
        logits.float().reshape(-1, logits.shape[-1]),
        target.reshape(-1).to(logits.device),
        ignore_index=-100,
        reduction="sum",
    )
    return loss, sum(m for _, m in items)


def mean_loss(backend: HFAccess, items: Sequence[Item], batch_size: int) -> float:
    total, count = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(items), batch_size):
            loss, n = batch_loss(backend, items[i : i + batch_size])
            total, count = total + float(loss), count + n
    return total / max(1, count)


def batches(n: int, size: int, rng: random.Random) -> Iterator[list[int]]:
    """Endless epochs of shuffled indices; the last partial batch of an epoch is dropped."""
    size = min(size, n)
    while True:
        order = list(range(n))
        rng.shuffle(order)
        for i in range(0, n - size + 1, size):
            yield order[i : i + size]


class _Curves:
    def __init__(self, path: Path | None) -> None:
        self.path = path
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("")

    def log(self, **row: Any) -> None:
        if self.path is not None:
            with open(self.path, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(row) + "\n")


def train(
    method: str,
    trainer: BaselineTrainer,
    base: Any,
    task: Task,
    prompt: PromptConfig,
    config: TrainConfig,
    out_dir: Path | None = None,
    progress: Callable[[str], None] = lambda msg: None,
) -> TrainedModel:
    """Tune a fresh copy of ``base.model`` on ``task``'s train split; select on dev; never read test."""
    started = time.perf_counter()
    rng = random.Random(config.seed)
    torch.manual_seed(config.seed)
    model = copy.deepcopy(base.model)
    trainer.check(model)
    trained = trainer.build(model, build_context(base, task.instruction))
    live = tuned_backend(trained, base, method, digest="training")
    params = [p for p in trained.parameters() if p.requires_grad]
    if not params:
        raise RuntimeError(f"{method}: no trainable parameters")
    on_cuda = live.device.type == "cuda"
    batch_size = config.batch_size or (CUDA_BATCH if on_cuda else CPU_BATCH)
    lr = config.lr or trainer.default_lr
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=config.weight_decay)
    warm = int(config.warmup * config.steps)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: (s + 1) / warm if s < warm else max(0.0, (config.steps - s) / max(1, config.steps - warm))
    )
    train_items = encode(live, prompt, task.split("train"), config.max_length)
    dev = task.split("dev")[: config.dev_limit] if config.dev_limit else task.split("dev")
    dev_items = encode(live, prompt, dev, config.max_length)
    scorer = get_scorer(task.scorer)
    curves = _Curves(out_dir / CURVES if out_dir is not None else None)
    best: dict[str, Any] = {}
    eval_seconds = 0.0

    def select(step: int) -> None:
        nonlocal eval_seconds
        t0 = time.perf_counter()
        trained.eval()
        dev_loss = mean_loss(live, dev_items, batch_size)
        score = None
        if config.select == "score":
            score = evaluate_many([(prompt, dev)], live, scorer, task.labels)[0].score
        key = (score if score is not None else 0.0, -dev_loss)
        better = not best or key > best["key"]
        if better:
            state = {n: p.detach().clone() for n, p in trained.named_parameters() if p.requires_grad}
            best.update(key=key, step=step, score=score, loss=dev_loss, state=state)
        eval_seconds += time.perf_counter() - t0
        curves.log(kind="dev", step=step, dev_score=score, dev_loss=round(dev_loss, 5), dev_n=len(dev), selected=better)
        shown = "" if score is None else f" dev {scorer.name} {score:.3f}"
        progress(f"{method}: step {step}/{config.steps} dev loss {dev_loss:.3f}{shown}{' *' if better else ''}")

    select(0)
    stream = batches(len(train_items), batch_size, rng)
    step_seconds, train_tokens = 0.0, 0
    for step in range(1, config.steps + 1):
        t0 = time.perf_counter()
        trained.train()
        chosen = [train_items[i] for i in next(stream)]
        loss_sum, n = batch_loss(live, chosen)
        loss = loss_sum / n
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, config.max_grad_norm)
        optimizer.step()
        schedule.step()
        took = time.perf_counter() - t0
        step_seconds += took
        train_tokens += sum(len(ids) for ids, _ in chosen)
        curves.log(
            kind="train",
            step=step,
            loss=round(loss.item(), 5),
            lr=optimizer.param_groups[0]["lr"],
            seconds=round(took, 3),
        )
        if step % config.eval_every == 0 or step == config.steps:
            select(step)
    with torch.no_grad():
        for name, p in trained.named_parameters():
            if name in best["state"]:
                p.copy_(best["state"][name])
    trained.eval()
    final = tuned_backend(trained, base, method)
    info = {
        "steps": config.steps,
        "best_step": best["step"],
        "dev_selection": {
            "metric": config.select,
            "scorer": scorer.name,
            "score": best["score"],
            "loss": round(best["loss"], 5),
            "n": len(dev),
        },
        "trainable_params": count_trainable(trained),
        "virtual_tokens": virtual_tokens(trained),
        "train_examples": len(train_items),
        "dev_examples": len(dev),
        "batch_size": batch_size,
        "lr": lr,
        "train_tokens": train_tokens,
        "s_per_step": round(step_seconds / config.steps, 3),
        "step_seconds": round(step_seconds, 2),
        "selection_seconds": round(eval_seconds, 2),
        "train_seconds": round(time.perf_counter() - started, 2),
        "selection_lm_calls": live.usage.calls,
        "selection_lm_tokens": live.usage.tokens,
        "device": str(live.device),
        "dtype": str(next(trained.parameters()).dtype).removeprefix("torch."),
        "weights_digest": final.identity.rsplit(":", 1)[-1],
    }
    return TrainedModel(method, trained, final, info)
