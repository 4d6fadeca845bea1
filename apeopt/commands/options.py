"""CLI options that several commands share, defined once (the device and the weights' dtype)."""

from __future__ import annotations

from typing import Any

import typer

DTYPE_HELP = "auto | float32 | bfloat16 | float16 (auto: bf16 on CUDA and on CPUs with bf16 instructions, else fp32)"
DEVICE_HELP = "auto | cpu | cuda[:N]"


def dtype_option() -> Any:
    """``--dtype``: the weights' dtype (``apeopt.models.device`` resolves ``auto``)."""
    return typer.Option("auto", "--dtype", help=DTYPE_HELP)


def device_option() -> Any:
    """``--device``: where the model runs."""
    return typer.Option("auto", "--device", help=DEVICE_HELP)
