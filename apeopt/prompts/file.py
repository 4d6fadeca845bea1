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
        return (
            f"this prompt comes from an interrupted run: the best fully scored on dev when it stopped "
            f"(dev {_dev_text(self.scores)}), not scored on test"
        )

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
    check_fields(data, str(p))
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


_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "task_source": (str,),
    "data_fingerprint": (str,),
    "scoring": (str,),
    "apeopt_version": (str,),
    "split_seed": (int,),
    "scores": (dict,),
    "partial": (bool,),
    "prompt": (dict,),
}
SCORINGS = ("generate", "likelihood")


def check_fields(data: Mapping[str, Any], where: str) -> None:
    """The file's schema version and each field's type, as one-line UserErrors naming the field and value."""
    version = data.get("apeopt_prompt_version", FORMAT_VERSION)
    if isinstance(version, bool) or not isinstance(version, int) or not 1 <= version <= FORMAT_VERSION:
        raise UserError(
            f"prompt file {where!r}: apeopt_prompt_version {version!r} is not one this apeopt reads "
            f"(1 to {FORMAT_VERSION}); a newer apeopt may have written it"
        )
    for key, kinds in _FIELD_TYPES.items():
        value = data.get(key)
        if value is None:
            continue
        if isinstance(value, bool) and bool not in kinds or not isinstance(value, kinds):
            want = {"str": "text", "int": "a whole number", "dict": "a mapping", "bool": "true/false"}[
                kinds[0].__name__
            ]
            raise UserError(f"prompt file {where!r}: field {key!r} must be {want}, got {_short(value)}")
    if data.get("scoring") is not None and data["scoring"] not in SCORINGS:
        raise UserError(
            f"prompt file {where!r}: field 'scoring' must be one of {', '.join(SCORINGS)}, "
            f"got {_short(data['scoring'])}"
        )


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:59] + "…"


def _dev_text(scores: Mapping[str, Any]) -> str:
    dev = scores.get("dev")
    if isinstance(dev, Mapping) and isinstance(dev.get("score"), (int, float)):
        ci = dev.get("ci") or ("?", "?")
        lo, hi = (f"{v:.2f}" if isinstance(v, (int, float)) else "?" for v in ci)
        return f"{dev['score']:.3f} [{lo}, {hi}] n={dev.get('n', '?')}"
    return "unknown"
