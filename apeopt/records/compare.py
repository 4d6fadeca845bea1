"""A comparison's records: one row per method (``comparison.json``), its ``summary.json``, and the
two together as what ``run_compare`` returns."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping

from apeopt.atomic_files import atomic_write_json
from apeopt.errors import UserError
from apeopt.records.base import SCHEMA_VERSION, check_schema, parse, read_json
from apeopt.records.scores import Paired, SplitScore
from apeopt.tasks.provenance import SplitOrigin, origins_from_dict, origins_to_dict

COMPARE = "compare"


@dataclass(frozen=True)
class CompareRow:
    """One method of a comparison: its test scores on the shared items and what it cost."""

    method: str
    family: str  # prompt | tuning
    test: SplitScore
    description: str = ""
    test_shift: SplitScore | None = None
    trainable_params: int = 0
    virtual_tokens: int = 0
    train_examples: int = 0
    dev_examples: int = 0
    train_seconds: float = 0.0
    eval_seconds: float = 0.0
    wall_seconds: float = 0.0
    s_per_step: float | None = None
    steps: int = 0
    best_step: int | None = None
    lm_calls: int = 0  # before test: the search, or checkpoint selection
    lm_tokens: int = 0
    test_lm_calls: int = 0
    inference_tokens_per_example: float = 0.0
    scorer: str = ""
    test_items: Mapping[str, str] = field(default_factory=dict)  # split -> digest of the scored items
    prompt: Mapping[str, Any] = field(default_factory=dict)  # instruction, demos (count), template
    dev_selection: Mapping[str, Any] | None = None
    adapter: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
    device: str = ""
    paired: Mapping[str, Paired] = field(default_factory=dict)  # other method -> this minus other on test

    _ORDER = ("method", "family", "description", "test", "test_shift")

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in (*self._ORDER, *(f.name for f in fields(self) if f.name not in self._ORDER)):
            value = getattr(self, name)
            if isinstance(value, SplitScore):
                value = value.to_dict()
            elif name == "paired":
                value = {k: p.to_dict() for k, p in value.items()}
            elif isinstance(value, Mapping):
                value = dict(value)
            out[name] = value
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "comparison row") -> "CompareRow":
        def build() -> CompareRow:
            known = {f.name for f in fields(cls)}
            kw = {k: v for k, v in data.items() if k in known}
            kw["test"] = SplitScore.from_dict(data["test"])
            kw["test_shift"] = SplitScore.from_dict(data["test_shift"]) if data.get("test_shift") else None
            kw["paired"] = {k: Paired.from_dict(v) for k, v in (data.get("paired") or {}).items()}
            return cls(**kw)

        return parse(where, "comparison row", build)


@dataclass(frozen=True)
class CompareSummary:
    """``summary.json`` of a comparison: the task, model, scorer and test items every method shares."""

    task: str
    model: str
    scorer: str
    test_items: Mapping[str, Mapping[str, Any]]  # split -> {n, digest}
    config: Mapping[str, Any]  # CompareConfig.to_dict(), with the effective mode defaults
    task_source: str = ""
    base_identity: str = ""
    device: str = ""
    data_fingerprint: str = ""
    wall_seconds: float = 0.0
    run_dir: str = ""
    methods: tuple[str, ...] = ()
    load_seconds: float | None = None  # loading the base model (known after the files are written)
    split_sources: Mapping[str, SplitOrigin] = field(default_factory=dict)  # where each split came from
    schema_version: int = SCHEMA_VERSION

    kind = COMPARE

    def to_dict(self) -> dict[str, Any]:
        out = {
            "schema_version": self.schema_version,
            "kind": self.kind,
            "task": self.task,
            "task_source": self.task_source,
            "model": self.model,
            "base_identity": self.base_identity,
            "device": self.device,
            "scorer": self.scorer,
            "test_items": {k: dict(v) for k, v in self.test_items.items()},
            "data_fingerprint": self.data_fingerprint,
            "config": dict(self.config),
            "wall_seconds": self.wall_seconds,
            "run_dir": self.run_dir,
            "methods": list(self.methods),
            "split_sources": origins_to_dict(self.split_sources),
        }
        if self.load_seconds is not None:
            out["load_seconds"] = self.load_seconds
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "comparison summary") -> "CompareSummary":
        check_schema(data, where)

        def build() -> CompareSummary:
            known = {f.name for f in fields(cls)}
            kw = {k: v for k, v in data.items() if k in known}
            kw["methods"] = tuple(data.get("methods") or ())
            kw["split_sources"] = origins_from_dict(data.get("split_sources"))
            return cls(**kw)

        return parse(where, "comparison summary", build)

    def save(self, path: str | Path) -> Path:
        return atomic_write_json(Path(path), self.to_dict())


@dataclass(frozen=True)
class CompareResult:
    rows: tuple[CompareRow, ...]
    meta: CompareSummary

    def best(self) -> CompareRow | None:
        """The method with the highest test score (the first of equals)."""
        return max(self.rows, key=lambda r: r.test.score, default=None)

    def row(self, method: str) -> CompareRow | None:
        return next((r for r in self.rows if r.method == method), None)

    def to_dict(self) -> dict[str, Any]:
        return {"rows": [r.to_dict() for r in self.rows], "meta": self.meta.to_dict()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "CompareResult":
        return cls(tuple(CompareRow.from_dict(r) for r in data["rows"]), CompareSummary.from_dict(data["meta"]))


def save_comparison(path: str | Path, rows: tuple[CompareRow, ...] | list[CompareRow]) -> Path:
    return atomic_write_json(Path(path), [r.to_dict() for r in rows])


def load_comparison(path: str | Path) -> tuple[CompareRow, ...]:
    """The rows of a ``comparison.json``."""
    data = read_json(path, f"{str(path)!r} does not exist")
    if not isinstance(data, list):
        raise UserError(f"{str(path)!r} must hold a JSON list of rows")
    return tuple(CompareRow.from_dict(r, where=f"{path}: row {i}") for i, r in enumerate(data))
