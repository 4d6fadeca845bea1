"""`apeopt serve`: OpenAI-shaped answers, micro-batching, errors, the CLI, kill -9 and the API key."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Iterator, Sequence

import httpx
import pytest

from apeopt.cli import main
from apeopt.serving import ModelServer
from apeopt.models.base import Completion, GenerateRequest, LMBackend, LogprobRequest, LogprobResult, Usage
from apeopt.models.openai_backend import OpenAIBackend

ROOT = Path(__file__).resolve().parents[2]
SECRET = "sk-serve-test-0a1b2c3d4e5f-do-not-store"


@pytest.fixture(scope="module")
def server(tiny_backend: LMBackend) -> Iterator[ModelServer]:
    srv = ModelServer(tiny_backend, name="tiny").start()
    yield srv
    srv.close()


def post(server: ModelServer, path: str, body: Any, **kw: Any) -> httpx.Response:
    return httpx.post(server.url.removesuffix("/v1") + path, json=body, timeout=30, **kw)


def test_models_and_health(server: ModelServer, tiny_backend: LMBackend) -> None:
    models = httpx.get(server.url + "/models").json()
    assert models["object"] == "list" and models["data"][0]["id"] == "tiny"
    assert models["data"][0]["root"] == tiny_backend.identity
    assert httpx.get(server.url.removesuffix("/v1") + "/health").json()["status"] == "ok"


def test_completions_list_n_and_usage(server: ModelServer, tiny_backend: LMBackend) -> None:
    body: dict[str, Any] = {"model": "tiny", "prompt": ["hello", "Numbers 0 1 2"], "max_tokens": 5,
                            "temperature": 0.8, "n": 2, "seed": 3, "stop": None}
    data = post(server, "/v1/completions", body).json()
    assert data["object"] == "text_completion" and [c["index"] for c in data["choices"]] == [0, 1, 2, 3]
    want = tiny_backend.generate([GenerateRequest(p, max_tokens=5, temperature=0.8, n=2, seed=3, stop=())
                                  for p in body["prompt"]])
    assert [c["text"] for c in data["choices"]] == [t for c in want for t in c.texts]
    usage = data["usage"]
    assert usage["prompt_tokens"] == sum(c.prompt_tokens for c in want)
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_echo_logprobs_shape(server: ModelServer) -> None:
    text = "Input: cat\nOutput: cats"
    body = {"prompt": text, "max_tokens": 0, "echo": True, "logprobs": 1}
    choice = post(server, "/v1/completions", body).json()["choices"][0]
    lp = choice["logprobs"]
    assert choice["text"] == text and "".join(lp["tokens"]) == text
    assert lp["token_logprobs"][0] is None and all(v < 0 for v in lp["token_logprobs"][1:])
    assert lp["text_offset"][0] == 0 and lp["text_offset"] == sorted(lp["text_offset"])
    assert len(lp["tokens"]) == len(lp["token_logprobs"]) == len(lp["text_offset"]) > 3


def test_chat_and_apply_template(server: ModelServer, tiny_backend: LMBackend) -> None:
    msgs = [{"role": "user", "content": "hello there"}]
    data = post(server, "/v1/chat/completions", {"messages": msgs, "max_tokens": 4, "temperature": 0}).json()
    want = tiny_backend.generate([GenerateRequest((("user", "hello there"),), max_tokens=4, stop=())])[0]
    assert data["object"] == "chat.completion"
    assert data["choices"][0]["message"] == {"role": "assistant", "content": want.text}
    rendered = post(server, "/apply-template", {"messages": msgs}).json()["prompt"]
    assert rendered == tiny_backend.render_chat((("user", "hello there"),))


@pytest.mark.parametrize("path, body, status, fragment", [
    ("/v1/completions", {"model": "gpt-5", "prompt": "x"}, 404, "is not served here"),
    ("/v1/completions", {"prompt": "x", "max_tokens": 3, "echo": True, "logprobs": 1}, 400, "set max_tokens=0"),
    ("/v1/completions", {"prompt": "x", "logprobs": 99}, 400, "logprobs must be an integer from 0 to 20"),
    ("/v1/chat/completions", {"messages": [{"role": "user", "content": "x"}], "top_logprobs": 2}, 400,
     "top_logprobs needs logprobs=true"),
    ("/v1/chat/completions", {"messages": [{"role": "user", "content": "x"}], "response_format": {"type": "json_object"}},
     400, "response_format 'json_object' is not offered"),
    ("/v1/completions", {"prompt": "x", "n": 2, "temperature": 0}, 400, "n > 1 needs temperature"),
    ("/v1/completions", {"prompt": [1, 2]}, 400, "prompt must be"),
    ("/v1/completions", {"prompt": "x", "max_tokens": "many"}, 400, "max_tokens must be a number"),
    ("/v1/chat/completions", {"messages": []}, 400, "messages must be"),
    ("/v1/embeddings", {"input": "x"}, 404, "no such endpoint"),
])
def test_bad_requests_get_openai_errors(server: ModelServer, path: str, body: Any, status: int, fragment: str) -> None:
    resp = post(server, path, body)
    assert resp.status_code == status and fragment in resp.json()["error"]["message"]


def test_invalid_json_body(server: ModelServer) -> None:
    resp = httpx.post(server.url + "/completions", content=b"{nope", headers={"Content-Type": "application/json"})
    assert resp.status_code == 400 and "not valid JSON" in resp.json()["error"]["message"]


class _Counting(LMBackend):
    """A fake model that records batch sizes and fails on the prompt 'boom'."""

    spec = "fake"

    def __init__(self) -> None:
        self.usage, self.sizes = Usage(), list[int]()
        self.hold: Any = None  # called before the first batch: lets the others queue up

    def generate(self, requests: Sequence[GenerateRequest]) -> list[Completion]:
        if self.hold is not None and not self.sizes:
            self.hold(len(requests))
        self.sizes.append(len(requests))
        if any(r.prompt == "boom" for r in requests):
            raise RuntimeError("boom")
        return [Completion((f"<{r.prompt}>",), 1, 1) for r in requests]

    def logprob(self, requests: Sequence[LogprobRequest]) -> list[LogprobResult]:
        raise NotImplementedError


def test_concurrent_requests_are_micro_batched() -> None:
    fake = _Counting()
    srv = ModelServer(fake, wait_ms=20).start()

    def hold(first: int) -> None:  # the model is busy until the other requests are queued
        deadline = time.monotonic() + 10
        while srv.batcher._queue.qsize() < 8 - first and time.monotonic() < deadline:
            time.sleep(0.005)

    fake.hold = hold
    try:
        remote = OpenAIBackend("fake", srv.url, concurrency=8, retries=0)
        prompts = [f"p{i}" for i in range(8)]
        got = remote.generate([GenerateRequest(p, max_tokens=2) for p in prompts])
        assert [c.text for c in got] == [f"<{p}>" for p in prompts]
        assert sum(fake.sizes) == 8 and len(fake.sizes) <= 2, fake.sizes  # what queued ran as one batch
        fake.hold = None
        results: dict[str, int] = {}

        def call(p: str) -> None:
            results[p] = post(srv, "/v1/completions", {"prompt": p, "max_tokens": 2}).status_code

        threads = [threading.Thread(target=call, args=(p,)) for p in ["ok", "boom", "fine"]]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert results == {"ok": 200, "boom": 500, "fine": 200}  # one bad request fails alone
    finally:
        srv.close()


# ---------------------------------------------------------------- the CLI
def run_cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["apeopt", *args])
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_errors_are_one_line(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                                 tmp_path: Path, tiny_model_dir: Path, server: ModelServer) -> None:
    for args, fragment in [(["--model", f"hf:{tmp_path / 'nope'}"], "does not exist"),
                           (["--model", f"hf:{tiny_model_dir}", "--port", str(server.port)], "cannot listen"),
                           (["--model", f"hf:{tiny_model_dir}", "--key-env", "APEOPT_UNSET_KEY_X"], "not set")]:
        code, _, err = run_cli(monkeypatch, capsys, "serve", *args)
        lines = [ln for ln in err.splitlines() if ln.startswith("error")]
        assert code == 2 and len(lines) == 1 and fragment in lines[0] and "Traceback" not in err


class CliServer:
    """`apeopt serve` in a subprocess, started when this module starts so that its ~3 s of imports
    overlap the other tests."""

    def __init__(self, tiny_model_dir: Path, folder: Path) -> None:
        self.log = folder / "serve.log"
        env = {**os.environ, "APEOPT_SERVE_KEY": SECRET, "APEOPT_CACHE_DIR": str(folder / "cache")}
        cmd = [sys.executable, "-m", "apeopt.cli", "serve", "--model", f"hf:{tiny_model_dir}", "--port", "0",
               "--name", "tiny", "--device", "cpu", "--key-env", "APEOPT_SERVE_KEY",
               "--dtype", "float32"]  # the in-process tiny backend's dtype (auto would be bf16 on some CPUs)
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=self.log.open("wb"))

    def url(self) -> str:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and self.proc.poll() is None:
            found = re.search(r"on (http://127\.0\.0\.1:\d+/v1)", self.log.read_text(errors="replace"))
            if found:
                return found.group(1)
            time.sleep(0.05)
        raise AssertionError(f"apeopt serve did not start: {self.log.read_text(errors='replace')}")


@pytest.fixture(scope="module", autouse=True)
def cli_server(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[CliServer]:
    srv = CliServer(tiny_model_dir, tmp_path_factory.mktemp("cli-serve"))
    yield srv
    if srv.proc.poll() is None:
        srv.proc.kill()
        srv.proc.wait()


def test_cli_server_killed_with_sigkill_then_back(cli_server: CliServer, tiny_backend: LMBackend,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """`apeopt serve` in a subprocess, kill -9 mid-run; the client waits, retries, and completes
    once a server is back on the same port (restarted in-process to keep the test short)."""
    monkeypatch.setenv("APEOPT_SERVE_KEY", SECRET)
    proc, url = cli_server.proc, cli_server.url()
    reqs = [GenerateRequest(f"Numbers {i}", max_tokens=4, stop=()) for i in range(12)]
    want = tiny_backend.generate(reqs)
    remote = OpenAIBackend("tiny", url, key_env="APEOPT_SERVE_KEY", concurrency=1, retries=20, backoff=0.05,
                           max_backoff=0.3)
    out: list[Any] = []
    client = threading.Thread(target=lambda: out.append(remote.generate(reqs)))
    try:
        client.start()
        while remote.usage.calls < 3 and client.is_alive():
            time.sleep(0.002)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        time.sleep(0.3)
        assert client.is_alive() and remote.failures, "the kill must land mid-run"
        again = ModelServer(tiny_backend, port=int(url.rsplit(":", 1)[1].split("/")[0]), name="tiny",
                            key_env="APEOPT_SERVE_KEY").start()
        try:
            client.join(timeout=30)
        finally:
            again.close()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert out and out[0] == want and remote.usage.calls == len(reqs)
    assert all(f.status is None and f.endpoint == url + "/completions" for f in remote.failures)


def test_eval_through_server_never_writes_the_key(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                                                  tiny_backend: LMBackend, tmp_path: Path) -> None:
    monkeypatch.setenv("APEOPT_SERVE_KEY", SECRET)
    monkeypatch.setenv("APEOPT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    srv = ModelServer(tiny_backend, name="tiny", key_env="APEOPT_SERVE_KEY").start()
    try:
        spec = f"openai:tiny@{srv.url}?key_env=APEOPT_SERVE_KEY&retries=1"
        code, out, err = run_cli(monkeypatch, capsys, "eval", "--task", "plural", "--instruction", "Pluralize.",
                                 "--model", spec, "--limit", "4", "--json")
        assert code == 0, err
        assert json.loads(out)["usage"]["calls"] == 4
        monkeypatch.setenv("APEOPT_SERVE_KEY", "sk-wrong-key-1234")
        code, _, err = run_cli(monkeypatch, capsys, "eval", "--task", "plural", "--instruction", "Other.",
                               "--model", spec, "--limit", "2", "--no-cache")
        assert code == 2 and "$APEOPT_SERVE_KEY" in err and "Traceback" not in err
    finally:
        srv.close()
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name.startswith("lm_cache") for p in files)
    for p in files:
        assert SECRET.encode() not in p.read_bytes(), p
    assert SECRET not in out + err
