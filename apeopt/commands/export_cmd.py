"""`apeopt export`: its options and help; the export itself is :func:`apeopt.commands.export.run_export`."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def export_cmd(
    run: str = typer.Argument(..., help="A run folder (runs/<run_id>), or `latest`."),
    fmt: str = typer.Option("json", "--format", "-f", help="json | txt | openai | prompty | dspy"),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="File to write (default: stdout)."),
    fixed: bool = typer.Option(
        False,
        "--fixed",
        help="Export the run's best prompt with fixed demos (when its winner retrieves demos per input).",
    ),
) -> None:
    """Export a run's best prompt (an interrupted run's partial prompt, with a warning)."""
    from apeopt.commands.export import run_export

    text = run_export(run, fmt, output, fixed=fixed)
    if output is None:
        typer.echo(text, nl=not text.endswith("\n"))
