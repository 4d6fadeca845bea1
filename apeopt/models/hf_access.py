"""What the HF helpers need of a local transformers backend: the ``HFAccess`` protocol.

Prefix-cache generation and scoring (:mod:`.hf_generate`, :mod:`.prefix_cache`), per-token log-probs
(:mod:`.hf_logprobs`), the echo endpoint (:mod:`.batcher`) and PEFT training (``apeopt.baselines.train``)
read the model, its tokenizer and a few batching facts, and call the scoring primitives below.
``apeopt.models.hf.HFBackend`` provides all of it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, Sequence

if TYPE_CHECKING:
    import torch

    from apeopt.models.base import Completion, GenerateRequest, LogprobRequest, Prompt, Usage


class HFAccess(Protocol):
    """A local causal LM with its tokenizer, as the HF helpers use it."""

    model: Any  # a transformers PreTrainedModel (or a PEFT model around one)
    tokenizer: Any
    device: "torch.device"
    batch_size: int
    pad_id: int
    eos_ids: tuple[int, ...]
    keeps_logits: bool  # the model's forward takes ``logits_to_keep``
    max_cells: int  # most KV cells (rows x tokens) one batch may hold
    usage: "Usage"

    def generate(self, requests: "Sequence[GenerateRequest]") -> "list[Completion]":
        """Complete every request (``LMBackend.generate``)."""
        ...

    def encode_prompt(self, prompt: "Prompt") -> list[int]:
        """Token ids of a prompt; chat templates carry their own special tokens."""
        ...

    def encode_scored(self, req: "LogprobRequest") -> tuple[list[int], int]:
        """Token ids of prompt + continuation, and how many trailing ones are scored."""
        ...

    def left_pad(self, rows: list[list[int]]) -> tuple["torch.Tensor", "torch.Tensor"]:
        """Token id rows left-padded into (input_ids, attention_mask) on the model's device."""
        ...

    def last_logits(self, input_ids: "torch.Tensor", mask: "torch.Tensor", keep: int) -> "torch.Tensor":
        """Logits of the last ``keep`` positions of each row."""
        ...

    def token_logprobs(self, texts: Sequence[str]) -> list[tuple[list[int], list[float]]]:
        """Each text's token ids and the log-prob of every token after the first."""
        ...
