"""Stopping a generation whose every requester has gone: the thread that runs a model call may set an
abort check for the call (``aborting(check)``); local decoding loops ask ``aborted()`` between tokens and
end early. Used by ``apeopt serve``: a client that disconnects stops its generation."""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Callable, Iterator

_local = threading.local()


def aborted() -> bool:
    """True when the model call running on this thread should stop now."""
    check: Callable[[], bool] | None = getattr(_local, "check", None)
    return bool(check is not None and check())


@contextmanager
def aborting(check: Callable[[], bool]) -> Iterator[None]:
    """Within the block, ``aborted()`` on this thread answers ``check()``."""
    before = getattr(_local, "check", None)
    _local.check = check
    try:
        yield
    finally:
        _local.check = before
