"""Shared helpers for the data generators."""

from __future__ import annotations

import random
import sys
import threading
from functools import lru_cache
from typing import Callable, Sequence, TypeVar

Record = dict  # {"input": str, "target": str | list[str]}
T = TypeVar("T")


class NotEnoughData(ValueError):
    """A generator cannot make as many distinct examples as asked for."""


def pick(rng: random.Random, pool: Sequence[T], n: int | None) -> list[T]:
    """``n`` distinct items of ``pool`` in a seeded random order (all of them if n is None)."""
    if n is None:
        items = list(pool)
        rng.shuffle(items)
        return items
    if n > len(pool):
        raise NotEnoughData(f"only {len(pool)} distinct examples available, asked for n={n}")
    return rng.sample(list(pool), n)


def unique(rng: random.Random, make: Callable[[random.Random], Record], n: int) -> list[Record]:
    """Call ``make`` until ``n`` records with distinct inputs exist (seeded, deterministic)."""
    seen: set[str] = set()
    out: list[Record] = []
    tries = 0
    while len(out) < n:
        tries += 1
        if tries > 50 * n + 1000:
            raise NotEnoughData(f"could only make {len(out)} distinct examples, asked for n={n}")
        rec = make(rng)
        if rec["input"] not in seen:
            seen.add(rec["input"])
            out.append(rec)
    return out


_INFLECT_LOCK = threading.Lock()


@lru_cache(maxsize=1)
def inflect_engine():
    """A shared ``inflect.engine()``, imported fast.

    inflect 7 decorates its methods with typeguard's ``@typechecked``, which recompiles them
    at import (about 1.5 s). We import it with that decorator turned into a no-op, exactly
    what ``python -O`` does; inflect's results are unchanged (only its argument type checks
    are skipped). If inflect is already imported, that module is used as it is.
    """
    with _INFLECT_LOCK:
        if "inflect" not in sys.modules:
            try:
                import typeguard
            except ImportError:  # pragma: no cover - inflect without typeguard
                typeguard = None
            original = getattr(typeguard, "typechecked", None)
            if typeguard is not None:
                typeguard.typechecked = _no_typecheck
            try:
                import inflect  # noqa: F401
            finally:
                if typeguard is not None:
                    typeguard.typechecked = original
        return sys.modules["inflect"].engine()


def _no_typecheck(target=None, **_kwargs):
    return (lambda f: f) if target is None else target
