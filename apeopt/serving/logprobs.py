"""OpenAI's log-probability shapes for generated tokens, from a backend's ``TokenLogprobs``.

Completions (``logprobs=N``): ``{tokens, token_logprobs, top_logprobs: [{token: logprob}], text_offset}``
where each ``top_logprobs`` entry holds the N likeliest tokens and the chosen one (up to N + 1; fewer
when tokens have the same text, e.g. parts of one multi-byte character).
Chat (``logprobs=true, top_logprobs=N``): ``{content: [{token, logprob, bytes, top_logprobs:
[{token, logprob, bytes}]}], refusal: null}``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from apeopt.models.base import TokenLogprobs


def fit_to_text(lp: TokenLogprobs, text: str) -> TokenLogprobs:
    """``lp`` with token texts that join to ``text``: a first token that merged with the prompt's
    last characters loses them."""
    joined = "".join(lp.tokens)
    excess = len(joined) - len(text)
    if excess <= 0 or not joined.endswith(text):
        return lp
    tokens = list(lp.tokens)
    for i, tok in enumerate(tokens):
        cut = min(excess, len(tok))
        tokens[i], excess = tok[cut:], excess - cut
        if excess == 0:
            break
    return dataclasses.replace(lp, tokens=tuple(tokens))


def part(lp: TokenLogprobs, start: int, end: int) -> TokenLogprobs:
    """Tokens ``start:end`` of ``lp`` (a streamed chunk's share)."""
    return TokenLogprobs(lp.tokens[start:end], lp.logprobs[start:end], lp.top[start:end])


def completion_logprobs(lp: TokenLogprobs, offset: int = 0) -> dict[str, Any]:
    """The legacy completions ``logprobs`` object; ``text_offset`` counts from ``offset``."""
    offsets, pos = [], offset
    for tok in lp.tokens:
        offsets.append(pos)
        pos += len(tok)
    tops = []
    for tok, value, alts in zip(lp.tokens, lp.logprobs, lp.top):
        entry: dict[str, float] = {}
        for a in alts:  # likeliest first: tokens whose texts coincide keep the likeliest
            entry.setdefault(a.token, a.logprob)
        entry.setdefault(tok, value)
        tops.append(entry)
    return {
        "tokens": list(lp.tokens),
        "token_logprobs": list(lp.logprobs),
        "top_logprobs": tops,
        "text_offset": offsets,
    }


def chat_logprobs(lp: TokenLogprobs) -> dict[str, Any]:
    """The chat completions ``logprobs`` object."""
    content = [
        {
            "token": tok,
            "logprob": value,
            "bytes": list(tok.encode("utf-8")),
            "top_logprobs": [
                {"token": a.token, "logprob": a.logprob, "bytes": list(a.token.encode("utf-8"))} for a in alts
            ],
        }
        for tok, value, alts in zip(lp.tokens, lp.logprobs, lp.top)
    ]
    return {"content": content, "refusal": None}
