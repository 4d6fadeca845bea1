"""Where each split of a task came from: its source, how it was made, and what was dropped."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

GIVEN = "given"  # the split's own source (a file, or a dataset's named split), capped by its size
CUT = "cut"  # a seeded cut of a shared pool (the one ``source``, or ``source.train`` for a missing split)
SHIFT = "shift"  # the shifted test split (``test_shift.source``), inputs seen in distribution dropped
HOWS = (GIVEN, CUT, SHIFT)


@dataclass(frozen=True)
class SplitOrigin:
    """One split's provenance (``apeopt tasks`` and ``summary.json`` show these)."""

    split: str
    source: str  # the source's label, e.g. "jsonl:test.jsonl", "hf:data[validation]", "generator:plural"
    how: str  # given | cut | shift
    available: int  # unique inputs its source offered (after overlaps with other splits were dropped)
    size: int  # examples kept
    duplicates_dropped: int = 0  # repeated inputs within the source
    overlaps_dropped: int = 0  # inputs that also occur in an earlier split (train before dev before test)

    def __post_init__(self) -> None:
        if self.how not in HOWS:
            raise ValueError(f"split origin 'how' must be one of {', '.join(HOWS)}, got {self.how!r}")

    def describe(self) -> str:
        """One line, e.g. ``jsonl:test.jsonl (given, 100 of 250; 3 overlaps dropped)``."""
        notes = [f"{self.how}, {self.size} of {self.available}"]
        if self.overlaps_dropped:
            notes.append(f"{self.overlaps_dropped} overlaps dropped")
        if self.duplicates_dropped:
            notes.append(f"{self.duplicates_dropped} duplicates dropped")
        return f"{self.source} ({'; '.join(notes)})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "split": self.split,
            "source": self.source,
            "how": self.how,
            "available": self.available,
            "size": self.size,
            "duplicates_dropped": self.duplicates_dropped,
            "overlaps_dropped": self.overlaps_dropped,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "SplitOrigin":
        return cls(
            str(data["split"]),
            str(data["source"]),
            str(data["how"]),
            int(data["available"]),
            int(data["size"]),
            int(data.get("duplicates_dropped", 0)),
            int(data.get("overlaps_dropped", 0)),
        )


def origins_to_dict(origins: Mapping[str, SplitOrigin]) -> dict[str, dict[str, Any]]:
    return {name: o.to_dict() for name, o in origins.items()}


def origins_from_dict(data: Mapping[str, Any] | None) -> dict[str, SplitOrigin]:
    return {str(name): SplitOrigin.from_dict(o) for name, o in (data or {}).items()}


def describe_origins(origins: Mapping[str, SplitOrigin]) -> str:
    """The source of one pool cut into splits (as before per-split sources existed), or one
    ``split: source (...)`` line per split when the splits came from their own sources."""
    if not origins:
        return ""
    main = [o for o in origins.values() if o.how != SHIFT]
    if main and all(o.how == CUT for o in main) and len({o.source for o in main}) == 1:
        return main[0].source
    return "\n".join(f"{o.split}: {o.describe()}" for o in origins.values())
