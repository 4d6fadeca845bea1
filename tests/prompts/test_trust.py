"""A prompt file is data: `eval --prompt-file` never sends anything to an endpoint, or a credential
named in the file, unless the user opts in with --model. Checked with a capture server on 127.0.0.1."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator

import pytest
from cli_helpers import run_cli
from fakes import FakeBackend

import apeopt.models
from apeopt.models.spec import DEFAULT_SPEC
from apeopt.prompts.file import PromptFile
from apeopt.prompts.prompt import PromptConfig

SECRET = "sk-unrelated-secret-0123456789"


class Capture:
    """An HTTP server that records every request it gets and answers like an OpenAI endpoint."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []
        capture = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                capture.seen.append({"path": self.path, "headers": dict(self.headers), "body": body.decode()})
                reply = json.dumps({"id": "x", "object": "text_completion", "created": 0, "model": "gpt-x",
                                    "choices": [{"index": 0, "text": " cats", "finish_reason": "stop", "logprobs": None,
                                                 "message": {"role": "assistant", "content": " cats"}}],
                                    "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            do_GET = do_POST

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture()
def capture() -> Iterator[Capture]:
    cap = Capture()
    yield cap
    cap.httpd.shutdown()


@pytest.fixture()
def local_fake(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[str]:
    """The local default model is a rule-based fake; every other spec loads for real (openai: included)."""
    loaded: list[str] = []
    real = apeopt.models.load_backend

    def load(spec: str, device: str = "auto", **kw: Any) -> Any:
        loaded.append(spec)
        if spec == DEFAULT_SPEC:
            return FakeBackend(lambda x: x + "s")
        return real(spec, device=device, **kw)

    monkeypatch.setattr(apeopt.models, "load_backend", load)
    monkeypatch.setenv("APEOPT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("MY_UNRELATED_SECRET", SECRET)
    return loaded


def shared_file(folder: Path, model: str) -> Path:
    pf = PromptFile(prompt=PromptConfig(instruction="Write the plural form of the word."), task="plural", model=model)
    return pf.save(folder / "shared.json")


def test_a_shared_prompt_file_sends_nothing_without_the_opt_in(monkeypatch, capsys, tmp_path, capture, local_fake):
    remote = f"openai:gpt-x@{capture.url}?key_env=MY_UNRELATED_SECRET&retries=0"
    path = shared_file(tmp_path, remote)
    code, out, err = run_cli(monkeypatch, capsys, "eval", "--prompt-file", str(path), "--limit", "3", "--json", "--no-cache")
    assert code == 0, err
    assert capture.seen == []  # nothing sent anywhere: not the prompts, not the key
    assert local_fake == [DEFAULT_SPEC] and json.loads(out)["model"] == DEFAULT_SPEC
    notices = [ln for ln in err.splitlines() if ln.startswith("notice:")]
    assert len(notices) == 1 and remote in notices[0] and f"--model '{remote}'" in notices[0]
    assert SECRET not in out + err

    # the opt-in: the user names the endpoint themselves; then (and only then) it is contacted
    code, out, err = run_cli(monkeypatch, capsys, "eval", "--prompt-file", str(path), "--limit", "3", "--json",
                             "--no-cache", "--model", remote)
    assert code == 0, err
    assert len(capture.seen) == 3 and capture.seen[0]["headers"]["Authorization"] == f"Bearer {SECRET}"
    assert "notice:" not in err


@pytest.mark.parametrize("model", ["hf:someone/some-model", "gguf:/nowhere/x.gguf", "not a spec"])
def test_a_file_cannot_make_eval_download_or_load_a_model(monkeypatch, capsys, tmp_path, local_fake, model):
    path = shared_file(tmp_path, model)
    code, out, err = run_cli(monkeypatch, capsys, "eval", "--prompt-file", str(path), "--limit", "2", "--json", "--no-cache")
    assert code == 0, err
    assert local_fake == [DEFAULT_SPEC] and "notice:" in err and repr(model) in err


def test_a_local_model_named_by_the_file_is_used(monkeypatch, capsys, tmp_path, local_fake):
    path = shared_file(tmp_path, DEFAULT_SPEC)
    code, _, err = run_cli(monkeypatch, capsys, "eval", "--prompt-file", str(path), "--limit", "2", "--no-cache")
    assert code == 0 and "notice:" not in err and local_fake == [DEFAULT_SPEC]
