"""`apeopt report RUN_OR_BATCH... -o report.html`: write the static HTML report."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Sequence

from apeopt.errors import UserError


def run_report(paths: Sequence[str | Path], output: Path, top: int = 10) -> Path:
    """Read the runs and batches in ``paths`` and write one self-contained HTML file to ``output``."""
    from apeopt.html_report import build_report
    from apeopt.atomic_files import atomic_write_text

    output = Path(output)
    if output.is_dir():
        raise UserError(f"output {str(output)!r} is a folder; give a file name such as report.html")
    html, collection = build_report(paths, top=top)
    atomic_write_text(output, html)
    output.chmod(0o644)  # a page to share (the temp file it was renamed from was private)
    jobs = sum(len(b.jobs) for b in collection.batches)
    print(f"wrote {output} ({len(collection.runs)} runs, {jobs} jobs, {len(html) // 1024} KiB)", file=sys.stderr)
    return output
