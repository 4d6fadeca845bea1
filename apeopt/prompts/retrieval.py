"""Retrieved demonstrations: for each input, its k nearest examples from a demo pool (Okapi BM25).

Terms are the lower-cased word tokens of a text plus the character 3-grams of each word (with
boundary marks), so that inputs of one word ("running", "unhappy") still find their lexical
neighbours ("jumping", "unkind"), and sentences match on shared words. The ranking is exact and
deterministic in pure Python (ties go to the earlier pool entry), so a prompt file that carries
its pool and these settings renders the same prompts, and reproduces its score, on any machine.
The most similar demo is placed last, next to the query (Liu et al. 2022, "What Makes Good
In-Context Examples for GPT-3?").
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from apeopt.errors import UserError

KINDS = ("bm25",)
ORDERS = ("nearest_last", "nearest_first")
_WORD = re.compile(r"\w+", re.UNICODE)


def terms(text: str) -> list[str]:
    """Word tokens and the character 3-grams of each word (``#word#`` marks its boundaries)."""
    out: list[str] = []
    for word in _WORD.findall(text.lower()):
        out.append("w:" + word)
        padded = f"#{word}#"
        out += ["c:" + padded[i : i + 3] for i in range(max(1, len(padded) - 2))]
    return out


@dataclass(frozen=True)
class Retriever:
    """How a prompt picks its demos per input: ``k`` nearest pool entries by ``kind``."""

    k: int = 8
    kind: str = "bm25"
    order: str = "nearest_last"
    k1: float = 1.5
    b: float = 0.75

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise UserError(f"retriever field 'kind' must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if self.order not in ORDERS:
            raise UserError(f"retriever field 'order' must be one of {', '.join(ORDERS)}, got {self.order!r}")
        if isinstance(self.k, bool) or not isinstance(self.k, int) or self.k < 1:
            raise UserError(f"retriever field 'k' must be an integer >= 1, got {self.k!r}")

    def to_dict(self) -> dict[str, Any]:
        return {"k": self.k, "kind": self.kind, "order": self.order, "k1": self.k1, "b": self.b}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "retriever") -> "Retriever":
        if not isinstance(data, Mapping):
            raise UserError(f"{where}: expected an object, got {type(data).__name__}")
        known = {"k", "kind", "order", "k1", "b"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise UserError(f"{where}: unknown field {unknown[0]!r} (valid: {', '.join(sorted(known))})")
        return cls(**dict(data))


class BM25Index:
    """Okapi BM25 over a fixed list of documents."""

    def __init__(self, docs: Sequence[str], k1: float = 1.5, b: float = 0.75) -> None:
        self.k1, self.b = k1, b
        self.docs = tuple(docs)
        self.tf = [Counter(terms(d)) for d in docs]
        self.lengths = [sum(tf.values()) for tf in self.tf]
        self.avg = (sum(self.lengths) / len(self.lengths)) if self.lengths else 0.0
        df: Counter[str] = Counter()
        self.postings: dict[str, list[int]] = {}
        for i, tf in enumerate(self.tf):
            for t in tf:
                df[t] += 1
                self.postings.setdefault(t, []).append(i)
        n = len(docs)
        self.idf = {t: math.log(1 + (n - f + 0.5) / (f + 0.5)) for t, f in df.items()}

    def scores(self, query: str) -> dict[int, float]:
        out: dict[int, float] = {}
        for t, qf in Counter(terms(query)).items():
            idf = self.idf.get(t)
            if idf is None:
                continue
            for i in self.postings[t]:
                f = self.tf[i][t]
                norm = self.k1 * (1 - self.b + self.b * self.lengths[i] / (self.avg or 1.0))
                out[i] = out.get(i, 0.0) + qf * idf * f * (self.k1 + 1) / (f + norm)
        return out

    def top(self, query: str, k: int, exclude: str | None = None) -> list[int]:
        """Indices of the ``k`` best documents, best first; ties and non-matches by index.
        ``exclude``: leave out documents equal to this text (a train example retrieving for itself)."""
        s = self.scores(query)
        order = sorted(range(len(self.docs)), key=lambda i: (-s.get(i, 0.0), i))
        if exclude is not None:
            order = [i for i in order if self.docs[i] != exclude]
        return order[:k]


def retrieve(index: BM25Index, query: str, retriever: Retriever, exclude_self: bool = False) -> list[int]:
    """Pool indices of the demos for ``query``, in prompt order (nearest last unless told otherwise)."""
    picked = index.top(query, retriever.k, exclude=query if exclude_self else None)
    return picked[::-1] if retriever.order == "nearest_last" else picked
