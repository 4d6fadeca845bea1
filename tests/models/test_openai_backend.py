"""OpenAIBackend against `apeopt serve` on loopback (tiny Llama) and against misbehaving stubs."""

from __future__ import annotations

import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterator, Sequence

import pytest

from apeopt.commands.serve import ModelServer
from apeopt.errors import BackendError, UserError
from apeopt.models import load_backend, parse_spec
from apeopt.models.base import Completion, GenerateRequest, LMBackend, LogprobRequest, LogprobResult, Usage
from apeopt.models.openai_backend import OpenAIBackend

PROMPTS = ["Input: cat\nOutput:", "hello", "The quick brown fox jumps over the lazy dog. A stitch in",
           "Classify the sentiment: I loved it!", "Numbers 0 1 2", "user: hello there\nassistant:"]
CHAT = (("system", "Answer briefly."), ("user", "hello there"))
SECRET = "sk-test-9f8e7d6c5b4a-never-write-me"

Reply = tuple[int, str]


class Stub:
    """A loopback HTTP server answering every POST with ``respond(path, body, headers)``."""

    def __init__(self, respond: Callable[[str, dict[str, Any], dict[str, str]], Reply]) -> None:
        self.seen: list[tuple[str, dict[str, Any], dict[str, str]]] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                headers = dict(self.headers.items())
                stub.seen.append((self.path, body, headers))
                status, text = respond(self.path, body, headers)
                data = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture()
def stub() -> Iterator[Callable[..., Stub]]:
    made: list[Stub] = []

    def make(respond: Callable[[str, dict[str, Any], dict[str, str]], Reply]) -> Stub:
        made.append(Stub(respond))
        return made[-1]

    yield make
    for s in made:
        s.close()


@pytest.fixture(scope="module")
def server(tiny_backend: LMBackend) -> Iterator[ModelServer]:
    srv = ModelServer(tiny_backend, name="tiny").start()
    yield srv
    srv.close()


@pytest.fixture()
def local(tiny_backend: LMBackend) -> Iterator[LMBackend]:
    tiny_backend.usage = Usage()
    yield tiny_backend
    tiny_backend.usage = Usage()


def fast(url: str, **kw: Any) -> OpenAIBackend:
    return OpenAIBackend("tiny", url, **{"retries": 2, "backoff": 0.02, "max_backoff": 0.2, **kw})


def one_line(exc: pytest.ExceptionInfo[BaseException]) -> str:
    text = str(exc.value)
    assert "\n" not in text and "Traceback" not in text
    return text


# ---------------------------------------------------------------- against apeopt serve
def test_greedy_generate_equals_local(server: ModelServer, local: LMBackend) -> None:
    reqs = [GenerateRequest(p, max_tokens=6, stop=((), ("\n", " "))[i % 2]) for i, p in enumerate(PROMPTS)]
    want = local.generate(reqs)
    remote = fast(server.url, concurrency=4)
    assert remote.generate(reqs) == want
    assert remote.usage.calls == len(reqs)
    assert remote.usage.tokens == sum(c.prompt_tokens + c.completion_tokens for c in want) > 0
    assert remote.failures == []


def test_chat_generate_equals_local(server: ModelServer, local: LMBackend) -> None:
    reqs = [GenerateRequest(CHAT, max_tokens=8, stop=()), GenerateRequest(CHAT[1:], max_tokens=5, stop=("\n",))]
    assert fast(server.url).generate(reqs) == local.generate(reqs)


def test_sampling_n_equals_local(server: ModelServer, local: LMBackend) -> None:
    reqs = [GenerateRequest(p, max_tokens=6, temperature=1.0, n=3, seed=s, stop=()) for s, p in enumerate(PROMPTS[:3])]
    got = fast(server.url, concurrency=3).generate(reqs)
    assert all(len(c.texts) == 3 and len(set(c.texts)) > 1 for c in got)
    assert got == local.generate(reqs)  # per-request seeds: the same samples, batched or not


def test_logprob_equals_local_via_echo(server: ModelServer, local: LMBackend) -> None:
    reqs = [LogprobRequest(p, c) for p in PROMPTS[:4] for c in [" cats", "positive", "\n\nInput: dog"]]
    reqs += [LogprobRequest(CHAT, "hi, how can I help?"), LogprobRequest("hello", "")]
    want = local.logprob(reqs)
    got = fast(server.url, concurrency=4).logprob(reqs)
    for g, w in zip(got, want, strict=True):
        assert len(g.token_logprobs) == len(w.token_logprobs)
        assert g.token_logprobs == pytest.approx(w.token_logprobs, abs=1e-4)
        assert g.prompt_tokens == w.prompt_tokens or not w.token_logprobs


def test_spec_loads_everywhere(server: ModelServer) -> None:
    backend = load_backend(f"openai:tiny@{server.url}/?timeout=30&retries=1&rps=50&concurrency=2")
    assert isinstance(backend, OpenAIBackend)
    assert backend.identity == f"openai:tiny@{server.url}"  # transport options never change cache keys
    assert backend.spec == f"openai:tiny@{server.url}?concurrency=2&retries=1&rps=50&timeout=30"
    assert (backend.retries, backend.concurrency, backend.timeout) == (1, 2, 30.0)
    assert backend.generate([GenerateRequest("hello", max_tokens=3)])[0].completion_tokens > 0
    backend.close()


@pytest.mark.parametrize("spec, fragment", [
    ("openai:gpt-4o-mini", "openai:<model>@<base_url>"),
    ("openai:@http://x/v1", "empty model name"),
    ("openai:m@ftp://x/v1", "openai:<model>@<base_url>"),
    ("openai:m@http://x/v1?retries=many", "retries must be a number"),
    ("openai:m@http://x/v1?colour=red", "unknown option 'colour'"),
    ("openai:m@http://x/v1?api_key=" + SECRET, "not accepted in specs"),
    ("openai:m@http://user:" + SECRET + "@x/v1", "credentials are not accepted"),
])
def test_bad_specs_are_one_line_errors(spec: str, fragment: str) -> None:
    with pytest.raises(UserError) as info:
        parse_spec(spec)
    text = one_line(info)
    assert fragment in text and "hf:<local dir or hub id>" in text and SECRET not in text


def test_rate_limit_spaces_requests(server: ModelServer) -> None:
    remote = fast(server.url, rps=20.0, concurrency=4)
    start = time.monotonic()
    remote.generate([GenerateRequest(p, max_tokens=2) for p in PROMPTS])
    assert time.monotonic() - start >= 5 / 20.0 * 0.95  # six starts, at least 1/20 s apart


class _Slow(LMBackend):
    """The tiny backend, slowed down so a kill lands mid-run."""

    def __init__(self, inner: LMBackend) -> None:
        self.inner, self.spec, self.usage = inner, inner.spec, Usage()

    def generate(self, requests: Sequence[GenerateRequest]) -> list[Completion]:
        time.sleep(0.05)
        return self.inner.generate(requests)

    def logprob(self, requests: Sequence[LogprobRequest]) -> list[LogprobResult]:
        return self.inner.logprob(requests)


def test_killed_server_client_waits_and_completes(local: LMBackend, caplog: pytest.LogCaptureFixture) -> None:
    reqs = [GenerateRequest(p, max_tokens=6, stop=()) for p in PROMPTS * 2]
    want = local.generate(reqs)
    first = ModelServer(_Slow(local), name="tiny", max_batch=1).start()
    port = first.port
    remote = fast(first.url, concurrency=2, retries=8, backoff=0.05, max_backoff=0.4)
    out: list[Any] = []
    client = threading.Thread(target=lambda: out.append(remote.generate(reqs)))
    caplog.set_level(logging.WARNING, "apeopt.models.openai")
    client.start()
    while first.batcher.requests < 2:
        time.sleep(0.005)
    first.close()  # like kill -9: listener and open connections closed mid-run
    time.sleep(0.6)
    assert client.is_alive() and remote.failures, "the client must be waiting and retrying"
    second = ModelServer(_Slow(local), port=port, name="tiny").start()
    try:
        client.join(timeout=30)
        assert out and out[0] == want
    finally:
        second.close()
    f = remote.failures[0]
    assert f.endpoint.endswith("/v1/completions") and f.retrying and f.status is None and f.error
    assert f.time > 0 and all(x.attempt >= 1 for x in remote.failures)
    assert any("attempt" in r.message and "retrying" in r.message for r in caplog.records)


# ---------------------------------------------------------------- misbehaving endpoints
def test_malformed_json_is_recorded_then_backend_error(stub: Callable[..., Stub]) -> None:
    bad = stub(lambda path, body, headers: (200, '{"choices": [ {"text": "unterminated'))
    remote = fast(bad.url, retries=2)
    with pytest.raises(BackendError) as info:
        remote.generate([GenerateRequest("hello", max_tokens=3)])
    text = one_line(info)
    assert "failed 3 times" in text and "malformed" in text and bad.url in text
    assert len(bad.seen) == 3 and [f.attempt for f in remote.failures] == [1, 2, 3]
    assert [f.retrying for f in remote.failures] == [True, True, False]
    assert all("malformed" in f.error and f.status == 200 for f in remote.failures)


def test_wrong_shape_and_5xx_are_retried_until_good(stub: Callable[..., Stub]) -> None:
    answers = iter([(503, '{"error": {"message": "loading"}}'), (200, '{"result": 1}'),
                    (429, "slow down"), (200, json.dumps({"choices": [{"index": 0, "text": "ok\nmore"}]}))])
    flaky = stub(lambda path, body, headers: next(answers))
    remote = fast(flaky.url, retries=3)
    [c] = remote.generate([GenerateRequest("hello", max_tokens=3, stop=("\n",))])
    assert c.texts == ("ok",) and c.completion_tokens == 1  # no usage reported: estimated
    assert [f.status for f in remote.failures] == [503, 200, 429]
    assert "loading" in remote.failures[0].error and "no choices" in remote.failures[1].error


def test_odd_json_shapes_are_malformed_not_crashes(stub: Callable[..., Stub]) -> None:
    odd = stub(lambda path, body, headers: (200, '{"choices": [{"index": 0, "message": "not an object"}]}'))
    with pytest.raises(BackendError, match="malformed response: unexpected JSON shape") as info:
        fast(odd.url, retries=1).generate([GenerateRequest(CHAT, max_tokens=2)])
    one_line(info)
    assert len(odd.seen) == 2 and odd.seen[0][0] == "/v1/chat/completions"


def test_client_errors_are_not_retried(stub: Callable[..., Stub]) -> None:
    refuse = stub(lambda path, body, headers: (404, '{"error": {"message": "model \'tiny\' not found"}}'))
    remote = fast(refuse.url)
    with pytest.raises(BackendError, match="refused the request: HTTP 404: model 'tiny' not found") as info:
        remote.generate([GenerateRequest("a", max_tokens=2), GenerateRequest("b", max_tokens=2)])
    one_line(info)
    assert len(refuse.seen) <= 2 and not remote.failures[0].retrying


@pytest.mark.parametrize("logprobs, fragment", [
    (None, "no prompt log-probabilities"),  # logprobs ignored
    ({"tokens": ["!"], "token_logprobs": [-0.5], "text_offset": [23]}, "did not echo"),  # generated token only
])
def test_endpoint_without_prompt_logprobs_says_so(stub: Callable[..., Stub], logprobs: Any, fragment: str) -> None:
    plain = stub(lambda path, body, headers: (200, json.dumps(
        {"choices": [{"index": 0, "text": "!", "logprobs": logprobs}]})))
    with pytest.raises(BackendError) as info:
        fast(plain.url).logprob([LogprobRequest("Input: cat\nOutput:", " cats")])
    text = one_line(info)
    assert plain.url in text and fragment in text and "echo=true" in text
    assert len(plain.seen) == 1  # not retried


def vllm_like(path: str, body: dict[str, Any], headers: dict[str, str]) -> Reply:
    """Rejects max_tokens=0; echoes one token per character (log-prob -index) plus one new token."""
    if body["max_tokens"] < 1:
        return 400, '{"error": {"message": "max_tokens must be at least 1, got 0."}}'
    text = body["prompt"]
    lp = {"tokens": list(text) + ["Z"], "token_logprobs": [None] + [-float(i) for i in range(1, len(text) + 1)],
          "text_offset": list(range(len(text) + 1))}
    return 200, json.dumps({"choices": [{"index": 0, "text": text + "Z", "logprobs": lp}],
                            "usage": {"prompt_tokens": len(text), "completion_tokens": 1}})


def test_vllm_style_echo_needs_one_new_token(stub: Callable[..., Stub]) -> None:
    vllm = stub(vllm_like)
    remote = fast(vllm.url)
    got = remote.logprob([LogprobRequest("abc", "de"), LogprobRequest("x", "yz")])
    assert [r.token_logprobs for r in got] == [(-3.0, -4.0), (-1.0, -2.0)]  # the new token "Z" is ignored
    assert [r.prompt_tokens for r in got] == [3, 1]
    vllm.seen.clear()
    assert remote.logprob([LogprobRequest("abc", "d")])[0].token_logprobs == (-3.0,)
    assert [b["max_tokens"] for _, b, _ in vllm.seen] == [1]  # learnt once, then max_tokens=1


def test_endpoint_rejecting_echo_and_chat_template(stub: Callable[..., Stub]) -> None:
    no = stub(lambda path, body, headers: (400 if "completions" in path else 404,
                                           '{"error": {"message": "echo is not supported"}}'))
    with pytest.raises(BackendError, match=r"cannot score log-probabilities .*echo is not supported") as info:
        fast(no.url).logprob([LogprobRequest("x", " y")])
    one_line(info)
    with pytest.raises(BackendError, match="cannot render chat prompts") as info:
        fast(no.url).logprob([LogprobRequest(CHAT, " y")])
    one_line(info)


# ---------------------------------------------------------------- the API key
def test_api_key_is_sent_but_never_recorded(stub: Callable[..., Stub], monkeypatch: pytest.MonkeyPatch,
                                            caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("APEOPT_TEST_KEY", SECRET)
    echo_auth = stub(lambda path, body, headers: (500, json.dumps({"error": {"message": f"bad {headers}"}})))
    remote = fast(echo_auth.url, key_env="APEOPT_TEST_KEY", retries=1)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(BackendError) as info:
        remote.generate([GenerateRequest("hello", max_tokens=2)])
    assert echo_auth.seen[0][2]["Authorization"] == f"Bearer {SECRET}"
    recorded = json.dumps([f.as_dict() for f in remote.failures]) + caplog.text + str(info.value) + repr(remote)
    assert "***" in recorded and SECRET not in recorded
    deny = stub(lambda path, body, headers: (401, '{"error": {"message": "invalid key"}}'))
    with pytest.raises(BackendError, match=r"\$APEOPT_TEST_KEY") as info:
        fast(deny.url, key_env="APEOPT_TEST_KEY").generate([GenerateRequest("hello", max_tokens=2)])
    assert SECRET not in str(info.value) and len(deny.seen) == 1
