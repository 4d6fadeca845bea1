"""Shared fixtures: a tiny random Llama with a real in-process BPE tokenizer (no download).

Tests marked ``e2e`` load the real embedded model; deselect them with ``-m "not e2e"``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest

from apeopt.process import configure_process

configure_process()  # as the CLI does: before torch loads; quiet Optuna and HF progress bars

TINY_TEXT = [
    "Write the plural form of the word.",
    "Input: cat\nOutput: cats\n\nInput: dog\nOutput: dogs\n\nInput: box\nOutput: boxes",
    "The quick brown fox jumps over the lazy dog. A stitch in time saves nine.",
    "Classify the sentiment: positive or negative. I loved it! positive. I hated it. negative.",
    "user: hello there\nassistant: hi, how can I help you today?",
    "Numbers 0 1 2 3 4 5 6 7 8 9 10 and letters a b c d e f g h i j k l m n o p.",
]
CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]


def build_tiny_tokenizer() -> Any:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=360, special_tokens=SPECIAL, show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(TINY_TEXT, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|im_end|>",
                                   unk_token="<|endoftext|>")
    fast.chat_template = CHAT_TEMPLATE
    return fast


def build_tiny_model_dir(folder: Path) -> Path:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = build_tiny_tokenizer()
    eos = int(tokenizer.eos_token_id)
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=512,
        tie_word_embeddings=True, eos_token_id=eos, pad_token_id=eos, bos_token_id=None,
        initializer_range=0.5,  # spread-out logits: no near-ties for greedy decoding
    )
    model = LlamaForCausalLM(config).eval()
    model.generation_config.eos_token_id = eos
    model.generation_config.pad_token_id = eos
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model_dir(tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture(scope="session")
def tiny_backend(tiny_model_dir: Path) -> Any:
    from apeopt.models import load_backend

    return load_backend("hf:" + str(tiny_model_dir), device="cpu")


@pytest.fixture()
def fresh_usage(tiny_backend: Any) -> Iterator[Any]:
    """The tiny backend with its usage counters reset before and after the test."""
    from apeopt.models.base import Usage

    tiny_backend.usage = Usage()
    yield tiny_backend
    tiny_backend.usage = Usage()
