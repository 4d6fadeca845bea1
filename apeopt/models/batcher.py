"""One thread owns the model: concurrent requests queue up and run as batched backend calls.

Used by ``apeopt serve``: HTTP handler threads ``submit`` their requests and block; the batcher
takes everything waiting (after a short window when requests arrive together) and runs it as one
``generate``, echo-log-prob or generate-with-token-log-probs call, so batch workers sharing a server
share its batches too.
"""

from __future__ import annotations

import queue
import threading
import time
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence, cast

from apeopt.models.abort import aborting
from apeopt.models.base import GenerateRequest, LMBackend, ScoredCompletion
from apeopt.models.hf_access import HFAccess


POLL_S = 0.05  # how often a waiting requester checks whether its client is still there


class RequesterGone(Exception):
    """The requester of a job went away (its client disconnected): the job was dropped or stopped."""


@dataclass
class _Job:
    kind: str  # "generate" | "echo" (prompt log-probs) | "scored" (generate with token log-probs)
    items: list[Any]
    future: Future[list[Any]] = field(default_factory=Future)
    cancelled: bool = False  # its requester has gone: skip it, or stop the call it is in


class MicroBatcher:
    """Serializes model access on one thread and merges concurrent requests into batched calls."""

    def __init__(
        self, backend: LMBackend, max_batch: int = 64, wait_s: float = 0.005, in_flight: Callable[[], int] = lambda: 0
    ) -> None:
        self.backend, self.max_batch, self.wait_s, self.in_flight = backend, max_batch, wait_s, in_flight
        self.batches = self.requests = 0
        self._last_jobs = 0
        self._stopped = False
        self._queue: queue.Queue[_Job | None] = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name="apeopt-serve-batcher", daemon=True)
        self._thread.start()

    def submit(self, kind: str, items: list[Any], gone: Callable[[], bool] | None = None) -> list[Any]:
        """Run ``items`` in a batch and wait for their results. With ``gone`` (is the requester still
        there?), a requester that leaves cancels its job: dropped if still queued, and the model call
        stopped when every job in it is cancelled; ``RequesterGone`` is raised."""
        if self._stopped:
            raise RuntimeError("the server is shutting down")
        job = _Job(kind, items)
        self._queue.put(job)
        if gone is None:
            return job.future.result()
        while True:
            try:
                return job.future.result(timeout=POLL_S)
            except FutureTimeout:
                if gone():
                    job.cancelled = True
                    raise RequesterGone() from None

    def stop(self) -> None:
        """Finish the jobs queued so far, then fail any that come later."""
        self._stopped = True
        self._queue.put(None)
        self._thread.join()
        while True:
            try:
                late = self._queue.get_nowait()
            except queue.Empty:
                return
            if late is not None:
                late.future.set_exception(RuntimeError("the server is shutting down"))

    def _loop(self) -> None:
        while (job := self._queue.get()) is not None:
            jobs, size, stop = [job], len(job.items), False
            # Wait for batch-mates only while other requests are in flight or arrived together last
            # time (a lone client pays no latency); always take whatever is already queued.
            together = self._last_jobs > 1 or self.in_flight() > 1
            deadline = time.monotonic() + (self.wait_s if together else 0.0)
            while size < self.max_batch:
                try:
                    nxt = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                if nxt is None:
                    stop = True
                    break
                jobs.append(nxt)
                size += len(nxt.items)
            for kind in dict.fromkeys(j.kind for j in jobs):
                self._run([j for j in jobs if j.kind == kind])
            self.batches += 1
            self.requests += size
            self._last_jobs = len(jobs)
            if stop:
                return

    def _run(self, jobs: list[_Job]) -> None:
        for j in [j for j in jobs if j.cancelled]:  # requesters that left while queued: not run at all
            j.future.set_exception(RequesterGone())
        jobs = [j for j in jobs if not j.cancelled]
        if not jobs:
            return
        compute = self._compute(jobs[0].kind)
        try:
            with aborting(lambda: all(j.cancelled for j in jobs)):
                results = compute([item for j in jobs for item in j.items])
        except Exception as exc:  # one bad request must not fail its batch-mates: retry alone
            if len(jobs) == 1:
                jobs[0].future.set_exception(exc)
                return
            for j in jobs:
                self._run([j])
            return
        start = 0
        for j in jobs:
            j.future.set_result(results[start : start + len(j.items)])
            start += len(j.items)

    def _compute(self, kind: str) -> Callable[[list[Any]], list[Any]]:
        if kind == "generate":
            return self.backend.generate
        if kind == "scored":
            return lambda items: generate_scored(self.backend, items)
        return lambda texts: echo_logprobs(cast(HFAccess, self.backend), texts)  # echo is served for HF models only


def generate_scored(backend: LMBackend, items: Sequence[tuple[GenerateRequest, int]]) -> list[ScoredCompletion]:
    """(request, top) pairs generated and scored in one call with the largest ``top``, each
    trimmed to its own."""
    most = max(top for _, top in items)
    done = backend.generate_with_logprobs([r for r, _ in items], most)
    return [(c, tuple(lp.trimmed(top) for lp in lps)) for (c, lps), (_, top) in zip(done, items)]


def echo_logprobs(backend: HFAccess, texts: Sequence[str]) -> list[dict[str, Any]]:
    """OpenAI ``logprobs`` objects (tokens, token_logprobs, text_offset) for each whole text."""
    scored = backend.token_logprobs(list(texts))
    tok = backend.tokenizer
    out = []
    for text, (ids, lps) in zip(texts, scored):
        offsets = _offsets(tok, text, ids)
        pieces = [text[a:b] for a, b in zip(offsets, offsets[1:] + [len(text)])]
        values: list[float | None] = [None] + [float(v) for v in lps] if ids else []
        out.append(
            {
                "tokens": pieces,
                "token_logprobs": values,
                "text_offset": offsets,
                "top_logprobs": [None if v is None else {p: v} for p, v in zip(pieces, values)],
            }
        )
    return out


def _offsets(tok: Any, text: str, ids: list[int]) -> list[int]:
    """Start offset of each token in ``text``: decoded-prefix lengths where decoding round-trips
    (exact for byte-level BPE), else the tokenizer's offset mapping."""
    kw = {"skip_special_tokens": False, "clean_up_tokenization_spaces": False}
    if tok.decode(ids, **kw) == text:
        return [len(s) for s in tok.batch_decode([ids[:i] for i in range(len(ids))], **kw)]
    mapping = tok(text, add_special_tokens=True, return_offsets_mapping=True)["offset_mapping"]
    return [int(a) for a, _ in mapping]
