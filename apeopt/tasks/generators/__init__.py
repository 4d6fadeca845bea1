"""Deterministic data generators for the built-in tasks, registered by name.

A generator is ``fn(rng: random.Random, n: int | None, shift: bool) -> list[dict]``
returning records ``{"input": str, "target": str | list[str]}`` with distinct inputs;
``n=None`` means the generator's default size, ``shift=True`` the shifted distribution
(longer numbers, rarer words, longer sentences). It raises ``NotEnoughData`` when it
cannot make ``n`` distinct examples.

Register your own with ``GENERATORS.add("name", fn)`` (or a lazy ``"module:attr"``
string), or name ``module:function`` directly as ``source.name`` in a task YAML.
"""

from __future__ import annotations

import importlib
import random
from functools import lru_cache
from typing import Callable

from apeopt.registry import Registry
from apeopt.tasks.generators.common import NotEnoughData, Record

Generator = Callable[[random.Random, "int | None", bool], "list[Record]"]

GENERATORS: Registry[Generator] = Registry("task generator")
for _name, _target in {
    "plural": "apeopt.tasks.generators.words:plural",
    "past_tense": "apeopt.tasks.generators.words:past_tense_task",
    "first_letter": "apeopt.tasks.generators.words:first_letter",
    "second_letter": "apeopt.tasks.generators.words:second_letter",
    "spell_letters": "apeopt.tasks.generators.words:spell_letters",
    "reverse_word": "apeopt.tasks.generators.words:reverse_word",
    "uppercase": "apeopt.tasks.generators.words:uppercase",
    "number_to_words": "apeopt.tasks.generators.numbers:number_to_words",
    "sum": "apeopt.tasks.generators.numbers:sum_task",
    "difference": "apeopt.tasks.generators.numbers:difference",
    "larger_number": "apeopt.tasks.generators.numbers:larger_number",
    "negation": "apeopt.tasks.generators.sentences:negation",
    "sentiment": "apeopt.tasks.generators.sentences:sentiment",
    "antonyms": "apeopt.tasks.generators.antonyms:antonyms",
}.items():
    GENERATORS.add(_name, _target)


def resolve(name: str) -> Generator:
    """A registered generator, or ``module:function`` for one outside the registry."""
    if name not in GENERATORS and ":" in name:
        module, _, attr = name.partition(":")
        try:
            return getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as e:
            raise LookupError(f"cannot import generator {name!r}: {e}") from None
    return GENERATORS.get(name)


@lru_cache(maxsize=128)
def _generate_cached(name: str, n: int | None, shift: bool, seed: int) -> tuple[tuple[str, tuple[str, ...]], ...]:
    # The name is part of the seed so that tasks sharing a word pool draw different words.
    records = resolve(name)(random.Random(f"{name}:{int(shift)}:{seed}"), n, shift)
    out = []
    for rec in records:
        target = rec["target"]
        targets = (target,) if isinstance(target, str) else tuple(target)
        out.append((rec["input"], targets))
    return tuple(out)


def generate(name: str, n: int | None = None, shift: bool = False, seed: int = 0) -> list[Record]:
    """Records from generator ``name`` (cached; the same arguments give the same data)."""
    return [{"input": i, "target": list(t)} for i, t in _generate_cached(name, n, shift, seed)]


__all__ = ["GENERATORS", "NotEnoughData", "generate", "resolve"]
