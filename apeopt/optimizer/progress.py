"""Progress views: round, phase, candidates left, best dev score, calls and tokens.

On a terminal, a Rich live panel (``LiveView``); in a log (batch, CI, ``nohup``), plain lines at
each phase change and every ~30 s (``LogView``); nothing in quiet mode (``View``).
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any, Callable, Optional, Protocol, TextIO


class Budgets(Protocol):
    """What a view reads of a run's limits (an ``OptimizeConfig`` has them)."""

    @property
    def budget_calls(self) -> Optional[int]: ...

    @property
    def budget_tokens(self) -> Optional[int]: ...

    @property
    def budget_minutes(self) -> Optional[float]: ...


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


class LogView(View):
    """Plain progress lines for logs: one at each phase change, and one every ``every`` seconds
    while the phase lasts, e.g. ``[  31 s] round 0 | scoring demos candidates | 180/800 LM calls,
    9,140 tokens | best dev 0.433``. Budgets given are shown against what was spent."""

    def __init__(
        self,
        title: str,
        budget: Budgets | None = None,
        stream: TextIO | None = None,
        every: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.title, self.budget, self.every, self.clock = title, budget, every, clock
        self.stream = stream if stream is not None else sys.stderr
        self.started = self.last = clock()
        self._phase: object = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    def update(self, **fields: Any) -> None:
        super().update(**fields)
        phase = self.fields.get("phase")
        if phase is not None and phase != self._phase:
            self._phase = phase
            self.emit()
        elif self.clock() - self.last >= self.every:
            self.emit()

    def line(self) -> str:
        f, b = self.fields, self.budget
        calls, tokens = int(f.get("calls", 0)), int(f.get("tokens", 0))
        spent = [
            f"{calls:,}" + (f"/{b.budget_calls:,}" if b is not None and b.budget_calls else "") + " LM calls",
            f"{tokens:,}" + (f"/{b.budget_tokens:,}" if b is not None and b.budget_tokens else "") + " tokens",
        ]
        elapsed = self.clock() - self.started
        if b is not None and b.budget_minutes:
            spent.append(f"{elapsed / 60:.1f}/{b.budget_minutes:g} min")
        best = f.get("best")
        parts = [
            f"round {f.get('round', 0)}",
            str(f.get("phase", "starting")),
            ", ".join(spent),
            "best dev -" if best is None else f"best dev {best:.3f}",
        ]
        return f"[{elapsed:5.0f} s] " + " | ".join(parts)

    def emit(self, text: str | None = None) -> None:
        with self._lock:
            self.last = self.clock()
            print(text if text is not None else self.line(), file=self.stream, flush=True)

    def _tick(self) -> None:
        while not self._stop.wait(min(self.every, 5.0)):
            if self.clock() - self.last >= self.every:
                self.emit()

    def __enter__(self) -> "LogView":
        self.emit(f"{self.title}: started")
        self._ticker = threading.Thread(target=self._tick, name="apeopt-progress", daemon=True)
        self._ticker.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join()
        kind = exc[0] if exc and isinstance(exc[0], type) else None
        self.fields["phase"] = f"stopped ({kind.__name__})" if kind is not None else "done"
        self.emit()


def make_view(title: str, quiet: bool = False, budget: Budgets | None = None, stream: TextIO | None = None) -> View:
    """No view when ``quiet``; the live panel when ``stream`` (stderr) is a terminal, else log lines."""
    if quiet:
        return View()
    out = stream if stream is not None else sys.stderr
    if out.isatty():
        return LiveView(title)
    return LogView(title, budget, out)
