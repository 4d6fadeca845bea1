"""A run folder: resolved config, Optuna study, candidates, evaluations log, leaderboard, summary, best prompt.

Every file is written atomically (temp file + rename); ``evaluations.jsonl`` is append-only with one
fsynced line per evaluated rung, so a crash loses at most the evaluation in flight.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from apeopt.errors import UserError
from apeopt.atomic_files import atomic_write_json, atomic_write_text
from apeopt.jsonl import append_jsonl, read_jsonl, write_jsonl
from apeopt.runs.files import (
    CANDIDATES,
    CONFIG,
    EVALUATIONS,
    LEADERBOARD,
    LEADERBOARD_MD,
    PREDICTIONS,
    STUDY_DB,
    SUMMARY,
)

if TYPE_CHECKING:
    from apeopt.records.summary import RunSummary


__all__ = ["RunStore", "new_run_id"]


def new_run_id(task: str, space: str, seed: int) -> str:
    """``<date>-<time>-<task>-<space>-s<seed>``: the default name of a new run folder."""
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in Path(task).stem)
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{safe}-{space}-s{seed}"


class RunStore:
    """One run folder: creates, opens or resolves it (``latest``), and reads and writes its files atomically."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.created = False  # made by ``create`` (not a folder the user made or an earlier run)

    # ----- creation / opening --------------------------------------------------------
    @classmethod
    def create(cls, run_dir: Path | None, runs_root: Path, run_id: str) -> "RunStore":
        root = Path(run_dir) if run_dir is not None else Path(runs_root) / run_id
        if root.exists() and not root.is_dir():
            raise UserError(f"run dir {str(root)!r} exists and is not a folder")
        if root.is_dir() and any(root.iterdir()):
            raise UserError(f"run dir {str(root)!r} is not empty; choose another --run-dir")
        store = cls(root)
        store.created = not root.exists()
        root.mkdir(parents=True, exist_ok=True)
        return store

    def discard_if_empty(self) -> None:
        """Remove the run folder ``create`` made if nothing was written to it (a run that failed to start)."""
        if not self.created:
            return
        try:
            self.root.rmdir()  # only succeeds on an empty folder
        except OSError:
            pass

    @classmethod
    def open(cls, path: str | Path) -> "RunStore":
        root = Path(path)
        if not root.exists():
            raise UserError(f"run folder {str(root)!r} does not exist")
        if not root.is_dir():
            raise UserError(f"{str(root)!r} is a file, not a run folder")
        if not (root / CONFIG).is_file():
            raise UserError(f"{str(root)!r} is not an apeopt run (no {CONFIG})")
        return cls(root)

    @classmethod
    def resolve(cls, path: str | Path, runs_root: Path = Path("runs")) -> "RunStore":
        """Open a run folder; ``latest`` names the newest run under ``runs_root``."""
        if str(path) == "latest":
            runs = sorted(
                (p for p in Path(runs_root).glob("*/") if (p / CONFIG).is_file()),
                key=lambda p: (p / CONFIG).stat().st_mtime,
            )
            if not runs:
                raise UserError(f"no runs under {str(runs_root)!r} yet; run `apeopt optimize` first")
            return cls(runs[-1])
        return cls.open(path)

    # ----- files -----------------------------------------------------------------------
    def path(self, name: str) -> Path:
        return self.root / name

    def default_storage(self) -> str:
        return f"sqlite:///{(self.root / STUDY_DB).resolve()}"

    def write_config(self, config: dict[str, Any]) -> None:
        from apeopt.secrets import mask_storage  # a storage URL's password is never written

        atomic_write_json(self.path(CONFIG), mask_storage(config))

    def read_json(self, name: str) -> Any:
        from apeopt.records.base import read_json

        return read_json(self.path(name), f"run {str(self.root)!r} has no {name}")

    def config(self) -> dict[str, Any]:
        return self.read_json(CONFIG)

    def summary(self) -> "RunSummary":
        """The run's summary.json (an optimize run's)."""
        from apeopt.records.summary import load_run_summary

        if not self.path(SUMMARY).is_file():
            raise UserError(f"run {str(self.root)!r} has no {SUMMARY}")
        return load_run_summary(self.path(SUMMARY))

    def write_summary(self, summary: "RunSummary") -> None:
        summary.save(self.path(SUMMARY))

    def append_evaluation(self, record: dict[str, Any]) -> None:
        append_jsonl(self.path(EVALUATIONS), record)

    def evaluations(self) -> list[dict[str, Any]]:
        return read_jsonl(self.path(EVALUATIONS))

    def repair_log(self) -> list[dict[str, Any]]:
        """Drop a torn last line left by a crash, so appends start on a fresh line; returns the records."""
        records = self.evaluations()
        if self.path(EVALUATIONS).is_file():
            write_jsonl(self.path(EVALUATIONS), records)
        return records

    def write_json(self, name: str, data: Any) -> None:
        atomic_write_json(self.path(name), data)

    def write_candidates(self, rows: Iterable[dict[str, Any]]) -> None:
        write_jsonl(self.path(CANDIDATES), rows)

    def write_predictions(self, rows: Iterable[dict[str, Any]]) -> None:
        write_jsonl(self.path(PREDICTIONS), rows)

    def predictions(self) -> list[dict[str, Any]]:
        return read_jsonl(self.path(PREDICTIONS))

    def candidates(self) -> list[dict[str, Any]]:
        return read_jsonl(self.path(CANDIDATES))

    def write_leaderboard(self, rows: list[dict[str, Any]]) -> None:
        atomic_write_json(self.path(LEADERBOARD), rows)
        lines = [
            "| rank | dev | n | trial | origin | round | state | note | format | instruction |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for i, r in enumerate(rows, 1):
            fmt = ", ".join(f"{k}={v!r}" for k, v in r["format"].items())
            text = r["instruction"].replace("|", "\\|")
            lines.append(
                f"| {i} | {r['score']:.3f} | {r['n']} | {r['trial']} | {r['origin']} | {r['round']} | {r['state']} "
                f"| {r.get('note', '')} | {fmt} | {text} |"
            )
        atomic_write_text(self.path(LEADERBOARD_MD), "\n".join(lines) + "\n")
