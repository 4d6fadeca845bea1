"""Validate first, then work: the checks a command makes before any model loads or any folder is
made, and the clean-up that leaves no half-made run when a start fails anyway."""

from __future__ import annotations

import math
import shutil
from pathlib import Path
from typing import Any

from apeopt.errors import UserError


def check_run_dir(run_dir: Path | None, option: str = "--run-dir", make_parents: bool = False) -> None:
    """A ``--run-dir`` that can be made: not a file, empty if it exists, and its parent exists (a typo in
    a deep path is an error, not a new tree of folders) unless ``make_parents`` (``--make-parents``)."""
    if run_dir is None:
        return
    root = Path(run_dir).expanduser()
    if root.exists() and not root.is_dir():
        raise UserError(f"run dir {str(root)!r} exists and is not a folder")
    if root.is_dir() and any(root.iterdir()):
        raise UserError(f"run dir {str(root)!r} is not empty; choose another {option}")
    parent = root.absolute().parent
    if not parent.is_dir() and not make_parents:
        raise UserError(
            f"{option} {str(root)!r}: its parent folder {str(parent)!r} does not exist; "
            "create it first, fix the path, or pass --make-parents"
        )


def absolute_task(ref: str) -> str:
    """A task given as a path, made absolute (so a resume works from any folder); a name as given."""
    p = Path(ref).expanduser()
    if (p.suffix in (".yaml", ".yml") or "/" in ref or "\\" in ref) and p.is_file():
        return str(p.resolve())
    return ref


def check_finite(name: str, value: float | None) -> None:
    """NaN and infinity are not budgets (NaN compares false with everything: it switched limits off)."""
    if value is not None and not math.isfinite(float(value)):
        raise UserError(f"{name} must be a finite number, got {value!r}")


def probe_scorer(task: Any, name: str | None = None) -> Any:
    """The task's scorer, loaded now (an unknown name fails before any model loads); a user
    ``module:function`` scorer is called once on the first dev example's own target, so code that raises
    fails here, in one line naming it, the example and the exception."""
    from apeopt.scorers import get_scorer

    scorer = get_scorer(name or task.scorer)
    if ":" in scorer.name:
        for split in ("dev", "train"):
            examples = task.splits.get(split) or ()
            if examples:
                ex = examples[0]
                scorer.judge(ex.target, ex.targets, task.labels)
                break
    return scorer


def remove_half_made(root: Path, made: list[str], storage: str | None = None, study: str | None = None) -> None:
    """After a start that failed before anything was scored: delete the files this start wrote in a run
    folder (``made``) and its study in a shared storage; the folder itself goes with ``RunStore.discard_if_empty``."""
    if storage and study:
        try:
            import optuna

            optuna.delete_study(study_name=study, storage=storage)
        except Exception:  # noqa: BLE001 - never there, or unreachable now: nothing more to undo
            pass
    for name in made:
        path = Path(root) / name
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def check_output_file(path: Path, option: str) -> None:
    """An output path that can be written: not a folder, in a folder that exists (checked before any work)."""
    if path.is_dir():
        raise UserError(f"{option} {str(path)!r} is a folder; give a file path")
    if not path.absolute().parent.is_dir():
        raise UserError(f"{option} {str(path)!r}: its folder {str(path.absolute().parent)!r} does not exist")
