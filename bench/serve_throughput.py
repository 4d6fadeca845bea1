"""Requests per second: direct HFBackend calls vs the same model behind `apeopt serve` on loopback.

    python bench/serve_throughput.py                          # tiny random Llama (tests/conftest.py)
    python bench/serve_throughput.py --model smollm2-135m -n 32

Modes (same requests, greedy, no LM cache): direct batched (one ``generate`` call), direct one
request at a time, and OpenAIBackend -> ModelServer with 1 / 8 / 32 concurrent HTTP requests (the
server's micro-batcher merges what arrives together); likewise for echo log-prob scoring.
"""

from __future__ import annotations

from apeopt.process import configure_process

configure_process()  # first: OMP_WAIT_POLICY before torch loads; quiet Optuna and HF progress bars

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from apeopt.commands.serve import ModelServer  # noqa: E402
from apeopt.models import load_backend  # noqa: E402
from apeopt.models.base import GenerateRequest, LogprobRequest  # noqa: E402
from apeopt.models.openai_backend import OpenAIBackend  # noqa: E402

WORDS = ["cat", "dog", "box", "fox", "city", "leaf", "mouse", "bus", "child", "hero", "wish", "day"]


def timed(fn: Callable[[], Any], count: int) -> dict[str, float]:
    start = time.perf_counter()
    fn()
    took = time.perf_counter() - start
    return {"seconds": round(took, 3), "requests_per_s": round(count / took, 1),
            "load_avg": round(os.getloadavg()[0], 2)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=None, help="model spec (default: the tiny test Llama)")
    ap.add_argument("-n", type=int, default=64, help="requests per mode")
    ap.add_argument("--max-tokens", type=int, default=8)
    args = ap.parse_args()
    spec = args.model
    if spec is None:
        from conftest import build_tiny_model_dir

        spec = "hf:" + str(build_tiny_model_dir(Path(tempfile.mkdtemp(prefix="tiny-llama-"))))
    local = load_backend(spec, device="cpu")
    prompts = [f"Write the plural form of the word.\nInput: {WORDS[i % len(WORDS)]}{i}\nOutput:" for i in range(args.n)]
    gen = [GenerateRequest(p, max_tokens=args.max_tokens, stop=()) for p in prompts]
    lp = [LogprobRequest(p, f" {WORDS[i % len(WORDS)]}s") for i, p in enumerate(prompts)]
    local.generate(gen[:4])  # warm up
    out: dict[str, Any] = {"model": spec, "requests": args.n, "max_tokens": args.max_tokens}
    want = local.generate(gen)
    out["generate_direct_batched"] = timed(lambda: local.generate(gen), args.n)
    out["generate_direct_one_by_one"] = timed(lambda: [local.generate([r]) for r in gen], args.n)
    out["logprob_direct_batched"] = timed(lambda: local.logprob(lp), args.n)
    server = ModelServer(local, name="bench").start()
    try:
        for conc in (1, 8, 32):
            remote = OpenAIBackend("bench", server.url, concurrency=conc, retries=0)
            b0, r0 = server.batcher.batches, server.batcher.requests
            got: list[Any] = []
            stats = timed(lambda: got.extend(remote.generate(gen)), args.n)
            assert [c.texts for c in got] == [c.texts for c in want], "server results differ from direct"
            stats["mean_batch"] = round((server.batcher.requests - r0) / max(1, server.batcher.batches - b0), 1)
            out[f"generate_server_concurrency_{conc}"] = stats
            b0, r0 = server.batcher.batches, server.batcher.requests
            stats = timed(lambda: remote.logprob(lp), args.n)
            stats["mean_batch"] = round((server.batcher.requests - r0) / max(1, server.batcher.batches - b0), 1)
            out[f"logprob_server_concurrency_{conc}"] = stats
            remote.close()
    finally:
        server.close()
    out["generate_direct_batched_again"] = timed(lambda: local.generate(gen), args.n)
    out["generate_direct_one_by_one_again"] = timed(lambda: [local.generate([r]) for r in gen], args.n)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
