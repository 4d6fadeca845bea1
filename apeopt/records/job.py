"""What a batch job produced: an optimize run's summary or a comparison, and the attributes the
job queue records for it (shown by ``apeopt batch status`` and the HTML report)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

from apeopt.errors import UserError
from apeopt.records.compare import CompareResult
from apeopt.records.summary import RunSummary


@dataclass(frozen=True)
class JobResult:
    run_dir: str
    optimize: RunSummary | None = None
    compare: CompareResult | None = None

    def __post_init__(self) -> None:
        if (self.optimize is None) == (self.compare is None):
            raise ValueError("a job result holds exactly one of an optimize summary and a comparison")

    @property
    def kind(self) -> str:
        return "optimize" if self.optimize is not None else "compare"

    @property
    def value(self) -> float:
        """The number the job is told with: the winner's test score, or the best method's (nan: none)."""
        test = self._headline()
        return test.score if test is not None else math.nan

    def _headline(self) -> Any:
        if self.optimize is not None:
            return self.optimize.winner.score("test")
        best = self.compare.best()  # type: ignore[union-attr]
        return best.test if best is not None else None

    def attrs(self) -> dict[str, Any]:
        """The job's attributes in the queue: run folder, test scores, what won, and the cost."""
        test = self._headline()
        out: dict[str, Any] = {"run_dir": self.run_dir, "test": test.to_dict() if test is not None else {}}
        if self.optimize is not None:
            s = self.optimize
            human = s.human.score("test")
            out.update(
                human_test=human.to_dict() if human is not None else None,
                instruction=s.winner.prompt.instruction,
                lm_calls=s.lm_calls,
                tokens=s.tokens,
                wall_seconds=s.wall_seconds,
            )
        else:
            rows = self.compare.rows  # type: ignore[union-attr]
            human_row = self.compare.row("human")  # type: ignore[union-attr]
            best = self.compare.best()  # type: ignore[union-attr]
            out.update(
                human_test=human_row.test.to_dict() if human_row is not None else None,
                best_method=best.method if best is not None else None,
                lm_calls=sum(r.lm_calls for r in rows),
                tokens=sum(r.lm_tokens for r in rows),
                wall_seconds=sum(r.wall_seconds for r in rows),
            )
        return out

    def to_dict(self) -> dict[str, Any]:
        body = self.optimize.to_dict() if self.optimize is not None else self.compare.to_dict()  # type: ignore[union-attr]
        return {"kind": self.kind, "run_dir": self.run_dir, self.kind: body}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "JobResult":
        kind = data.get("kind")
        if kind == "optimize":
            return cls(str(data["run_dir"]), optimize=RunSummary.from_dict(data["optimize"]))
        if kind == "compare":
            return cls(str(data["run_dir"]), compare=CompareResult.from_dict(data["compare"]))
        raise UserError(f"job result: unknown kind {kind!r} (valid: optimize, compare)")
