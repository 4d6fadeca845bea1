"""Fixtures for the task tests."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from tasks.task_helpers import WriteTask


@pytest.fixture()
def write_task(tmp_path: Path) -> WriteTask:
    """``write_task(yaml_text, {"data.jsonl": text_or_bytes})`` -> the path of ``task.yaml``."""

    def write(yaml_text: str, files: dict[str, str | bytes] | None = None, name: str = "task.yaml") -> Path:
        for fname, content in (files or {}).items():
            target = tmp_path / fname
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                target.write_bytes(content)
            else:
                target.write_text(content)
        path = tmp_path / name
        path.write_text(textwrap.dedent(yaml_text))
        return path

    return write
