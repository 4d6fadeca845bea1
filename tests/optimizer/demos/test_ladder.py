"""The incumbent ladder: k-shot rows that fit the token cap, the start format first, and retrieval."""

from __future__ import annotations

from apeopt.optimizer.demos.ladder import LADDER_KS, PROMPT_TOKEN_CAP, RETRIEVAL_K, demo_tokens, ladder, max_demos
from apeopt.search_spaces import Format
from apeopt.tasks.task import Example


def train(n: int, width: int = 4) -> tuple[Example, ...]:
    return tuple(Example("x" * width + str(i), ("y" * width,)) for i in range(n))


def test_rows_are_the_start_format_first_then_every_k_that_fits_then_retrieval():
    rows = ladder(Format(demos=5), train(100), "Do it.", demo_seed=7)
    names = [n for n, _ in rows]
    assert names[0] == "human + 5 random demos"
    assert names[1:-1] == ["human (zero-shot)"] + [f"human + {k} random demos" for k in LADDER_KS if k not in (0, 5)]
    assert names[-1] == f"human + {RETRIEVAL_K} retrieved demos" and rows[-1][1].demo_source == "retrieved"
    assert all(f.demo_seed == 7 for _, f in rows)


def test_long_demos_cap_the_ladder_below_the_prompt_token_cap():
    long = train(100, width=400)
    cap = max_demos(long, "Do it.")
    assert 0 < cap < 8
    assert cap * demo_tokens(long) <= PROMPT_TOKEN_CAP
    ks = [f.demos for _, f in ladder(Format(demos=0), long, "Do it.", demo_seed=0) if f.demo_source == "random"]
    assert max(ks) <= cap


def test_a_tiny_train_split_has_no_retrieval_row():
    rows = ladder(Format(demos=0), train(3), "Do it.", demo_seed=0)
    assert all(f.demo_source == "random" and f.demos <= 3 for _, f in rows)
