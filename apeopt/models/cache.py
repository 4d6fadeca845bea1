"""A persistent SQLite cache in front of any LMBackend.

Keys are sha256 of (inner.identity, request kind, request fields as JSON); greedy requests
ignore ``seed`` (it cannot change their output), sampled requests are keyed by it. Only cache
misses reach the inner backend, in one batched call; identical requests within one batch are
computed once. The file uses WAL mode and a busy timeout so several processes can share it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import sqlite3
import threading
from pathlib import Path
from typing import Any, Callable, Sequence, TypeVar

from apeopt.models.base import Completion, GenerateRequest, LMBackend, LogprobRequest, LogprobResult, WrappedBackend

R = TypeVar("R")
Q = TypeVar("Q")

CACHE_FILE = "lm_cache.sqlite"
_SQL_CHUNK = 500


def default_cache_dir() -> Path:
    """``$APEOPT_CACHE_DIR`` or ``~/.cache/apeopt``."""
    env = os.environ.get("APEOPT_CACHE_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "apeopt"


def announce_cache_write(what: str, path: Path, stream: Any = None) -> str:
    """One line on stderr when a large file first lands in the cache folder: where, how big, how
    to free it. Returns the line."""
    import sys

    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    size = sum(p.stat().st_size for p in files)
    line = (
        f"apeopt: {what} -> {path} ({size / 1e6:,.0f} MB, once; later loads reuse it). "
        f"Delete that {'file' if path.is_file() else 'folder'} to free the space (it is rebuilt when needed); APEOPT_CACHE_DIR moves the cache."
    )
    print(line, file=stream if stream is not None else sys.stderr, flush=True)
    return line


def request_key(identity: str, kind: str, request: GenerateRequest | LogprobRequest) -> str:
    """The cache key of one request to the model ``identity``."""
    fields = dataclasses.asdict(request)
    if kind == "generate" and request.temperature == 0:  # type: ignore[union-attr]
        fields["seed"] = 0
    payload = json.dumps([identity, kind, fields], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _encode_completion(c: Completion) -> str:
    return json.dumps(
        {"texts": list(c.texts), "prompt_tokens": c.prompt_tokens, "completion_tokens": c.completion_tokens}
    )


def _decode_completion(s: str) -> Completion:
    d = json.loads(s)
    return Completion(tuple(d["texts"]), int(d["prompt_tokens"]), int(d["completion_tokens"]))


def _encode_logprob(r: LogprobResult) -> str:
    return json.dumps({"token_logprobs": list(r.token_logprobs), "prompt_tokens": r.prompt_tokens})


def _decode_logprob(s: str) -> LogprobResult:
    d = json.loads(s)
    return LogprobResult(tuple(float(x) for x in d["token_logprobs"]), int(d.get("prompt_tokens", 0)))


def _db_path(cache_dir: str | Path | None, path: str | Path | None) -> Path:
    if path is not None:
        return Path(path).expanduser()
    where = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    if where.suffix in (".sqlite", ".db") or where.is_file():
        return where
    return where / CACHE_FILE


class SqliteStore:
    """A key -> text table in one SQLite file, safe for threads and processes."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(str(self.path), timeout=60.0, check_same_thread=False)
        with self._lock:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute("CREATE TABLE IF NOT EXISTS cache (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            self._conn.commit()

    def get_many(self, keys: Sequence[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        with self._lock:
            for i in range(0, len(keys), _SQL_CHUNK):
                chunk = list(keys[i : i + _SQL_CHUNK])
                marks = ",".join("?" * len(chunk))
                rows = self._conn.execute(f"SELECT key, value FROM cache WHERE key IN ({marks})", chunk)
                found.update(rows.fetchall())
        return found

    def put_many(self, items: dict[str, str]) -> None:
        if not items:
            return
        with self._lock:
            with self._conn:
                self._conn.executemany("INSERT OR REPLACE INTO cache (key, value) VALUES (?, ?)", list(items.items()))

    def __len__(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM cache").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._conn.close()


class CachingBackend(WrappedBackend):
    """Wraps ``inner``; answers repeated requests from a persistent SQLite cache.

    ``usage`` counts only what the inner backend computed, plus ``cache_hits`` (requests answered
    from the cache or deduplicated within a batch).
    """

    def __init__(self, inner: LMBackend, cache_dir: str | Path | None = None, path: str | Path | None = None) -> None:
        """``cache_dir`` holds ``lm_cache.sqlite``; a ``cache_dir`` ending in .sqlite/.db (or an
        explicit ``path``) names the database file itself."""
        super().__init__(inner)
        self.store = SqliteStore(_db_path(cache_dir, path))

    def generate(self, requests: Sequence[GenerateRequest]) -> list[Completion]:
        return self._cached("generate", requests, self.inner.generate, _encode_completion, _decode_completion)

    def logprob(self, requests: Sequence[LogprobRequest]) -> list[LogprobResult]:
        return self._cached("logprob", requests, self.inner.logprob, _encode_logprob, _decode_logprob)

    def close(self) -> None:
        self.store.close()

    def __getattr__(self, name: str) -> Any:
        # Delegate backend extras (model, tokenizer, device, batch_size) to the inner backend.
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)

    def _cached(
        self,
        kind: str,
        requests: Sequence[Q],
        compute: Callable[[list[Q]], list[R]],
        encode: Callable[[R], str],
        decode: Callable[[str], R],
    ) -> list[R]:
        identity = self.inner.identity
        keys = [request_key(identity, kind, r) for r in requests]  # type: ignore[arg-type]
        unique: dict[str, Q] = {}
        for key, req in zip(keys, requests):
            unique.setdefault(key, req)
        stored = self.store.get_many(list(unique))
        results: dict[str, R] = {k: decode(v) for k, v in stored.items()}
        missing = [k for k in unique if k not in results]
        if missing:
            results.update(self._compute(missing, [unique[k] for k in missing], compute, encode))
        self.usage.add(cache_hits=len(requests) - len(missing))
        return [results[k] for k in keys]

    def _compute(
        self, keys: list[str], requests: list[Q], compute: Callable[[list[Q]], list[R]], encode: Callable[[R], str]
    ) -> dict[str, R]:
        before = self.inner.usage.as_dict()
        computed = compute(requests)
        after = self.inner.usage.as_dict()
        self.usage.add(**{f: after[f] - before[f] for f in ("calls", "prompt_tokens", "completion_tokens")})
        if len(computed) != len(requests):
            raise RuntimeError(f"inner backend returned {len(computed)} results for {len(requests)} requests")
        fresh = dict(zip(keys, computed))
        self.store.put_many({k: encode(v) for k, v in fresh.items()})
        return fresh
