"""Word-level generators: plural, past tense, letters, spelling, reversal, upper case.

In-distribution examples use common words (low wordfreq rank); the shifted split uses
rarer words (wordfreq ranks 5000-30000), and longer ones where length matters.
"""

from __future__ import annotations

import random

from apeopt.tasks.generators.common import Record, inflect_engine, pick
from apeopt.tasks.generators.lexicon import (
    COMMON,
    COMMON_LETTERS,
    IRREGULAR_PAST,
    NOUNS,
    PLURAL_ALTERNATIVES,
    RARE,
    REGULAR_VERBS,
    past_tense,
    words_by_rank,
)


def plural_forms(noun: str) -> tuple[str, ...]:
    """Accepted plural forms of ``noun``: a reviewed table first, else inflect's answer."""
    return PLURAL_ALTERNATIVES.get(noun) or (inflect_engine().plural_noun(noun),)


def _all_words() -> set[str]:
    return set(NOUNS) | set(REGULAR_VERBS) | set(IRREGULAR_PAST)


def _letter_words(shift: bool, shift_min_len: int = 4) -> list[str]:
    if shift:
        return words_by_rank(_all_words(), RARE, min_len=shift_min_len)
    return words_by_rank(_all_words(), COMMON_LETTERS, min_len=3)


def plural(rng: random.Random, n: int | None, shift: bool) -> list[Record]:
    nouns = words_by_rank(NOUNS, RARE if shift else COMMON)
    return [{"input": w, "target": list(plural_forms(w))} for w in pick(rng, nouns, n)]


def past_tense_task(rng: random.Random, n: int | None, shift: bool) -> list[Record]:
    verbs = words_by_rank(set(REGULAR_VERBS) | set(IRREGULAR_PAST), RARE if shift else COMMON)
    return [{"input": v, "target": list(past_tense(v))} for v in pick(rng, verbs, n)]


def first_letter(rng: random.Random, n: int | None, shift: bool) -> list[Record]:
    return [{"input": w, "target": w[0]} for w in pick(rng, _letter_words(shift), n)]


def second_letter(rng: random.Random, n: int | None, shift: bool) -> list[Record]:
    return [{"input": w, "target": w[1]} for w in pick(rng, _letter_words(shift), n)]


def spell_letters(rng: random.Random, n: int | None, shift: bool) -> list[Record]:
    words = _letter_words(shift, shift_min_len=7)
    return [{"input": w, "target": [" ".join(w), "-".join(w), ", ".join(w)]} for w in pick(rng, words, n)]


def reverse_word(rng: random.Random, n: int | None, shift: bool) -> list[Record]:
    words = [w for w in _letter_words(shift, shift_min_len=7) if w != w[::-1]]
    return [{"input": w, "target": w[::-1]} for w in pick(rng, words, n)]


def uppercase(rng: random.Random, n: int | None, shift: bool) -> list[Record]:
    words = _letter_words(shift, shift_min_len=7)
    return [{"input": w, "target": w.upper()} for w in pick(rng, words, n)]
