"""Shared-prefix KV reuse gives the same results as the plain left-padded path (tiny random Llama)."""

from __future__ import annotations

from typing import Any, Callable

import pytest
import torch

from apeopt.models.base import GenerateRequest, LogprobRequest, Usage
from apeopt.models.hf import HFBackend
from apeopt.models.prefix_cache import group_by_prefix, plan_batches, supports_prefix_reuse

INSTRUCTIONS = [
    "Write the plural form of the word.",
    "Write the plural form of the word, please.",  # shares its first tokens with the one above
    "Classify the sentiment: positive or negative.",
]
DEMOS = "Input: cat\nOutput: cats\n\nInput: dog\nOutput: dogs\n\nInput: box\nOutput: boxes"
INPUTS = ["fox", "lazy dog", "a", "stitch in time saves nine", "quick brown", "0 1 2 3"]


def prompts(instructions: list[str] = INSTRUCTIONS) -> list[str]:
    return [f"{ins}\n\n{DEMOS}\n\nInput: {x}\nOutput:" for ins in instructions for x in INPUTS]


@pytest.fixture()
def backend(tiny_backend: HFBackend) -> Any:
    tiny_backend.usage = Usage()
    size, cells = tiny_backend.batch_size, tiny_backend.max_cells
    assert tiny_backend.prefix_reuse
    yield tiny_backend
    tiny_backend.batch_size, tiny_backend.max_cells, tiny_backend.prefix_reuse = size, cells, True
    tiny_backend.usage = Usage()


def plain(backend: HFBackend, call: Callable[[], Any]) -> Any:
    backend.prefix_reuse = False
    try:
        return call()
    finally:
        backend.prefix_reuse = True


def test_supported_for_plain_causal_lm_only(backend: HFBackend) -> None:
    assert supports_prefix_reuse(backend.model)
    assert not supports_prefix_reuse(torch.nn.Linear(2, 2))


def test_group_by_prefix_splits_where_sharing_pays() -> None:
    a = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
    seqs = [a + [11], a + [12, 13], a[:5] + [99], [7, 7, 7, 7, 7, 7], a + [11, 14]]
    caps = [len(s) - 1 for s in seqs]
    groups = group_by_prefix(seqs, caps)
    assert sorted(sorted(rows) for _, rows in groups) == [[0, 1, 4], [2], [3]]
    shared = {tuple(sorted(rows)): p for p, rows in groups}
    assert shared[(0, 1, 4)] == 10 and shared[(2,)] == 5  # a singleton keeps all but its last token
    # a cap (room for the positions that must be computed) limits the shared part
    assert group_by_prefix([a, a], [5, 9]) == [(5, [0, 1])]
    assert group_by_prefix([a, a], [3, 9]) == [(3, [0]), (9, [1])]  # too short to share


def test_group_by_prefix_keeps_a_long_shared_run_when_other_prompts_interleave() -> None:
    """Zero-shot rows (instruction + input) sort between the rows of a many-demo prompt with the same
    instruction; the long demo prefix must stay shared, not shrink to the instruction."""
    ins, demos = [1, 2, 3, 4, 5], list(range(100, 400))
    zero = [ins + [50 + k, 9] for k in range(4)]  # inputs 50.. sort before the demos' first token 100
    many = [ins + demos + [60 + k, 9] for k in range(6)]
    late = [ins + [500 + k, 9] for k in range(3)]  # and some after them
    seqs = zero + many + late
    groups = group_by_prefix(seqs, [len(s) - 1 for s in seqs])
    shared = {tuple(sorted(rows)): p for p, rows in groups}
    assert shared[tuple(range(4, 10))] == len(ins) + len(demos)  # the 6 demo rows share all 305 tokens
    assert all(p >= len(ins) for p in shared.values())


def test_plan_batches_respects_rows_and_cells() -> None:
    groups = [(10, [0, 1, 2]), (4, [3, 4])]
    lengths = [12, 11, 15, 6, 5]
    plans = list(plan_batches(groups, lengths, extra=2, max_rows=2, max_cells=1000))
    # rows sorted by suffix length (1, 1, 2, 2, 5) across groups
    assert [p.rows for p in plans] == [[1, 4], [0, 3], [2]]
    assert [p.groups for p in plans] == [[0, 1], [0, 1], [0]]
    plans = list(plan_batches(groups, lengths, extra=2, max_rows=64, max_cells=40))
    assert all(len(p.rows) * 19 <= 40 or len(p.rows) == 1 for p in plans)
    assert sorted(i for p in plans for i in p.rows) == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("batch_size", [2, 5, 64])
def test_greedy_equals_plain_path(backend: HFBackend, batch_size: int) -> None:
    requests = [GenerateRequest(p, max_tokens=10, stop=()) for p in prompts()]
    expected = plain(backend, lambda: backend.generate(requests))
    assert len({c.text for c in expected}) > len(requests) // 2  # outputs differ: order is checkable
    backend.batch_size = batch_size
    assert backend.generate(requests) == expected


def test_stop_strings_and_early_exit_equal_plain_path(backend: HFBackend) -> None:
    full = plain(backend, lambda: backend.generate([GenerateRequest(p, max_tokens=12, stop=()) for p in prompts()]))
    stop = full[0].text[2]
    requests = [GenerateRequest(p, max_tokens=12, stop=(stop, "zz")) for p in prompts()]
    expected = plain(backend, lambda: backend.generate(requests))
    got = backend.generate(requests)
    assert got == expected
    assert any(c.completion_tokens < 12 for c in got) and any(c.completion_tokens == 12 for c in got)


def test_mixed_groups_one_token_and_chat_prompts(backend: HFBackend) -> None:
    chat = (("system", INSTRUCTIONS[0]), ("user", "Input: fox"))
    mixed = prompts()[:4] + ["x", "hello", chat, prompts()[7], chat[:1] + (("user", "Input: box"),)]
    requests = [GenerateRequest(p, max_tokens=6, stop=()) for p in mixed]
    expected = plain(backend, lambda: backend.generate(requests))
    backend.batch_size = 64
    backend.max_cells = 1 << 20  # every group in one batch: prefixes of different lengths side by side
    assert backend.generate(requests) == expected
    backend.batch_size = 3
    assert backend.generate(requests) == expected


def test_sampling_equals_plain_path(backend: HFBackend) -> None:
    requests = [GenerateRequest(p, max_tokens=8, temperature=1.0, n=3, stop=(), seed=i)
                for i, p in enumerate(prompts()[:8])]
    expected = plain(backend, lambda: backend.generate(requests))
    assert len(set(expected[0].texts)) == 3
    backend.batch_size = 7
    assert backend.generate(requests) == expected


def test_duplicates_computed_once(backend: HFBackend) -> None:
    base = [GenerateRequest(p, max_tokens=5, stop=()) for p in prompts()[:3]]
    requests = base + [base[1], GenerateRequest(base[0].prompt, max_tokens=5, stop=(), seed=9)]
    out = backend.generate(requests)
    assert out[3] == out[1] and out[4] == out[0]
    assert backend.usage.calls == 3
    pairs = [LogprobRequest(prompts()[0], " cats")] * 3
    lps = backend.logprob(pairs)
    assert lps[0] == lps[1] == lps[2] and backend.usage.calls == 4


@pytest.mark.parametrize("batch_size", [4, 64])
def test_prefix_is_computed_once_per_group(backend: HFBackend, batch_size: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """The model sees each shared prefix once: far fewer tokens than prompts x prompt length."""
    import apeopt.models.prefix_cache as pc

    computed: list[int] = []
    original = pc.PrefixStore._compute
    monkeypatch.setattr(pc.PrefixStore, "_compute", lambda self, gids: (computed.extend(gids), original(self, gids))[1])
    seen: list[tuple[int, int]] = []
    hook = backend.model.get_input_embeddings().register_forward_hook(
        lambda mod, inp, out: seen.append(tuple(inp[0].shape)))
    try:
        requests = [GenerateRequest(p, max_tokens=1, stop=()) for p in prompts()]
        backend.batch_size = batch_size
        backend.generate(requests)
        backend.logprob([LogprobRequest(p, " cats") for p in prompts()])
    finally:
        hook.remove()
    assert len(computed) == 2 * len(INSTRUCTIONS)  # once per group and call, never again
    total = sum(len(backend.tokenizer(p)["input_ids"]) for p in prompts())
    assert sum(b * t for b, t in seen) < total  # both calls together


LIKELIHOOD = [(p, c) for p in prompts() for c in (" cats", " positive", " negative and more words")]


@pytest.mark.parametrize("batch_size", [1, 4, 64])
def test_logprob_equals_plain_path(backend: HFBackend, batch_size: int) -> None:
    requests = [LogprobRequest(p, c) for p, c in LIKELIHOOD] + [LogprobRequest("x", ""), LogprobRequest("hi", " there")]
    expected = plain(backend, lambda: backend.logprob(requests))
    backend.batch_size = batch_size
    got = backend.logprob(requests)
    for a, b in zip(expected, got):
        assert len(a.token_logprobs) == len(b.token_logprobs) and a.prompt_tokens == b.prompt_tokens
        assert torch.allclose(torch.tensor(a.token_logprobs), torch.tensor(b.token_logprobs), atol=1e-4)


def test_logprob_keeps_logits_budget(backend: HFBackend, monkeypatch: pytest.MonkeyPatch) -> None:
    import apeopt.models.hf as hf

    requests = [LogprobRequest(p, c) for p, c in LIKELIHOOD]
    expected = backend.logprob(requests)
    vocab = backend.model.get_output_embeddings().weight.shape[0]
    monkeypatch.setattr(hf, "LOGITS_BUDGET", 3 * 4 * vocab)
    shapes: list[tuple[int, ...]] = []
    hook = backend.model.get_output_embeddings().register_forward_hook(
        lambda mod, inp, out: shapes.append(tuple(out.shape)))
    try:
        got = backend.logprob(requests)
    finally:
        hook.remove()
    assert all(s[0] * s[1] <= 12 for s in shapes)
    for a, b in zip(expected, got):  # smaller batches may attend to their prefix by another path: fp32 rounding
        assert a.token_logprobs == pytest.approx(b.token_logprobs, abs=5e-5)
