"""The training loop: target-only loss with EOS learned, dev selection, curves, seeds, no test reads."""

from __future__ import annotations

import json

import pytest

from apeopt.baselines import TRAINERS
from apeopt.baselines.base import TrainConfig
from apeopt.prompts.reference import human as human_prompt
from apeopt.baselines.train import batch_loss, encode, mean_loss, train

from baselines.helpers import toy_task


def test_targets_end_with_eos_even_though_pad_is_eos(tiny_backend, task):
    assert tiny_backend.tokenizer.pad_token_id == tiny_backend.tokenizer.eos_token_id
    items = encode(tiny_backend, human_prompt(task), task.split("train")[:4], max_length=256)
    for ids, m in items:
        assert ids[-1] == tiny_backend.tokenizer.eos_token_id and m >= 2  # answer token(s) + EOS
        answer = tiny_backend.tokenizer.decode(ids[-m:-1])
        assert answer.strip() in {ex.target for ex in task.split("train")}
    _, counted = batch_loss(tiny_backend, items)
    assert counted == sum(m for _, m in items)  # every target token incl. EOS has a label, padding none


def test_long_prompts_are_cut_on_the_left(tiny_backend, task):
    items = encode(tiny_backend, human_prompt(task), task.split("train")[:2], max_length=6)
    assert all(len(ids) == 6 and ids[-1] == tiny_backend.tokenizer.eos_token_id for ids, _ in items)


def test_training_lowers_dev_loss_restores_the_selected_checkpoint_and_logs_curves(tiny_backend, task, tmp_path):
    config = TrainConfig(steps=12, eval_every=4, select="loss", lr=1e-2)
    tuned = train("lora", TRAINERS.get("lora")(), tiny_backend, task, human_prompt(task), config, tmp_path)
    rows = [json.loads(line) for line in (tmp_path / "curves.jsonl").read_text().splitlines()]
    dev = [r for r in rows if r["kind"] == "dev"]
    assert [r["step"] for r in dev] == [0, 4, 8, 12]
    assert len([r for r in rows if r["kind"] == "train"]) == 12
    assert min(r["dev_loss"] for r in dev) < dev[0]["dev_loss"]
    info = tuned.info
    assert info["best_step"] == min(dev, key=lambda r: r["dev_loss"])["step"]
    dev_items = encode(tuned.backend, human_prompt(task), task.split("dev"), 256)
    assert mean_loss(tuned.backend, dev_items, 8) == pytest.approx(info["dev_selection"]["loss"], abs=1e-3)
    assert info["trainable_params"] > 0 and info["train_examples"] == 30 and info["s_per_step"] > 0
    assert tuned.backend.identity.endswith(info["weights_digest"])


def test_same_seed_same_weights(tiny_backend, task):
    config = TrainConfig(steps=3, eval_every=3, select="loss")
    a = train("prompt-tuning", TRAINERS.get("prompt-tuning")(), tiny_backend, task, human_prompt(task), config)
    b = train("prompt-tuning", TRAINERS.get("prompt-tuning")(), tiny_backend, task, human_prompt(task), config)
    assert a.info["weights_digest"] == b.info["weights_digest"]


def test_training_never_reads_test(tiny_backend):
    task = toy_task(with_test=False)  # no test split at all: any read would raise
    tuned = train("ia3", TRAINERS.get("ia3")(), tiny_backend, task, human_prompt(task), TrainConfig(steps=2, eval_every=2))
    assert tuned.info["steps"] == 2


@pytest.mark.parametrize("method", ["prompt-tuning", "lora", "ia3", "prefix-tuning", "full-finetune"])
def test_every_method_trains_saves_and_reloads_identically(tiny_backend, tiny_model_dir, task, tmp_path, method):
    from apeopt.models import load_backend
    from apeopt.models.tuned import AdapterMeta, load_tuned

    trainer = TRAINERS.get(method)()
    tuned = train(method, trainer, tiny_backend, task, human_prompt(task), TrainConfig(steps=2, eval_every=2, select="loss"))
    folder = tmp_path / "adapter"
    trainer.save(tuned.trained, folder)
    if trainer.kind == "full":
        tiny_backend.tokenizer.save_pretrained(str(folder))
    meta = AdapterMeta(method=method, kind=trainer.kind, task="toy", base_model="hf:" + str(tiny_model_dir),
                       prompt=human_prompt(task).to_dict())
    meta.save(folder)
    fresh = load_backend("hf:" + str(tiny_model_dir), device="cpu")  # loading mutates the base it is given
    loaded = load_tuned(folder, fresh)
    assert loaded.identity == tuned.backend.identity
    from apeopt.models.base import GenerateRequest, LogprobRequest

    prompts = [human_prompt(task).render(ex.input) for ex in task.split("dev")[:4]]
    gen = [GenerateRequest(p, max_tokens=4) for p in prompts]
    assert [c.text for c in loaded.generate(gen)] == [c.text for c in tuned.backend.generate(gen)]
    lp = [LogprobRequest(p, " cats") for p in prompts]
    for x, y in zip(loaded.logprob(lp), tuned.backend.logprob(lp)):
        assert x.token_logprobs == pytest.approx(y.token_logprobs, abs=1e-5)
