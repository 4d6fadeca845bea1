"""Progress views: plain log lines when stderr is not a terminal, the live panel only on one."""

from __future__ import annotations

import io

from apeopt.optimizer.config import OptimizeConfig
from apeopt.optimizer.progress import LiveView, LogView, View, make_view


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_log_view_prints_at_phase_changes_and_every_30_s() -> None:
    out, clock = io.StringIO(), Clock()
    budget = OptimizeConfig(task="toy", budget_calls=800, budget_minutes=3.0)
    view = LogView("apeopt optimize toy (fewshot)", budget, out, every=30.0, clock=clock)
    view.update(round=0, phase="scoring incumbents candidates", left=7)
    for calls in (10, 20, 30):  # within 30 s of the last line, same phase: silent
        clock.t += 5
        view.update(calls=calls, tokens=calls * 50)
    clock.t += 20  # 35 s since the phase began
    view.update(calls=40, tokens=2000, best=0.4333)
    view.update(phase="scoring demos candidates")
    lines = out.getvalue().splitlines()
    assert lines == [
        "[    0 s] round 0 | scoring incumbents candidates | 0/800 LM calls, 0 tokens, 0.0/3 min | best dev -",
        "[   35 s] round 0 | scoring incumbents candidates | 40/800 LM calls, 2,000 tokens, 0.6/3 min | best dev 0.433",
        "[   35 s] round 0 | scoring demos candidates | 40/800 LM calls, 2,000 tokens, 0.6/3 min | best dev 0.433",
    ]


def test_log_view_brackets_the_run_and_ticks_while_a_phase_lasts() -> None:
    out, clock = io.StringIO(), Clock()
    view = LogView("apeopt optimize toy (fewshot)", None, out, every=0.01, clock=clock)
    with view:
        view.update(phase="scoring", calls=3)
        clock.t += 1.0
        deadline = 200
        while out.getvalue().count("| scoring |") < 2 and deadline:  # the ticker prints with no update
            import time

            time.sleep(0.01)
            deadline -= 1
    lines = out.getvalue().splitlines()
    assert lines[0] == "apeopt optimize toy (fewshot): started"
    assert sum("| scoring | 3 LM calls, 0 tokens |" in ln for ln in lines) >= 2
    assert "| done |" in lines[-1]


def test_make_view_picks_by_terminal() -> None:
    assert type(make_view("t", quiet=True)) is View
    assert isinstance(make_view("t", stream=io.StringIO()), LogView)
    assert isinstance(make_view("t", stream=Tty()), LiveView)
