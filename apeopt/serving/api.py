"""The OpenAI-compatible API of ``apeopt serve``: request checks and answers, model access through
the micro-batcher (:mod:`apeopt.models.batcher`).

- ``/v1/completions``: prompt (a string or a list), max_tokens, temperature, n, stop, seed, echo,
  stream; ``logprobs=N`` gives each generated token's log-prob with the N likeliest tokens at its
  position; ``echo=true, max_tokens=0`` with ``logprobs`` scores the prompt instead.
- ``/v1/chat/completions``: messages, max_tokens / max_completion_tokens, temperature, n, stop,
  seed, stream, ``logprobs=true`` (with ``top_logprobs=N``).
- ``response_format`` other than ``{"type": "text"}`` is refused with 400: decoding is not
  constrained to JSON here.
- A request without max_tokens may generate up to ``default_max_tokens`` (1024) tokens: normal
  answers end at the model's end of text well before that.
"""

from __future__ import annotations

import time
import uuid
from typing import Any, Union

from apeopt.models.base import Completion, GenerateRequest, LMBackend, Prompt, TokenLogprobs
from apeopt.models.batcher import MicroBatcher
from apeopt.serving.logprobs import chat_logprobs, completion_logprobs, fit_to_text
from apeopt.serving.sse import Choice, Stream, chat_stream, completion_stream

DEFAULT_MAX_TOKENS = 1024
MAX_TOP_LOGPROBS = 20
Reply = Union[dict[str, Any], Stream]


class HTTPError(Exception):
    def __init__(self, status: int, message: str, kind: str = "invalid_request_error") -> None:
        super().__init__(message)
        self.status, self.kind = status, kind


class OpenAIApi:
    """Answers OpenAI-shaped requests with ``backend``, whose calls go through ``batcher``."""

    def __init__(self, backend: LMBackend, batcher: MicroBatcher, name: str,
                 default_max_tokens: int = DEFAULT_MAX_TOKENS) -> None:
        self.backend, self.batcher, self.name = backend, batcher, name
        self.names = {name, backend.spec}
        self.default_max_tokens = default_max_tokens

    def models(self) -> dict[str, Any]:
        card = {"id": self.name, "object": "model", "created": 0, "owned_by": "apeopt",
                "root": self.backend.identity}
        return {"object": "list", "data": [card]}

    def apply_template(self, body: dict[str, Any]) -> dict[str, Any]:
        return {"prompt": self.backend.render_chat(_messages(body))}

    # ------------------------------------------------------------------ completions
    def completions(self, body: dict[str, Any]) -> Reply:
        self._check_model(body)
        _check_response_format(body)
        raw = body.get("prompt")
        prompts = [raw] if isinstance(raw, str) else raw
        if not isinstance(prompts, list) or not prompts or not all(isinstance(p, str) for p in prompts):
            raise HTTPError(400, "prompt must be a string or a non-empty list of strings")
        max_tokens = _num(body, "max_tokens", int, self.default_max_tokens)
        echo = bool(body.get("echo", False))
        top = _completion_top(body)
        if echo and top is not None:
            return self._answer("text_completion", self._echo_scores(prompts, max_tokens), body)
        if max_tokens == 0:
            choices = [Choice(i, p if echo else "", "length") for i, p in enumerate(prompts)]
            return self._answer("text_completion", (choices, 0, 0), body)
        done = self._generate(prompts, body, max_tokens, top)
        choices = [Choice(k * len(c.texts) + j, (p if echo else "") + t, _finish(c, max_tokens), lp)
                   for k, (p, (c, lps)) in enumerate(zip(prompts, done)) for j, (t, lp) in enumerate(zip(c.texts, lps))]
        return self._answer("text_completion", (choices, sum(c.prompt_tokens for c, _ in done),
                                                sum(c.completion_tokens for c, _ in done)), body)

    def _echo_scores(self, prompts: list[str], max_tokens: int) -> tuple[list[Choice], int, int]:
        """``echo=true`` with ``logprobs``: the prompt's own token log-probs (nothing generated)."""
        if max_tokens != 0:
            raise HTTPError(400, "echo=true with logprobs scores the prompt only: set max_tokens=0 "
                                 "(or echo=false for the log-probabilities of generated tokens)")
        if not hasattr(self.backend, "token_logprobs"):
            raise HTTPError(400, f"model {self.name!r} cannot give per-token log-probabilities")
        scored = self.batcher.submit("echo", prompts)
        choices = [Choice(i, p, "length", echo=lp) for i, (p, lp) in enumerate(zip(prompts, scored))]
        return choices, sum(len(lp["tokens"]) for lp in scored), 0

    # ------------------------------------------------------------------ chat
    def chat(self, body: dict[str, Any]) -> Reply:
        self._check_model(body)
        _check_response_format(body)
        top = _chat_top(body)
        max_tokens = _num(body, "max_completion_tokens", int, _num(body, "max_tokens", int, self.default_max_tokens))
        [(done, lps)] = self._generate([_messages(body)], body, max_tokens, top)
        choices = [Choice(j, t, _finish(done, max_tokens), lp) for j, (t, lp) in enumerate(zip(done.texts, lps))]
        return self._answer("chat.completion", (choices, done.prompt_tokens, done.completion_tokens), body)

    # ------------------------------------------------------------------ shared
    def _generate(self, prompts: list[Prompt], body: dict[str, Any], max_tokens: int,
                  top: int | None) -> list[tuple[Completion, tuple[TokenLogprobs | None, ...]]]:
        """Each prompt's completion, and per text its tokens' log-probs with ``top`` alternatives
        (None each when ``top`` is None: log-probs not asked for)."""
        stop = body.get("stop") or ()
        stop = (stop,) if isinstance(stop, str) else stop
        if not isinstance(stop, (list, tuple)) or not all(isinstance(s, str) for s in stop):
            raise HTTPError(400, "stop must be a string or a list of strings")
        try:
            reqs = [GenerateRequest(p, max_tokens=max_tokens, temperature=_num(body, "temperature", float, 1.0),
                                    n=_num(body, "n", int, 1), stop=tuple(stop), seed=_num(body, "seed", int, 0))
                    for p in prompts]
        except ValueError as exc:
            raise HTTPError(400, str(exc)) from None
        if top is None:
            done: list[Completion] = self.batcher.submit("generate", reqs)
            return [(c, (None,) * len(c.texts)) for c in done]
        if not self.backend.gives_token_logprobs:
            raise HTTPError(400, f"model {self.name!r} cannot give per-token log-probabilities")
        scored: list[tuple[Completion, tuple[TokenLogprobs, ...]]] = self.batcher.submit("scored", [(r, top) for r in reqs])
        return [(c, tuple(fit_to_text(lp, t) for lp, t in zip(lps, c.texts))) for c, lps in scored]

    def _check_model(self, body: dict[str, Any]) -> None:
        model = body.get("model")
        if model and model not in self.names:
            raise HTTPError(404, f"model {model!r} is not served here; this server serves {self.name!r}",
                            "model_not_found")

    def _answer(self, kind: str, result: tuple[list[Choice], int, int], body: dict[str, Any]) -> Reply:
        choices, prompt_tokens, completion_tokens = result
        chat = kind.startswith("chat")
        head = {"id": f"{'chatcmpl' if chat else 'cmpl'}-{uuid.uuid4().hex[:24]}", "object": kind,
                "created": int(time.time()), "model": self.name}
        usage = {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                 "total_tokens": prompt_tokens + completion_tokens}
        if body.get("stream"):
            options = body.get("stream_options")
            with_usage = isinstance(options, dict) and bool(options.get("include_usage"))
            make = chat_stream if chat else completion_stream
            return make(head, choices, usage if with_usage else None, self.backend.text_pieces)
        if chat:
            rows = [{"index": c.index, "message": {"role": "assistant", "content": c.text},
                     "logprobs": None if c.lp is None else chat_logprobs(c.lp), "finish_reason": c.finish_reason}
                    for c in choices]
        else:
            rows = [{"index": c.index, "text": c.text, "finish_reason": c.finish_reason,
                     "logprobs": c.echo if c.echo is not None else None if c.lp is None else completion_logprobs(c.lp)}
                    for c in choices]
        return {**head, "choices": rows, "usage": usage}


def _completion_top(body: dict[str, Any]) -> int | None:
    """``logprobs`` of a completions request: None (off) or how many alternatives per token."""
    value = body.get("logprobs")
    if value is None or value is False:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_TOP_LOGPROBS:
        raise HTTPError(400, f"logprobs must be an integer from 0 to {MAX_TOP_LOGPROBS}, got {value!r}")
    return value


def _chat_top(body: dict[str, Any]) -> int | None:
    """``logprobs``/``top_logprobs`` of a chat request: None (off) or how many alternatives per token."""
    on, top = body.get("logprobs"), body.get("top_logprobs")
    if on not in (None, True, False):
        raise HTTPError(400, f"logprobs must be true or false on chat completions, got {on!r}")
    if top is not None and (isinstance(top, bool) or not isinstance(top, int) or not 0 <= top <= MAX_TOP_LOGPROBS):
        raise HTTPError(400, f"top_logprobs must be an integer from 0 to {MAX_TOP_LOGPROBS}, got {top!r}")
    if not on:
        if top:
            raise HTTPError(400, "top_logprobs needs logprobs=true")
        return None
    return int(top or 0)


def _check_response_format(body: dict[str, Any]) -> None:
    fmt = body.get("response_format")
    kind = fmt.get("type") if isinstance(fmt, dict) else fmt
    if fmt is None or kind == "text":
        return
    raise HTTPError(400, f"response_format {kind!r} is not offered: this server does not constrain decoding to "
                         "JSON; leave response_format out (or use type 'text') and ask for JSON in the prompt")


def _num(body: dict[str, Any], name: str, kind: type, default: Any) -> Any:
    value = body.get(name)
    if value is None:
        return default
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise HTTPError(400, f"{name} must be a number, got {value!r}") from None


def _messages(body: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    msgs = body.get("messages")
    if not isinstance(msgs, list) or not msgs or not all(isinstance(m, dict) for m in msgs):
        raise HTTPError(400, "messages must be a non-empty list of {role, content} objects")
    out = []
    for m in msgs:
        content = m.get("content") or ""
        if isinstance(content, list):  # [{"type": "text", "text": ...}, ...]
            content = "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
        out.append((str(m.get("role", "user")), str(content)))
    return tuple(out)


def _finish(c: Completion, max_tokens: int) -> str:
    return "length" if c.completion_tokens >= max_tokens * len(c.texts) else "stop"
