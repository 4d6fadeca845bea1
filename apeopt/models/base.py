"""The LM backend interface: batched generate and batched log-probability scoring."""

from __future__ import annotations

import re
import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Sequence, Union

if TYPE_CHECKING:
    from pathlib import Path

    from apeopt.models.spec import ModelSpec

Message = tuple[str, str]  # (role, content)
Prompt = Union[str, tuple[Message, ...]]  # completion text, or chat messages


@dataclass(frozen=True)
class GenerateRequest:
    """One prompt to complete. ``prompt`` is raw text or a tuple of (role, content) messages."""

    prompt: Prompt
    max_tokens: int = 32
    temperature: float = 0.0
    n: int = 1
    stop: tuple[str, ...] = ("\n",)
    seed: int = 0

    def __post_init__(self) -> None:
        if self.max_tokens < 1:
            raise ValueError(f"max_tokens must be >= 1, got {self.max_tokens}")
        if self.n < 1:
            raise ValueError(f"n must be >= 1, got {self.n}")
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature}")
        if self.n > 1 and self.temperature == 0:
            raise ValueError("n > 1 needs temperature > 0 (greedy samples are identical)")

    @property
    def calls(self) -> int:
        """LM calls this request costs: one per sampled completion."""
        return self.n


@dataclass(frozen=True)
class Completion:
    """``n`` completions of one request, cut at the first stop string."""

    texts: tuple[str, ...]
    prompt_tokens: int
    completion_tokens: int
    # the new token ids behind each text (through any stop string or end of text), from backends
    # that know them; not part of equality, not cached
    token_ids: tuple[tuple[int, ...], ...] = field(default=(), compare=False, repr=False)

    @property
    def text(self) -> str:
        return self.texts[0]


@dataclass(frozen=True)
class LogprobRequest:
    """Score ``continuation`` as the model's next text after ``prompt``."""

    prompt: Prompt
    continuation: str

    @property
    def calls(self) -> int:
        """LM calls this request costs: one scored continuation."""
        return 1


@dataclass(frozen=True)
class LogprobResult:
    token_logprobs: tuple[float, ...]
    prompt_tokens: int = 0

    @property
    def total(self) -> float:
        return float(sum(self.token_logprobs))

    @property
    def mean(self) -> float:
        return self.total / max(1, len(self.token_logprobs))


@dataclass(frozen=True)
class TokenChoice:
    """One token and its log-probability at a position."""

    token: str
    logprob: float


@dataclass(frozen=True)
class TokenLogprobs:
    """A continuation's tokens (whose texts join to the continuation), the log-probability of each,
    and at each position the ``top`` most likely tokens, most likely first."""

    tokens: tuple[str, ...] = ()
    logprobs: tuple[float, ...] = ()
    top: tuple[tuple[TokenChoice, ...], ...] = ()

    def trimmed(self, k: int) -> "TokenLogprobs":
        """The same with at most ``k`` alternatives per position."""
        return TokenLogprobs(self.tokens, self.logprobs, tuple(alts[:k] for alts in self.top))


ScoredCompletion = tuple[Completion, tuple[TokenLogprobs, ...]]  # a completion and its texts' token log-probs


@dataclass
class Usage:
    """Counts of work actually sent to a model (cache hits are counted apart)."""

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cache_hits: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, calls: int = 0, prompt_tokens: int = 0, completion_tokens: int = 0, cache_hits: int = 0) -> None:
        with self._lock:
            self.calls += calls
            self.prompt_tokens += prompt_tokens
            self.completion_tokens += completion_tokens
            self.cache_hits += cache_hits

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def as_dict(self) -> dict[str, int]:
        return {
            "calls": self.calls,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "tokens": self.tokens,
            "cache_hits": self.cache_hits,
        }


def estimate_tokens(prompt: Prompt) -> int:
    """~4 characters a token: the count where no tokenizer is at hand (chat messages joined by newlines)."""
    text = prompt if isinstance(prompt, str) else "\n".join(content for _, content in prompt)
    return max(1, (len(text) + 3) // 4)


class LMBackend(ABC):
    """A language model that completes and scores batches of prompts.

    Implementations must be deterministic for ``temperature == 0`` and must count every
    request they actually compute in ``self.usage``.
    """

    spec: str
    usage: Usage
    gives_token_logprobs: bool = False  # implements ``generate_with_logprobs``
    counts_tokens: bool = False  # ``count_tokens`` uses the model's own tokenizer (not an estimate)

    @classmethod
    def from_spec(
        cls,
        spec: "ModelSpec",
        device: str = "auto",
        dtype: str = "auto",
        cache_dir: "str | Path | None" = None,
        trust_remote_code: bool = False,
    ) -> "LMBackend":
        """Open the model a parsed spec names (``apeopt.models.load_backend`` calls it per spec kind)."""
        raise NotImplementedError(f"{cls.__name__} cannot be opened from a model spec")

    @abstractmethod
    def generate(self, requests: Sequence[GenerateRequest]) -> list[Completion]:
        """Complete every request; the i-th result answers the i-th request."""

    @abstractmethod
    def logprob(self, requests: Sequence[LogprobRequest]) -> list[LogprobResult]:
        """Per-token log-probabilities of each continuation given its prompt."""

    def render_chat(self, messages: tuple[Message, ...]) -> str:
        """Render chat messages to the model's prompt text (with the generation prompt)."""
        raise NotImplementedError(f"{type(self).__name__} cannot render chat prompts")

    def count_tokens(self, prompt: Prompt) -> int:
        """Tokens ``prompt`` takes as the model's input (chat messages rendered by its template).
        Backends that know their tokenizer count exactly and set ``counts_tokens``; this default
        estimates ~4 characters a token (an OpenAI-compatible endpoint does not expose its tokenizer)."""
        return estimate_tokens(prompt)

    def text_pieces(self, text: str) -> list[str]:
        """``text`` cut into pieces that join to it, one per token where the backend knows its
        tokenizer (a streamed answer's chunks); here, words with their leading spaces."""
        return re.findall(r"\s*\S+|\s+", text)

    def generate_with_logprobs(self, requests: Sequence[GenerateRequest], top: int) -> list[ScoredCompletion]:
        """``generate``, and for each text the log-probability of each generated token with the
        ``top`` most likely tokens at its position (what an OpenAI server returns as ``logprobs``).
        Backends that implement it set ``gives_token_logprobs``."""
        raise NotImplementedError(f"{type(self).__name__} cannot give per-token log-probabilities")

    @property
    def identity(self) -> str:
        """A string that identifies the weights, used as a cache key."""
        return self.spec

    def base_backend(self) -> "LMBackend":
        """The backend that computes, under any caching or metering wrappers (itself here)."""
        return self


class WrappedBackend(LMBackend):
    """A backend in front of another one (the LM cache, a usage meter): the same model, spec and
    chat rendering; ``inner`` is the backend it wraps and ``base_backend()`` the one at the bottom."""

    def __init__(self, inner: LMBackend) -> None:
        self.inner = inner
        self.spec = inner.spec
        self.usage = Usage()

    def render_chat(self, messages: tuple[Message, ...]) -> str:
        return self.inner.render_chat(messages)

    def count_tokens(self, prompt: Prompt) -> int:
        return self.inner.count_tokens(prompt)

    @property
    def counts_tokens(self) -> bool:  # type: ignore[override]
        return self.inner.counts_tokens

    @property
    def identity(self) -> str:
        return self.inner.identity

    def base_backend(self) -> LMBackend:
        return self.inner.base_backend()


def cut_at_stop(text: str, stop: Sequence[str]) -> str:
    """Cut ``text`` at the earliest occurrence of any stop string."""
    cut = len(text)
    for s in stop:
        if s:
            i = text.find(s)
            if i != -1:
                cut = min(cut, i)
    return text[:cut]
