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

import math
import threading
import time
import uuid
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Union

from apeopt.models.base import Completion, GenerateRequest, LMBackend, Prompt, TokenLogprobs
from apeopt.models.batcher import MicroBatcher
from apeopt.serving.limits import ServeLimits
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

    def __init__(
        self,
        backend: LMBackend,
        batcher: MicroBatcher,
        name: str,
        default_max_tokens: int = DEFAULT_MAX_TOKENS,
        limits: ServeLimits | None = None,
    ) -> None:
        self.backend, self.batcher, self.name = backend, batcher, name
        self.names = {name, backend.spec}
        self.limits = limits or ServeLimits()
        self.default_max_tokens = min(default_max_tokens, self.limits.max_tokens)
        self._local = threading.local()

    @contextmanager
    def watching(self, gone: Callable[[], bool]) -> Iterator[None]:
        """Requests answered in the block (on this thread) are cancelled once ``gone()``: the client left."""
        self._local.gone = gone
        try:
            yield
        finally:
            self._local.gone = None

    def _submit(self, kind: str, items: list[Any]) -> list[Any]:
        return self.batcher.submit(kind, items, gone=getattr(self._local, "gone", None))

    def models(self) -> dict[str, Any]:
        card = {"id": self.name, "object": "model", "created": 0, "owned_by": "apeopt", "root": self.backend.identity}
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
        if len(prompts) > self.limits.max_prompts:
            raise HTTPError(
                400, f"{len(prompts)} prompts in one request is over this server's cap of {self.limits.max_prompts}"
            )
        max_tokens = self._max_tokens(body, "max_tokens", self.default_max_tokens)
        echo = _flag(body, "echo")
        top = _completion_top(body)
        if echo and top is not None:
            return self._answer("text_completion", self._echo_scores(prompts, max_tokens), body)
        if max_tokens == 0:
            choices = [Choice(i, p if echo else "", "length") for i, p in enumerate(prompts)]
            return self._answer("text_completion", (choices, 0, 0), body)
        done = self._generate(prompts, body, max_tokens, top)
        choices = [
            Choice(k * len(c.texts) + j, (p if echo else "") + t, _finish(c, max_tokens), lp)
            for k, (p, (c, lps)) in enumerate(zip(prompts, done))
            for j, (t, lp) in enumerate(zip(c.texts, lps))
        ]
        return self._answer(
            "text_completion",
            (choices, sum(c.prompt_tokens for c, _ in done), sum(c.completion_tokens for c, _ in done)),
            body,
        )

    def _echo_scores(self, prompts: list[str], max_tokens: int) -> tuple[list[Choice], int, int]:
        """``echo=true`` with ``logprobs``: the prompt's own token log-probs (nothing generated)."""
        if max_tokens != 0:
            raise HTTPError(
                400,
                "echo=true with logprobs scores the prompt only: set max_tokens=0 "
                "(or echo=false for the log-probabilities of generated tokens)",
            )
        if not hasattr(self.backend, "token_logprobs"):
            raise HTTPError(400, f"model {self.name!r} cannot give per-token log-probabilities")
        self._check_prompt_tokens(prompts)
        scored = self._submit("echo", prompts)
        choices = [Choice(i, p, "length", echo=lp) for i, (p, lp) in enumerate(zip(prompts, scored))]
        return choices, sum(len(lp["tokens"]) for lp in scored), 0

    # ------------------------------------------------------------------ chat
    def chat(self, body: dict[str, Any]) -> Reply:
        self._check_model(body)
        _check_response_format(body)
        top = _chat_top(body)
        max_tokens = self._max_tokens(
            body, "max_completion_tokens", self._max_tokens(body, "max_tokens", self.default_max_tokens)
        )
        messages = _messages(body)
        self._check_prompt_tokens(["\n".join(content for _, content in messages)])  # the template adds a few more
        [(done, lps)] = self._generate([messages], body, max_tokens, top)
        choices = [Choice(j, t, _finish(done, max_tokens), lp) for j, (t, lp) in enumerate(zip(done.texts, lps))]
        return self._answer("chat.completion", (choices, done.prompt_tokens, done.completion_tokens), body)

    # ------------------------------------------------------------------ shared
    def _generate(
        self, prompts: list[Prompt], body: dict[str, Any], max_tokens: int, top: int | None
    ) -> list[tuple[Completion, tuple[TokenLogprobs | None, ...]]]:
        """Each prompt's completion, and per text its tokens' log-probs with ``top`` alternatives
        (None each when ``top`` is None: log-probs not asked for)."""
        stop = body.get("stop") or ()
        stop = (stop,) if isinstance(stop, str) else stop
        if not isinstance(stop, (list, tuple)) or not all(isinstance(s, str) for s in stop):
            raise HTTPError(400, "stop must be a string or a list of strings")
        n = _num(body, "n", int, 1)
        if n > self.limits.max_n:
            raise HTTPError(400, f"n={n} is over this server's cap of {self.limits.max_n} choices per prompt")
        if all(isinstance(p, str) for p in prompts):
            self._check_prompt_tokens([p for p in prompts if isinstance(p, str)])
        _flag(body, "stream")
        try:
            reqs = [
                GenerateRequest(
                    p,
                    max_tokens=max_tokens,
                    temperature=_num(body, "temperature", float, 1.0),
                    n=n,
                    stop=tuple(stop),
                    seed=_num(body, "seed", int, 0),
                )
                for p in prompts
            ]
        except ValueError as exc:
            raise HTTPError(400, str(exc)) from None
        if top is None:
            done: list[Completion] = self._submit("generate", reqs)
            return [(c, (None,) * len(c.texts)) for c in done]
        if not self.backend.gives_token_logprobs:
            raise HTTPError(400, f"model {self.name!r} cannot give per-token log-probabilities")
        scored: list[tuple[Completion, tuple[TokenLogprobs, ...]]] = self._submit("scored", [(r, top) for r in reqs])
        return [(c, tuple(fit_to_text(lp, t) for lp, t in zip(lps, c.texts))) for c, lps in scored]

    def _max_tokens(self, body: dict[str, Any], name: str, default: int) -> int:
        value = _num(body, name, int, default)
        if value < 0:
            raise HTTPError(400, f"{name} must be >= 0, got {value!r}")
        if value > self.limits.max_tokens:
            raise HTTPError(
                400, f"{name}={value} is over this server's cap of {self.limits.max_tokens} tokens per request"
            )
        return int(value)

    def _check_prompt_tokens(self, texts: list[str]) -> None:
        cap = self.limits.max_prompt_tokens
        for text in texts:
            if len(text) <= cap:  # a token is at least one character: short texts need no count
                continue
            count = _count_tokens(self.backend, text)
            if count > cap:
                raise HTTPError(400, f"a prompt of {count} tokens is over this server's cap of {cap} tokens")

    def _check_model(self, body: dict[str, Any]) -> None:
        model = body.get("model")
        if model is not None and not isinstance(model, str):
            raise HTTPError(400, f"model must be a string, got {type(model).__name__}")
        if model and model not in self.names:
            raise HTTPError(
                404, f"model {model!r} is not served here; this server serves {self.name!r}", "model_not_found"
            )

    def _answer(self, kind: str, result: tuple[list[Choice], int, int], body: dict[str, Any]) -> Reply:
        choices, prompt_tokens, completion_tokens = result
        chat = kind.startswith("chat")
        head = {
            "id": f"{'chatcmpl' if chat else 'cmpl'}-{uuid.uuid4().hex[:24]}",
            "object": kind,
            "created": int(time.time()),
            "model": self.name,
        }
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }
        if body.get("stream"):
            options = body.get("stream_options")
            with_usage = isinstance(options, dict) and bool(options.get("include_usage"))
            make = chat_stream if chat else completion_stream
            return make(head, choices, usage if with_usage else None, self.backend.text_pieces)
        if chat:
            rows = [
                {
                    "index": c.index,
                    "message": {"role": "assistant", "content": c.text},
                    "logprobs": None if c.lp is None else chat_logprobs(c.lp),
                    "finish_reason": c.finish_reason,
                }
                for c in choices
            ]
        else:
            rows = [
                {
                    "index": c.index,
                    "text": c.text,
                    "finish_reason": c.finish_reason,
                    "logprobs": c.echo if c.echo is not None else None if c.lp is None else completion_logprobs(c.lp),
                }
                for c in choices
            ]
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
    raise HTTPError(
        400,
        f"response_format {kind!r} is not offered: this server does not constrain decoding to "
        "JSON; leave response_format out (or use type 'text') and ask for JSON in the prompt",
    )


def _num(body: dict[str, Any], name: str, kind: type, default: Any) -> Any:
    value = body.get(name)
    if value is None:
        return default
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or (kind is int and value != int(value))
    ):
        raise HTTPError(400, f"{name} must be a number{' (whole)' if kind is int else ''}, got {_shown(value)}")
    return kind(value)


def _flag(body: dict[str, Any], name: str) -> bool:
    value = body.get(name)
    if value is not None and not isinstance(value, bool):
        raise HTTPError(400, f"{name} must be true or false, got {_shown(value)}")
    return bool(value)


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:39] + "…"


def _count_tokens(backend: Any, text: str) -> int:
    """Tokens of ``text`` by the model's tokenizer, else an estimate of one per 4 characters."""
    tok = getattr(backend, "tokenizer", None)
    if tok is not None:
        try:
            return len(tok(text, add_special_tokens=False)["input_ids"])
        except Exception:  # noqa: BLE001 - a tokenizer that does not take this call: estimate
            pass
    return len(text) // 4 + 1


def _messages(body: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    msgs = body.get("messages")
    if not isinstance(msgs, list) or not msgs or not all(isinstance(m, dict) for m in msgs):
        raise HTTPError(400, "messages must be a non-empty list of {role, content} objects")
    out = []
    for m in msgs:
        content, role = m.get("content") or "", m.get("role", "user")
        if isinstance(content, list):  # [{"type": "text", "text": ...}, ...]
            content = "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
        if not isinstance(content, str) or not isinstance(role, str):
            raise HTTPError(400, "each message needs a text role and a text content (or a list of text parts)")
        out.append((role, content))
    return tuple(out)


def _finish(c: Completion, max_tokens: int) -> str:
    return "length" if c.completion_tokens >= max_tokens * len(c.texts) else "stop"
