"""One registry per extension point, with lazy entries and "did you mean" on unknown names."""

from __future__ import annotations

import difflib
import importlib
from typing import Callable, Generic, Iterable, TypeVar

from apeopt.errors import UserError

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps names to objects. Entries may be lazy ``"module:attr"`` strings so that
    registering a backend does not import torch."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, T | str] = {}

    def add(self, name: str, obj: T | str) -> None:
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        self._entries[name] = obj

    def register(self, name: str) -> Callable[[T], T]:
        def deco(obj: T) -> T:
            self.add(name, obj)
            return obj

        return deco

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def get(self, name: str) -> T:
        if name not in self._entries:
            raise UserError(self.unknown_message(name))
        entry = self._entries[name]
        if isinstance(entry, str) and ":" in entry:
            module, _, attr = entry.partition(":")
            entry = getattr(importlib.import_module(module), attr)
            self._entries[name] = entry
        return entry  # type: ignore[return-value]

    def unknown_message(self, name: str) -> str:
        return unknown(self.kind, name, self.names())


def did_you_mean(name: object, valid: Iterable[str]) -> str:
    """`` did you mean 'x'?`` for the valid name closest to ``name``, or "" when none is close."""
    close = difflib.get_close_matches(str(name), list(valid), n=1)
    return f" did you mean {close[0]!r}?" if close else ""


def unknown(kind: str, name: object, valid: Iterable[str], where: str = "") -> str:
    """The one message for an unknown name: ``[where: ]unknown KIND 'x'; did you mean 'y'? valid: a, b``."""
    valid = list(valid)
    head = f"{where}: " if where else ""
    return f"{head}unknown {kind} {name!r};{did_you_mean(name, valid)} valid: {', '.join(valid)}"
