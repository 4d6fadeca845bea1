"""Secrets never written or shown: passwords in storage URLs are masked wherever a URL is stored,
logged, printed or put on a command line; the real URL travels only in memory or in the environment.

API keys never appear in specs at all (``apeopt.models.openai_spec`` refuses them); this module covers
the other secret a user types: ``--storage postgresql://user:PASSWORD@host/db``.
"""

from __future__ import annotations

import os
import re
from typing import Any

MASK = "***"
# scheme://user:password@host  ->  scheme://user:***@host (the user name stays: it is not a secret)
_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.\-]*://[^:/@\s]*):(?P<pw>[^@\s/]*)@")
STORAGE_ENV = "APEOPT_STORAGE_URL"  # the real storage URL when the stored one is masked (resume, batch workers)


def mask_url(url: str) -> str:
    """``url`` with any password replaced by ``***``."""
    return _PASSWORD.sub(lambda m: f"{m.group('head')}:{MASK}@" if m.group("pw") else m.group(0), url)


def has_password(url: str) -> bool:
    return mask_url(url) != url


def mask_text(text: str, *urls: str | None) -> str:
    """``text`` (an error message) with every URL's password masked, also where it appears alone."""
    out = mask_url(text)
    for url in urls:
        if not url:
            continue
        m = _PASSWORD.search(url)
        if m and m.group("pw"):
            out = out.replace(m.group("pw"), MASK)
    return out


def mask_storage(data: Any) -> Any:
    """A config mapping (nested) with every ``storage`` URL's password masked, for files on disk."""
    if isinstance(data, dict):
        return {k: (mask_url(v) if k == "storage" and isinstance(v, str) else mask_storage(v)) for k, v in data.items()}
    if isinstance(data, list):
        return [mask_storage(v) for v in data]
    return data


def unmask_storage(stored: str | None, where: str) -> str | None:
    """The real storage URL of a stored (possibly masked) one: from ``$APEOPT_STORAGE_URL`` when the stored
    URL had its password masked; a one-line UserError when that variable is unset or names another URL."""
    from apeopt.errors import UserError

    if not stored or MASK not in stored:
        return stored
    real = os.environ.get(STORAGE_ENV, "")
    if not real:
        raise UserError(
            f"{where}: the storage URL {stored!r} is stored without its password; set {STORAGE_ENV} to the "
            "full URL to continue"
        )
    if mask_url(real) != stored:
        raise UserError(f"{where}: {STORAGE_ENV} names {mask_url(real)!r}, not the run's storage {stored!r}")
    return real
