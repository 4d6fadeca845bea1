"""The format a search samples around an instruction: template, demos, CoT, votes, answer prefix.

Optuna samples each field by name (``SearchSpace.suggest``); trials, leaderboards and the run's
files record it as ``to_dict()``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, Mapping

from apeopt.errors import UserError


@dataclass(frozen=True)
class Format:
    template: str = "completion"  # completion | chat
    demos: int = 0  # how many train demos
    demo_seed: int = 0  # which ones
    cot: str = ""  # a chain-of-thought trigger ("" for none)
    votes: int = 1  # self-consistency samples
    answer_prefix: str = "Output:"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "format") -> "Format":
        names = [f.name for f in fields(cls)]
        unknown = [k for k in data if k not in names]
        if unknown:
            raise UserError(f"{where}: unknown format field {unknown[0]!r} (valid: {', '.join(names)})")
        return cls(**dict(data))


# The searchable dimensions in sampling order, each with its type and default.
PARAMS: dict[str, type] = {f.name: type(f.default) for f in fields(Format)}
DEFAULTS: dict[str, Any] = Format().to_dict()
