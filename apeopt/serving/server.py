"""The HTTP side of ``apeopt serve``: a threaded server whose handlers answer with
:class:`apeopt.serving.api.OpenAIApi` (JSON, or Server-Sent Events for ``stream=true``).

Endpoints: GET /v1/models, GET /health, POST /v1/completions, POST /v1/chat/completions and
POST /apply-template (llama.cpp-style chat rendering). One batcher thread owns the model
(``apeopt.models.batcher``): HTTP threads queue their requests, the batcher takes everything
waiting and runs it as one batched call.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import socket
import select
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

from apeopt.errors import UserError
from apeopt.models.base import LMBackend
from apeopt.models.batcher import MicroBatcher, RequesterGone
from apeopt.serving.api import DEFAULT_MAX_TOKENS, HTTPError, OpenAIApi, Reply
from apeopt.serving.limits import ServeLimits
from apeopt.serving.sse import Stream

log = logging.getLogger("apeopt.serve")


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

    def __init__(
        self,
        backend: LMBackend,
        host: str = "127.0.0.1",
        port: int = 0,
        name: str | None = None,
        max_batch: int = 64,
        wait_ms: float = 5.0,
        key_env: str | None = None,
        default_max_tokens: int = DEFAULT_MAX_TOKENS,
        limits: ServeLimits | None = None,
    ) -> None:
        self.backend = backend
        self.name = name or backend.spec
        self.key = os.environ.get(key_env, "") if key_env else ""
        if key_env and not self.key:
            raise UserError(f"--key-env {key_env}: the environment variable {key_env} is not set")
        self.active = 0  # POST requests being handled
        self.active_lock = threading.Lock()
        self.batcher = MicroBatcher(backend, max_batch, wait_ms / 1000.0, lambda: self.active)
        self.limits = limits or ServeLimits()
        if default_max_tokens > self.limits.max_tokens:
            self.batcher.stop()
            raise UserError(f"--max-tokens {default_max_tokens} is over --max-tokens-cap {self.limits.max_tokens}")
        self.api = OpenAIApi(backend, self.batcher, self.name, default_max_tokens, self.limits)
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
        self._thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), name="apeopt-serve", daemon=True)
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


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are separate writes: no 40 ms delayed-ACK stall
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(
            self.server.model_server.limits.read_timeout
        )  # a client that stops sending is dropped

    def _client_gone(self) -> bool:
        """The client closed its connection (while its request waits or generates)."""
        try:
            ready, _, _ = select.select([self.connection], [], [], 0)
            return bool(ready) and self.connection.recv(1, socket.MSG_PEEK) == b""
        except (OSError, ValueError):
            return True

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    def do_GET(self) -> None:
        ms = self.server.model_server
        path = self.path.split("?")[0].rstrip("/")
        if path in ("/v1/models", "/models"):
            if ms.key and not hmac.compare_digest(self.headers.get("Authorization", ""), f"Bearer {ms.key}"):
                return self._error(HTTPError(401, "missing or wrong API key", "authentication_error"))
            self._reply(200, ms.api.models())
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
        routes: dict[str, Callable[[dict[str, Any]], Reply]] = {
            "/v1/completions": ms.api.completions,
            "/v1/chat/completions": ms.api.chat,
            "/apply-template": ms.api.apply_template,
            "/v1/apply-template": ms.api.apply_template,
        }
        try:
            # The key first, then the size from Content-Length: nothing of the body is read before both pass.
            if ms.key and not hmac.compare_digest(self.headers.get("Authorization", ""), f"Bearer {ms.key}"):
                self.close_connection = True
                raise HTTPError(401, "missing or wrong API key", "authentication_error")
            length = self._content_length(ms.limits.max_body_bytes)
            route = routes.get(self.path.split("?")[0].rstrip("/"))
            if route is None:
                self.close_connection = True
                raise HTTPError(404, f"no such endpoint: POST {self.path.split('?')[0][:100]}", "not_found")
            try:
                raw = self.rfile.read(length) if length else b""
            except OSError:  # the client stopped sending (read timeout) or went away
                self.close_connection = True
                return
            if len(raw) < length:
                self.close_connection = True
                return
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                raise HTTPError(400, "the request body is not valid JSON") from None
            if not isinstance(body, dict):
                raise HTTPError(400, "the request body must be a JSON object")
            with ms.api.watching(self._client_gone):
                reply = route(body)
        except HTTPError as exc:
            return self._error(exc)
        except RequesterGone:
            self.close_connection = True
            log.info("request %s %s: the client left; its generation was stopped", self.command, self.path)
            return
        except UserError as exc:
            return self._error(HTTPError(400, str(exc)))
        except Exception:  # noqa: BLE001 - the server must answer, not die; details only in the log
            rid = uuid.uuid4().hex[:12]
            log.exception("request %s failed", rid)
            return self._error(
                HTTPError(500, f"internal error (request id {rid}); the server log has the details", "server_error")
            )
        if isinstance(reply, Stream):
            self._stream(reply)
        else:
            self._reply(200, reply)

    def _content_length(self, cap: int) -> int:
        """The body size announced by Content-Length: a 400 when it is not a number >= 0 (or the body is
        chunked), a 413 over ``cap``; the connection is closed after either, unread."""
        raw = self.headers.get("Content-Length")
        if raw is None:
            if self.headers.get("Transfer-Encoding"):
                self.close_connection = True
                raise HTTPError(411, "send the body with a Content-Length (chunked bodies are not accepted)")
            return 0
        if not raw.strip().isdigit():
            self.close_connection = True
            raise HTTPError(400, "Content-Length must be a whole number >= 0")
        length = int(raw)
        if length > cap:
            self.close_connection = True
            raise HTTPError(
                413, f"the request body of {length} bytes is over this server's cap of {cap} bytes", "request_too_large"
            )
        return length

    def _error(self, exc: HTTPError) -> None:
        self._reply(exc.status, {"error": {"message": str(exc), "type": exc.kind, "code": exc.status}})

    def _reply(self, status: int, data: dict[str, Any]) -> None:
        payload = json.dumps(data).encode("utf-8")
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(payload)
            if self.close_connection:
                self._linger()
        except OSError:  # the client went away
            self.close_connection = True

    def _linger(self, seconds: float = 1.0, most: int = 64 * 1024 * 1024) -> None:
        """Before closing on an unread body: stop writing and discard what the client still sends for a
        moment, so that it reads the error instead of a reset connection (the body is never kept)."""
        import time

        self.wfile.flush()
        self.connection.shutdown(socket.SHUT_WR)
        deadline, got = time.monotonic() + seconds, 0
        self.connection.settimeout(0.2)
        while time.monotonic() < deadline and got < most:
            try:
                chunk = self.connection.recv(65536)
            except OSError:
                break
            if not chunk:
                break
            got += len(chunk)

    def _stream(self, stream: Stream) -> None:
        """``text/event-stream`` in HTTP/1.1 chunked encoding (the connection stays open after)."""
        try:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for event in stream.encoded():
                self.wfile.write(b"%x\r\n%s\r\n" % (len(event), event))
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except OSError:  # the client went away
            self.close_connection = True
