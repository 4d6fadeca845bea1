"""The one YAML reader (tasks, search spaces, batch plans): ``yaml.safe_load`` with one-line errors
that name the file and, for syntax errors, the line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from apeopt.errors import UserError


def read_yaml(path: str | Path) -> Any:
    """The YAML document in ``path``; a missing, unreadable or malformed file is a one-line UserError."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise UserError(f"{p}: not UTF-8 text (byte {e.start})") from None
    except OSError as e:
        raise UserError(f"{p}: cannot read file: {e.strerror}") from None
    return parse_yaml(text, str(p))


def parse_yaml(text: str, where: str) -> Any:
    """``text`` parsed with ``yaml.safe_load``; ``where`` (a file name) starts the error message."""
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = e.problem or e.context or "syntax error"
        raise UserError(f"{where}{line}: invalid YAML: {problem}") from None
    except yaml.YAMLError as e:
        raise UserError(f"{where}: invalid YAML: {e}") from None
