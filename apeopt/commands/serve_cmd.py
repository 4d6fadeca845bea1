"""`apeopt serve`: its options and help; the server itself is :func:`apeopt.commands.serve.run_serve`."""

from __future__ import annotations

from typing import Optional

import typer

from apeopt.commands.options import device_option, dtype_option

from apeopt.models.spec import DEFAULT_SPEC


def serve_cmd(
    model: str = typer.Option(
        DEFAULT_SPEC, "--model", "-m", help="Model spec to serve (smollm2-135m | hf:<dir> | gguf:<file>)."
    ),
    port: int = typer.Option(8000, "--port", "-p", min=0, max=65535, help="TCP port (0: any free port)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (default: loopback only)."),
    name: Optional[str] = typer.Option(None, "--name", help="Model name clients send (default: the spec)."),
    device: str = device_option(),
    dtype: str = dtype_option(),
    max_batch: int = typer.Option(64, "--max-batch", min=1, help="Most requests merged into one model call."),
    wait_ms: float = typer.Option(5.0, "--batch-wait-ms", min=0.0, help="How long to wait for more requests to batch."),
    key_env: Optional[str] = typer.Option(
        None, "--key-env", help="Require the API key held in this environment variable."
    ),
    max_tokens: int = typer.Option(
        1024, "--max-tokens", min=1, help="Tokens a request without max_tokens may generate."
    ),
    max_tokens_cap: int = typer.Option(
        2048, "--max-tokens-cap", min=1, help="Most tokens one request may ask for (400 above)."
    ),
    max_n: int = typer.Option(16, "--max-n", min=1, help="Most choices (n) per prompt."),
    max_prompts: int = typer.Option(64, "--max-prompts", min=1, help="Most prompts in one completions request."),
    max_prompt_tokens: int = typer.Option(8192, "--max-prompt-tokens", min=1, help="Most tokens in one prompt."),
    max_body_bytes: int = typer.Option(
        4 * 1024 * 1024, "--max-body-bytes", min=1, help="Largest request body (413 above; checked before reading)."
    ),
    read_timeout: float = typer.Option(
        30.0, "--read-timeout", min=0.001, help="Seconds a client may take to send its request."
    ),
) -> None:
    """Serve a local model as an OpenAI-compatible endpoint (clients use openai:<name>@http://HOST:PORT/v1)."""
    from apeopt.commands.serve import run_serve
    from apeopt.serving.limits import ServeLimits

    limits = ServeLimits(
        max_tokens=max_tokens_cap,
        max_n=max_n,
        max_prompts=max_prompts,
        max_prompt_tokens=max_prompt_tokens,
        max_body_bytes=max_body_bytes,
        read_timeout=read_timeout,
    )
    run_serve(
        model,
        host=host,
        port=port,
        device=device,
        name=name,
        max_batch=max_batch,
        wait_ms=wait_ms,
        key_env=key_env,
        default_max_tokens=max_tokens,
        limits=limits,
        dtype=dtype,
    )
