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
    # Where the demos come from (set by the search, not sampled by Optuna): ``random`` draws
    # ``demos`` train examples with ``demo_seed``; ``chosen`` shows the train examples
    # ``demo_ids`` in that order (demo search); ``bootstrapped`` shows them with the model's own
    # reasoning (CoT formats); ``retrieved`` shows each input's ``demos`` nearest train examples.
    demo_source: str = "random"
    demo_ids: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.demo_source not in DEMO_SOURCES:
            raise UserError(
                f"format field 'demo_source' must be one of {', '.join(DEMO_SOURCES)}, got {self.demo_source!r}"
            )
        if self.demo_source in ("chosen", "bootstrapped") and len(self.demo_ids) != self.demos:
            raise UserError(f"format: {len(self.demo_ids)} demo_ids for demos={self.demos}")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["demo_ids"] = list(self.demo_ids)
        return d

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "format") -> "Format":
        names = [f.name for f in fields(cls)]
        unknown = [k for k in data if k not in names]
        if unknown:
            raise UserError(f"{where}: unknown format field {unknown[0]!r} (valid: {', '.join(names)})")
        kw = dict(data)
        if "demo_ids" in kw:
            kw["demo_ids"] = tuple(int(i) for i in kw["demo_ids"])
        return cls(**kw)


DEMO_SOURCES = ("random", "chosen", "bootstrapped", "retrieved")
# The dimensions a search space names (in sampling order), each with its type and default.
PARAMS: dict[str, type] = {f.name: type(f.default) for f in fields(Format) if f.name not in ("demo_source", "demo_ids")}
DEFAULTS: dict[str, Any] = {name: getattr(Format(), name) for name in PARAMS}
