"""Built-in tasks: sizes, disjoint deterministic splits, and targets that are actually right."""

from __future__ import annotations

import json
import re

import pytest

from apeopt.tasks import SPLITS, builtin_task_names, list_tasks, load_task
from apeopt.tasks.generators.lexicon import RARE, past_tense, word_ranks
from apeopt.tasks.generators.numbers import number_words
from apeopt.tasks.generators.words import plural_forms

NAMES = builtin_task_names()
SCORERS = {"exact_match", "numeric_match", "label_accuracy", "contains", "token_f1", "chrf"}
WORD_TASKS = ("plural", "past_tense", "first_letter", "second_letter", "spell_letters", "reverse_word",
              "uppercase", "antonyms")


def test_the_builtin_tasks() -> None:
    assert NAMES == ["antonyms", "difference", "first_letter", "larger_number", "negation", "number_to_words", "past_tense",
                     "plural", "reverse_word", "second_letter", "sentiment", "spell_letters", "sum", "uppercase"]


@pytest.mark.parametrize("name", NAMES)
def test_builtin_loads_with_sizes_and_shift(name: str) -> None:
    task = load_task(name)
    assert task.name == name
    assert task.instruction.strip() and task.description.strip()
    assert task.scorer in SCORERS
    sizes = task.sizes()
    assert set(sizes) == set(SPLITS)
    assert sizes["train"] + sizes["dev"] + sizes["test"] >= 300
    assert min(sizes["dev"], sizes["test"]) >= 100
    assert sizes["test_shift"] >= 100
    assert task.source.startswith("generator:")
    for split in SPLITS:
        for ex in task.split(split):
            assert ex.input == ex.input.strip() and ex.input
            assert all(t == t.strip() and t for t in ex.targets)
            if task.labels:
                assert ex.target in task.labels


@pytest.mark.parametrize("name", NAMES)
def test_builtin_splits_disjoint_and_deterministic(name: str) -> None:
    task = load_task(name)
    inputs = {s: [ex.input for ex in task.split(s)] for s in SPLITS}
    for s, xs in inputs.items():
        assert len(xs) == len(set(xs)), f"duplicate inputs inside {s}"
    for i, a in enumerate(SPLITS):
        for b in SPLITS[i + 1 :]:
            assert not set(inputs[a]) & set(inputs[b]), f"{a} and {b} overlap"
    again = load_task(name)
    assert again.splits == task.splits
    other = load_task(name, seed=1)
    assert other.metadata["seed"] == 1
    assert [ex.input for ex in other.split("train")] != inputs["train"]
    # the pool is the same, only the assignment to splits changes; the shifted split is fixed
    pool = lambda t: {ex.input for s in ("train", "dev", "test") for ex in t.split(s)}  # noqa: E731
    assert other.split("test_shift") == task.split("test_shift")
    assert len(pool(other)) == len(pool(task))


def test_list_tasks_fields() -> None:
    rows = list_tasks()
    assert [r["name"] for r in rows] == NAMES
    for r in rows:
        for key in ("name", "source", "scorer", "sizes", "description", "instruction", "labels", "path"):
            assert key in r
        assert r["sizes"]["test_shift"] >= 100
    rows[0]["sizes"]["train"] = -1  # callers get a copy, not the cache
    assert list_tasks()[0]["sizes"]["train"] != -1


def test_word_tasks_use_clean_words_and_rarer_words_when_shifted() -> None:
    ranks = word_ranks()
    for name in WORD_TASKS:
        task = load_task(name)
        for split in SPLITS:
            for ex in task.split(split):
                assert re.fullmatch(r"[a-z]+", ex.input), (name, ex.input)
        for ex in task.split("test_shift"):
            assert RARE[0] <= ranks[ex.input] < RARE[1], (name, ex.input)
        for ex in task.split("train"):
            assert ranks[ex.input] < RARE[0], (name, ex.input)


@pytest.mark.parametrize("noun,forms", [
    ("child", ("children",)), ("city", ("cities",)), ("box", ("boxes",)), ("knife", ("knives",)),
    ("thief", ("thieves",)), ("mouse", ("mice",)), ("potato", ("potatoes",)), ("roof", ("roofs",)),
    ("fish", ("fish", "fishes")), ("person", ("people", "persons")), ("cactus", ("cacti", "cactuses")),
    ("sheep", ("sheep",)), ("crisis", ("crises",)), ("day", ("days",)),
])
def test_plural_forms(noun: str, forms: tuple[str, ...]) -> None:
    assert plural_forms(noun) == forms


@pytest.mark.parametrize("verb,forms", [
    ("go", ("went",)), ("stop", ("stopped",)), ("visit", ("visited",)), ("try", ("tried",)),
    ("play", ("played",)), ("prefer", ("preferred",)), ("travel", ("traveled", "travelled")),
    ("like", ("liked",)), ("quiz", ("quizzed",)), ("fix", ("fixed",)), ("open", ("opened",)),
    ("panic", ("panicked",)), ("learn", ("learned", "learnt")), ("put", ("put",)), ("rain", ("rained",)),
    ("admit", ("admitted",)), ("show", ("showed",)), ("hop", ("hopped",)), ("hope", ("hoped",)),
])
def test_past_tense_forms(verb: str, forms: tuple[str, ...]) -> None:
    assert past_tense(verb) == forms


def test_number_words() -> None:
    assert number_words(47)[:2] == ["forty-seven", "forty seven"]
    assert number_words(0) == ["zero"]
    assert number_words(101) == ["one hundred one", "one hundred and one"]
    forms = number_words(1234)
    assert forms[0] == "one thousand two hundred thirty-four"
    assert "one thousand, two hundred and thirty-four" in forms


def test_number_targets_are_right() -> None:
    for split in SPLITS:
        for ex in load_task("sum").split(split):
            a, b = map(int, ex.input.split())
            assert ex.targets == (str(a + b),)
        for ex in load_task("difference").split(split):
            a, b = map(int, ex.input.split())
            assert a >= b and ex.targets == (str(a - b),)
        for ex in load_task("larger_number").split(split):
            a, b = map(int, ex.input.split())
            assert a != b and ex.targets == (str(max(a, b)),)
        for ex in load_task("number_to_words").split(split):
            assert list(ex.targets) == number_words(int(ex.input))
    # shifted splits use longer numbers
    assert all(len(ex.input.split()[0]) >= 3 for ex in load_task("sum").split("test_shift"))
    assert all(int(ex.input) >= 1000 for ex in load_task("number_to_words").split("test_shift"))
    assert all(int(ex.input) <= 999 for ex in load_task("number_to_words").split("train"))


def test_letter_targets_are_right() -> None:
    for split in SPLITS:
        for ex in load_task("first_letter").split(split):
            assert ex.targets == (ex.input[0],)
        for ex in load_task("second_letter").split(split):
            assert ex.targets == (ex.input[1],)
        for ex in load_task("reverse_word").split(split):
            assert ex.targets == (ex.input[::-1],) and ex.input != ex.input[::-1]
        for ex in load_task("uppercase").split(split):
            assert ex.targets == (ex.input.upper(),)
        for ex in load_task("spell_letters").split(split):
            assert ex.target == " ".join(ex.input)
            assert ex.target.replace(" ", "") == ex.input
    assert min(len(ex.input) for ex in load_task("spell_letters").split("test_shift")) >= 7


def test_negation_targets() -> None:
    task = load_task("negation")
    for split in SPLITS:
        for ex in task.split(split):
            assert ex.input.endswith(".") and ex.input[0].isupper()
            assert len(ex.targets) >= 2  # full and contracted forms
            assert re.search(r"\b(not|cannot)\b", ex.target)
            assert any("n't" in t or "'m not" in t for t in ex.targets)
            # the negation only adds words: the subject is kept
            assert ex.target.split()[0] == ex.input.split()[0]
    mean = lambda xs: sum(len(x.input.split()) for x in xs) / len(xs)  # noqa: E731
    assert mean(task.split("test_shift")) > mean(task.split("test")) + 4
    ex = next(e for s in SPLITS for e in task.split(s) if " likes " in e.input)
    assert ex.input.replace(" likes ", " does not like ") == ex.target


def test_sentiment_balanced_and_labelled() -> None:
    task = load_task("sentiment")
    assert task.labels == ("positive", "negative")
    for split in ("train", "test_shift"):
        labels = [ex.target for ex in task.split(split)]
        assert abs(labels.count("positive") - labels.count("negative")) <= len(labels) * 0.2
    assert min(len(ex.input.split(". ")) for ex in task.split("test_shift")) >= 3


def test_antonyms_accept_every_listed_answer() -> None:
    task = load_task("antonyms")
    found = {ex.input: ex.targets for s in SPLITS for ex in task.split(s)}
    assert found.get("hot", ("cold",)) == ("cold",)
    if "big" in found:
        assert set(found["big"]) == {"small", "little"}


def test_word_forms_agree_with_lemminflect() -> None:
    """Cross-check the hand lists against an independent lexicon where one is installed."""
    lemminflect = pytest.importorskip("lemminflect")
    from apeopt.tasks.generators.lexicon import IRREGULAR_PAST, NOUNS, REGULAR_VERBS

    reviewed_nouns = {"ox", "person"}  # lemminflect: oxes; persons first
    for noun in NOUNS:
        if noun not in reviewed_nouns:
            assert plural_forms(noun)[0] in (lemminflect.getInflection(noun, "NNS") or ()), noun
    for verb in set(REGULAR_VERBS) | set(IRREGULAR_PAST):
        assert set(past_tense(verb)) & set(lemminflect.getInflection(verb, "VBD") or ()), verb


def test_fast_inflect_import_gives_the_same_answers() -> None:
    """inflect imported without typeguard instrumentation answers as the normal import does."""
    import subprocess
    import sys

    from apeopt.tasks.generators.common import inflect_engine
    from apeopt.tasks.generators.lexicon import NOUNS

    numbers = [0, 7, 47, 101, 999, 1234, 20005, 99999]
    script = (
        "import json, sys, inflect; p = inflect.engine(); d = json.load(sys.stdin); "
        "print(json.dumps([[p.plural_noun(w) for w in d['nouns']], "
        "[p.number_to_words(n, andword='') for n in d['numbers']], [p.a(w) for w in d['nouns']]]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], input=json.dumps({"nouns": NOUNS, "numbers": numbers}),
        capture_output=True, text=True, check=True,
    ).stdout
    p = inflect_engine()
    assert json.loads(out) == [
        [p.plural_noun(w) for w in NOUNS], [p.number_to_words(n, andword="") for n in numbers], [p.a(w) for w in NOUNS],
    ]


def test_builtin_data_is_identical_across_processes() -> None:
    """Same splits in a fresh interpreter with another hash seed (no set-order dependence)."""
    import os
    import subprocess
    import sys

    script = (
        "from apeopt.tasks import load_task, builtin_task_names as b; "
        "print(' '.join(load_task(n).fingerprint(('train', 'dev', 'test', 'test_shift')) for n in b()))"
    )
    here = " ".join(load_task(n).fingerprint(("train", "dev", "test", "test_shift")) for n in NAMES)
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.strip() == here
