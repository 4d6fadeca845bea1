"""Answer normalization shared by the text scorers (SQuAD-style)."""

from __future__ import annotations

import re
import string

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = str.maketrans("", "", string.punctuation)


def normalize(text: str) -> str:
    """Lowercase, drop punctuation and articles, collapse whitespace."""
    text = text.lower().translate(_PUNCT)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def normalize_light(text: str) -> str:
    """Lowercase, strip surrounding punctuation and collapse whitespace (keeps articles)."""
    return " ".join(text.lower().strip().strip(string.punctuation + " ").split())
