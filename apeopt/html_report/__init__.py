"""`apeopt report`: one static HTML page (inline CSS, embedded PNG plots) for runs and batches."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from apeopt.html_report.collect import Batch, Collection, Job, MethodScore, Run, Score, collect

__all__ = ["Batch", "Collection", "Job", "MethodScore", "Run", "Score", "build_report", "collect"]


def build_report(paths: Iterable[str | Path], top: int = 10) -> tuple[str, Collection]:
    """The HTML text of the report for ``paths`` (run or batch folders) and what it was built from."""
    from apeopt.html_report.html import render

    collection = collect(paths, top=top)
    return render(collection), collection
