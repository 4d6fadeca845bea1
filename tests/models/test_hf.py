"""HFBackend on a tiny random Llama: batching, stops, sampling, log-probs, usage; plus e2e."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from apeopt.errors import UserError
from apeopt.models import load_backend, parse_spec
from apeopt.models.base import GenerateRequest, LogprobRequest, Usage, cut_at_stop
from apeopt.models.hf import DONE_MARK, HFBackend, _load_pretrained, _save_plain_copy
from apeopt.models.hf_generate import RowStopper

PROMPTS = [
    "Input: cat\nOutput:",
    "hello",
    "The quick brown fox jumps over the lazy dog. A stitch in",
    "Classify the sentiment: I loved it!",
    "Numbers 0 1 2",
    "user: hello there\nassistant:",
]


@pytest.fixture()
def backend(tiny_backend: HFBackend) -> Any:
    """The tiny backend with fresh usage counters and the default batch size restored."""
    tiny_backend.usage = Usage()
    size = tiny_backend.batch_size
    yield tiny_backend
    tiny_backend.batch_size = size
    tiny_backend.usage = Usage()


def test_loaded_through_load_backend(backend: HFBackend, tiny_model_dir: Any) -> None:
    assert isinstance(backend, HFBackend)
    assert backend.device.type == "cpu"
    assert backend.spec == f"hf:{tiny_model_dir.resolve()}"
    assert backend.identity.startswith(backend.spec + "@") and backend.identity.endswith(":float32")
    assert backend.tokenizer.padding_side == "left"
    assert backend.model.training is False


def test_bf16_backend_scores_close_to_fp32(backend: HFBackend, tiny_model_dir: Any) -> None:
    """``--dtype bfloat16`` on a CPU: the weights are bf16, the identity (a cache key) says so, and
    the shared-prefix scoring path gives finite log-probs near the fp32 ones."""
    half = load_backend(f"hf:{tiny_model_dir}", device="cpu", dtype="bfloat16")
    assert isinstance(half, HFBackend) and next(half.model.parameters()).dtype == torch.bfloat16
    assert half.identity.endswith(":bfloat16") and half.identity.rsplit(":", 1)[0] == backend.identity.rsplit(":", 1)[0]
    requests = [LogprobRequest("Input: cat\nOutput:", " cats"), LogprobRequest("Input: cat\nOutput:", " dogs"),
                LogprobRequest("hello", " there")]
    full, low = backend.logprob(requests), half.logprob(requests)
    for a, b in zip(full, low):
        assert len(a.token_logprobs) == len(b.token_logprobs) > 0
        assert all(abs(x - y) < 0.5 for x, y in zip(a.token_logprobs, b.token_logprobs))
    texts = half.generate([GenerateRequest(p, max_tokens=6, stop=()) for p in PROMPTS])
    assert all(c.completion_tokens == 6 for c in texts)


def test_missing_model_dir_is_user_error(tmp_path: Any) -> None:
    with pytest.raises(UserError, match="does not exist"):
        load_backend(f"hf:{tmp_path / 'missing'}", device="cpu")


@pytest.mark.parametrize("batch_size", [2, 16])
def test_batched_greedy_equals_one_at_a_time(backend: HFBackend, batch_size: int) -> None:
    requests = [GenerateRequest(p, max_tokens=12, stop=()) for p in PROMPTS]
    single = [backend.generate([r])[0] for r in requests]
    assert len({c.text for c in single}) == len(single)  # outputs differ: order is checkable
    backend.batch_size = batch_size
    batched = backend.generate(requests[::-1])[::-1]
    assert batched == single
    assert all(c.completion_tokens == 12 for c in batched)  # no stop, no EOS on this model


def test_mixed_settings_keep_request_order(backend: HFBackend) -> None:
    requests = [GenerateRequest(p, max_tokens=4 + i % 3, stop=()) for i, p in enumerate(PROMPTS)]
    single = [backend.generate([r])[0] for r in requests]
    assert backend.generate(requests) == single
    assert [c.completion_tokens for c in single] == [r.max_tokens for r in requests]


def test_stop_string_cuts_and_counts_tokens(backend: HFBackend) -> None:
    prompt = PROMPTS[2]
    full = backend.generate([GenerateRequest(prompt, max_tokens=24, stop=())])[0]
    stop = full.text[len(full.text) // 2]
    assert stop.strip(), "pick a visible character"
    cut = backend.generate([GenerateRequest(prompt, max_tokens=24, stop=(stop,))])[0]
    assert cut.text == cut_at_stop(full.text, (stop,))
    assert stop not in cut.text
    assert cut.completion_tokens < full.completion_tokens
    # the row stopped at the token that completed the stop string, and not earlier
    ids = backend.tokenizer(full.text, add_special_tokens=False)["input_ids"]
    assert cut.completion_tokens <= len(ids)


def test_stop_applies_per_row(backend: HFBackend) -> None:
    texts = [backend.generate([GenerateRequest(p, max_tokens=16, stop=())])[0].text for p in PROMPTS]
    stop = texts[0][3]
    requests = [GenerateRequest(p, max_tokens=16, stop=(stop,)) for p in PROMPTS]
    got = backend.generate(requests)
    assert [c.text for c in got] == [cut_at_stop(t, (stop,)) for t in texts]
    unstopped = [c for c, t in zip(got, texts) if stop not in t]
    assert all(c.completion_tokens == 16 for c in unstopped)


def test_row_stopper_marks_eos_and_stop_strings(backend: HFBackend) -> None:
    tok = backend.tokenizer
    eos = tok.eos_token_id
    a = tok("ab", add_special_tokens=False)["input_ids"]
    stopper = RowStopper(1, ("b",), (eos,), tok)
    rows = torch.tensor([[5, a[0], eos], [5, a[0], a[0]], [5] + a])
    assert stopper(rows).tolist() == [True, False, True]
    assert stopper.lengths == [2, None, len(a)]
    stopper = RowStopper(1, ("zz",), (eos,), tok)
    assert stopper(torch.tensor([[5, 6]])).tolist() == [False] and stopper.lengths == [None]


def test_chat_prompt_uses_template(backend: HFBackend) -> None:
    messages = (("user", "hello there"),)
    rendered = backend.render_chat(messages)
    assert rendered == "<|im_start|>user\nhello there<|im_end|>\n<|im_start|>assistant\n"
    chat = backend.generate([GenerateRequest(messages, max_tokens=6, stop=())])[0]
    text = backend.generate([GenerateRequest(rendered, max_tokens=6, stop=())])[0]
    assert chat == text
    assert chat.prompt_tokens == len(backend.tokenizer(rendered)["input_ids"])


def test_sampling_n_is_reproducible_and_batch_independent(backend: HFBackend) -> None:
    req = GenerateRequest(PROMPTS[0], max_tokens=10, temperature=1.0, n=3, stop=(), seed=7)
    first = backend.generate([req])[0]
    assert len(first.texts) == 3 and len(set(first.texts)) == 3
    assert backend.generate([req])[0] == first
    others = [GenerateRequest(p, max_tokens=10, temperature=1.0, n=3, stop=(), seed=1) for p in PROMPTS]
    backend.batch_size = 12  # 4 prompts x 3 samples per batch
    mixed = backend.generate(others + [req])
    assert mixed[-1] == first
    other_seed = backend.generate([GenerateRequest(PROMPTS[0], max_tokens=10, temperature=1.0, n=3,
                                                   stop=(), seed=8)])[0]
    assert other_seed.texts != first.texts


def test_near_zero_temperature_sampling_is_greedy(backend: HFBackend) -> None:
    greedy = backend.generate([GenerateRequest(PROMPTS[3], max_tokens=10, stop=())])[0]
    cold = backend.generate([GenerateRequest(PROMPTS[3], max_tokens=10, temperature=1e-4, n=2,
                                             stop=(), seed=3)])[0]
    assert cold.texts == (greedy.text, greedy.text)


def test_generate_usage(backend: HFBackend) -> None:
    requests = [GenerateRequest(p, max_tokens=5, stop=()) for p in PROMPTS[:3]]
    requests.append(GenerateRequest(PROMPTS[3], max_tokens=5, temperature=0.7, n=2, stop=()))
    out = backend.generate(requests)
    prompt_lens = [len(backend.tokenizer(p)["input_ids"]) for p in PROMPTS[:4]]
    assert [c.prompt_tokens for c in out] == prompt_lens
    assert [c.completion_tokens for c in out] == [5, 5, 5, 10]
    assert backend.usage.as_dict() == {"calls": 4, "prompt_tokens": sum(prompt_lens),
                                       "completion_tokens": 25, "tokens": sum(prompt_lens) + 25,
                                       "cache_hits": 0}


# --------------------------------------------------------------------------- logprob
PAIRS = [
    ("Input: cat\nOutput:", " cats"),
    ("Input: dog\nOutput: ", "dogs"),  # trailing space merges with the continuation
    ("hello", " there, how can I help you today?"),
    ("Classify the sentiment: I loved it!", " positive"),
    ("x", ""),
    ("The quick brown fox", " jumps over the lazy dog."),
]


def _naive_logprobs(backend: HFBackend, prompt: str, continuation: str) -> list[float]:
    """Full logits over prompt+continuation, one sequence at a time."""
    tok = backend.tokenizer
    p_ids = tok(prompt)["input_ids"]
    ids = tok(prompt + continuation)["input_ids"]
    k = next((i for i, (a, b) in enumerate(zip(p_ids, ids)) if a != b), min(len(p_ids), len(ids)))
    with torch.no_grad():
        logits = backend.model(torch.tensor([ids])).logits[0].float()
    logp = torch.log_softmax(logits, -1)
    return [logp[t - 1, ids[t]].item() for t in range(k, len(ids))]


def test_logprob_matches_naive_full_logits(backend: HFBackend) -> None:
    got = backend.logprob([LogprobRequest(p, c) for p, c in PAIRS])
    for (p, c), res in zip(PAIRS, got):
        expected = _naive_logprobs(backend, p, c)
        assert len(res.token_logprobs) == len(expected)
        assert res.token_logprobs == pytest.approx(expected, abs=1e-4)
    assert got[4].token_logprobs == () and got[4].total == 0.0
    assert len(got[1].token_logprobs) >= 1 and all(x < 0 for x in got[2].token_logprobs)


@pytest.mark.parametrize("batch_size", [1, 3, 16])
def test_logprob_batched_equals_unbatched(backend: HFBackend, batch_size: int) -> None:
    requests = [LogprobRequest(p, c) for p, c in PAIRS]
    single = [backend.logprob([r])[0] for r in requests]
    backend.batch_size = batch_size
    batched = backend.logprob(requests)
    for a, b in zip(single, batched):
        assert len(a.token_logprobs) == len(b.token_logprobs)
        assert torch.allclose(torch.tensor(a.token_logprobs), torch.tensor(b.token_logprobs), atol=1e-5)


def test_logprob_computes_output_layer_only_at_needed_positions(backend: HFBackend) -> None:
    shapes: list[tuple[int, ...]] = []
    hook = backend.model.get_output_embeddings().register_forward_hook(
        lambda mod, inp, out: shapes.append(tuple(out.shape)))
    try:
        backend.logprob([LogprobRequest(p, c) for p, c in PAIRS])
    finally:
        hook.remove()
    longest = max(len(_naive_logprobs(backend, p, c)) for p, c in PAIRS)
    assert shapes and all(s[1] <= longest for s in shapes)


def test_logprob_fallback_without_logits_to_keep(backend: HFBackend) -> None:
    requests = [LogprobRequest(p, c) for p, c in PAIRS]
    fast = backend.logprob(requests)
    backend.keeps_logits = False
    try:
        slow = backend.logprob(requests)
    finally:
        backend.keeps_logits = True
    for a, b in zip(fast, slow):
        assert a.token_logprobs == pytest.approx(b.token_logprobs, abs=1e-5)


def test_logprob_chat_prompt_and_usage(backend: HFBackend) -> None:
    messages = (("user", "hello there"),)
    chat = backend.logprob([LogprobRequest(messages, "hi")])[0]
    assert chat.token_logprobs == pytest.approx(
        _naive_logprobs(backend, backend.render_chat(messages), "hi"), abs=1e-4)
    backend.usage = Usage()
    requests = [LogprobRequest(p, c) for p, c in PAIRS]
    out = backend.logprob(requests)
    scored = sum(len(r.token_logprobs) for r in out)
    total = sum(len(backend.tokenizer(p + c)["input_ids"]) for p, c in PAIRS)
    assert backend.usage.calls == len(PAIRS)
    assert backend.usage.completion_tokens == scored
    assert backend.usage.prompt_tokens == total - scored


# --------------------------------------------------------------------------- weight cache
def test_plain_copy_keeps_tied_weights_and_outputs(backend: HFBackend, tmp_path: Any) -> None:
    folder = tmp_path / "models" / "abc"
    _save_plain_copy(backend.model, backend.tokenizer, folder)
    _save_plain_copy(backend.model, backend.tokenizer, folder)  # a lost race is not an error
    assert (folder / DONE_MARK).is_file()
    assert [p.name for p in folder.parent.iterdir()] == ["abc"]  # no temp folders left
    model, tokenizer = _load_pretrained(str(folder), torch.float32, False)
    assert model.get_output_embeddings().weight.data_ptr() == model.get_input_embeddings().weight.data_ptr()
    ids = torch.tensor([tokenizer("Input: cat\nOutput: cats")["input_ids"]])
    with torch.no_grad():
        assert torch.equal(model(ids).logits, backend.model(ids).logits)
    assert tokenizer.chat_template == backend.tokenizer.chat_template


# --------------------------------------------------------------------------- e2e
PLURAL = (
    "Write the plural form of the word.\n\n"
    "Input: cat\nOutput: cats\n\nInput: box\nOutput: boxes\n\nInput: city\nOutput: cities\n\n"
    "Input: child\nOutput: children\n\nInput: car\nOutput: cars\n\nInput: dog\nOutput:"
)
SENTIMENT = (
    "Classify the sentiment of the review as positive or negative.\n\n"
    "Review: What a fantastic, heartwarming film.\nSentiment: positive\n\n"
    "Review: Boring and far too long.\nSentiment: negative\n\n"
    "Review: I absolutely loved it, the best movie of the year!\nSentiment:"
)


@pytest.fixture(scope="module")
def smollm() -> HFBackend:
    backend = load_backend("smollm2-135m", device="cpu")
    assert isinstance(backend, HFBackend)
    return backend


@pytest.mark.e2e
def test_e2e_plural_greedy(smollm: HFBackend) -> None:
    out = smollm.generate([GenerateRequest(PLURAL, max_tokens=8)])[0]
    assert out.text.strip() == "dogs"
    assert out.completion_tokens <= 8


@pytest.mark.e2e
def test_e2e_label_logprob_and_tied_embeddings(smollm: HFBackend) -> None:
    pos, neg = smollm.logprob([LogprobRequest(SENTIMENT, " positive"), LogprobRequest(SENTIMENT, " negative")])
    assert pos.total > neg.total
    good, bad = smollm.logprob([LogprobRequest(PLURAL, " dogs"), LogprobRequest(PLURAL, " doges")])
    assert good.total > bad.total
    model = smollm.model
    assert model.get_output_embeddings().weight.data_ptr() == model.get_input_embeddings().weight.data_ptr()


@pytest.mark.e2e
def test_e2e_safetensors_cache_matches_gguf(smollm: HFBackend) -> None:
    spec = parse_spec("smollm2-135m")
    raw, raw_tok = _load_pretrained(spec.location, torch.float32, False, gguf_file=spec.gguf_file)
    text = "Input: dog\nOutput: dogs"
    ids = raw_tok(text, return_tensors="pt")["input_ids"]
    assert ids.tolist() == smollm.tokenizer(text, return_tensors="pt")["input_ids"].tolist()
    with torch.no_grad():
        assert torch.equal(raw(ids).logits, smollm.model(ids.to(smollm.device)).logits.cpu())


def test_first_gguf_conversion_says_where_it_went_once(tmp_path: Any, tiny_model_dir: Any, monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    """De-quantizing a GGUF writes a plain copy into the cache: one stderr line with its folder, size
    and how to free it, the first time only."""
    import apeopt.models.hf as hf

    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF")
    real = hf._load_pretrained

    def load(location: str, dtype: Any, trust: bool, **kw: Any) -> Any:  # the tiny model stands in for the GGUF
        return real(str(tiny_model_dir) if "gguf_file" in kw else location, dtype, trust)

    monkeypatch.setattr(hf, "_load_pretrained", load)
    spec = parse_spec(f"gguf:{gguf}")
    hf.load_model_and_tokenizer(spec, torch.float32, tmp_path / "cache")
    [line] = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    folder = hf.gguf_cache_folder(spec, tmp_path / "cache")
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    assert line.startswith(f"apeopt: converted {spec.spec} to a plain safetensors copy -> {folder} (")
    assert f"({size / 1e6:,.0f} MB," in line and "Delete that folder" in line and "APEOPT_CACHE_DIR" in line
    hf.load_model_and_tokenizer(spec, torch.float32, tmp_path / "cache")
    assert capsys.readouterr().err.strip() == ""  # the second load reuses it, silently


def test_encode_scored_many_equals_one_at_a_time(tiny_backend: Any) -> None:
    chat = (("system", "Write the plural."), ("user", "Input: fox"))
    reqs = [LogprobRequest("Input: fox\nOutput:", " foxes"), LogprobRequest(chat, "foxes"),
            LogprobRequest("", "hello"), LogprobRequest("a b", ""), LogprobRequest(chat[:1], " x y")]
    many = tiny_backend.encode_scored_many(reqs)
    assert many == [tiny_backend.encode_scored(r) for r in reqs]
    full = tiny_backend.tokenizer("Input: fox\nOutput: foxes")["input_ids"]
    assert many[0] == (full, len(full) - len(tiny_backend.tokenizer("Input: fox\nOutput:")["input_ids"]))
    assert many[2][1] == len(many[2][0]) - 1  # no prompt tokens: the start token conditions the first
    assert many[3][1] == 0
