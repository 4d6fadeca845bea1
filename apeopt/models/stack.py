"""Opening a model: the one place that loads a spec on a device and stacks the LM cache and a usage
meter on top of it. Code that needs the computing backend under the wrappers (training, a tuned
model's base) asks the stack for ``base_backend()``.
"""

from __future__ import annotations

from pathlib import Path

from apeopt.models.base import LMBackend


def open_backend(
    spec: str,
    device: str = "auto",
    use_cache: bool = True,
    metered: bool = False,
    lm_cache: str | Path | None = None,
    dtype: str = "auto",
) -> LMBackend:
    """Load the model named by ``spec`` in ``dtype`` (``auto``: see :mod:`apeopt.models.device`), behind
    the persistent LM cache unless ``use_cache`` is off, and behind a fresh usage meter when
    ``metered``. ``lm_cache`` overrides the cache's folder."""
    from apeopt.models import load_backend

    return stacked(
        load_backend(spec, device=device, dtype=dtype), use_cache=use_cache, metered=metered, lm_cache=lm_cache
    )


def stacked(
    backend: LMBackend, use_cache: bool = True, metered: bool = False, lm_cache: str | Path | None = None
) -> LMBackend:
    """``backend`` (already loaded: a base model or a tuned one) behind the LM cache and a meter."""
    if use_cache:
        from apeopt.models.cache import CachingBackend

        backend = CachingBackend(backend, lm_cache)
    if metered:
        from apeopt.models.metered import MeteredBackend

        backend = MeteredBackend(backend)
    return backend
