"""Which Optuna study a run owns, and checking a storage URL before any work.

A run's study is named after its folder plus a random suffix, and the name is stored in the run
folder (``study.json``), so two runs whose folders share a last path part (``runs/a/r1`` and
``runs/b/r1``) never meet on one ``--storage``, and a resume deletes or reuses only its own study.
Runs made before the name was stored keep the old name (the folder's last part) on resume.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from apeopt.errors import UserError
from apeopt.runs.files import STUDY_NAME as STUDY_FILE
from apeopt.secrets import mask_text, mask_url


def study_name(root: Path, resume: bool) -> str:
    """The study of the run in ``root``: its stored name; a new unique one for a new run (stored now);
    the folder's last path part for a run made before names were stored."""
    path = Path(root) / STUDY_FILE
    if path.is_file():
        try:
            name = json.loads(path.read_text(encoding="utf-8"))["study"]
        except (ValueError, KeyError, TypeError):
            raise UserError(f'{str(path)!r} is damaged: it should hold {{"study": NAME}}') from None
        if isinstance(name, str) and name:
            return name
        raise UserError(f"{str(path)!r}: 'study' must be a non-empty name, got {name!r}")
    if resume:
        return Path(root).name  # a run from before study names were stored
    from apeopt.atomic_files import atomic_write_json

    name = f"{Path(root).name}-{uuid.uuid4().hex[:12]}"
    atomic_write_json(path, {"study": name})
    return name


def check_storage_url(url: str | None, option: str = "--storage") -> None:
    """A storage URL whose scheme and driver exist (no connection yet); a one-line UserError otherwise,
    with any password masked."""
    if url is None:
        return
    try:
        from sqlalchemy.engine import make_url

        make_url(url).get_dialect()
    except Exception as exc:  # noqa: BLE001 - sqlalchemy: ArgumentError, NoSuchModuleError, ImportError
        msg = mask_text(" ".join(str(exc).split()), url)[:200]
        raise UserError(f"{option} {mask_url(url)!r} is not a usable storage URL: {msg}") from None


def check_replayed(record: dict[str, Any], text: str, trial: int, step: int) -> None:
    """A logged score replayed on resume must belong to the same candidate text as the trial it is
    matched to by (trial, step); otherwise the log is from another search and replaying it would
    credit one prompt with another's scores."""
    logged = record.get("instruction")
    if logged is not None and logged != text:
        raise UserError(
            f"cannot resume: the log's trial {trial} step {step} scored {_short(logged)}, but this "
            f"search's trial {trial} is {_short(text)} (the log does not belong to this run's search)"
        )


def _short(text: str, limit: int = 60) -> str:
    t = " ".join(str(text).split())
    return repr(t if len(t) <= limit else t[: limit - 1] + "…")


def open_checked_storage(url: str) -> None:
    """Connect to ``url`` once before any work, so an unreachable or refused storage is one line
    (password masked) before a model loads."""
    check_storage_url(url)
    try:
        import optuna

        optuna.storages.RDBStorage(url)
    except Exception as exc:  # noqa: BLE001 - sqlalchemy/optuna: refused, missing driver, bad file
        msg = mask_text(" ".join(str(exc).split()), url)[:200]
        raise UserError(f"cannot open storage {mask_url(url)!r}: {msg}") from None
