"""A task is data: examples in splits, a human instruction, a scorer and optional labels."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Mapping

from apeopt.tasks.provenance import SplitOrigin

SPLITS = ("train", "dev", "test", "test_shift")
EVAL_SPLITS = ("dev", "test", "test_shift")  # what prompts are scored on once selection is over


@dataclass(frozen=True)
class Example:
    """One input with its accepted answers (any match counts; the first is canonical)."""

    input: str
    targets: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.targets:
            raise ValueError(f"example {self.input!r} has no target")

    @property
    def target(self) -> str:
        return self.targets[0]


@dataclass(frozen=True)
class Task:
    name: str
    instruction: str
    splits: Mapping[str, tuple[Example, ...]]
    scorer: str = "exact_match"
    labels: tuple[str, ...] | None = None
    description: str = ""
    source: str = ""
    max_tokens: int = 32
    metadata: Mapping[str, object] = field(default_factory=dict)
    origins: Mapping[str, SplitOrigin] = field(default_factory=dict)  # where each split came from

    def split(self, name: str) -> tuple[Example, ...]:
        from apeopt.errors import UserError

        if name not in self.splits or not self.splits[name]:
            have = ", ".join(k for k, v in self.splits.items() if v) or "none"
            raise UserError(f"task {self.name!r} has no examples in split {name!r} (has: {have})")
        return self.splits[name]

    @property
    def has_instruction(self) -> bool:
        """Whether a human instruction was given (without one the search induces instructions from the data)."""
        return bool(self.instruction.strip())

    def sizes(self) -> dict[str, int]:
        return {k: len(v) for k, v in self.splits.items()}

    def fingerprint(self, splits: tuple[str, ...] = ("train", "dev")) -> str:
        """A hash of the named splits' data: identifies the data a prompt was selected on."""
        h = hashlib.sha256()
        for name in splits:
            for ex in self.splits.get(name, ()):
                h.update(json.dumps([name, ex.input, list(ex.targets)]).encode())
        return h.hexdigest()[:16]
