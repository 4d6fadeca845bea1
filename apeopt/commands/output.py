"""How the commands print a result as JSON (``--json``): indented, on stdout."""

from __future__ import annotations

import json

import typer


def echo_json(data: object) -> None:
    """``data`` as indented JSON on stdout; what JSON cannot hold (a path, a date) as its text."""
    typer.echo(json.dumps(data, indent=2, default=str))
