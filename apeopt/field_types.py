"""Type checks of a config dataclass's fields from its annotations, as one-line UserErrors naming the
field and the bad value: a plan's ``seed: "abc"`` fails on load, not as a traceback inside a worker."""

from __future__ import annotations

import math
from dataclasses import fields
from typing import Any

from apeopt.errors import UserError

_SIMPLE = {"int": int, "float": float, "str": str, "bool": bool}


def _ok(kind: str, value: Any) -> bool:
    if kind == "None":
        return value is None
    if kind.startswith("tuple[") or kind.startswith("list["):
        inner = kind[kind.index("[") + 1 :].split(",")[0].strip().rstrip("]")
        return isinstance(value, (tuple, list)) and all(_ok(inner, v) for v in value)
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "float":
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if kind == "str":
        return isinstance(value, str)
    return True  # a type this checker does not know: left to the dataclass's own checks


def check_field_types(obj: Any, where: str = "config") -> None:
    """Each field's value matches its annotation (``int``, ``float | None``, ``tuple[str, ...]``...);
    floats must be finite (NaN switches a limit off, infinity is no limit)."""
    for f in fields(obj):
        kinds = [k.strip() for k in str(f.type).split("|")]
        value = getattr(obj, f.name)
        if not any(_ok(k, value) for k in kinds):
            shown = " or ".join(
                {
                    "None": "null",
                    "int": "a whole number",
                    "float": "a finite number",
                    "str": "text",
                    "bool": "true/false",
                }.get(k, k)
                for k in kinds
            )
            raise UserError(f"{where} field {f.name!r} must be {shown}, got {value!r}")
