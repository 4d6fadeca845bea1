"""Baselines on the same model: prompt routes and PEFT tuning routes, one registry of methods.

Importing this package is cheap (no torch); tuning implementations load lazily from
``TRAINERS`` ("module:Class" entries, one module per method, PEFT-style).
"""

from __future__ import annotations

from typing import Iterable

from apeopt.baselines.base import Method
from apeopt.errors import UserError
from apeopt.registry import Registry

TRAINERS: Registry = Registry("tuning method")
TRAINERS.add("prompt-tuning", "apeopt.baselines.prompt_tuning:PromptTuningTrainer")
TRAINERS.add("lora", "apeopt.baselines.lora:LoraTrainer")
TRAINERS.add("ia3", "apeopt.baselines.ia3:IA3Trainer")
TRAINERS.add("prefix-tuning", "apeopt.baselines.prefix_tuning:PrefixTuningTrainer")
TRAINERS.add("full-finetune", "apeopt.baselines.full_finetune:FullFinetuneTrainer")

METHODS: Registry[Method] = Registry("method")
for _m in (
    Method("zero-shot", "prompt", "no instruction: the input and the answer prefix only"),
    Method("human", "prompt", "the task's human instruction, zero-shot"),
    Method("k-shot-1", "prompt", "human instruction + 1 random train demo (fixed seed)", k=1),
    Method("k-shot-5", "prompt", "human instruction + 5 random train demos (fixed seed)", k=5),
    Method("k-shot-8", "prompt", "human instruction + 8 random train demos (fixed seed)", k=8),
    Method("apeopt", "prompt", "the apeopt search winner (train/dev only)"),
    Method(
        "prompt-tuning",
        "tuning",
        "PEFT soft prompt, text-initialised from the human instruction",
        trainer="prompt-tuning",
    ),
    Method("lora", "tuning", "PEFT LoRA adapter", trainer="lora"),
    Method("ia3", "tuning", "PEFT IA3 adapter", trainer="ia3"),
    Method("prefix-tuning", "tuning", "PEFT prefix tuning (key/value prefixes)", trainer="prefix-tuning"),
    Method("full-finetune", "tuning", "all weights trained (small models only)", trainer="full-finetune"),
):
    METHODS.add(_m.name, _m)

DEFAULT_METHODS = ("zero-shot", "human", "k-shot-1", "k-shot-5", "k-shot-8", "apeopt", "prompt-tuning", "lora")
QUICK_METHODS = ("zero-shot", "human", "k-shot-5", "apeopt", "prompt-tuning", "lora")
# Names that stand for several methods.
GROUPS: dict[str, tuple[str, ...]] = {
    "k-shot": ("k-shot-1", "k-shot-5", "k-shot-8"),
    "prompts": ("zero-shot", "human", "k-shot-1", "k-shot-5", "k-shot-8", "apeopt"),
    "tuning": ("prompt-tuning", "lora", "ia3", "prefix-tuning"),
    "all": (
        "zero-shot",
        "human",
        "k-shot-1",
        "k-shot-5",
        "k-shot-8",
        "apeopt",
        "prompt-tuning",
        "lora",
        "ia3",
        "prefix-tuning",
        "full-finetune",
    ),
}


def resolve_methods(names: Iterable[str]) -> tuple[Method, ...]:
    """Methods by name (comma-separated lists and group names expand), in order, without repeats."""
    out: list[Method] = []
    for raw in names:
        for name in (n.strip() for n in str(raw).split(",")):
            if not name:
                continue
            for member in GROUPS.get(name, (name,)):
                if member not in METHODS:
                    msg = METHODS.unknown_message(member)
                    raise UserError(msg + f" (groups: {', '.join(GROUPS)})")
                m = METHODS.get(member)
                if m not in out:
                    out.append(m)
    if not out:
        raise UserError(f"no method given; valid: {', '.join(METHODS.names())}")
    return tuple(out)


__all__ = ["DEFAULT_METHODS", "GROUPS", "METHODS", "QUICK_METHODS", "TRAINERS", "Method", "resolve_methods"]
