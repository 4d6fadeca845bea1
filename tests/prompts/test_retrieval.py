"""Retrieved demos: BM25 neighbours per input, in prompt order, carried by the prompt and its file."""

from __future__ import annotations

from pathlib import Path

import pytest

from apeopt.errors import UserError
from apeopt.prompts.file import PromptFile, load_prompt_file
from apeopt.prompts.prompt import Demo, PromptConfig
from apeopt.prompts.retrieval import BM25Index, Retriever, retrieve, terms

POOL = tuple(Demo(x, y) for x, y in [("happy", "sad"), ("unhappy", "happy"), ("running", "ran"), ("jumping", "jumped"),
                                      ("the cat sat on the mat", "positive"), ("a dog barked at night", "negative")])


def test_terms_hold_words_and_character_trigrams():
    t = terms("Cats!")
    assert "w:cats" in t and "c:#ca" in t and "c:ts#" in t


def test_nearest_demos_last_and_deterministic():
    index = BM25Index([d.input for d in POOL])
    top = index.top("unhappiness", 2)
    assert top[0] in (0, 1) and set(top) == {0, 1}
    assert index.top("sprinting", 1) == [2]  # shares "ing" trigrams with running/jumping; ties go to the earlier entry
    assert index.top("the cat on a mat", 1) == [4]
    picked = retrieve(index, "the cat on a mat", Retriever(k=3))
    assert picked[-1] == 4 and len(picked) == 3  # the most similar sits next to the query
    assert retrieve(index, "the cat on a mat", Retriever(k=3, order="nearest_first"))[0] == 4
    assert index.top("happy", 6, exclude="happy")[0] != 0 and 0 not in index.top("happy", 6, exclude="happy")
    assert BM25Index([d.input for d in POOL]).top("jumps", 3) == index.top("jumps", 3)


def test_prompt_renders_each_input_with_its_own_demos_and_round_trips(tmp_path: Path):
    p = PromptConfig("Answer.", retriever=Retriever(k=1), demo_pool=POOL)
    assert "Input: happy\nOutput: sad" in p.render("happy") or "Input: unhappy" in p.render("happy")
    assert "Input: the cat sat on the mat" in p.render("the cat on a mat")
    assert "running" not in p.render("the cat on a mat")
    assert p.demo_count == 1 and p.retrieves
    back = PromptConfig.from_dict(p.to_dict())
    assert back == p and back.render("jumps") == p.render("jumps")
    path = PromptFile(prompt=p, task="t", model="m").save(tmp_path / "best.json")
    assert load_prompt_file(path).prompt.render("dog at night") == p.render("dog at night")
    fixed = PromptConfig("Answer.", demos=POOL[:2])
    assert "retriever" not in fixed.to_dict() and "demo_pool" not in fixed.to_dict()  # fixed-demo files unchanged


@pytest.mark.parametrize("bad,match", [
    ({"k": 0}, "'k' must be an integer >= 1"),
    ({"kind": "dense"}, "'kind' must be one of bm25"),
    ({"order": "random"}, "'order' must be one of"),
    ({"k": 2, "topk": 3}, "unknown field 'topk'"),
])
def test_bad_retriever_fields_are_user_errors(bad, match):
    with pytest.raises(UserError, match=match):
        Retriever.from_dict(bad)


def test_retriever_needs_a_pool_and_no_fixed_demos():
    with pytest.raises(UserError, match="demo_pool"):
        PromptConfig("x", retriever=Retriever(k=2))
    with pytest.raises(UserError, match="demo_pool"):
        PromptConfig("x", retriever=Retriever(k=2), demo_pool=POOL, demos=POOL[:1])
