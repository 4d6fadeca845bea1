"""The generation guard: challengers chosen by likelihood are checked by generation on dev, as many as
the calls left pay for (best first), and refused when generation puts them below the incumbent."""

from __future__ import annotations

from entry_fixtures import make_entries
from fakes import FakeBackend

from apeopt.optimizer.selection.guard import GenerationGuard
from apeopt.scorers import get_scorer
from apeopt.tasks.task import Example

DEV = [Example(f"cat{i}", (f"cat{i}s",)) for i in range(10)]


def guard(calls_left: int | None, dev: list[Example] = DEV) -> GenerationGuard:
    return GenerationGuard(dev, FakeBackend(lambda x: x + "s"), get_scorer("exact_match"), None, lambda: calls_left)


def test_the_guard_takes_the_best_generated_challenger_and_refuses_one_below_the_incumbent():
    echo, plural, inc = make_entries([("Say something nice.", [0.9], "complete"),
                                      ("Write the plural form of the word.", [0.8], "complete"),
                                      ("Repeat the word.", [0.1], "complete")])
    g = guard(None)
    assert g.choose([echo, plural], inc) is plural
    rows = g.rows()
    assert [r["allowed"] for r in rows] == [True, True]  # the echo ties the incumbent by generation (both 0)
    assert rows[1]["generated_challenger"] == 1.0 and rows[1]["chosen"]


def test_the_guard_checks_the_challengers_the_calls_left_pay_for_and_refuses_when_none_fit():
    plural, other, inc = make_entries([("Write the plural form of the word.", [0.9], "complete"),
                                       ("Give the plural of each input.", [0.8], "complete"),
                                       ("Repeat the word.", [0.1], "complete")])
    g = guard(2 * len(DEV))  # the incumbent and one challenger
    assert g.choose([plural, other], inc) is plural
    assert len(g.rows()) == 1  # the second was not checked
    g = guard(2 * len(DEV) - 1)
    assert g.choose([plural, other], inc) is None
    assert all(r["reason"] == "no calls left for the generation check" for r in g.rows()) and len(g.rows()) == 2


def test_short_of_calls_for_all_of_dev_the_guard_checks_the_best_challenger_on_fewer_items():
    dev = [Example(f"dog{i}", (f"dog{i}s",)) for i in range(30)]
    plural, inc = make_entries([("Write the plural form of the word.", [0.9], "complete"),
                                ("Repeat the word.", [0.1], "complete")])
    g = guard(45, dev)  # all of dev for both prompts would cost 60
    assert g.choose([plural], inc) is plural
    assert g.rows()[0]["n"] == 22 and g.rows()[0]["allowed"]
