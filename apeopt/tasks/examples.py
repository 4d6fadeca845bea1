"""Turning source records into :class:`Example` objects: input/target fields, dedupe."""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from typing import Any, Mapping

from apeopt.errors import UserError
from apeopt.tasks.sources import SourceData
from apeopt.tasks.task import Example

_MISSING = object()


@dataclass(frozen=True)
class FieldSpec:
    """How to read an example out of a record (the task YAML's field settings)."""

    input_field: str = "input"
    input_template: str | None = None
    target_field: str = "target"
    target_map: Mapping[str, str] | None = None  # keys and values as text
    target_sep: str | None = None


def template_fields(template: str) -> list[str]:
    """Root record fields a ``str.format`` template uses; ValueError if it is malformed."""
    roots = []
    for _, name, _, _ in string.Formatter().parse(template):
        if name is None:
            continue
        root = re.match(r"[^.\[]*", name).group(0)  # type: ignore[union-attr]
        if not root or root.isdigit():
            raise ValueError("use named fields like {question}, not {} or {0}")
        roots.append(root)
    return roots


def get_field(record: Mapping[str, Any], dotted: str) -> Any:
    """``record[a][b]`` for ``"a.b"`` (list indices as numbers); _MISSING if absent or null."""
    value: Any = record
    for part in dotted.split("."):
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        elif isinstance(value, (list, tuple)) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return _MISSING
    return _MISSING if value is None else value


def scalar_text(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (str, int, float)):
        return str(value)
    return None


def record_examples(data: SourceData, fields: FieldSpec, labels: tuple[str, ...] | None = None) -> list[Example]:
    """One Example per record, in source order; a bad record raises a UserError naming it."""
    out = []
    for place, record in data.records:
        where = f"{data.origin}: {place}"
        out.append(Example(_input(record, fields, where), _targets(record, fields, labels, where)))
    return out


def _input(record: Mapping[str, Any], fields: FieldSpec, where: str) -> str:
    if fields.input_template is not None:
        for name in template_fields(fields.input_template):
            if get_field(record, name) is _MISSING:
                raise UserError(f"{where}: missing field {name!r} (used by input_template)")
        try:
            text = fields.input_template.format_map(record)
        except (KeyError, IndexError, AttributeError, TypeError, ValueError) as e:
            raise UserError(f"{where}: input_template cannot be filled: {type(e).__name__}: {e}") from None
    else:
        value = get_field(record, fields.input_field)
        if value is _MISSING:
            raise UserError(f"{where}: missing field {fields.input_field!r} (input_field)")
        text = scalar_text(value)  # type: ignore[assignment]
        if text is None:
            raise UserError(
                f"{where}: field {fields.input_field!r} is a {type(value).__name__}, expected text"
                " (use input_template to combine fields)"
            )
    text = text.strip()
    if not text:
        raise UserError(f"{where}: empty input")
    return text


def _targets(
    record: Mapping[str, Any], fields: FieldSpec, labels: tuple[str, ...] | None, where: str
) -> tuple[str, ...]:
    name = fields.target_field
    value = get_field(record, name)
    if value is _MISSING:
        raise UserError(f"{where}: missing field {name!r} (target_field)")
    values = list(value) if isinstance(value, (list, tuple)) else [value]
    if not values:
        raise UserError(f"{where}: field {name!r} is an empty list of targets")
    targets: list[str] = []
    for v in values:
        text = scalar_text(v)
        if text is None:
            raise UserError(f"{where}: field {name!r}: expected text or a list of texts, got {v!r}")
        if fields.target_map is not None:
            if text not in fields.target_map:
                raise UserError(f"{where}: field {name!r}: value {v!r} is not in target_map")
            text = fields.target_map[text]
        parts = text.split(fields.target_sep) if fields.target_sep else [text]
        for part in parts:
            part = part.strip()
            if part and part not in targets:
                targets.append(part)
    if not targets:
        raise UserError(f"{where}: field {name!r}: empty target")
    if labels is not None and targets[0] not in labels:
        raise UserError(f"{where}: target {targets[0]!r} is not one of labels: {', '.join(labels)}")
    return tuple(targets)


def dedupe(examples: list[Example], merge_targets: bool) -> tuple[list[Example], int]:
    """Keep the first example of each input; optionally add later targets to it.

    Returns the examples (first-seen order) and how many duplicates were dropped."""
    by_input: dict[str, Example] = {}
    dropped = 0
    for ex in examples:
        first = by_input.get(ex.input)
        if first is None:
            by_input[ex.input] = ex
            continue
        dropped += 1
        if merge_targets:
            extra = tuple(t for t in ex.targets if t not in first.targets)
            if extra:
                by_input[ex.input] = Example(first.input, first.targets + extra)
    return list(by_input.values()), dropped
