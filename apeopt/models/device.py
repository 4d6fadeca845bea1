"""Pick the torch device and dtype: CUDA + bf16 when available; on a CPU, bf16 where the CPU has
bf16 instructions (AVX512-BF16 or AMX), else fp32."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from apeopt.errors import UserError

if TYPE_CHECKING:
    import torch

DEVICES = ("auto", "cpu", "cuda", "cuda:<index>", "mps")
DTYPES: dict[str, str] = {
    "auto": "auto",
    "float32": "float32",
    "fp32": "float32",
    "bfloat16": "bfloat16",
    "bf16": "bfloat16",
    "float16": "float16",
    "fp16": "float16",
    "half": "float16",
}


def resolve_device(device: str = "auto", dtype: str = "auto") -> tuple["torch.device", "torch.dtype"]:
    """Return ``(torch.device, torch.dtype)``; raise UserError for bad or unavailable values."""
    import torch

    dev = _resolve_device_name(str(device).strip().lower())
    return torch.device(dev), _resolve_dtype(str(dtype).strip().lower(), dev)


def _resolve_device_name(name: str) -> str:
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cpu":
        return "cpu"
    if name == "mps":
        if not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
            raise UserError("device 'mps' is not available on this machine; use --device cpu or auto")
        return "mps"
    match = re.fullmatch(r"cuda(?::(\d+))?", name)
    if not match:
        raise UserError(f"unknown device {name!r}; valid: {', '.join(DEVICES)}")
    if not torch.cuda.is_available():
        raise UserError(f"device {name!r} requested but CUDA is not available; use --device cpu or auto")
    index = int(match.group(1) or 0)
    if index >= torch.cuda.device_count():
        raise UserError(f"device {name!r}: only {torch.cuda.device_count()} CUDA device(s) present")
    return name


def _resolve_dtype(name: str, device: str) -> "torch.dtype":
    import torch

    if name not in DTYPES:
        raise UserError(f"unknown dtype {name!r}; valid: {', '.join(DTYPES)}")
    canonical = DTYPES[name]
    if canonical == "auto":
        if device.startswith("cuda"):
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.bfloat16 if device == "cpu" and cpu_has_bf16() else torch.float32
    return getattr(torch, canonical)


def tuning_dtype(device: str = "auto") -> str:
    """The dtype for tuned models (``apeopt compare``'s baselines and ``--adapter``): fp32 on a CPU,
    where bf16 weights would round small training updates away; ``auto`` (bf16) on CUDA, as before."""
    return "float32" if resolve_device(device)[0].type == "cpu" else "auto"


def cpu_has_bf16() -> bool:
    """Does this CPU compute bf16 matmuls natively (AVX512-BF16 or AMX tiles)? Without them torch
    emulates bf16 in fp32 and it is slower than fp32, so ``auto`` keeps fp32 there."""
    return bool(cpu_bf16_flags())


def cpu_bf16_flags() -> list[str]:
    """The CPU's bf16 feature flags that torch can use (empty when none or unknown)."""
    import torch

    found = []
    checks = (("avx512_bf16", "_is_avx512_bf16_supported"), ("amx_bf16", "_is_amx_tile_supported"))
    for flag, name in checks:
        probe = getattr(torch.cpu, name, None)
        try:
            if probe is not None and probe():
                found.append(flag)
        except RuntimeError:  # a torch build without the probe's backend
            continue
    if not found and all(getattr(torch.cpu, name, None) is None for _, name in checks):
        found = [f for f in _proc_cpu_flags() if f in ("avx512_bf16", "amx_bf16")]
    return found


def _proc_cpu_flags() -> list[str]:
    try:
        text = open("/proc/cpuinfo", encoding="utf-8").read()
    except OSError:
        return []
    for line in text.splitlines():
        if line.startswith("flags"):
            return line.split(":", 1)[1].split()
    return []
