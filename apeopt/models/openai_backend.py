"""OpenAIBackend: any OpenAI-compatible endpoint (vLLM, llama.cpp server, Ollama, OpenAI, ``apeopt serve``).

Completion-text prompts go to ``/completions``, chat prompts to ``/chat/completions``; log-probs
use ``/completions`` with ``echo=true, logprobs=1, max_tokens=0`` (vLLM, ``apeopt serve``). Each
request is retried with exponential backoff on connection errors, timeouts, 5xx, 429 and malformed
JSON; every failed attempt is kept in ``failures`` and logged. The API key is read from the
environment variable ``key_env`` when a request is sent and is never stored, logged or recorded.
"""

from __future__ import annotations

import logging
import os
import random
import re
import socket
import threading
import time
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Sequence, TypeVar

import httpx

from apeopt.errors import BackendError
from apeopt.models.base import (
    Completion,
    GenerateRequest,
    LMBackend,
    LogprobRequest,
    LogprobResult,
    Message,
    Usage,
    cut_at_stop,
)
from apeopt.models.openai_spec import DEFAULT_KEY_ENV, OpenAISpec, parse_openai_spec
from apeopt.models.spec import ModelSpec

T = TypeVar("T")
ItemT = TypeVar("ItemT")
log = logging.getLogger("apeopt.models.openai")

_BEARER = re.compile(r"Bearer\s+[^\s'\",}]+", re.IGNORECASE)
RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
MAX_FAILURES_KEPT = 10_000
MAX_STOPS = 4  # OpenAI accepts at most four stop strings; the rest are applied here
ECHO_HOW = (
    "it needs /v1/completions with echo=true and logprobs to return the prompt's token log-probs, "
    "as vLLM and `apeopt serve` do"
)


@dataclass(frozen=True)
class Failure:
    """One failed attempt: when, where, which attempt, the HTTP status (if any) and what went wrong."""

    time: float
    endpoint: str
    attempt: int
    status: int | None
    error: str
    retrying: bool

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class _Unsupported(Exception):
    """The endpoint answered, but cannot do what was asked (no retry)."""


class _Malformed(Exception):
    """The response is not the JSON shape asked for (retried)."""


class _Refused(BackendError):
    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class _Cancelled(Exception):
    pass


class _RateLimiter:
    """Spaces request starts at least ``1/rps`` seconds apart across threads (``rps <= 0``: no limit)."""

    def __init__(self, rps: float) -> None:
        self.interval = 1.0 / rps if rps > 0 else 0.0
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self, cancel: threading.Event) -> None:
        if not self.interval:
            return
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + self.interval
        if start > now and cancel.wait(start - now):
            raise _Cancelled()


class OpenAIBackend(LMBackend):
    """A model behind an OpenAI-compatible HTTP API. ``failures`` lists every failed attempt."""

    def __init__(
        self,
        model: str,
        base_url: str,
        *,
        key_env: str = DEFAULT_KEY_ENV,
        timeout: float = 120.0,
        retries: int = 8,
        rps: float = 0.0,
        concurrency: int = 8,
        backoff: float = 1.0,
        max_backoff: float = 60.0,
        spec: str | None = None,
    ) -> None:
        parsed = OpenAISpec(model, base_url.rstrip("/"), key_env, timeout, retries, rps, concurrency)
        self.model_name = model
        self.base_url = parsed.base_url
        self.spec = spec or parsed.spec
        self._identity = parsed.identity
        self.key_env = key_env
        self.timeout, self.retries, self.concurrency = timeout, retries, max(1, concurrency)
        self.backoff, self.max_backoff = backoff, max_backoff
        self.usage = Usage()
        self.failures: list[Failure] = []
        self.failure_count = 0
        self._lock = threading.Lock()
        self._limiter = _RateLimiter(rps)
        # TCP_NODELAY: a request's headers and body go out as two writes; without it, Nagle's
        # algorithm and the server's delayed ACK add ~40 ms to every call.
        transport = httpx.HTTPTransport(
            limits=httpx.Limits(max_connections=self.concurrency + 2),
            socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
        )
        self._client = httpx.Client(timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)), transport=transport)
        self._pool: ThreadPoolExecutor | None = None
        self._chat_cache: dict[tuple[Message, ...], str] = {}
        self._echo_max_tokens = 0

    @classmethod
    def from_spec(
        cls,
        spec: ModelSpec,
        device: str = "auto",
        dtype: str = "auto",
        cache_dir: str | Path | None = None,
        trust_remote_code: bool = False,
        **kwargs: Any,
    ) -> "OpenAIBackend":
        """``device``, ``dtype`` and ``cache_dir`` belong to the server; they are ignored here."""
        p = parse_openai_spec(spec.spec)
        return cls(
            p.model,
            p.base_url,
            key_env=p.key_env,
            timeout=p.timeout,
            retries=p.retries,
            rps=p.rps,
            concurrency=p.concurrency,
            spec=p.spec,
            **kwargs,
        )

    @property
    def identity(self) -> str:
        return self._identity

    def __repr__(self) -> str:
        return f"OpenAIBackend({self.spec!r})"

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        self._client.close()

    # ------------------------------------------------------------------ generate
    def generate(self, requests: Sequence[GenerateRequest]) -> list[Completion]:
        return self._map(self._generate_one, requests)

    def _generate_one(self, req: GenerateRequest, cancel: threading.Event) -> Completion:
        texts: list[str] = []
        prompt_tokens = completion_tokens = 0
        while len(texts) < req.n:  # some servers (Ollama, llama.cpp) ignore n: ask again for the rest
            extra = len(texts)
            body: dict[str, Any] = {
                "model": self.model_name,
                "max_tokens": req.max_tokens,
                "temperature": req.temperature,
                "n": req.n - extra,
                "seed": req.seed + 7919 * extra,
            }
            if req.stop:
                body["stop"] = list(req.stop[:MAX_STOPS])
            chat = not isinstance(req.prompt, str)
            if isinstance(req.prompt, str):
                body["prompt"] = req.prompt
            else:
                body["messages"] = [{"role": r, "content": c} for r, c in req.prompt]
            got, pt, ct = self._post(
                "/chat/completions" if chat else "/completions", body, cancel, lambda d: _parse_choices(d, chat)
            )
            texts += [cut_at_stop(t, req.stop) for t in got]
            prompt_tokens = max(prompt_tokens, pt)
            completion_tokens += ct
        out = Completion(tuple(texts[: req.n]), prompt_tokens, completion_tokens)
        self.usage.add(calls=1, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens)
        return out

    # ------------------------------------------------------------------ logprob
    def logprob(self, requests: Sequence[LogprobRequest]) -> list[LogprobResult]:
        return self._map(self._logprob_one, requests)

    def _logprob_one(self, req: LogprobRequest, cancel: threading.Event) -> LogprobResult:
        prompt = req.prompt if isinstance(req.prompt, str) else self.render_chat(req.prompt)
        if not req.continuation:
            return LogprobResult((), 0)
        text = prompt + req.continuation
        new_tokens = self._echo_max_tokens
        body = {
            "model": self.model_name,
            "prompt": text,
            "max_tokens": new_tokens,
            "echo": True,
            "logprobs": 1,
            "temperature": 0.0,
        }
        try:
            result = self._post("/completions", body, cancel, lambda d: _parse_echo(d, text, len(prompt)))
        except _Refused as exc:
            if new_tokens == 0 and exc.status in (400, 422) and "max_tokens" in str(exc):
                self._echo_max_tokens = 1  # vLLM wants max_tokens >= 1: the one new token is ignored
                return self._logprob_one(req, cancel)
            if exc.status in (400, 404, 405, 422, 501):
                raise BackendError(
                    f"endpoint {self.base_url} cannot score log-probabilities ({ECHO_HOW}): "
                    f"{exc}; use a generation-based scorer with this model"
                ) from None
            raise
        self.usage.add(calls=1, prompt_tokens=result.prompt_tokens, completion_tokens=len(result.token_logprobs))
        return result

    def render_chat(self, messages: tuple[Message, ...]) -> str:
        """Chat messages as prompt text, rendered by the server (llama.cpp-style ``/apply-template``)."""
        with self._lock:
            if messages in self._chat_cache:
                return self._chat_cache[messages]
        root = self.base_url.removesuffix("/v1")
        body = {"messages": [{"role": r, "content": c} for r, c in messages]}
        try:
            text = self._post(root + "/apply-template", body, threading.Event(), _parse_template, absolute=True)
        except _Refused as exc:
            raise BackendError(
                f"endpoint {root} cannot render chat prompts to text (no /apply-template: {exc}), "
                "so chat prompts cannot be scored by log-probability there; use a completion "
                "template"
            ) from None
        with self._lock:
            self._chat_cache[messages] = text
        return text

    # ------------------------------------------------------------------ transport
    def _map(self, fn: Callable[[ItemT, threading.Event], T], items: Sequence[ItemT]) -> list[T]:
        """``fn`` over ``items`` on at most ``concurrency`` threads; the first error cancels the rest."""
        cancel = threading.Event()
        if len(items) <= 1 or self.concurrency == 1:
            return [fn(item, cancel) for item in items]
        if self._pool is None:
            with self._lock:
                if self._pool is None:
                    self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="apeopt-openai")
        futures: list[Future[T]] = [self._pool.submit(fn, item, cancel) for item in items]
        try:
            wait(futures, return_when=FIRST_EXCEPTION)
            failed = [f for f in futures if f.done() and not f.cancelled() and f.exception() is not None]
            if failed:
                raise failed[0].exception()  # type: ignore[misc]
            return [f.result() for f in futures]
        finally:
            cancel.set()
            for f in futures:
                f.cancel()

    def _headers(self) -> dict[str, str]:
        key = os.environ.get(self.key_env, "")
        return {"Authorization": f"Bearer {key}"} if key else {}

    def _post(
        self,
        path: str,
        body: dict[str, Any],
        cancel: threading.Event,
        parse: Callable[[Any], T],
        absolute: bool = False,
    ) -> T:
        """POST ``body`` and ``parse`` the JSON answer, retrying what may pass; raise BackendError."""
        url = path if absolute else self.base_url + path
        attempts = self.retries + 1
        for attempt in range(1, attempts + 1):
            self._limiter.wait(cancel)
            if cancel.is_set():
                raise _Cancelled()
            status: int | None = None
            wait_hint: float | None = None
            try:
                resp = self._client.post(url, json=body, headers=self._headers())
                status = resp.status_code
                if status == 200:
                    try:
                        return parse(_json(resp))
                    except (KeyError, IndexError, TypeError, AttributeError, ValueError) as exc:
                        raise _Malformed(f"unexpected JSON shape ({type(exc).__name__}: {exc})") from None
                error, retry = f"HTTP {status}: {_server_message(resp)}", status in RETRY_STATUS or status >= 500
                wait_hint = _retry_after(resp)
            except _Malformed as exc:
                error, retry = f"malformed response: {exc}", True
            except _Unsupported as exc:
                error, retry = str(exc), False
            except httpx.TimeoutException as exc:
                error, retry = f"timed out after {self.timeout:g} s ({type(exc).__name__})", True
            except httpx.RequestError as exc:
                error, retry = f"{type(exc).__name__}: {exc or 'connection failed'}", True
            error = self._scrub(error)
            final = not retry or attempt == attempts
            self._record(Failure(time.time(), url, attempt, status, error, not final))
            if final:
                raise self._final_error(url, attempt, status, error, retry)
            delay = min(self.max_backoff, self.backoff * 2 ** (attempt - 1)) * random.uniform(0.8, 1.2)
            if cancel.wait(max(delay, min(wait_hint or 0.0, self.max_backoff))):
                raise _Cancelled()
        raise AssertionError("unreachable")

    def _final_error(self, url: str, attempt: int, status: int | None, error: str, retry: bool) -> BackendError:
        if retry:
            return BackendError(f"model endpoint {url} failed {attempt} times, last: {error}")
        if status in (401, 403):
            return _Refused(
                f"model endpoint {url} refused the request: {error} (is ${self.key_env} set to a valid API key?)",
                status,
            )
        if status is not None and status != 200:
            return _Refused(f"model endpoint {url} refused the request: {error}", status)
        return BackendError(f"model endpoint {url}: {error}")

    def _scrub(self, text: str) -> str:
        key = os.environ.get(self.key_env, "")
        if len(key) >= 4:
            text = text.replace(key, "***")
        text = _BEARER.sub("Bearer ***", " ".join(text.split()))
        return text if len(text) <= 300 else text[:297] + "..."

    def _record(self, failure: Failure) -> None:
        with self._lock:
            self.failure_count += 1
            if len(self.failures) < MAX_FAILURES_KEPT:
                self.failures.append(failure)
        # Retries are warnings; the last failure is also raised as BackendError, so log it quietly.
        log.log(
            logging.WARNING if failure.retrying else logging.INFO,
            "%s attempt %d failed: %s%s",
            failure.endpoint,
            failure.attempt,
            failure.error,
            "; retrying" if failure.retrying else "",
        )


# ---------------------------------------------------------------------- parsing
def _json(resp: httpx.Response) -> Any:
    try:
        return resp.json()
    except ValueError:
        raise _Malformed(f"not JSON: {resp.text[:4000]!r}") from None


def _server_message(resp: httpx.Response) -> str:
    try:
        data = resp.json()
        err = data.get("error", data) if isinstance(data, dict) else data
        msg = err.get("message", err) if isinstance(err, dict) else err
        return str(msg)[:4000]  # cut short only after the key is scrubbed
    except ValueError:
        return resp.text[:4000] or resp.reason_phrase


def _retry_after(resp: httpx.Response) -> float | None:
    try:
        return float(resp.headers.get("retry-after", ""))
    except ValueError:
        return None


def _choices(data: Any) -> list[dict[str, Any]]:
    if not isinstance(data, dict) or not isinstance(data.get("choices"), list) or not data["choices"]:
        raise _Malformed(f"no choices in {str(data)[:4000]!r}")
    if not all(isinstance(c, dict) for c in data["choices"]):
        raise _Malformed("choices are not objects")
    return sorted(data["choices"], key=lambda c: int(c.get("index", 0)))


def _usage(data: dict[str, Any], texts: Sequence[str]) -> tuple[int, int]:
    usage = data.get("usage") if isinstance(data.get("usage"), dict) else None
    if usage is None:  # no usage reported: estimate ~4 characters per token so budgets still count
        return 0, sum(max(1, len(t) // 4) for t in texts)
    return int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)


def _parse_choices(data: Any, chat: bool) -> tuple[list[str], int, int]:
    texts = []
    for c in _choices(data):
        value = (c.get("message") or {}).get("content") if chat else c.get("text")
        if not isinstance(value, (str, type(None))):
            raise _Malformed(f"choice text is {type(value).__name__}")
        texts.append(value or "")
    pt, ct = _usage(data, texts)
    return texts, pt, ct


def _parse_echo(data: Any, text: str, prompt_chars: int) -> LogprobResult:
    """The continuation's token log-probs: echoed tokens of ``text`` that end after the prompt's
    last character (tokens generated after ``text`` are ignored)."""
    lp = _choices(data)[0].get("logprobs")
    if not isinstance(lp, dict) or not isinstance(lp.get("token_logprobs"), list):
        raise _Unsupported(f"the endpoint returned no prompt log-probabilities ({ECHO_HOW})")
    values, offsets = lp["token_logprobs"], lp.get("text_offset")
    if not isinstance(offsets, list) or len(offsets) != len(values) or not values or offsets[0] != 0:
        raise _Unsupported(f"the endpoint did not echo the prompt's log-probabilities ({ECHO_HOW})")
    try:
        starts = [int(o) for o in offsets]
        ends = starts[1:] + [max(len(text), starts[-1] + 1)]
        picked = [v for v, a, b in zip(values, starts, ends) if a < len(text) and b > prompt_chars]
        if any(v is None for v in picked):
            raise _Unsupported("the endpoint gives no log-probability for the first token; score a non-empty prompt")
        return LogprobResult(tuple(float(v) for v in picked), sum(1 for a in starts if a < len(text)) - len(picked))
    except (TypeError, ValueError):
        raise _Malformed("logprobs hold values that are not numbers") from None


def _parse_template(data: Any) -> str:
    if not isinstance(data, dict) or not isinstance(data.get("prompt"), str):
        raise _Malformed("/apply-template answer has no prompt text")
    return str(data["prompt"])
