"""Number generators: number words, sum, difference, larger number.

In distribution: numbers up to 3 digits (0-999 for number words, 0-99 for arithmetic).
Shifted: longer numbers (4-5 digits for number words, 3-4 digits for arithmetic,
5-6 digits for larger_number).
"""

from __future__ import annotations

import random

from apeopt.tasks.generators.common import NotEnoughData, Record, inflect_engine, unique

DEFAULT_N = 400
DEFAULT_SHIFT_N = 100


def number_words(n: int) -> list[str]:
    """Accepted English spellings of ``n``, canonical (American, no "and") first."""
    p = inflect_engine()
    forms: list[str] = []
    for andword in ("", "and"):
        with_commas = p.number_to_words(n, andword=andword)
        for text in (with_commas.replace(",", ""), with_commas):
            for variant in (text, text.replace("-", " ")):
                if variant not in forms:
                    forms.append(variant)
    return forms


def _n(n: int | None, shift: bool) -> int:
    return n if n is not None else (DEFAULT_SHIFT_N if shift else DEFAULT_N)


def number_to_words(rng: random.Random, n: int | None, shift: bool) -> list[Record]:
    lo, hi = (1000, 99999) if shift else (0, 999)
    count = _n(n, shift)
    if count > hi - lo + 1:
        raise NotEnoughData(f"only {hi - lo + 1} distinct numbers in {lo}..{hi}, asked for n={count}")
    return [{"input": str(k), "target": number_words(k)} for k in rng.sample(range(lo, hi + 1), count)]


def _pair_range(shift: bool) -> tuple[int, int]:
    return (100, 9999) if shift else (0, 99)


def sum_task(rng: random.Random, n: int | None, shift: bool) -> list[Record]:
    lo, hi = _pair_range(shift)

    def make(r: random.Random) -> Record:
        a, b = r.randint(lo, hi), r.randint(lo, hi)
        return {"input": f"{a} {b}", "target": str(a + b)}

    return unique(rng, make, _n(n, shift))


def difference(rng: random.Random, n: int | None, shift: bool) -> list[Record]:
    """First number minus the second; the first is never smaller."""
    lo, hi = _pair_range(shift)

    def make(r: random.Random) -> Record:
        a, b = sorted((r.randint(lo, hi), r.randint(lo, hi)), reverse=True)
        return {"input": f"{a} {b}", "target": str(a - b)}

    return unique(rng, make, _n(n, shift))


def larger_number(rng: random.Random, n: int | None, shift: bool) -> list[Record]:
    lo, hi = (10000, 999999) if shift else (0, 99)

    def make(r: random.Random) -> Record:
        a, b = r.sample(range(lo, hi + 1), 2)
        return {"input": f"{a} {b}", "target": str(max(a, b))}

    return unique(rng, make, _n(n, shift))
