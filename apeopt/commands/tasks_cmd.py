"""`apeopt tasks`: its options and help, and the table (or JSON list) of tasks it prints."""

from __future__ import annotations

from typing import Optional

import typer

from apeopt.commands.output import echo_json


def tasks_cmd(
    tasks: Optional[list[str]] = typer.Argument(None, help="Task names or task YAML paths (default: every built-in)."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list instead of a table."),
) -> None:
    """List tasks with their sizes, scorer and where each split came from."""
    from apeopt.tasks import list_tasks
    from apeopt.tasks.provenance import describe_origins, origins_from_dict

    rows = list_tasks(tasks or None)
    if as_json:
        echo_json(rows)
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("name", "scorer", "train/dev/test/shift", "source", "description")
    for r in rows:
        s = r["sizes"]
        sizes = "/".join(str(s.get(k, 0)) for k in ("train", "dev", "test", "test_shift"))
        source = describe_origins(origins_from_dict(r["split_sources"])) or str(r["source"])
        table.add_row(r["name"], r["scorer"], sizes, source, str(r.get("description", "")))
    Console().print(table)
