"""What every record file shares: its schema version and one-line errors when a file cannot be read."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Mapping, TypeVar

from apeopt.errors import UserError

# summary.json layout version. Files written before versions existed have the same layout and are
# read as version 0; a file from a newer apeopt is refused with a one-line error.
SCHEMA_VERSION = 1

T = TypeVar("T")


def read_json(path: str | Path, missing: str) -> Any:
    """The JSON document in ``path``; a missing file (``missing`` says what) or malformed JSON is a
    one-line UserError."""
    p = Path(path)
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(missing) from None
    except json.JSONDecodeError as exc:
        raise UserError(f"{str(p)!r} is not valid JSON (line {exc.lineno})") from None


def check_schema(data: Any, where: str) -> int:
    """The schema version of a record mapping (0 when absent); a newer or malformed one is refused."""
    if not isinstance(data, Mapping):
        raise UserError(f"{where}: expected a JSON object, got {type(data).__name__}")
    version = data.get("schema_version", 0)
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        raise UserError(f"{where}: schema_version must be a whole number, got {version!r}")
    if version > SCHEMA_VERSION:
        raise UserError(
            f"{where}: schema_version {version} was written by a newer apeopt (this one reads up to "
            f"{SCHEMA_VERSION}); upgrade apeopt"
        )
    return version


def parse(where: str, what: str, build: Callable[[], T]) -> T:
    """``build()``, with a missing or malformed field turned into a one-line UserError naming ``where``."""
    try:
        return build()
    except UserError:
        raise
    except KeyError as exc:
        raise UserError(f"{where}: not a valid {what}: missing field {exc.args[0]!r}") from None
    except (TypeError, ValueError, AttributeError, IndexError) as exc:
        raise UserError(f"{where}: not a valid {what}: {' '.join(str(exc).split())}") from None
