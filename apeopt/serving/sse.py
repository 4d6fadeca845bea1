"""Server-Sent Events: an answer sent as OpenAI stream chunks, then ``data: [DONE]``.

The answer is computed first (one batched model call, like a non-streamed request), then sent as
one chunk per token (``LMBackend.text_pieces``; with log-probs, their tokens): clients that stream get the same
text, in the chunk shape they parse, but the first chunk comes when the whole answer is ready.
Chat streams open with a ``role`` delta and end each choice with an empty delta carrying its
``finish_reason``; ``stream_options.include_usage`` adds a last chunk with ``usage`` and no choices.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from apeopt.models.base import TokenLogprobs
from apeopt.serving.logprobs import chat_logprobs, completion_logprobs, part

Split = Callable[[str], list[str]]  # text -> pieces joining to it (``LMBackend.text_pieces``)


@dataclass
class Choice:
    """One finished choice of an answer: its text, why it ended, and its tokens' log-probs (when
    asked for: ``lp`` for generated tokens, ``echo`` for a scored prompt's legacy object)."""

    index: int
    text: str
    finish_reason: str
    lp: TokenLogprobs | None = None
    echo: dict[str, Any] | None = None


@dataclass
class Stream:
    """An answer to send as SSE: its chunks in order (``data: [DONE]`` follows them)."""

    chunks: list[dict[str, Any]] = field(default_factory=list)

    def encoded(self) -> Iterator[bytes]:
        for chunk in self.chunks:
            yield f"data: {json.dumps(chunk)}\n\n".encode("utf-8")
        yield b"data: [DONE]\n\n"


def pieces(choice: Choice, split: Split) -> list[tuple[str, TokenLogprobs | None]]:
    """The chunk texts of a choice (joining to its text) and each chunk's log-probs."""
    lp = choice.lp
    if lp is not None and lp.tokens and "".join(lp.tokens) == choice.text:
        return [(tok, part(lp, i, i + 1)) for i, tok in enumerate(lp.tokens)]
    if lp is not None:
        return [(choice.text, lp)]  # token texts that do not join to the text: one chunk
    return [(piece, None) for piece in split(choice.text)]


def completion_stream(
    head: dict[str, Any], choices: list[Choice], usage: dict[str, int] | None, split: Split
) -> Stream:
    """``text_completion`` chunks: each choice's pieces, then its ``finish_reason``."""
    out = Stream()

    def chunk(index: int, text: str, logprobs: Any, finish: str | None) -> None:
        out.chunks.append(
            {**head, "choices": [{"index": index, "text": text, "logprobs": logprobs, "finish_reason": finish}]}
        )

    for c in choices:
        if c.echo is not None:
            chunk(c.index, c.text, c.echo, None)
        else:
            offset = 0
            for text, lp in pieces(c, split):
                chunk(c.index, text, None if lp is None else completion_logprobs(lp, offset), None)
                offset += len(text)
        chunk(c.index, "", None, c.finish_reason)
    if usage is not None:
        out.chunks.append({**head, "choices": [], "usage": usage})
    return out


def chat_stream(head: dict[str, Any], choices: list[Choice], usage: dict[str, int] | None, split: Split) -> Stream:
    """``chat.completion.chunk`` chunks: a role delta, content deltas, then an empty delta with the
    ``finish_reason``, per choice."""
    out = Stream()
    head = {**head, "object": "chat.completion.chunk"}

    def chunk(index: int, delta: dict[str, Any], logprobs: Any, finish: str | None) -> None:
        out.chunks.append(
            {**head, "choices": [{"index": index, "delta": delta, "logprobs": logprobs, "finish_reason": finish}]}
        )

    for c in choices:
        chunk(c.index, {"role": "assistant", "content": ""}, None, None)
        for text, lp in pieces(c, split):
            chunk(c.index, {"content": text}, None if lp is None else chat_logprobs(lp), None)
        chunk(c.index, {}, None, c.finish_reason)
    if usage is not None:
        out.chunks.append({**head, "choices": [], "usage": usage})
    return out
