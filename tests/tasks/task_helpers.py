"""Helpers shared by the task tests (a module name no other test folder uses)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

WriteTask = Callable[..., Path]


def jsonl(records: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)
