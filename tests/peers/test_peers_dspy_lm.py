"""The DSPy engine adapter: calls route through apeopt's backend, are counted, and failures are kept apart."""

from __future__ import annotations

import dspy
import pytest
from peers.dspy_fake import DSPyFakeBackend

from apeopt.models.metered import MeteredBackend
from apeopt.peers.dspy_lm import COMPLETED_MARK, BackendEngine, CountingChatAdapter, DSPyBridge, salvage
from apeopt.peers.program import TaskMetric, TaskProgram, evaluate_program
from apeopt.tasks.task import Example, Task

WORDS = [f"w{i}" for i in range(40)]


def plural_task() -> Task:
    ex = tuple(Example(w, (w + "s",)) for w in WORDS)
    return Task("toy", "Write the plural form of the word.", {"train": ex[:20], "dev": ex[20:30], "test": ex[30:]})


@pytest.fixture(autouse=True)
def no_global_dspy_settings():
    assert dspy.settings.lm is None
    yield
    assert dspy.settings.lm is None
    assert dspy.settings.adapter is None


@pytest.mark.parametrize("batch", [False, True])
def test_predict_routes_through_backend_and_is_counted(batch: bool) -> None:
    fake = DSPyFakeBackend(lambda x: x + "s")
    backend = MeteredBackend(fake)
    with DSPyBridge(backend, batch=batch) as br, br.context():
        pred = dspy.Predict(dspy.Signature("input -> output", "Write the plural form of the word."))(input="cat")
        assert pred.output == "cats"
        assert br.adapter.take_failure() is False
    assert backend.usage.calls == 1 and fake.dspy_requests == 1
    assert backend.usage.prompt_tokens > 0 and backend.usage.completion_tokens > 0
    system, user = fake.seen_prompts[-1].split("\n<user>")
    assert system.startswith("<system>Your input fields are") and "[[ ## input ## ]]\ncat" in user


def test_engine_request_mapping_caps_tokens_and_varies_sampled_seeds() -> None:
    from dspy.lm15 import Config, Message, Request

    engine = BackendEngine(MeteredBackend(DSPyFakeBackend(str)), max_tokens=50, batch=False)
    req = Request(model="m", messages=(Message.user("hi"),), system="sys", config=Config(max_tokens=4000, temperature=0.0, stop=("X",)))
    g = engine.to_generate_request(req)
    assert g.prompt == (("system", "sys"), ("user", "hi"))
    assert g.max_tokens == 50 and g.temperature == 0.0 and g.stop == ("X", COMPLETED_MARK) and g.seed == 0
    hot = Request(model="m", messages=(Message.user("hi"),), config=Config(max_tokens=10, temperature=1.4))
    seeds = {engine.to_generate_request(hot).seed for _ in range(5)}
    assert len(seeds) == 5  # DSPy fans n=k out as k identical requests: each must sample anew
    assert engine.to_generate_request(hot).max_tokens == 10


def test_n_completions_are_distinct_samples() -> None:
    fake = DSPyFakeBackend(str)
    backend = MeteredBackend(fake)
    with DSPyBridge(backend, batch=False) as br, br.context():
        sig = dspy.Signature("basic_instruction -> proposed_instruction", "Propose an instruction.")
        out = dspy.Predict(sig, n=4, temperature=1.0)(basic_instruction="x")
    assert backend.usage.calls == 4
    assert len(set(out.completions.proposed_instruction)) > 1


def test_format_failures_counted_not_raised() -> None:
    task = plural_task()
    malformed = {"w30", "w31", "w32"}
    backend = MeteredBackend(DSPyFakeBackend(lambda x: x + "s", malformed=malformed))
    with DSPyBridge(backend) as br, br.context():
        result = evaluate_program(TaskProgram(task.instruction), task, task.split("test"))
        assert br.adapter.failures["StringSignature"] == 3
    assert result.format_failures == 3
    assert result.aggregate["score"] == pytest.approx(0.7)  # the malformed answers count as wrong
    assert result.salvaged["score"] == pytest.approx(1.0)  # ... though their text was right
    assert backend.usage.calls == 10


def test_empty_completion_is_a_format_failure() -> None:
    class Empty(DSPyFakeBackend):
        def _dspy(self, r):  # type: ignore[no-untyped-def]
            return ""

    with DSPyBridge(MeteredBackend(Empty(str))) as br, br.context():
        pred = TaskProgram("Say it.")(input="a")
    assert pred.format_failure is True and pred.output == ""


def test_salvage_keeps_found_fields() -> None:
    sig = dspy.Signature("a -> proposed_instruction, proposed_prefix_for_output_field")
    assert salvage(sig, "Just do it.") == {"proposed_instruction": "Just do it.", "proposed_prefix_for_output_field": ""}
    got = salvage(sig, "[[ ## proposed_prefix_for_output_field ## ]]\nOut:\nmore")
    assert got["proposed_prefix_for_output_field"] == "Out:\nmore"
    adapter = CountingChatAdapter()
    assert adapter.parse(sig, "nothing") == {"proposed_instruction": "nothing", "proposed_prefix_for_output_field": ""}
    assert adapter.take_failure() is True and adapter.take_failure() is False


def test_metric_traces_full_dev_evaluations() -> None:
    task = plural_task()
    dev = task.split("dev")
    backend = MeteredBackend(DSPyFakeBackend(lambda x: x + "s"))
    metric = TaskMetric(task, dev, backend.usage)
    with DSPyBridge(backend) as br, br.context():
        ev = dspy.Evaluate(devset=[dspy.Example(input=e.input, output=e.target).with_inputs("input") for e in dev],
                           metric=metric, num_threads=4, display_progress=False)
        assert ev(TaskProgram("Repeat it.")).score == 0.0
        assert ev(TaskProgram(task.instruction)).score == 100.0
    assert [p["score"] for p in metric.trace.points] == [0.0, 1.0]
    assert [p["calls"] for p in metric.trace.points] == [10, 20]
    assert metric.trace.calls_to(0.95) == 20


def test_tiny_hf_model_through_dspy(fresh_usage) -> None:  # type: ignore[no-untyped-def]
    """A real HF backend (tiny random Llama, chat template): rendered, generated, counted; gibberish is a format failure."""
    backend = MeteredBackend(fresh_usage)
    with DSPyBridge(backend, task_max_tokens=8) as br, br.context():
        preds = TaskProgram("Write the plural form of the word.").batch(
            [dspy.Example(input=w).with_inputs("input") for w in ("cat", "dog", "box")], num_threads=3, disable_progress_bar=True)
    assert backend.usage.calls == 3 and fresh_usage.usage.calls == 3
    assert 0 < backend.usage.completion_tokens <= 3 * 8
    assert all(p.format_failure for p in preds) and br.adapter.failures["StringSignature"] == 3
