"""Model backends. Importing this package is cheap: torch and transformers load lazily."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from apeopt.models.spec import ALIASES, DEFAULT_SPEC, ModelSpec, parse_spec
from apeopt.registry import Registry

if TYPE_CHECKING:
    from apeopt.models.base import LMBackend

# Backend classes by spec kind; each opens itself with ``LMBackend.from_spec``.
BACKENDS: "Registry[type[LMBackend]]" = Registry("model backend")
BACKENDS.add("hf", "apeopt.models.hf:HFBackend")
BACKENDS.add("gguf", "apeopt.models.hf:HFBackend")
BACKENDS.add("openai", "apeopt.models.openai_backend:OpenAIBackend")


def load_backend(
    spec: str = DEFAULT_SPEC,
    device: str = "auto",
    dtype: str = "auto",
    cache_dir: str | Path | None = None,
    trust_remote_code: bool = False,
) -> "LMBackend":
    """Load the model named by ``spec`` (see ``apeopt.models.spec``) on ``device``."""
    parsed = parse_spec(spec)
    backend_cls = BACKENDS.get(parsed.kind)
    return backend_cls.from_spec(
        parsed, device=device, dtype=dtype, cache_dir=cache_dir, trust_remote_code=trust_remote_code
    )


__all__ = ["ALIASES", "BACKENDS", "DEFAULT_SPEC", "ModelSpec", "load_backend", "parse_spec"]
