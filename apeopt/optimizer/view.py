"""The live progress view: round, phase, candidates left, best dev score, calls and tokens."""

from __future__ import annotations

import time
from typing import Any


class View:
    """No-op view (quiet mode, tests)."""

    def __init__(self) -> None:
        self.fields: dict[str, Any] = {}

    def update(self, **fields: Any) -> None:
        self.fields.update(fields)

    def __enter__(self) -> "View":
        return self

    def __exit__(self, *exc: object) -> None:
        return None


class LiveView(View):
    """A Rich Live panel on stderr, refreshed a few times a second."""

    def __init__(self, title: str) -> None:
        super().__init__()
        from rich.console import Console
        from rich.live import Live

        self.title = title
        self.started = time.monotonic()
        self.live = Live(self._render(), console=Console(stderr=True), refresh_per_second=4, transient=False)

    def update(self, **fields: Any) -> None:
        super().update(**fields)
        self.live.update(self._render())

    def _render(self) -> Any:
        from rich.table import Table

        f = self.fields
        t = Table.grid(padding=(0, 2))
        t.add_column(style="bold")
        t.add_column()
        best = f.get("best")
        rows = [
            ("round", str(f.get("round", 0))),
            ("phase", str(f.get("phase", "starting"))),
            ("candidates left", f"{f.get('left', '-')} (rung: {f.get('rung', '-')} dev examples)"),
            ("best dev", "-" if best is None else f"{best:.3f}  {str(f.get('best_text', ''))[:70]}"),
            ("LM calls / tokens", f"{f.get('calls', 0)} / {f.get('tokens', 0)}"),
            ("elapsed", f"{time.monotonic() - getattr(self, 'started', time.monotonic()):.0f} s"),
        ]
        for k, v in rows:
            t.add_row(k, v)
        from rich.panel import Panel

        return Panel(t, title=getattr(self, "title", "apeopt"))

    def __enter__(self) -> "LiveView":
        self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.live.__exit__(*exc)  # type: ignore[arg-type]
