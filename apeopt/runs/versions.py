"""The versions of apeopt, Python and the libraries a run depends on, as recorded in its files."""

from __future__ import annotations

import platform

from apeopt import __version__


def versions() -> dict[str, str]:
    """apeopt, Python, and each of torch, transformers, optuna, peft and dspy that is installed."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"apeopt": __version__, "python": platform.python_version()}
    for pkg in ("torch", "transformers", "optuna", "peft", "dspy"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            pass
    return out
