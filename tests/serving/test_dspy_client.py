"""DSPy's ordinary client path, `dspy.LM("openai/<name>", api_base=...)`, against `apeopt serve`
(a rule-based fake that answers in DSPy's field format stands behind the server)."""

from __future__ import annotations

from typing import Any, Iterator, Sequence

import dspy
import pytest
from peers.dspy_fake import DSPyFakeBackend

from apeopt.models.base import GenerateRequest, ScoredCompletion, TokenChoice, TokenLogprobs
from apeopt.serving import ModelServer

SIGNATURE = dspy.Signature("input -> output", "Write the plural form of the word.")


class LogprobFake(DSPyFakeBackend):
    """The DSPy fake, recording requests; one character per token, each at log-prob -0.25."""

    gives_token_logprobs = True

    def __init__(self) -> None:
        super().__init__(lambda x: x + "s")
        self.requests: list[GenerateRequest] = []

    def generate(self, requests: Sequence[GenerateRequest]) -> Any:
        self.requests += list(requests)
        return super().generate(requests)

    def generate_with_logprobs(self, requests: Sequence[GenerateRequest], top: int) -> list[ScoredCompletion]:
        def scored(text: str) -> TokenLogprobs:
            return TokenLogprobs(tuple(text), (-0.25,) * len(text),
                                 tuple(tuple(TokenChoice(ch, -0.25 - k) for k in range(top)) for ch in text))

        return [(c, tuple(scored(t) for t in c.texts)) for c in self.generate(requests)]


@pytest.fixture(autouse=True)
def no_global_dspy_settings() -> Iterator[None]:
    assert dspy.settings.lm is None
    yield
    assert dspy.settings.lm is None


@pytest.fixture()
def served() -> Iterator[tuple[LogprobFake, ModelServer]]:
    fake = LogprobFake()
    srv = ModelServer(fake, name="fake").start()
    yield fake, srv
    srv.close()


def test_dspy_predict_gets_a_parsed_answer(served: tuple[LogprobFake, ModelServer]) -> None:
    fake, srv = served
    lm = dspy.LM("openai/fake", api_base=srv.url, api_key="unused", cache=False, num_retries=0)
    with dspy.context(lm=lm):
        pred = dspy.Predict(SIGNATURE)(input="cat")
    assert pred.output == "cats"
    [req] = fake.requests  # one chat call: parsed by the chat adapter, no JSON fallback
    assert isinstance(req.prompt, tuple) and req.prompt[0][0] == "system"
    assert req.max_tokens == 1024  # DSPy sends no max_tokens: the server's default, not 256


def test_dspy_with_logprobs(served: tuple[LogprobFake, ModelServer]) -> None:
    _, srv = served
    lm = dspy.LM("openai/fake", api_base=srv.url, api_key="unused", cache=False, num_retries=0, logprobs=True,
                 top_logprobs=2)
    with dspy.context(lm=lm):
        pred = dspy.Predict(SIGNATURE)(input="box")
    assert pred.output == "boxs"  # the fake's rule: add an s
    content = pred.logprobs["content"]
    assert "".join(t["token"] for t in content).startswith("[[ ## output ## ]]\nboxs")
    assert all(t["logprob"] == -0.25 and [a["logprob"] for a in t["top_logprobs"]] == [-0.25, -1.25] for t in content)
