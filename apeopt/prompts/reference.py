"""The reference prompts every search is compared with, built in one place: zero-shot (no
instruction), the task's human instruction, and the human instruction with k seeded train demos.

All use the completion template; k-shot demos come from train with the split seed, so
``apeopt optimize``'s few-shot baseline and ``apeopt compare``'s k-shot-5 route show the same demos.
"""

from __future__ import annotations

from apeopt.prompts.demos import sample_demos
from apeopt.prompts.prompt import PromptConfig
from apeopt.tasks.task import Task


def zero_shot(task: Task) -> PromptConfig:
    """No instruction: the input and the answer prefix only."""
    return PromptConfig(instruction="", max_tokens=task.max_tokens)


def human(task: Task) -> PromptConfig:
    """The task's human instruction, zero-shot (tuned models are trained and scored with it too)."""
    return PromptConfig(instruction=task.instruction, max_tokens=task.max_tokens)


def k_shot(task: Task, k: int, seed: int) -> PromptConfig:
    """The human instruction with ``k`` train demos drawn with ``seed``."""
    demos = sample_demos(task.split("train"), k, seed=seed)
    return PromptConfig(instruction=task.instruction, demos=demos, max_tokens=task.max_tokens)
