"""`apeopt serve` with the official `openai` client on a tiny random model: streamed chunks join to
the non-streamed text, and generated tokens come back with their log-probs and top alternatives."""

from __future__ import annotations

import json
import math
from typing import Any, Iterator

import httpx
import openai
import pytest

from apeopt.models.base import GenerateRequest, LMBackend
from apeopt.serving import ModelServer

PROMPTS = ["Input: cat\nOutput:", "The quick brown fox", "Numbers 0 1 2"]
CHAT = [{"role": "system", "content": "Write the plural form of the word."}, {"role": "user", "content": "Input: box"}]


@pytest.fixture(scope="module")
def server(tiny_backend: LMBackend) -> Iterator[ModelServer]:
    srv = ModelServer(tiny_backend, name="tiny").start()
    yield srv
    srv.close()


@pytest.fixture(scope="module")
def client(server: ModelServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.url, api_key="unused", max_retries=0)


def test_streamed_completions_join_to_the_plain_answer(client: openai.OpenAI) -> None:
    for prompt in PROMPTS:
        plain = client.completions.create(model="tiny", prompt=prompt, max_tokens=12, temperature=0)
        chunks = list(client.completions.create(model="tiny", prompt=prompt, max_tokens=12, temperature=0, stream=True))
        texts = [c.choices[0].text for c in chunks if c.choices]
        assert len([t for t in texts if t]) > 1  # really in pieces
        assert "".join(texts) == plain.choices[0].text != ""
        assert chunks[-1].choices[0].finish_reason == plain.choices[0].finish_reason
        assert all(c.choices[0].finish_reason is None for c in chunks[:-1])


def test_streamed_chat_joins_to_the_plain_answer_and_reports_usage(client: openai.OpenAI) -> None:
    plain = client.chat.completions.create(model="tiny", messages=CHAT, max_tokens=10, temperature=0)
    chunks = list(client.chat.completions.create(model="tiny", messages=CHAT, max_tokens=10, temperature=0, stream=True,
                                                 stream_options={"include_usage": True}))
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == plain.choices[0].message.content and len(chunks) > 4
    finish = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finish == [plain.choices[0].finish_reason]
    assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens == plain.usage.total_tokens


def test_stream_ends_with_done_on_the_wire(server: ModelServer) -> None:
    body = {"prompt": "hello", "max_tokens": 4, "temperature": 0, "stream": True}
    with httpx.stream("POST", server.url + "/completions", json=body, timeout=30) as resp:
        assert resp.headers["content-type"] == "text/event-stream"
        lines = [ln for ln in resp.iter_lines() if ln]
    assert lines[-1] == "data: [DONE]" and all(ln.startswith("data: ") for ln in lines)
    assert json.loads(lines[0][6:])["object"] == "text_completion"


def direct_logprobs(backend: Any, prompt: str, max_tokens: int) -> list[float]:
    import torch

    [c] = backend.generate([GenerateRequest(prompt, max_tokens=max_tokens, stop=())])
    new = [t for t in c.token_ids[0] if t not in backend.eos_ids]
    ids = backend.encode_prompt(prompt) + new
    with torch.inference_mode():
        logits = backend.model(input_ids=torch.tensor([ids])).logits[0].float()
    logp = torch.log_softmax(logits, -1)
    return [float(logp[len(ids) - len(new) - 1 + k, t]) for k, t in enumerate(new)]


def test_completion_logprobs_of_generated_tokens(client: openai.OpenAI, tiny_backend: LMBackend) -> None:
    out = client.completions.create(model="tiny", prompt=PROMPTS, max_tokens=8, temperature=0, logprobs=3)
    for prompt, choice in zip(PROMPTS, out.choices):
        lp = choice.logprobs
        assert "".join(lp.tokens) == choice.text and len(lp.tokens) == len(lp.token_logprobs) == len(lp.top_logprobs) > 0
        assert lp.text_offset == [sum(len(t) for t in lp.tokens[:i]) for i in range(len(lp.tokens))]
        for chosen, value, top in zip(lp.tokens, lp.token_logprobs, lp.top_logprobs):
            assert 1 <= len(top) <= 4 and chosen in top and all(v <= 0 for v in top.values())
            assert value == pytest.approx(max(top.values()), abs=1e-4)  # greedy: the likeliest token
        assert max(len(top) for top in lp.top_logprobs) >= 3
        # the same numbers as one unpadded forward over the prompt and the generated ids
        assert lp.token_logprobs == pytest.approx(direct_logprobs(tiny_backend, prompt, 8), abs=1e-4)


def test_chat_logprobs_with_top_logprobs(client: openai.OpenAI) -> None:
    out = client.chat.completions.create(model="tiny", messages=CHAT, max_tokens=8, temperature=0, logprobs=True,
                                         top_logprobs=2)
    content = out.choices[0].logprobs.content
    assert "".join(t.token for t in content) == out.choices[0].message.content
    for t in content:
        assert len(t.top_logprobs) == 2 and t.top_logprobs[0].logprob >= t.top_logprobs[1].logprob
        assert t.logprob == pytest.approx(t.top_logprobs[0].logprob, abs=1e-4) and bytes(t.bytes) == t.token.encode()
    plain = client.chat.completions.create(model="tiny", messages=CHAT, max_tokens=8, temperature=0, logprobs=True)
    assert [t.logprob for t in plain.choices[0].logprobs.content] == [t.logprob for t in content]
    assert all(t.top_logprobs == [] for t in plain.choices[0].logprobs.content)


def test_streamed_logprobs_come_with_their_tokens(client: openai.OpenAI) -> None:
    chunks = list(client.chat.completions.create(model="tiny", messages=CHAT, max_tokens=6, temperature=0, stream=True,
                                                 logprobs=True, top_logprobs=1))
    pairs: list[tuple[str, Any]] = [(c.choices[0].delta.content, c.choices[0].logprobs) for c in chunks
                                    if c.choices and c.choices[0].delta.content]
    assert pairs and all(lp is not None and lp.content[0].token == text for text, lp in pairs)
    assert all(math.isfinite(lp.content[0].logprob) for _, lp in pairs)


def test_a_default_max_tokens_that_does_not_cut_answers(server: ModelServer) -> None:
    assert server.api.default_max_tokens == 1024
    resp = httpx.post(server.url + "/chat/completions", json={"messages": CHAT, "temperature": 0, "stop": ["\n"]}, timeout=60)
    assert resp.status_code == 200 and resp.json()["choices"][0]["finish_reason"] == "stop"


def test_response_format_json_is_refused_not_ignored(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError, match="response_format 'json_object' is not offered"):
        client.chat.completions.create(model="tiny", messages=CHAT, max_tokens=4, response_format={"type": "json_object"})
    ok = client.chat.completions.create(model="tiny", messages=CHAT, max_tokens=4, response_format={"type": "text"})
    assert ok.choices[0].message.role == "assistant"
