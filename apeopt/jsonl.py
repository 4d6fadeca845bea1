"""The one JSONL reader and writers: one JSON object per line.

Writes are atomic (the whole file) or an fsynced append of one line, so a crash leaves at most a
torn last line, which the reader skips (any other bad line is reported).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterable

from apeopt.atomic_files import atomic_write_text


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """The records of ``path`` ([] when it does not exist); blank lines and a torn last line (a crash
    mid-append) are skipped. Any other line that is not JSON is a one-line UserError naming the file and
    line: damage is reported, never skipped silently."""
    from apeopt.errors import UserError

    p = Path(path)
    if not p.is_file():
        return []
    lines = [(i, line) for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if line.strip()]
    out = []
    for k, (number, line) in enumerate(lines):
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError as exc:
            if k == len(lines) - 1:
                continue  # a torn last line after a crash
            raise UserError(
                f"{str(p)!r} line {number} is not valid JSON ({exc.msg}); only a torn last line is "
                "skipped: repair or remove that line"
            ) from None
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
