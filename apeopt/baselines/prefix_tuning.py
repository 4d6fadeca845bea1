"""Prefix tuning (Li & Liang 2021) through HF PEFT: learned key/value prefixes in every layer.

Only decoders whose layers all use full attention with a standard KV cache qualify: recurrent
(Mamba, RWKV) and sliding-window or hybrid-attention models are refused with a one-line error."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from apeopt.baselines.base import BaselineTrainer, BuildContext, Options
from apeopt.errors import UserError

NO_KV_CACHE = (
    "mamba",
    "mamba2",
    "falcon_mamba",
    "rwkv",
    "recurrent_gemma",
    "jamba",
    "bamba",
    "zamba",
    "zamba2",
    "falcon_h1",
    "lfm2",
    "qwen3_next",
    "xlstm",
)


@dataclass(frozen=True)
class PrefixTuningOptions(Options):
    num_virtual_tokens: int = 20
    projection: bool = False  # reparametrize through an MLP (Li & Liang) instead of direct prefixes

    def __post_init__(self) -> None:
        if self.num_virtual_tokens < 1:
            raise UserError(f"prefix-tuning: 'num_virtual_tokens' must be >= 1, got {self.num_virtual_tokens}")


class PrefixTuningTrainer(BaselineTrainer):
    name = "prefix-tuning"
    default_lr = 1e-2
    options_cls = PrefixTuningOptions
    options: PrefixTuningOptions

    def check(self, model: Any) -> None:
        config = getattr(model, "config", None)
        if config is None:
            raise self.refuse(model, "it has no transformers config")
        text = config.get_text_config(decoder=True) if hasattr(config, "get_text_config") else config
        kind = str(getattr(text, "model_type", "") or getattr(config, "model_type", ""))
        if kind in NO_KV_CACHE:
            raise self.refuse(model, "it is not an attention decoder with a key/value cache")
        if getattr(config, "is_encoder_decoder", False):
            raise self.refuse(model, "it is an encoder-decoder model")
        types = getattr(text, "layer_types", None)
        if types is not None and any(t != "full_attention" for t in types):
            raise self.refuse(model, f"its layers mix attention types ({', '.join(sorted(set(map(str, types))))})")
        if getattr(text, "sliding_window", None) is not None and getattr(text, "use_sliding_window", True):
            raise self.refuse(model, "it uses sliding-window attention")
        for names in (("num_hidden_layers", "n_layer", "num_layers"), ("num_attention_heads", "n_head")):
            if not any(getattr(text, n, None) for n in names):
                raise self.refuse(model, f"its config has no {names[0]}")

    def build(self, model: Any, ctx: BuildContext) -> Any:
        from peft import PrefixTuningConfig, TaskType, get_peft_model

        o = self.options
        config = PrefixTuningConfig(
            task_type=TaskType.CAUSAL_LM, num_virtual_tokens=o.num_virtual_tokens, prefix_projection=o.projection
        )
        return get_peft_model(model, config)
