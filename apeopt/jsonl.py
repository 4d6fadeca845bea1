"""The one JSONL reader and writers: one JSON object per line.

Writes are atomic (the whole file) or an fsynced append of one line, so a crash leaves at most a
torn last line, which the reader skips.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterable

from apeopt.atomic_files import atomic_write_text


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """The records of ``path`` ([] when it does not exist); blank and torn lines are skipped."""
    p = Path(path)
    if not p.is_file():
        return []
    out = []
    for line in p.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a torn line after a crash
    return out


def jsonl_text(rows: Iterable[Any]) -> str:
    return "".join(json.dumps(r) + "\n" for r in rows)


def write_jsonl(path: str | Path, rows: Iterable[Any]) -> Path:
    """Replace ``path`` with ``rows``, atomically."""
    return atomic_write_text(Path(path), jsonl_text(rows))


def append_jsonl(path: str | Path, record: Any) -> None:
    """Append one record as one fsynced line."""
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(record) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
