"""What one request to ``apeopt serve`` may ask for, so that a hostile or careless client cannot stall
the server for everyone: caps on generated tokens, choices, prompts, prompt tokens and body size, and
how long a client may take to send its request. Each is an ``apeopt serve`` option."""

from __future__ import annotations

from dataclasses import dataclass

from apeopt.errors import UserError


@dataclass(frozen=True)
class ServeLimits:
    """Caps of one request (a request over a cap gets a 400, a body over ``max_body_bytes`` a 413)."""

    max_tokens: int = 2048  # max_tokens / max_completion_tokens of one request
    max_n: int = 16  # choices per prompt
    max_prompts: int = 64  # prompts in one completions request
    max_prompt_tokens: int = 8192  # tokens of one prompt (or of a chat's rendered messages)
    max_body_bytes: int = 4 * 1024 * 1024  # request body, checked from Content-Length before reading
    read_timeout: float = 30.0  # seconds a client may take to send its request (and between bytes)

    def __post_init__(self) -> None:
        for name in ("max_tokens", "max_n", "max_prompts", "max_prompt_tokens", "max_body_bytes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise UserError(f"serve limit {name} must be a whole number >= 1, got {value!r}")
        if not 0 < self.read_timeout < float("inf"):
            raise UserError(f"serve limit read_timeout must be a number of seconds > 0, got {self.read_timeout!r}")
