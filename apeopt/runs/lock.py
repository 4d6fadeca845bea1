"""One process owns a run folder at a time: ``run.lock`` holds the owner's pid and host.

The lock is an exclusive ``flock`` on that file where the OS has one (released by the kernel when the
owner dies, even by ``kill -9``), else the pid in the file: a lock whose pid is gone on this host is
stale and taken over. A second process gets a one-line UserError naming the owner.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from apeopt.errors import UserError
from apeopt.runs.files import RUN_LOCK as LOCK_FILE


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by another user
        return True
    except OSError:
        return False
    return True


class RunLock:
    """``with RunLock(folder):`` owns ``folder`` for the block; a second owner gets a UserError."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.path = self.root / LOCK_FILE
        self._fh: IO[str] | None = None

    def _owner(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8") or "{}")
            return data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            return {}

    def _busy(self, owner: dict[str, Any]) -> UserError:
        who = f"process {owner.get('pid', '?')} on {owner.get('host', '?')}"
        return UserError(
            f"run folder {str(self.root)!r} is in use by {who}; wait for it to finish or stop it "
            f"(a lock left by a process that died is taken over)"
        )

    def acquire(self) -> "RunLock":
        fh = open(self.path, "a+", encoding="utf-8")
        try:
            import fcntl
        except ImportError:  # no flock (Windows): the pid in the file decides
            owner = self._owner()
            same_host = owner.get("host") == socket.gethostname()
            if owner.get("pid") not in (None, os.getpid()) and (not same_host or _pid_alive(int(owner["pid"]))):
                fh.close()
                raise self._busy(owner) from None
        else:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                owner = self._owner()
                fh.close()
                raise self._busy(owner) from None
        fh.seek(0)
        fh.truncate()
        fh.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname()}))
        fh.flush()
        self._fh = fh
        return self

    def release(self) -> None:
        if self._fh is None:
            return
        try:
            self.path.unlink(missing_ok=True)
        finally:
            self._fh.close()  # closing drops the flock
            self._fh = None

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.release()
