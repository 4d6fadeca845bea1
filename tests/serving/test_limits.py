"""`apeopt serve` against hostile or careless clients: every cap gets its documented answer (with the
official `openai` client and raw HTTP), nothing of a body is read before the key and size pass, a client
that leaves stops its generation, and a normal request right after is served promptly."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any, Iterator, Sequence

import httpx
import openai
import pytest

from apeopt.models.abort import aborted, aborting
from apeopt.models.base import Completion, GenerateRequest, LMBackend, LogprobRequest, LogprobResult, Usage
from apeopt.serving import ModelServer
from apeopt.serving.limits import ServeLimits

KEY = "sk-limits-test-key"


class SlowLM(LMBackend):
    """Makes one token per 5 ms (checking ``aborted()`` like the HF decoding loop); 'boom' raises."""

    spec = "slow"

    def __init__(self) -> None:
        self.usage = Usage()
        self.made: list[int] = []  # tokens made per call

    def generate(self, requests: Sequence[GenerateRequest]) -> list[Completion]:
        if any(r.prompt == "boom" for r in requests):
            raise RuntimeError("secret internal detail /home/user/.ssh/id_rsa")
        most = max(r.max_tokens for r in requests)
        made = 0
        while made < most and not aborted():
            time.sleep(0.005)
            made += 1
        self.made.append(made)
        return [Completion(tuple(" x" * min(made, r.max_tokens) for _ in range(r.n)), 1, made) for r in requests]

    def logprob(self, requests: Sequence[LogprobRequest]) -> list[LogprobResult]:
        raise NotImplementedError


@pytest.fixture()
def slow(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[ModelServer, SlowLM]]:
    monkeypatch.setenv("APEOPT_LIMITS_KEY", KEY)
    lm = SlowLM()
    limits = ServeLimits(max_tokens=4000, max_n=4, max_prompts=8, max_prompt_tokens=50, max_body_bytes=10_000,
                         read_timeout=0.5)
    srv = ModelServer(lm, name="slow", key_env="APEOPT_LIMITS_KEY", limits=limits).start()
    yield srv, lm
    srv.close()


def client(srv: ModelServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=srv.url, api_key=KEY, max_retries=0, timeout=10)


def served_promptly(srv: ModelServer, within: float = 2.0) -> None:
    """A normal 2-token request right after is answered within ``within`` seconds."""
    started = time.monotonic()
    got = client(srv).completions.create(model="slow", prompt="hi", max_tokens=2)
    assert got.choices[0].text == " x x" and time.monotonic() - started < within


def raw(srv: ModelServer, head: bytes, body: bytes = b"", wait: float = 5.0) -> tuple[bytes, float]:
    """Send ``head`` (and ``body``) on a raw socket; the reply and how long it took."""
    sock = socket.create_connection((srv.host, srv.port), timeout=wait)
    started = time.monotonic()
    try:
        sock.sendall(head + body)
        data = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except (socket.timeout, ConnectionResetError):
                break
            if not chunk:
                break
            data += chunk
            if b"\r\n\r\n" in data and b'"error"' in data and data.rstrip().endswith(b"}}"):
                break
        return data, time.monotonic() - started
    finally:
        sock.close()


def head(length: int | str, key: str = KEY, path: str = "/v1/completions") -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAuthorization: Bearer {key}\r\n"
            f"Content-Length: {length}\r\n\r\n").encode()


@pytest.mark.parametrize("kwargs, fragment", [
    ({"max_tokens": 100_000}, "max_tokens=100000 is over this server's cap of 4000"),
    ({"max_tokens": 2, "n": 2000, "temperature": 1.0}, "n=2000 is over this server's cap of 4"),
    ({"max_tokens": 2, "prompt": "word " * 400}, "over this server's cap of 50 tokens"),
    ({"max_tokens": 2, "prompt": ["a"] * 9}, "9 prompts in one request is over this server's cap of 8"),
    ({"max_tokens": -1}, "max_tokens must be >= 0"),
    ({"max_tokens": 2.5}, "max_tokens must be a number (whole)"),
    ({"max_tokens": 2, "stream": "yes"}, "stream must be true or false"),
])
def test_caps_with_the_openai_client(slow: tuple[ModelServer, SlowLM], kwargs: dict[str, Any], fragment: str) -> None:
    srv, lm = slow
    args = {"model": "slow", "prompt": "hi", **kwargs}
    with pytest.raises(openai.BadRequestError) as err:
        client(srv).completions.create(**args)
    assert err.value.status_code == 400 and fragment in str(err.value)
    assert lm.made == []  # refused before any generation
    served_promptly(srv)


def test_chat_caps_and_types(slow: tuple[ModelServer, SlowLM]) -> None:
    srv, _ = slow
    c = client(srv)
    with pytest.raises(openai.BadRequestError, match="max_completion_tokens=9999 is over"):
        c.chat.completions.create(model="slow", messages=[{"role": "user", "content": "hi"}], max_completion_tokens=9999)
    for body, fragment in [({"model": ["slow"], "prompt": "hi"}, "model must be a string"),
                           ({"messages": [{"role": "user", "content": 5}]}, "text role and a text content"),
                           ({"messages": [{"role": "user", "content": "hi"}], "temperature": "hot"}, "temperature must be a number")]:
        path = "/v1/chat/completions" if "messages" in body else "/v1/completions"
        resp = httpx.post(srv.url.removesuffix("/v1") + path, json=body, headers={"Authorization": f"Bearer {KEY}"})
        assert resp.status_code == 400 and fragment in resp.json()["error"]["message"], resp.text
    served_promptly(srv)


def test_oversized_body_refused_from_content_length_before_reading(slow: tuple[ModelServer, SlowLM]) -> None:
    srv, _ = slow
    reply, took = raw(srv, head(50 * 1024 * 1024))  # announces 50 MB, sends none of it
    assert reply.startswith(b"HTTP/1.1 413") and b"over this server's cap of 10000 bytes" in reply and took < 2
    with pytest.raises(openai.APIStatusError) as err:  # and a client that does send it gets the 413 too
        client(srv).completions.create(model="slow", prompt="x" * 20_000, max_tokens=2)
    assert err.value.status_code == 413
    served_promptly(srv)


def test_key_checked_before_the_body_and_bad_lengths(slow: tuple[ModelServer, SlowLM]) -> None:
    srv, _ = slow
    reply, took = raw(srv, head(5000, key="wrong"))  # a body is announced but never sent
    assert reply.startswith(b"HTTP/1.1 401") and took < 2
    assert httpx.get(srv.url + "/models").status_code == 401  # the model list needs the key too
    assert httpx.get(srv.url + "/models", headers={"Authorization": f"Bearer {KEY}"}).json()["data"][0]["id"] == "slow"
    for length in ("-1", "abc", "1e9"):
        reply, took = raw(srv, head(length))
        assert reply.startswith(b"HTTP/1.1 400") and b"Content-Length must be" in reply and took < 2, reply
    served_promptly(srv)


def test_a_client_that_stops_sending_is_dropped_after_the_read_timeout(slow: tuple[ModelServer, SlowLM]) -> None:
    srv, _ = slow
    started = time.monotonic()
    reply, _ = raw(srv, head(100), body=b'{"prompt": ', wait=10)  # 100 bytes announced, 11 sent
    assert reply == b"" and time.monotonic() - started < 3  # closed after the 0.5 s read timeout
    served_promptly(srv)


def test_dropped_streaming_client_stops_its_generation(slow: tuple[ModelServer, SlowLM]) -> None:
    srv, lm = slow
    body = {"model": "slow", "prompt": "long", "max_tokens": 4000, "stream": True}  # 20 s of generation
    with httpx.Client(timeout=10) as h:
        with pytest.raises(httpx.ReadTimeout):
            with h.stream("POST", srv.url + "/completions", json=body, headers={"Authorization": f"Bearer {KEY}"},
                          timeout=httpx.Timeout(10, read=0.3)) as resp:
                resp.read()
    # the client gave up and closed its connection: the generation stops, the next request is served at once
    served_promptly(srv, within=2.0)
    assert lm.made[0] < 1000, lm.made
    impatient = openai.OpenAI(base_url=srv.url, api_key=KEY, max_retries=0, timeout=0.3)  # the official client
    with pytest.raises(openai.APITimeoutError):
        for _ in impatient.completions.create(model="slow", prompt="long", max_tokens=4000, stream=True):
            pass
    impatient.close()
    served_promptly(srv, within=2.0)
    assert len(lm.made) == 4 and lm.made[2] < 1000, lm.made


def test_errors_are_generic_with_a_request_id(slow: tuple[ModelServer, SlowLM], caplog: pytest.LogCaptureFixture) -> None:
    srv, _ = slow
    with caplog.at_level("ERROR", logger="apeopt.serve"):
        with pytest.raises(openai.InternalServerError) as err:
            client(srv).completions.create(model="slow", prompt="boom", max_tokens=2)
    message = str(err.value)
    assert "request id" in message and "id_rsa" not in message and "RuntimeError" not in message
    rid = message.split("request id ")[1][:12]
    assert any(rid in r.getMessage() for r in caplog.records)  # the details are in the server log
    assert "id_rsa" in caplog.text
    served_promptly(srv)


def test_hf_decoding_stops_when_aborted(tiny_backend: LMBackend) -> None:
    """The real decoding loops end once every requester has gone."""
    req = GenerateRequest("Numbers 0 1 2", max_tokens=40, stop=())
    with aborting(lambda: True):
        got = tiny_backend.generate([req])[0]
    assert got.completion_tokens <= 1


def test_limits_are_validated() -> None:
    from apeopt.errors import UserError

    with pytest.raises(UserError, match="max_n"):
        ServeLimits(max_n=0)
    with pytest.raises(UserError, match="read_timeout"):
        ServeLimits(read_timeout=float("nan"))
