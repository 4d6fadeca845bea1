"""`apeopt serve`: a local model behind an OpenAI-compatible HTTP API, shared by many clients.

Endpoints: GET /v1/models, GET /health, POST /v1/completions (prompt str or list, max_tokens,
temperature, n, stop, seed, echo; ``logprobs`` with ``echo=true, max_tokens=0`` scores the prompt),
POST /v1/chat/completions (messages) and POST /apply-template (llama.cpp-style chat rendering).

One batcher thread owns the model (``apeopt.models.batcher``): HTTP threads queue their requests,
the batcher takes everything waiting and runs it as one batched ``generate``/log-prob call.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import socket
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

from apeopt.errors import UserError
from apeopt.models.base import Completion, GenerateRequest, LMBackend
from apeopt.models.batcher import MicroBatcher

log = logging.getLogger("apeopt.serve")


class HTTPError(Exception):
    def __init__(self, status: int, message: str, kind: str = "invalid_request_error") -> None:
        super().__init__(message)
        self.status, self.kind = status, kind


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    model_server: "ModelServer"

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.connections: set[socket.socket] = set()
        self.conn_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.conn_lock:
            self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.conn_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("connection from %s failed", client_address, exc_info=True)


class ModelServer:
    """An OpenAI-compatible HTTP server around ``backend``; ``start()`` serves on a thread."""

    def __init__(self, backend: LMBackend, host: str = "127.0.0.1", port: int = 0, name: str | None = None,
                 max_batch: int = 64, wait_ms: float = 5.0, key_env: str | None = None) -> None:
        self.backend = backend
        self.name = name or backend.spec
        self.names = {self.name, backend.spec}
        self.key = os.environ.get(key_env, "") if key_env else ""
        if key_env and not self.key:
            raise UserError(f"--key-env {key_env}: the environment variable {key_env} is not set")
        self.active = 0  # POST requests being handled
        self.active_lock = threading.Lock()
        self.batcher = MicroBatcher(backend, max_batch, wait_ms / 1000.0, lambda: self.active)
        try:
            self.httpd = _HTTPServer((host, port), _Handler)
        except OSError as exc:
            self.batcher.stop()
            raise UserError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
        self.httpd.model_server = self
        self.host, self.port = host, int(self.httpd.server_address[1])
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def start(self) -> "ModelServer":
        self._thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), name="apeopt-serve",
                                        daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        try:
            self.httpd.serve_forever()
        finally:
            self.close()

    def close(self) -> None:
        """Stop at once, like a killed process: listener and open connections closed mid-request."""
        if self._thread is not None:
            self.httpd.shutdown()
            self._thread.join()
            self._thread = None
        self.httpd.server_close()
        with self.httpd.conn_lock:
            conns = list(self.httpd.connections)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.batcher.stop()

    # ------------------------------------------------------------------ API
    def models(self) -> dict[str, Any]:
        card = {"id": self.name, "object": "model", "created": 0, "owned_by": "apeopt",
                "root": self.backend.identity}
        return {"object": "list", "data": [card]}

    def completions(self, body: dict[str, Any]) -> dict[str, Any]:
        self._check_model(body)
        raw = body.get("prompt")
        prompts = [raw] if isinstance(raw, str) else raw
        if not isinstance(prompts, list) or not prompts or not all(isinstance(p, str) for p in prompts):
            raise HTTPError(400, "prompt must be a string or a non-empty list of strings")
        max_tokens = _num(body, "max_tokens", int, 16)
        echo = bool(body.get("echo", False))
        if body.get("logprobs") not in (None, False, 0):
            if not echo or max_tokens != 0:
                raise HTTPError(400, "this server gives log-probabilities only for the prompt: "
                                     "set echo=true and max_tokens=0")
            if not hasattr(self.backend, "token_logprobs"):
                raise HTTPError(400, f"model {self.name!r} cannot give per-token log-probabilities")
            scored = self.batcher.submit("echo", prompts)
            choices = [{"index": i, "text": p, "logprobs": lp, "finish_reason": "length"}
                       for i, (p, lp) in enumerate(zip(prompts, scored))]
            tokens = sum(len(lp["tokens"]) for lp in scored)
            return self._answer("text_completion", choices, tokens, 0)
        if max_tokens == 0:
            choices = [{"index": i, "text": p if echo else "", "logprobs": None, "finish_reason": "length"}
                       for i, p in enumerate(prompts)]
            return self._answer("text_completion", choices, 0, 0)
        done = self._generate(prompts, body, max_tokens)
        choices = [{"index": k * len(c.texts) + j, "text": (p if echo else "") + t, "logprobs": None,
                    "finish_reason": _finish(c, max_tokens)}
                   for k, (p, c) in enumerate(zip(prompts, done)) for j, t in enumerate(c.texts)]
        return self._answer("text_completion", choices, sum(c.prompt_tokens for c in done),
                            sum(c.completion_tokens for c in done))

    def chat(self, body: dict[str, Any]) -> dict[str, Any]:
        self._check_model(body)
        if body.get("logprobs"):
            raise HTTPError(400, "logprobs are not offered for chat; use /v1/completions with echo=true")
        max_tokens = _num(body, "max_completion_tokens", int, _num(body, "max_tokens", int, 256))
        [done] = self._generate([_messages(body)], body, max_tokens)
        choices = [{"index": j, "message": {"role": "assistant", "content": t}, "logprobs": None,
                    "finish_reason": _finish(done, max_tokens)} for j, t in enumerate(done.texts)]
        return self._answer("chat.completion", choices, done.prompt_tokens, done.completion_tokens)

    def apply_template(self, body: dict[str, Any]) -> dict[str, Any]:
        return {"prompt": self.backend.render_chat(_messages(body))}

    def _generate(self, prompts: list[Any], body: dict[str, Any], max_tokens: int) -> list[Completion]:
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
        result: list[Completion] = self.batcher.submit("generate", reqs)
        return result

    def _check_model(self, body: dict[str, Any]) -> None:
        model = body.get("model")
        if model and model not in self.names:
            raise HTTPError(404, f"model {model!r} is not served here; this server serves {self.name!r}",
                            "model_not_found")

    def _answer(self, kind: str, choices: list[dict[str, Any]], prompt_tokens: int,
                completion_tokens: int) -> dict[str, Any]:
        prefix = "chatcmpl" if kind.startswith("chat") else "cmpl"
        return {"id": f"{prefix}-{uuid.uuid4().hex[:24]}", "object": kind, "created": int(time.time()),
                "model": self.name, "choices": choices,
                "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                          "total_tokens": prompt_tokens + completion_tokens}}


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


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are separate writes: no 40 ms delayed-ACK stall
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    def do_GET(self) -> None:
        ms = self.server.model_server
        path = self.path.split("?")[0].rstrip("/")
        if path in ("/v1/models", "/models"):
            self._reply(200, ms.models())
        elif path == "/health":
            self._reply(200, {"status": "ok", "batches": ms.batcher.batches, "requests": ms.batcher.requests})
        else:
            self._error(HTTPError(404, f"no such endpoint: GET {path}", "not_found"))

    def do_POST(self) -> None:
        ms = self.server.model_server
        with ms.active_lock:
            ms.active += 1
        try:
            self._post(ms)
        finally:
            with ms.active_lock:
                ms.active -= 1

    def _post(self, ms: ModelServer) -> None:
        routes: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "/v1/completions": ms.completions, "/v1/chat/completions": ms.chat,
            "/apply-template": ms.apply_template, "/v1/apply-template": ms.apply_template,
        }
        try:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            if ms.key and not hmac.compare_digest(self.headers.get("Authorization", ""), f"Bearer {ms.key}"):
                raise HTTPError(401, "missing or wrong API key", "authentication_error")
            route = routes.get(self.path.split("?")[0].rstrip("/"))
            if route is None:
                raise HTTPError(404, f"no such endpoint: POST {self.path}", "not_found")
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                raise HTTPError(400, "the request body is not valid JSON") from None
            if not isinstance(body, dict):
                raise HTTPError(400, "the request body must be a JSON object")
            self._reply(200, route(body))
        except HTTPError as exc:
            self._error(exc)
        except UserError as exc:
            self._error(HTTPError(400, str(exc)))
        except Exception as exc:  # noqa: BLE001 - the server must answer, not die
            log.exception("request failed")
            self._error(HTTPError(500, f"{type(exc).__name__}: {exc}", "server_error"))

    def _error(self, exc: HTTPError) -> None:
        self._reply(exc.status, {"error": {"message": str(exc), "type": exc.kind, "code": exc.status}})

    def _reply(self, status: int, data: dict[str, Any]) -> None:
        payload = json.dumps(data).encode("utf-8")
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except OSError:  # the client went away
            self.close_connection = True


def run_serve(model: str, host: str = "127.0.0.1", port: int = 8000, device: str = "auto",
              name: str | None = None, max_batch: int = 64, wait_ms: float = 5.0,
              key_env: str | None = None) -> None:
    """Load ``model`` and serve it until interrupted."""
    from apeopt.models.stack import open_backend

    backend = open_backend(model, device=device, use_cache=False)
    server = ModelServer(backend, host, port, name or model, max_batch, wait_ms, key_env)
    if host not in ("127.0.0.1", "localhost", "::1") and not key_env:
        print("warning: serving on a non-loopback address without --key-env: anyone who can reach it "
              "can use the model", file=sys.stderr)
    print(f"apeopt serve: {model} as {server.name!r} on {server.url} (Ctrl-C stops)", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
