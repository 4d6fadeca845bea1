"""CachingBackend: hits, persistence, dedupe, seed keys, usage accounting."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any, Sequence

import pytest

from apeopt.models.base import (
    Completion,
    GenerateRequest,
    LMBackend,
    LogprobRequest,
    LogprobResult,
    Message,
    Usage,
)
from apeopt.models.cache import CACHE_FILE, CachingBackend, default_cache_dir, request_key


class FakeBackend(LMBackend):
    """Deterministic stand-in that records every batch it is asked to compute."""

    def __init__(self, identity: str = "fake@1") -> None:
        self.spec = "fake"
        self._identity = identity
        self.usage = Usage()
        self.batches: list[list[Any]] = []
        self.extra = "delegated"

    @property
    def identity(self) -> str:
        return self._identity

    def generate(self, requests: Sequence[GenerateRequest]) -> list[Completion]:
        self.batches.append(list(requests))
        out = []
        for r in requests:
            text = str(r.prompt)[::-1]
            texts = tuple(f"{text}|{r.seed}|{j}" if r.temperature else text for j in range(r.n))
            out.append(Completion(texts, len(str(r.prompt)), 2 * r.n))
        self.usage.add(calls=len(requests), prompt_tokens=sum(c.prompt_tokens for c in out),
                       completion_tokens=sum(c.completion_tokens for c in out))
        return out

    def logprob(self, requests: Sequence[LogprobRequest]) -> list[LogprobResult]:
        self.batches.append(list(requests))
        self.usage.add(calls=len(requests), prompt_tokens=len(requests))
        return [LogprobResult((-0.1 / 3, -len(r.continuation) / 7.0)) for r in requests]

    def render_chat(self, messages: tuple[Message, ...]) -> str:
        return "|".join(f"{r}:{c}" for r, c in messages)


@pytest.fixture()
def fake() -> FakeBackend:
    return FakeBackend()


def test_hit_returns_identical_result_and_counts(tmp_path: Path, fake: FakeBackend) -> None:
    cached = CachingBackend(fake, cache_dir=tmp_path)
    reqs = [GenerateRequest("abc"), GenerateRequest("de", max_tokens=3)]
    first = cached.generate(reqs)
    assert first == fake.generate(reqs)  # a pass-through on misses
    fake.batches.clear()
    assert cached.usage.as_dict() == {"calls": 2, "prompt_tokens": 5, "completion_tokens": 4,
                                      "tokens": 9, "cache_hits": 0}
    second = cached.generate(reqs)
    assert second == first
    assert fake.batches == []
    assert cached.usage.cache_hits == 2 and cached.usage.calls == 2


def test_only_misses_sent_in_one_batch(tmp_path: Path, fake: FakeBackend) -> None:
    cached = CachingBackend(fake, cache_dir=tmp_path)
    cached.generate([GenerateRequest("a"), GenerateRequest("b")])
    fake.batches.clear()
    out = cached.generate([GenerateRequest("b"), GenerateRequest("c"), GenerateRequest("a"),
                           GenerateRequest("d")])
    assert fake.batches == [[GenerateRequest("c"), GenerateRequest("d")]]
    assert [c.text for c in out] == ["b", "c", "a", "d"]
    assert cached.usage.cache_hits == 2 and cached.usage.calls == 4


def test_dedupes_within_a_batch(tmp_path: Path, fake: FakeBackend) -> None:
    cached = CachingBackend(fake, cache_dir=tmp_path)
    r, s = GenerateRequest("same"), GenerateRequest("other")
    out = cached.generate([r, s, r, r])
    assert fake.batches == [[r, s]]
    assert [c.text for c in out] == ["emas", "rehto", "emas", "emas"]
    assert cached.usage.calls == 2 and cached.usage.cache_hits == 2


def test_persists_across_instances(tmp_path: Path) -> None:
    reqs = [GenerateRequest("persist"), GenerateRequest((("user", "hi"),), stop=("x",))]
    lp = [LogprobRequest("p", " cont")]
    first = CachingBackend(FakeBackend(), cache_dir=tmp_path)
    a, b = first.generate(reqs), first.logprob(lp)
    first.close()
    inner = FakeBackend()
    second = CachingBackend(inner, cache_dir=tmp_path)
    assert second.generate(reqs) == a and second.logprob(lp) == b
    assert inner.batches == [] and inner.usage.calls == 0
    assert second.usage.cache_hits == 3 and second.usage.calls == 0
    assert (tmp_path / CACHE_FILE).is_file()


def test_logprob_floats_round_trip_exactly(tmp_path: Path, fake: FakeBackend) -> None:
    cached = CachingBackend(fake, cache_dir=tmp_path)
    reqs = [LogprobRequest("p", " yes"), LogprobRequest("p", " no")]
    first = cached.logprob(reqs)
    again = CachingBackend(FakeBackend(), cache_dir=tmp_path).logprob(reqs)
    assert again == first and again[0].token_logprobs[0] == -0.1 / 3


def test_sampled_requests_are_keyed_by_seed(tmp_path: Path, fake: FakeBackend) -> None:
    cached = CachingBackend(fake, cache_dir=tmp_path)
    s1 = GenerateRequest("q", temperature=0.7, n=2, seed=1)
    s2 = GenerateRequest("q", temperature=0.7, n=2, seed=2)
    a, b = cached.generate([s1, s2])
    assert a.texts != b.texts and len(fake.batches[0]) == 2
    g1, g2 = GenerateRequest("q", seed=1), GenerateRequest("q", seed=2)
    assert request_key("m", "generate", g1) == request_key("m", "generate", g2)
    assert request_key("m", "generate", s1) != request_key("m", "generate", s2)
    cached.generate([g1, g2])
    assert fake.batches[-1] == [g1]  # greedy: the seed cannot matter, one computation


def test_key_depends_on_identity_kind_and_fields() -> None:
    r = GenerateRequest("q")
    keys = {
        request_key("m@1", "generate", r),
        request_key("m@2", "generate", r),
        request_key("m@1", "generate", GenerateRequest("q", max_tokens=33)),
        request_key("m@1", "generate", GenerateRequest((("user", "q"),))),
        request_key("m@1", "logprob", LogprobRequest("q", "")),
    }
    assert len(keys) == 5


def test_other_model_identity_misses(tmp_path: Path) -> None:
    CachingBackend(FakeBackend("fake@1"), cache_dir=tmp_path).generate([GenerateRequest("z")])
    inner = FakeBackend("fake@2")
    CachingBackend(inner, cache_dir=tmp_path).generate([GenerateRequest("z")])
    assert inner.usage.calls == 1


def test_delegation(tmp_path: Path, fake: FakeBackend) -> None:
    cached = CachingBackend(fake, cache_dir=tmp_path)
    assert cached.render_chat((("user", "hi"),)) == "user:hi"
    assert cached.identity == "fake@1" and cached.spec == "fake"
    assert cached.extra == "delegated"
    with pytest.raises(AttributeError):
        cached.no_such_attribute  # noqa: B018


def test_wal_mode_and_concurrent_writers(tmp_path: Path) -> None:
    errors: list[BaseException] = []

    def work(tag: str) -> None:
        try:
            backend = CachingBackend(FakeBackend(), cache_dir=tmp_path)
            for i in range(20):
                backend.generate([GenerateRequest(f"{tag}{i}"), GenerateRequest(f"shared{i}")])
            backend.close()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in "abc"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    conn = sqlite3.connect(tmp_path / CACHE_FILE)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("SELECT COUNT(*) FROM cache").fetchone()[0] == 80
    conn.close()


def test_cache_location_forms(tmp_path: Path) -> None:
    as_dir = CachingBackend(FakeBackend(), cache_dir=tmp_path / "d")
    as_file = CachingBackend(FakeBackend(), tmp_path / "x" / "my.sqlite")
    explicit = CachingBackend(FakeBackend(), path=tmp_path / "e.db")
    assert as_dir.store.path == tmp_path / "d" / CACHE_FILE
    assert as_file.store.path == tmp_path / "x" / "my.sqlite" and as_file.store.path.is_file()
    assert explicit.store.path == tmp_path / "e.db"


def test_default_cache_dir_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("APEOPT_CACHE_DIR", str(tmp_path / "c"))
    assert default_cache_dir() == tmp_path / "c"
    monkeypatch.delenv("APEOPT_CACHE_DIR")
    assert default_cache_dir() == Path.home() / ".cache" / "apeopt"


def test_real_backend_cached_equals_uncached(tmp_path: Path, tiny_backend: Any) -> None:
    tiny_backend.usage = Usage()
    gen = [GenerateRequest("hello", max_tokens=6, stop=()),
           GenerateRequest("Input: cat\nOutput:", max_tokens=6, temperature=0.9, n=2, seed=4, stop=())]
    lp = [LogprobRequest("Input: cat\nOutput:", " cats"), LogprobRequest("hello", " there")]
    plain_gen, plain_lp = tiny_backend.generate(gen), tiny_backend.logprob(lp)
    cached = CachingBackend(tiny_backend, cache_dir=tmp_path)
    assert cached.generate(gen) == plain_gen and cached.logprob(lp) == plain_lp
    assert cached.usage.calls == 4 and cached.usage.prompt_tokens > 0
    assert cached.generate(gen) == plain_gen and cached.logprob(lp) == plain_lp
    assert cached.usage.cache_hits == 4 and cached.usage.calls == 4
    assert tiny_backend.usage.calls == 8  # 4 direct + 4 misses, none for the hits
    tiny_backend.usage = Usage()
