"""Tuned models (PEFT adapters, soft prompts, fully fine-tuned weights) as ordinary HFBackends.

A tuned model is scored by the same HFBackend code as the base model, through a module that
HFBackend can drive unchanged (``forward(..., position_ids, logits_to_keep)`` and ``generate``):

- LoRA / IA3 (and other PEFT tuners that inject layers): the base model with its layers replaced.
- Prompt tuning: :class:`SoftPromptModel`. PEFT prepends the virtual tokens before the left
  padding and ignores position ids, so a row's output depends on how much padding its batch
  needs, and a plain ``HFBackend(peft_model)`` would score log-probs *without* the soft prompt
  (its forward has no ``logits_to_keep``, so HFBackend calls the bare decoder). Here the virtual
  tokens are spliced in after each row's padding and positions follow the attention mask: the
  same row gives the same logits in any batch, in training and at inference.
- Prefix tuning: :class:`PrefixModel`, PEFT's own forward/generate (past key values; PEFT shifts
  the given position ids by the prefix length) behind a signature HFBackend recognises.

Each tuned backend has its own ``identity`` (base identity + method + a hash of the tuned
weights), so the LM cache never mixes tuned and base answers. A tuned model saved in a folder
(PEFT ``save_pretrained``, or a full ``save_pretrained`` for full fine-tuning) carries
``apeopt_adapter.json``, which says how to score it: method, base model, task and prompt.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping

import torch
from transformers import StoppingCriteria, StoppingCriteriaList

from apeopt.errors import UserError
from apeopt.atomic_files import atomic_write_json
from apeopt.models.kv_arg import cache_kwargs, returned_cache
from apeopt.models.spec import is_local_spec
from apeopt.secrets import mask_url

ADAPTER_META = "apeopt_adapter.json"
META_VERSION = 1


# --------------------------------------------------------------------------- modules
class _PeftWrapper(torch.nn.Module):
    """A PEFT prompt-learning model seen through its base model's config and embeddings."""

    def __init__(self, peft_model: Any) -> None:
        super().__init__()
        self.peft = peft_model

    @property
    def base(self) -> Any:
        return self.peft.get_base_model()

    @property
    def generation_config(self) -> Any:
        return self.base.generation_config

    @property
    def config(self) -> Any:
        return self.base.config

    def get_input_embeddings(self) -> Any:
        return self.base.get_input_embeddings()

    def get_output_embeddings(self) -> Any:
        return self.base.get_output_embeddings()


class SoftPromptModel(_PeftWrapper):
    """A PEFT prompt-tuning model whose virtual tokens sit after each row's left padding."""

    def __init__(self, peft_model: Any) -> None:
        super().__init__(peft_model)
        cfg = peft_model.active_peft_config
        self.virtual_tokens = int(cfg.num_virtual_tokens * cfg.num_transformer_submodules)

    def splice(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """Embeddings and mask with the virtual tokens inserted right after each row's left padding."""
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        emb = self.get_input_embeddings()(input_ids)
        prompt = self.peft.get_prompt(batch_size=input_ids.shape[0]).to(emb.dtype)
        ones = attention_mask.new_ones(self.virtual_tokens)
        rows, masks = [], []
        for i, pad in enumerate((attention_mask == 0).sum(dim=1).tolist()):
            rows.append(torch.cat([emb[i, :pad], prompt[i], emb[i, pad:]]))
            masks.append(torch.cat([attention_mask[i, :pad], ones, attention_mask[i, pad:]]))
        return torch.stack(rows), torch.stack(masks)

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        use_cache: bool = False,
        logits_to_keep: int = 0,
        **kwargs: Any,
    ) -> Any:
        """``position_ids`` are recomputed from the spliced mask (virtual tokens take 0..n-1)."""
        embeds, mask = self.splice(input_ids, attention_mask)
        positions = (mask.long().cumsum(-1) - 1).clamp(min=0)
        return self.base(
            inputs_embeds=embeds,
            attention_mask=mask,
            position_ids=positions,
            use_cache=use_cache,
            logits_to_keep=logits_to_keep,
            **kwargs,
        )

    def generate(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        stopping_criteria: StoppingCriteriaList | None = None,
        **kwargs: Any,
    ) -> torch.Tensor:
        """Like ``generate`` on the base model: returns the prompt ids followed by the new ids."""
        embeds, mask = self.splice(input_ids, attention_mask)
        n = self.virtual_tokens
        # Placeholder ids stand for the virtual tokens; only ``inputs_embeds`` is read in the first
        # step, and the placeholders are cut off again before anyone (stoppers, caller) sees them.
        placeholder = input_ids.new_zeros((input_ids.shape[0], n))
        shifted = StoppingCriteriaList([_Shifted(c, n) for c in (stopping_criteria or [])])
        out = self.base.generate(
            input_ids=torch.cat([placeholder, input_ids], dim=1),
            inputs_embeds=embeds,
            attention_mask=mask,
            stopping_criteria=shifted,
            **kwargs,
        )
        return out[:, n:]


class _Shifted(StoppingCriteria):
    def __init__(self, inner: Any, offset: int) -> None:
        self.inner = inner
        self.offset = offset

    def __call__(self, input_ids: torch.LongTensor, scores: Any = None, **kwargs: Any) -> Any:
        return self.inner(input_ids[:, self.offset :], scores, **kwargs)


class PrefixModel(_PeftWrapper):
    """A PEFT prefix-tuning model behind the signature HFBackend drives (``logits_to_keep``).

    The trained prefix is PEFT's (``get_prompt``: per-layer keys/values of the virtual tokens);
    the forward and the decoding loop are apeopt's, so they do not depend on how a transformers
    release names or fills the cache inside ``generate`` (PEFT's own generate breaks batch
    invariance under transformers 5.24). Layout per row: ``[prefix][left pad][tokens]``; pads are
    masked, and positions count real tokens after the prefix, as PEFT's forward numbers them.
    """

    def __init__(self, peft_model: Any) -> None:
        super().__init__(peft_model)
        self.virtual_tokens = int(peft_model.active_peft_config.num_virtual_tokens)

    def _prefixed(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None, position_ids: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor, Any]:
        """The attention mask with the prefix in front, shifted positions, and the prefix cache."""
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        if position_ids is None:
            position_ids = (attention_mask.long().cumsum(-1) - 1).clamp(min=0)
        ones = attention_mask.new_ones((input_ids.shape[0], self.virtual_tokens))
        prefix = self.peft.get_prompt(batch_size=input_ids.shape[0], max_cache_len=-1)
        return torch.cat([ones, attention_mask], dim=1), position_ids + self.virtual_tokens, prefix

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        use_cache: bool = False,
        logits_to_keep: int = 0,
        **kwargs: Any,
    ) -> Any:
        mask, positions, prefix = self._prefixed(input_ids, attention_mask, position_ids)
        return self.base(
            input_ids=input_ids,
            attention_mask=mask,
            position_ids=positions,
            use_cache=True,
            logits_to_keep=logits_to_keep,
            **cache_kwargs(self.base, prefix),
            **kwargs,
        )

    def generate(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        generation_config: Any = None,
        logits_processor: Any = None,
        stopping_criteria: StoppingCriteriaList | None = None,
        **kwargs: Any,
    ) -> torch.Tensor:
        """Greedy decoding (after ``logits_processor``, e.g. seeded sampling noise) over the prefix
        cache; returns the prompt ids followed by the new ids, finished rows padded."""
        config = generation_config or self.generation_config
        eos = config.eos_token_id if isinstance(config.eos_token_id, list) else [config.eos_token_id]
        eos_ids = torch.tensor([e for e in eos if e is not None], device=input_ids.device)
        pad = config.pad_token_id if config.pad_token_id is not None else int(eos_ids[0])
        mask, positions, cache = self._prefixed(input_ids, attention_mask, None)
        seqs = input_ids
        done = torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)
        step_ids, step_pos = input_ids, positions
        for _ in range(int(config.max_new_tokens)):
            out = self.base(
                input_ids=step_ids,
                attention_mask=mask,
                position_ids=step_pos,
                use_cache=True,
                logits_to_keep=1,
                **cache_kwargs(self.base, cache),
            )
            cache = returned_cache(out)
            scores = out.logits[:, -1].float()
            for processor in logits_processor or ():
                scores = processor(seqs, scores)
            token = torch.where(done, torch.full_like(done, pad, dtype=torch.long), scores.argmax(-1))
            seqs = torch.cat([seqs, token[:, None]], dim=1)
            done = done | torch.isin(token, eos_ids)
            if stopping_criteria:
                done = done | stopping_criteria(seqs, scores)
            if bool(done.all()):
                break
            mask = torch.cat([mask, mask.new_ones((mask.shape[0], 1))], dim=1)
            step_ids, step_pos = token[:, None], step_pos[:, -1:] + 1
        return seqs


def inference_module(model: Any) -> Any:
    """The module an HFBackend should drive for a tuned ``model`` (a PeftModel or a plain model)."""
    try:
        from peft import PeftModel
    except ImportError:  # pragma: no cover - peft is a dependency
        return model
    if not isinstance(model, PeftModel):
        return model
    kind = str(getattr(model.active_peft_config.peft_type, "value", model.active_peft_config.peft_type))
    if kind == "PROMPT_TUNING":
        return SoftPromptModel(model)
    if kind == "PREFIX_TUNING":
        return PrefixModel(model)
    if model.active_peft_config.is_prompt_learning:
        raise UserError(f"PEFT method {kind} is not supported for scoring; use lora, ia3, prompt or prefix tuning")
    return model.get_base_model()


def virtual_tokens(model: Any) -> int:
    """Extra positions a tuned model puts in front of every prompt (0 for weight-space methods)."""
    module = inference_module(model)
    return int(getattr(module, "virtual_tokens", 0))


# --------------------------------------------------------------------------- identity
def tuned_state(model: Any) -> dict[str, torch.Tensor]:
    """The tuned tensors: the adapter's state dict, or the whole model's for full fine-tuning."""
    try:
        from peft import PeftModel, get_peft_model_state_dict
    except ImportError:  # pragma: no cover
        return dict(model.state_dict())
    if isinstance(model, PeftModel):
        return dict(get_peft_model_state_dict(model))
    return dict(model.state_dict())


def weights_digest(model: Any) -> str:
    """A short hash of the tuned tensors' names, shapes, dtypes and values."""
    h = hashlib.sha256()
    for name, tensor in sorted(tuned_state(model).items()):
        t = tensor.detach().to("cpu").contiguous()
        h.update(f"{name}|{tuple(t.shape)}|{t.dtype}\n".encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.dtype == torch.bfloat16 else t.numpy().tobytes())
    return h.hexdigest()[:16]


def tuned_backend(model: Any, base: Any, method: str, digest: str | None = None) -> Any:
    """An HFBackend over a tuned model, sharing the base backend's tokenizer and batch size.

    ``digest`` defaults to the hash of the tuned weights (pass ``"training"`` for throwaway
    backends used while the weights change)."""
    from apeopt.models.hf import HFBackend

    digest = digest or weights_digest(model)
    identity = f"{base.identity}+{method}:{digest}"
    return HFBackend(inference_module(model), base.tokenizer, base.spec, identity, base.batch_size)


# --------------------------------------------------------------------------- files
@dataclass(frozen=True)
class AdapterMeta:
    """What ``apeopt_adapter.json`` records next to the saved weights."""

    method: str
    kind: str  # "peft" (PEFT save_pretrained) or "full" (a whole transformers model)
    task: str
    base_model: str
    prompt: Mapping[str, Any]
    split_seed: int = 0
    base_identity: str = ""
    weights_digest: str = ""
    virtual_tokens: int = 0
    trainable_params: int = 0
    data_fingerprint: str = ""
    train: Mapping[str, Any] = field(default_factory=dict)
    dev_selection: Mapping[str, Any] = field(default_factory=dict)
    task_source: str = ""  # a built-in name or the task YAML's absolute path (older files: the path as given)

    @property
    def task_ref(self) -> str:
        """What to load the task from: the YAML path it came from while that exists, else its name."""
        src = Path(self.task_source) if self.task_source else None
        return self.task_source if src is not None and src.suffix in (".yaml", ".yml") and src.is_file() else self.task

    def save(self, folder: Path) -> Path:
        return atomic_write_json(Path(folder) / ADAPTER_META, {"apeopt_adapter_version": META_VERSION, **asdict(self)})


def read_adapter_meta(folder: str | Path) -> AdapterMeta:
    root = Path(folder)
    if not root.is_dir():
        raise UserError(f"adapter folder {str(root)!r} does not exist")
    path = root / ADAPTER_META
    if not path.is_file():
        raise UserError(
            f"{str(root)!r} is not an apeopt adapter folder (no {ADAPTER_META}); "
            "adapters are written by `apeopt compare` under runs/<id>/methods/<method>/adapter"
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise UserError(f"{str(path)!r} is not valid JSON (line {exc.lineno})") from None
    known = set(AdapterMeta.__dataclass_fields__)
    missing = [k for k in ("method", "kind", "task", "base_model", "prompt") if k not in data]
    if missing:
        raise UserError(f"{str(path)!r}: missing field {missing[0]!r}")
    return AdapterMeta(**{k: v for k, v in data.items() if k in known})


def load_tuned(folder: str | Path, base: Any, meta: AdapterMeta | None = None) -> Any:
    """The tuned model in ``folder`` on top of ``base`` (an HFBackend), as an HFBackend."""
    meta = meta or read_adapter_meta(folder)
    root = Path(folder)
    try:
        if meta.kind == "full":
            from transformers import AutoModelForCausalLM

            dtype = next(base.model.parameters()).dtype
            model = AutoModelForCausalLM.from_pretrained(str(root), dtype=dtype).to(base.device)
        else:
            from peft import PeftModel

            model = PeftModel.from_pretrained(base.model, str(root))  # inference mode: no re-init
    except (OSError, ValueError, RuntimeError, KeyError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise UserError(
            f"cannot load the {meta.method} adapter in {str(root)!r} on model {base.spec!r}: {first}"
        ) from None
    model.eval()
    return tuned_backend(model, base, meta.method)


def open_adapter(
    folder: str | Path, model: str | None = None, device: str = "auto", use_cache: bool = True
) -> tuple[Any, AdapterMeta]:
    """Load the base model named by the adapter (or ``model``) and the adapter on top of it."""
    from apeopt.models import load_backend
    from apeopt.models.device import tuning_dtype
    from apeopt.models.hf import HFBackend
    from apeopt.models.stack import stacked

    meta = read_adapter_meta(folder)
    if model is None and not is_local_spec(meta.base_model):  # a folder is data: it never picks a download or endpoint
        raise UserError(
            f"adapter {str(folder)!r} names the base model {mask_url(str(meta.base_model))[:300]!r}, which is not "
            "weights on this machine and which a file cannot choose; pass --model SPEC to load that base"
        )
    base = load_backend(model or meta.base_model, device=device, dtype=tuning_dtype(device))
    if not isinstance(base, HFBackend):
        raise UserError(f"--adapter needs a transformers model (hf:/gguf:), not {base.spec!r}")
    return stacked(load_tuned(folder, base, meta), use_cache=use_cache), meta
