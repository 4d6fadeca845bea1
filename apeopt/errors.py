"""The one exception type for user mistakes: the CLI prints it as one line and exits 2."""

from __future__ import annotations


class UserError(Exception):
    """A mistake in user input (file, field or value). Printed as one line, exit code 2."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))


class BackendError(UserError):
    """A model backend failed for good (e.g. a remote endpoint after its retries). One line, exit 2."""
