"""The canonical best-prompt file: a prompt configuration plus what is needed to reproduce its score."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from apeopt import __version__
from apeopt.errors import UserError
from apeopt.prompts.prompt import PromptConfig
from apeopt.atomic_files import atomic_write_text

FORMAT_VERSION = 1


@dataclass(frozen=True)
class PromptFile:
    prompt: PromptConfig
    task: str
    model: str
    task_source: str = ""
    scoring: str = "generate"
    split_seed: int = 0
    data_fingerprint: str = ""
    scores: Mapping[str, Any] = field(default_factory=dict)
    apeopt_version: str = __version__
    partial: bool = False  # from an interrupted run: selected on dev, never scored on test
    human_instruction: bool = True  # False: the task had no human instruction (the instruction was induced)

    NO_HUMAN_NOTE = "no human instruction was given: this prompt's instruction was induced from the examples alone"

    @property
    def partial_note(self) -> str:
        """The one-line warning a partial file gets wherever it is used."""
        return (f"this prompt comes from an interrupted run: the best fully scored on dev when it stopped "
                f"(dev {_dev_text(self.scores)}), not scored on test")

    def to_dict(self) -> dict[str, Any]:
        return {
            "apeopt_prompt_version": FORMAT_VERSION,
            "apeopt_version": self.apeopt_version,
            "task": self.task,
            "task_source": self.task_source,
            "data_fingerprint": self.data_fingerprint,
            "split_seed": self.split_seed,
            "model": self.model,
            "scoring": self.scoring,
            "prompt": self.prompt.to_dict(),
            "scores": dict(self.scores),
            **({"partial": True} if self.partial else {}),
            **({"human_instruction": False} if not self.human_instruction else {}),
        }

    def save(self, path: str | Path) -> Path:
        return atomic_write_text(Path(path), json.dumps(self.to_dict(), indent=2) + "\n")


def load_prompt_file(path: str | Path) -> PromptFile:
    p = Path(path)
    if not p.is_file():
        raise UserError(f"prompt file {str(p)!r} does not exist")
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise UserError(f"prompt file {str(p)!r} is not valid JSON (line {exc.lineno}: {exc.msg})") from None
    if not isinstance(data, Mapping) or "prompt" not in data:
        raise UserError(f"prompt file {str(p)!r} is not an apeopt prompt file (no 'prompt' field)")
    for key in ("task", "model"):
        if not isinstance(data.get(key), str):
            raise UserError(f"prompt file {str(p)!r}: missing or non-text field {key!r}")
    return PromptFile(
        prompt=PromptConfig.from_dict(data["prompt"], where=f"prompt file {str(p)!r}"),
        task=data["task"],
        task_source=str(data.get("task_source") or ""),
        model=data["model"],
        scoring=str(data.get("scoring", "generate")),
        split_seed=int(data.get("split_seed", 0)),
        data_fingerprint=str(data.get("data_fingerprint", "")),
        scores=data.get("scores", {}),
        apeopt_version=str(data.get("apeopt_version", "")),
        partial=data.get("partial") is True,
        human_instruction=data.get("human_instruction") is not False,
    )


def _dev_text(scores: Mapping[str, Any]) -> str:
    dev = scores.get("dev")
    if isinstance(dev, Mapping) and isinstance(dev.get("score"), (int, float)):
        ci = dev.get("ci") or ("?", "?")
        lo, hi = (f"{v:.2f}" if isinstance(v, (int, float)) else "?" for v in ci)
        return f"{dev['score']:.3f} [{lo}, {hi}] n={dev.get('n', '?')}"
    return "unknown"
