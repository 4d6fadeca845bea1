from __future__ import annotations

import pytest

from apeopt.errors import UserError
from apeopt.scorers import aggregate, get_scorer, paired_bootstrap
from apeopt.scorers.stats import wilson


@pytest.mark.parametrize(
    "name,pred,targets,expected",
    [
        ("exact_match", " Dogs. ", ["dogs"], 1.0),
        ("exact_match", "dog", ["dogs"], 0.0),
        ("exact_match", "fishes", ["fish", "fishes"], 1.0),
        ("contains", "the answer is dogs!", ["dogs"], 1.0),
        ("contains", "doggy", ["dog"], 0.0),
        ("token_f1", "red big dog", ["big red dog"], 1.0),
        ("token_f1", "big dog", ["big red dog"], 0.8),
        ("numeric_match", "The sum is 1,234.", ["1234"], 1.0),
        ("numeric_match", "12", ["13"], 0.0),
        ("numeric_match", "none", ["13"], 0.0),
        ("chrf", "the cat sat", ["the cat sat"], 1.0),
        ("bleu", "the cat sat on the mat", ["the cat sat on the mat"], 1.0),
    ],
)
def test_text_scorers(name, pred, targets, expected):
    assert get_scorer(name).score(pred, targets) == pytest.approx(expected, abs=1e-6)


def test_label_accuracy_maps_free_text_to_labels():
    s = get_scorer("label_accuracy")
    labels = ["positive", "negative"]
    assert s.score("Positive.", ["positive"], labels) == 1.0
    assert s.score("positive review", ["positive"], labels) == 1.0
    assert s.score("I think it is negative", ["negative"], labels) == 1.0
    assert s.score("either positive or negative", ["positive"], labels) == 0.0  # ambiguous
    assert s.score("neutral", ["positive"], labels) == 0.0


def test_user_scorer_and_unknown_names():
    s = get_scorer("apeopt.scorers.normalize:normalize_light")  # any callable(pred, targets)
    assert s.name.endswith("normalize_light")
    with pytest.raises(UserError, match="did you mean 'exact_match'"):
        get_scorer("exact_mach")
    with pytest.raises(UserError, match="cannot load user scorer 'nope.mod:f'"):
        get_scorer("nope.mod:f")


def test_aggregate_intervals():
    a = aggregate([1, 0, 1, 1])
    assert a.score == 0.75 and a.n == 4 and a.method == "wilson"
    assert a.ci == pytest.approx(wilson(3, 4))
    assert a.ci[0] < 0.75 < a.ci[1]
    b = aggregate([0.2, 0.4, 0.6])
    assert b.method == "bootstrap" and b.ci[0] <= 0.4 <= b.ci[1]
    assert aggregate([]).n == 0


def test_wilson_known_value():
    lo, hi = wilson(50, 100)
    assert lo == pytest.approx(0.4038, abs=1e-3) and hi == pytest.approx(0.5962, abs=1e-3)


def test_paired_bootstrap():
    r = paired_bootstrap([1, 1, 1, 1, 0] * 10, [0, 0, 0, 1, 0] * 10)
    assert r["diff"] == pytest.approx(0.6) and r["ci_lo"] > 0 and r["p"] < 0.05
    same = paired_bootstrap([1, 0] * 10, [1, 0] * 10)
    assert same["diff"] == 0 and same["p"] == 1.0
    with pytest.raises(ValueError):
        paired_bootstrap([1], [1, 0])
