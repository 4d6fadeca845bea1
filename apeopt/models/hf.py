"""HFBackend: batched generation and log-prob scoring over a transformers causal LM."""

from __future__ import annotations

import hashlib
import inspect
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator, Sequence

import torch
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    GenerationConfig,
    LogitsProcessorList,
    PreTrainedModel,
    StoppingCriteriaList,
)

from apeopt.errors import UserError
from apeopt.models.base import (
    Completion,
    GenerateRequest,
    LMBackend,
    LogprobRequest,
    LogprobResult,
    Message,
    Prompt,
    ScoredCompletion,
    Usage,
    cut_at_stop,
)
from apeopt.models.cache import announce_cache_write, default_cache_dir
from apeopt.models.device import resolve_device
from apeopt.models.gqa_attention import use_apeopt_attention
from apeopt.models.hf_batching import LOGITS_BUDGET, budget_chunks
from apeopt.models.hf_generate import GumbelSampler, RowStopper, dedupe, generate_key, generate_shared, row_seed
from apeopt.models.prefix_cache import common_prefix, kv_bytes_per_token, supports_prefix_reuse
from apeopt.models.prefix_scoring import logprob_shared
from apeopt.models.spec import ModelSpec

# Rows per batch on a CPU: 128 scored SmolLM2 in bf16 16-27% faster than 64 in an A/B run, Qwen within noise (issue 23).
CPU_BATCH = 128
CUDA_BATCH = 128
# Most bytes of KV cache one batch may hold (rows x (prefix + suffix + new tokens) x bytes/token).
CPU_KV_BYTES = 512 << 20
CUDA_KV_BYTES = 8 << 30
DONE_MARK = "apeopt-complete"
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf", ".json")


class HFBackend(LMBackend):
    """A transformers causal LM. ``model``, ``tokenizer`` and ``device`` are public (PEFT uses them)."""

    gives_token_logprobs = True

    def __init__(
        self, model: PreTrainedModel, tokenizer: Any, spec: str, identity: str, batch_size: int | None = None
    ) -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.spec = spec
        self._identity = identity
        self.device: torch.device = next(model.parameters()).device
        self.batch_size = batch_size or (CUDA_BATCH if self.device.type == "cuda" else CPU_BATCH)
        self.usage = Usage()
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        tokenizer.padding_side = "left"
        self.pad_id: int = int(tokenizer.pad_token_id)
        self.eos_ids: tuple[int, ...] = _eos_ids(model, tokenizer)
        self.keeps_logits = "logits_to_keep" in inspect.signature(model.forward).parameters  # forward(logits_to_keep=)
        # apeopt's attention (gqa_attention.py): grouped-query heads folded, shared prefixes attended in place.
        self.apeopt_attention = use_apeopt_attention(model)
        # Shared-prefix KV reuse (prefix_cache.py); False falls back to left-padded model.generate.
        self.prefix_reuse = supports_prefix_reuse(model)
        kv_budget = CUDA_KV_BYTES if self.device.type == "cuda" else CPU_KV_BYTES
        self.max_cells = max(1024, kv_budget // kv_bytes_per_token(model)) if self.prefix_reuse else 1 << 14
        self.load_seconds = 0.0

    @classmethod
    def from_spec(
        cls,
        spec: ModelSpec,
        device: str = "auto",
        dtype: str = "auto",
        cache_dir: str | Path | None = None,
        trust_remote_code: bool = False,
        batch_size: int | None = None,
    ) -> "HFBackend":
        dev, dt = resolve_device(device, dtype)
        start = time.perf_counter()
        model, tokenizer = load_model_and_tokenizer(spec, dt, cache_dir, trust_remote_code)
        model = model.to(dev)  # type: ignore[arg-type]  # transformers types .to through a wrapper
        identity = f"{spec.spec}@{weights_fingerprint(spec, model)}:{str(dt).removeprefix('torch.')}"
        backend = cls(model, tokenizer, spec.spec, identity, batch_size)
        backend.load_seconds = time.perf_counter() - start
        return backend

    @property
    def identity(self) -> str:
        return self._identity

    # ----------------------------------------------------------------- prompts
    def render_chat(self, messages: tuple[Message, ...]) -> str:
        if not getattr(self.tokenizer, "chat_template", None):
            raise UserError(f"model {self.spec!r} has no chat template; use a completion prompt")
        chat = [{"role": role, "content": content} for role, content in messages]
        return str(self.tokenizer.apply_chat_template(chat, add_generation_prompt=True, tokenize=False))

    def prompt_text(self, prompt: Prompt) -> str:
        return prompt if isinstance(prompt, str) else self.render_chat(prompt)

    def _encode(self, text: str, special: bool) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=special)["input_ids"])

    def _start_id(self) -> int:
        bos = self.tokenizer.bos_token_id
        return int(bos) if bos is not None else self.eos_ids[0]

    counts_tokens = True

    def count_tokens(self, prompt: Prompt) -> int:
        """Tokens of ``prompt`` as the model reads it (its tokenizer; chat through its template)."""
        return len(self.encode_prompt(prompt))

    def encode_prompt(self, prompt: Prompt) -> list[int]:
        """Token ids of a prompt; chat templates carry their own special tokens."""
        ids = self._encode(self.prompt_text(prompt), special=isinstance(prompt, str))
        return ids or [self._start_id()]

    # ----------------------------------------------------------------- generate
    @torch.inference_mode()
    def generate(self, requests: Sequence[GenerateRequest]) -> list[Completion]:
        unique, where = dedupe(requests, generate_key)
        results: list[Completion | None] = [None] * len(unique)
        groups: dict[tuple[Any, ...], list[int]] = {}
        for i, req in enumerate(unique):
            groups.setdefault((req.max_tokens, req.temperature, req.n, req.stop), []).append(i)
        for idxs in groups.values():
            encoded = {i: self.encode_prompt(unique[i].prompt) for i in idxs}
            if self.prefix_reuse:
                outs = generate_shared(self, [encoded[i] for i in idxs], [unique[i] for i in idxs])
                for i, out in zip(idxs, outs):
                    results[i] = out
                continue
            order = sorted(idxs, key=lambda i: len(encoded[i]))
            per_batch = max(1, self.batch_size // unique[idxs[0]].n)
            for chunk in _chunks(order, per_batch):
                outs = self._generate_batch([encoded[i] for i in chunk], [unique[i] for i in chunk])
                for i, out in zip(chunk, outs):
                    results[i] = out
        done = [r for r in results if r is not None]
        self.usage.add(
            calls=len(unique),
            prompt_tokens=sum(c.prompt_tokens for c in done),
            completion_tokens=sum(c.completion_tokens for c in done),
        )
        return [done[j] for j in where]

    def _generate_batch(self, prompts: list[list[int]], reqs: list[GenerateRequest]) -> list[Completion]:
        first = reqs[0]
        n = first.n
        rows = [ids for ids in prompts for _ in range(n)]
        input_ids, mask = self.left_pad(rows)
        width = input_ids.shape[1]
        stopper = RowStopper(width, first.stop, self.eos_ids, self.tokenizer)
        processors = LogitsProcessorList()
        if first.temperature > 0:
            seeds = [row_seed(r.seed, j) for r in reqs for j in range(n)]
            processors.append(GumbelSampler(first.temperature, seeds, self.device))
        out = self.model.generate(
            input_ids=input_ids,
            attention_mask=mask,
            generation_config=self._gen_config(first.max_tokens),
            logits_processor=processors,
            stopping_criteria=StoppingCriteriaList([stopper]),
        )
        texts, counts, new_ids = [], [], []
        for row in range(len(rows)):
            stopped = stopper.lengths[row]
            length = stopped if stopped is not None else out.shape[1] - width
            new = out[row, width : width + length].tolist()
            text = self.tokenizer.decode(new, skip_special_tokens=True)
            texts.append(cut_at_stop(text, first.stop))
            counts.append(length)
            new_ids.append(tuple(new))
        return [
            Completion(
                tuple(texts[k * n : (k + 1) * n]),
                len(prompts[k]),
                sum(counts[k * n : (k + 1) * n]),
                tuple(new_ids[k * n : (k + 1) * n]),
            )
            for k in range(len(prompts))
        ]

    def _gen_config(self, max_tokens: int) -> GenerationConfig:
        return GenerationConfig(
            max_new_tokens=max_tokens,
            do_sample=False,
            num_beams=1,
            use_cache=True,
            pad_token_id=self.pad_id,
            eos_token_id=list(self.eos_ids),
            bos_token_id=self.tokenizer.bos_token_id,
        )

    # ----------------------------------------------------------------- logprob
    @torch.inference_mode()
    def logprob(self, requests: Sequence[LogprobRequest]) -> list[LogprobResult]:
        unique, where = dedupe(requests, lambda r: r)
        items = self.encode_scored_many(unique)
        scored = self._score_items(items)
        results = [LogprobResult(tuple(lps), len(ids) - m) for lps, (ids, m) in zip(scored, items)]
        self.usage.add(
            calls=len(unique),
            prompt_tokens=sum(len(ids) - m for ids, m in items),
            completion_tokens=sum(m for _, m in items),
        )
        return [results[j] for j in where]

    @torch.inference_mode()
    def token_logprobs(self, texts: Sequence[str]) -> list[tuple[list[int], list[float]]]:
        """Each text's token ids (as a completion prompt) and the log-prob of every token after the
        first: OpenAI-style ``echo`` prompt scoring, served by ``apeopt serve``."""
        items = [(ids, max(0, len(ids) - 1)) for ids in (self._encode(t, special=True) for t in texts)]
        out = self._score_items(items)  # echo requests of one prompt template share their prefix
        self.usage.add(calls=len(texts), prompt_tokens=sum(len(ids) for ids, _ in items))
        return [(ids, lps) for (ids, _), lps in zip(items, out)]

    def text_pieces(self, text: str) -> list[str]:
        from apeopt.models.hf_logprobs import token_pieces

        pieces = token_pieces(self.tokenizer, self._encode(text, special=False))
        return pieces if "".join(pieces) == text else super().text_pieces(text)

    def generate_with_logprobs(self, requests: Sequence[GenerateRequest], top: int) -> list[ScoredCompletion]:
        """Generate, then score the generated tokens teacher-forced (:mod:`apeopt.models.hf_logprobs`)."""
        from apeopt.models.hf_logprobs import generate_with_logprobs

        return generate_with_logprobs(self, requests, top)

    def _score_items(self, items: list[tuple[list[int], int]]) -> list[list[float]]:
        """Log-probs of the last ``m`` tokens of each (ids, m): shared-prefix reuse, or length-sorted batches."""
        vocab = int(self.model.get_output_embeddings().weight.shape[0])
        if self.prefix_reuse:
            return logprob_shared(self, items, vocab, LOGITS_BUDGET)
        scored: list[list[float]] = [[] for _ in items]
        order = sorted(range(len(items)), key=lambda i: len(items[i][0]))
        for chunk in budget_chunks(order, [m for _, m in items], self.batch_size, vocab):
            for i, lps in zip(chunk, self._logprob_batch([items[i] for i in chunk])):
                scored[i] = lps
        return scored

    def encode_scored(self, req: LogprobRequest) -> tuple[list[int], int]:
        """(full token ids, number of continuation tokens at their end): how log-prob scoring (and
        training on the same prompt) tokenizes a prompt and its continuation."""
        return self.encode_scored_many([req])[0]

    def encode_scored_many(self, reqs: Sequence[LogprobRequest]) -> list[tuple[list[int], int]]:
        """:meth:`encode_scored` of each request, the texts tokenized in one call per kind."""
        texts = [self.prompt_text(r.prompt) for r in reqs]
        out: list[tuple[list[int], int]] = [([], 0)] * len(reqs)
        for special in (True, False):
            idx = [i for i, r in enumerate(reqs) if isinstance(r.prompt, str) == special]
            if not idx:
                continue
            batch = [texts[i] for i in idx] + [texts[i] + reqs[i].continuation for i in idx]
            ids = self.tokenizer(batch, add_special_tokens=special)["input_ids"]
            for j, i in enumerate(idx):
                prompt_ids, full = list(ids[j]), list(ids[len(idx) + j])
                shared = common_prefix(prompt_ids, full)
                if shared == 0:  # nothing to condition the first token on
                    full, shared = [self._start_id()] + full, 1
                out[i] = (full, len(full) - shared)
        return out

    def _logprob_batch(self, items: list[tuple[list[int], int]]) -> list[list[float]]:
        keep = max(m for _, m in items)
        if keep == 0:
            return [[] for _ in items]
        # Drop each row's last token: position t predicts token t+1, so after left padding the
        # last ``keep`` positions predict every continuation token.
        input_ids, mask = self.left_pad([ids[:-1] for ids, _ in items])
        logits = self.last_logits(input_ids, mask, keep)
        logp = torch.log_softmax(logits.float(), dim=-1)
        out: list[list[float]] = []
        for row, (ids, m) in enumerate(items):
            if m == 0:
                out.append([])
                continue
            target = torch.tensor(ids[-m:], device=logp.device)
            picked = logp[row, keep - m :].gather(-1, target[:, None])[:, 0]
            out.append(picked.tolist())
        return out

    def left_pad(self, rows: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        """Token id rows left-padded into (input_ids, attention_mask) on the model's device."""
        width = max(len(r) for r in rows)
        ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, r in enumerate(rows):
            if r:
                ids[i, width - len(r) :] = torch.tensor(r, dtype=torch.long)
                mask[i, width - len(r) :] = 1
        return ids.to(self.device), mask.to(self.device)

    def last_logits(self, input_ids: torch.Tensor, mask: torch.Tensor, keep: int) -> torch.Tensor:
        """Logits of the last ``keep`` positions only, never the full sequence (the scoring forward;
        positions follow the attention mask)."""
        positions = (mask.long().cumsum(-1) - 1).clamp(min=0)
        if self.keeps_logits:
            out = self.model(
                input_ids=input_ids, attention_mask=mask, position_ids=positions, use_cache=False, logits_to_keep=keep
            )
            return out.logits[:, -keep:]
        hidden = self.model.get_decoder()(
            input_ids=input_ids, attention_mask=mask, position_ids=positions, use_cache=False
        ).last_hidden_state
        return self.model.get_output_embeddings()(hidden[:, -keep:])


# --------------------------------------------------------------------- loading
def load_model_and_tokenizer(
    spec: ModelSpec, dtype: torch.dtype, cache_dir: str | Path | None, trust_remote_code: bool = False
) -> tuple[PreTrainedModel, Any]:
    """Load a model and its tokenizer; GGUF files go through a safetensors cache folder."""
    try:
        if spec.kind == "gguf":
            return _load_gguf(spec, dtype, Path(cache_dir) if cache_dir else default_cache_dir())
        return _load_pretrained(spec.location, dtype, trust_remote_code)
    except (OSError, ValueError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise UserError(f"cannot load model {spec.spec!r}: {first}") from exc


def _load_pretrained(
    location: str, dtype: torch.dtype, trust_remote_code: bool, **kwargs: Any
) -> tuple[PreTrainedModel, Any]:
    tokenizer = AutoTokenizer.from_pretrained(location, trust_remote_code=trust_remote_code, **kwargs)
    model = AutoModelForCausalLM.from_pretrained(location, dtype=dtype, trust_remote_code=trust_remote_code, **kwargs)
    return model, tokenizer


def gguf_cache_folder(spec: ModelSpec, cache_dir: Path) -> Path:
    """Where the plain safetensors copy of a GGUF model lives."""
    assert spec.gguf_path is not None
    return cache_dir / "models" / _file_fingerprint([spec.gguf_path])


def _load_gguf(spec: ModelSpec, dtype: torch.dtype, cache_dir: Path) -> tuple[PreTrainedModel, Any]:
    """De-quantizing a GGUF takes ~15 s; an fp32 safetensors copy in the cache loads in ~1 s."""
    folder = gguf_cache_folder(spec, cache_dir)
    if not (folder / DONE_MARK).is_file():
        model, tokenizer = _load_pretrained(spec.location, torch.float32, False, gguf_file=spec.gguf_file)
        try:
            _save_plain_copy(model, tokenizer, folder)
        except OSError:  # read-only cache: keep the de-quantized model as it is
            return model.to(dtype), tokenizer  # type: ignore[arg-type]  # as above
        announce_cache_write(f"converted {spec.spec} to a plain safetensors copy", folder)
        del model
    return _load_pretrained(str(folder), dtype, False)


def _save_plain_copy(model: PreTrainedModel, tokenizer: Any, folder: Path) -> None:
    """Write weights (safetensors, tied tensors once), config and tokenizer; atomic rename."""
    from safetensors.torch import save_file

    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=folder.parent))
    try:
        os.chmod(tmp, 0o755)
        config = model.config.to_dict()
        config.pop("quantization_config", None)
        type(model.config).from_dict(config).save_pretrained(tmp)
        model.generation_config.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        tensors: dict[str, torch.Tensor] = {}
        seen: set[int] = set()
        for name, tensor in model.state_dict().items():
            if tensor.data_ptr() in seen:  # tied (lm_head = embed_tokens): re-tied on load
                continue
            seen.add(tensor.data_ptr())
            tensors[name] = tensor.detach().contiguous()
        save_file(tensors, str(tmp / "model.safetensors"), metadata={"format": "pt"})
        (tmp / DONE_MARK).write_text("ok\n")
        try:
            os.rename(tmp, folder)
        except OSError:
            if not (folder / DONE_MARK).is_file():  # not a lost race with another process
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def weights_fingerprint(spec: ModelSpec, model: PreTrainedModel) -> str:
    """A short hash of the weight files (path, size, mtime), for cache keys."""
    if spec.gguf_path is not None:
        return _file_fingerprint([spec.gguf_path])[:12]
    folder = Path(spec.location)
    if folder.is_dir():
        files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in WEIGHT_SUFFIXES)
        return _file_fingerprint(files)[:12]
    return str(getattr(model.config, "_commit_hash", None) or "hub")[:12]


def _file_fingerprint(paths: Sequence[Path]) -> str:
    h = hashlib.sha256()
    for p in paths:
        st = p.stat()
        h.update(f"{p.resolve()}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:32]


# --------------------------------------------------------------------- helpers
def _eos_ids(model: PreTrainedModel, tokenizer: Any) -> tuple[int, ...]:
    ids: list[int] = []
    configured = getattr(model.generation_config, "eos_token_id", None)
    for value in (configured if isinstance(configured, list) else [configured]) + [tokenizer.eos_token_id]:
        if value is not None and int(value) not in ids:
            ids.append(int(value))
    if not ids:
        raise UserError("model has no end-of-sequence token; set eos_token in its tokenizer")
    return tuple(ids)


def _chunks(items: list[int], size: int) -> Iterator[list[int]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
