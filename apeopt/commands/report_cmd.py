"""`apeopt report`: its options and help; the report itself is :func:`apeopt.commands.report.run_report`."""

from __future__ import annotations

from pathlib import Path

import typer


def report_cmd(
    paths: list[str] = typer.Argument(
        ..., metavar="RUN_OR_BATCH", help="Run folders (runs/<id>, or `latest`) and batch folders (runs/batch-<plan>)."
    ),
    output: Path = typer.Option(Path("report.html"), "--output", "-o", help="HTML file to write."),
    top: int = typer.Option(10, "--top", min=1, help="Top candidates shown per run."),
) -> None:
    """Write one static HTML report (tables, plots, top candidates, cost) for runs and batches."""
    from apeopt.commands.report import run_report

    run_report(paths, output, top=top)
