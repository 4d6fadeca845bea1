"""The KV-cache argument of a transformers forward, under the name the installed version uses.

transformers up to 5.23 calls it ``past_key_values`` (argument and output field); 5.24 renamed it
``cache`` and keeps the old name only as a deprecated alias (a FutureWarning on every call, removed
in 5.40). Every forward apeopt drives with a cache goes through these two functions, so the
shared-prefix KV reuse works, without warnings, on both sides of the rename.
"""

from __future__ import annotations

import inspect
from functools import lru_cache
from typing import Any


@lru_cache(maxsize=None)
def _arg_name(forward_cls: Any) -> str:
    params = inspect.signature(forward_cls.forward).parameters
    return "cache" if "cache" in params else "past_key_values"


def cache_kwargs(module: Any, cache: Any) -> dict[str, Any]:
    """``{name: cache}`` for ``module(...)``, with the cache argument's name in this version."""
    forward_cls: Any = type(module)
    return {_arg_name(forward_cls): cache}


def returned_cache(output: Any) -> Any:
    """The cache a forward returned (``output.cache`` from 5.24, ``output.past_key_values`` before)."""
    cache = getattr(output, "cache", None)
    return cache if cache is not None else output.past_key_values
