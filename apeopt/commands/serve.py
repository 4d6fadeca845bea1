"""`apeopt serve`: a local model behind an OpenAI-compatible HTTP API, shared by many clients.

The server itself is :mod:`apeopt.serving` (completions and chat, streamed or not, with
log-probabilities of prompts and of generated tokens; micro-batched).
"""

from __future__ import annotations

import os
import sys

from apeopt.errors import UserError

from apeopt.serving import ModelServer
from apeopt.serving.api import DEFAULT_MAX_TOKENS
from apeopt.serving.limits import ServeLimits

__all__ = ["ModelServer", "run_serve"]


def run_serve(
    model: str,
    host: str = "127.0.0.1",
    port: int = 8000,
    device: str = "auto",
    name: str | None = None,
    max_batch: int = 64,
    wait_ms: float = 5.0,
    key_env: str | None = None,
    default_max_tokens: int = DEFAULT_MAX_TOKENS,
    limits: ServeLimits | None = None,
    dtype: str = "auto",
) -> None:
    """Load ``model`` (in ``dtype``) and serve it until interrupted (limits checked before the model loads)."""
    import logging

    from apeopt.models.stack import open_backend

    limits = limits or ServeLimits()
    if default_max_tokens > limits.max_tokens:
        raise UserError(f"--max-tokens {default_max_tokens} is over --max-tokens-cap {limits.max_tokens}")
    if key_env and not os.environ.get(key_env):
        raise UserError(f"--key-env {key_env}: the environment variable {key_env} is not set")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")  # the server log
    backend = open_backend(model, device=device, use_cache=False, dtype=dtype)
    server = ModelServer(backend, host, port, name or model, max_batch, wait_ms, key_env, default_max_tokens, limits)
    if host not in ("127.0.0.1", "localhost", "::1") and not key_env:
        print(
            "warning: serving on a non-loopback address without --key-env: anyone who can reach it can use the model",
            file=sys.stderr,
        )
    print(f"apeopt serve: {model} as {server.name!r} on {server.url} (Ctrl-C stops)", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
