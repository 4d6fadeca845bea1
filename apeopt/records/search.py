"""What the search did on dev, as the run summary records it: the incumbent ladder, every
challenge of the incumbent under the selection rule, and the estimated value of train demos."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Mapping


@dataclass(frozen=True)
class IncumbentRung:
    """One prompt of the incumbent ladder and how far it got on dev."""

    name: str
    trial: int
    dev: float | None  # mean on the ``n`` dev examples it was scored on
    n: int
    state: str  # complete (all of dev) | pruned | continued (finished by a later trial)
    format: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["format"] = dict(self.format)
        return d

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "IncumbentRung":
        return cls(
            str(data["name"]),
            int(data["trial"]),
            None if data.get("dev") is None else float(data["dev"]),
            int(data["n"]),
            str(data["state"]),
            dict(data.get("format") or {}),
        )


@dataclass(frozen=True)
class Challenge:
    """A challenger against the incumbent on all of dev: paired difference and its one-sided lower bound."""

    trial: int
    phase: str
    round: int
    vs_trial: int
    dev: float
    incumbent_dev: float
    diff: float
    lower: float
    n: int
    credible: bool  # True: the challenger became the incumbent

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Challenge":
        return cls(
            int(data["trial"]),
            str(data["phase"]),
            int(data["round"]),
            int(data["vs_trial"]),
            float(data["dev"]),
            float(data["incumbent_dev"]),
            float(data["diff"]),
            float(data["lower"]),
            int(data["n"]),
            bool(data["credible"]),
        )


@dataclass(frozen=True)
class DemoCredit:
    """A train example's estimated value as a demo (score units), and how many trials showed it."""

    train_index: int
    input: str
    value: float
    trials: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "DemoCredit":
        return cls(int(data["train_index"]), str(data.get("input", "")), float(data["value"]), int(data["trials"]))
